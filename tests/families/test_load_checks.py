"""A card whose config describes a bigger network than its weights is refused from the
weights file's header, before the network or the tensors take any memory; and a file a
card names (weights, discriminator) must lie inside the model folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from studio.cli import main
from studio.core.paths import builtin_models_dir

# model, config change (a network far bigger than the weights), where its network is built
BIGGER = [
    ("vae-glyphs", {"widths": [1536, 1536, 1536]}, "studio.families.vae.model.VAE"),
    ("gan-glyphs", {"w_dim": 1536}, "studio.families.gan.model.Generator"),
    ("diffusion-glyphs", {"widths": [1536, 1536, 1536]}, "studio.families.diffusion.model.build_unet"),
    ("latent-diffusion-glyphs", {"widths": [1536, 1536]},
     "studio.families.latent_diffusion.model.build_unet"),
    ("flow-glyphs", {"hidden": [1536, 1536, 1536]}, "studio.families.flow.model.Glow"),
    ("pixelcnn-glyphs", {"hidden": 1536}, "studio.families.autoregressive.model.PixelCNN"),
]


def copy_model(tmp_path: Path, model_id: str, config: dict | None = None, **card_changes) -> Path:
    folder = tmp_path / f"{model_id}-copy"
    shutil.copytree(builtin_models_dir() / model_id, folder)
    card = json.loads((folder / "card.json").read_text())
    card.update(id=f"{model_id}-copy", **card_changes)
    card["config"].update(config or {})
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.mark.parametrize("model_id, change, builder", BIGGER, ids=[b[0] for b in BIGGER])
def test_a_config_bigger_than_its_weights_is_refused_before_allocating(
        tmp_path, capsys, monkeypatch, model_id, change, builder) -> None:
    folder = copy_model(tmp_path, model_id, change)
    assert main(["import", str(folder)]) == 0
    capsys.readouterr()
    module, name = builder.rsplit(".", 1)
    original = getattr(__import__(module, fromlist=[name]), name)
    devices = []

    def spy(*args, **kwargs):
        devices.append(torch.empty(()).device.type)  # the default device while it is built
        return original(*args, **kwargs)

    monkeypatch.setattr(builder, spy)
    assert main(["generate", "--model", f"{model_id}-copy", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(folder / "model.safetensors") in err, err
    assert "tensor" in err and ("missing" in err or "but the model expects" in err), err
    assert devices == ["meta"]  # built once, with no storage, then refused


def test_the_shipped_models_still_load_and_match(tmp_path, capsys) -> None:
    folder = copy_model(tmp_path, "pixelcnn-glyphs")
    assert main(["import", str(folder)]) == 0
    assert main(["generate", "--model", "pixelcnn-glyphs-copy", "--count", "1",
                 "-o", str(tmp_path / "x.png")]) == 0


@pytest.mark.parametrize("field, value", [
    ("discriminator_file", "../../outside.safetensors"),
    ("discriminator_file", "/etc/passwd"),
])
def test_a_gan_card_cannot_name_a_discriminator_outside_its_folder(tmp_path, capsys, field,
                                                                    value) -> None:
    folder = copy_model(tmp_path, "gan-glyphs", {field: value})
    shutil.copy(folder / "discriminator.safetensors", tmp_path / "outside.safetensors")
    assert main(["import", str(folder)]) == 0
    capsys.readouterr()
    assert main(["generate", "--model", "gan-glyphs-copy", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"studio: error: {folder / 'card.json'}: discriminator_file {value!r} leaves "
                   f"the folder" + (" (an absolute path)" if value.startswith("/")
                                    else " (through '..')")), err


def test_an_imported_stylegan_card_bigger_than_its_weights_is_refused_before_allocating(
        tmp_path, capsys, monkeypatch) -> None:
    from studio.families.stylegan.importer import import_network_pickle
    from tests.families.stylegan_pickles import network_pickle, tiny_generator

    G, kwargs = tiny_generator("stylegan2")
    pickled = tmp_path / "net.pkl"
    pickled.write_bytes(network_pickle(G, kwargs))
    folder = import_network_pickle(pickled, tmp_path / "models", pca_samples=1000)
    card = json.loads((folder / "card.json").read_text())
    card["config"]["channel_max"] = 1536
    card["config"]["channel_base"] = 1 << 20
    (folder / "card.json").write_text(json.dumps(card))
    assert main(["import", str(folder)]) == 0
    capsys.readouterr()
    from studio.families.stylegan import family

    original, devices = family.Generator, []

    def spy(*args, **kwargs):
        devices.append(torch.empty(()).device.type)  # the default device while it is built
        return original(*args, **kwargs)

    monkeypatch.setattr(family, "Generator", spy)
    assert main(["generate", "--model", card["id"], "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "but the model expects" in err, err
    assert devices == ["meta"]
