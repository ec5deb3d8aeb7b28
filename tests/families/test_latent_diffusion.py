"""Latent diffusion: the shared contract on a tiny seeded UNet over a tiny VAE's latent,
then what differs from pixel space (VAE calls under cancel, the inpaint overlay, the
VAE pin) and fork reproduction for every scheduler."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.family import Cancelled, JobContext, ModelLoadError
from studio.core.library import Library
from studio.families.diffusion.spec import SCHEDULERS
from studio.families.latent_diffusion.model import LatentDiffusionFamily
from studio.families.latent_diffusion.spec import LATENT_DIFFUSION
from tests.families.contract import FamilyContract
from tests.families.test_diffusion import SIZE, a_glyph, count_calls, tiny_data, train_two_steps
from tests.families.test_vae import make_tiny_vae


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_tiny_latent_diffusion(folder: Path) -> Path:
    """The tiny VAE (id vae-tiny) is trained first and imported into a library, where the
    recipe names it by id; it also lies inside the model folder, where the card finds it."""
    model = folder / "model"
    vae = make_tiny_vae(model / "vae-tiny")  # 8 × 8 glyphs, a 2 × 4 × 4 latent
    torch.manual_seed(0)
    recipe = {
        "id": "latent-diffusion-tiny", "name": "Tiny latent diffusion", "family": "latent_diffusion",
        "seed": 0, "dataset": {"name": "glyphs", "fonts": [], "size": SIZE, "cache": False},
        "config": {"resolution": SIZE, "channels": 1, "classes": 10, "widths": [8, 16],
                   "norm_groups": 4, "vae": "vae-tiny"},
        "train": {"steps": 2, "batch_size": 8},
    }
    data = tiny_data()
    with pytest.MonkeyPatch.context() as patch:  # fixtures of any scope call this
        patch.setenv("LATENT_STUDIO_HOME", str(folder / "home"))
        Library().import_folder(vae)
        trainable = LatentDiffusionFamily.make_trainable(recipe, data)
    train_two_steps(trainable, data)
    with torch.no_grad():
        trainable.ema.class_embedding.weight.mul_(20.0)  # make the class matter (see test_diffusion)
    trainable.export(model, {})
    return model


class TestLatentDiffusionContract(FamilyContract):
    family = LATENT_DIFFUSION

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_tiny_latent_diffusion(tmp_path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_tiny_latent_diffusion(tmp_path_factory.mktemp("latent"))


def load(folder: Path):
    return LatentDiffusionFamily.load(folder, ModelCard.read(folder), "cpu")


def run(model, op, params=None, ctx=None, **inputs):
    return model.run(op, params or {}, inputs, ctx or JobContext())


def test_card_and_space(folder: Path) -> None:
    card = ModelCard.read(folder)
    assert card.family == "latent_diffusion" and card.latent_shape == [2, 4, 4]
    cfg = card.config
    assert len(cfg["latent_shift"]) == len(cfg["latent_scale"]) == 2 and cfg["vae_sha256"]
    model = load(folder)
    assert model.scheduler_config["clip_sample"] is False  # latents are not clipped to [−1, 1]
    out = run(model, "sample", {"count": 2, "steps": 3})
    assert out.latents.shape == (2, 2, 4, 4) and out.images.shape == (2, SIZE, SIZE, 1)


@pytest.mark.parametrize("op", ["sample", "img2img"])
def test_cancel_mid_run_stops_every_unet_and_vae_call(folder: Path, op: str) -> None:
    model = load(folder)
    unet_calls, vae_calls = count_calls(model.unet), count_calls(model.space.vae.decoder)
    event = threading.Event()
    seen: list[tuple[int, int]] = []

    def on_progress(fraction: float, message: str) -> None:
        if message.startswith("step ") and not seen:
            if len(unet_calls) == 2:
                event.set()
                seen.append((len(unet_calls), len(vae_calls)))

    ctx = JobContext(cancel_event=event, on_progress=on_progress, min_interval=0.0)
    params = {"seed": 1, "count": 2, "steps": 8}
    inputs = {}
    if op == "img2img":
        params["strength"], inputs["image"] = 1.0, a_glyph()
    with pytest.raises(Cancelled):
        model.run(op, params, inputs, ctx)
    assert seen == [(2, 2)]  # two steps: two UNet calls and two preview decodes
    assert (len(unet_calls), len(vae_calls)) == (2, 2)  # nothing after the cancel


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_fork_with_identical_settings_reproduces_the_original(folder: Path, scheduler: str) -> None:
    model = load(folder)
    params = {"seed": 4, "count": 2, "steps": 5, "scheduler": scheduler, "eta": 0.3,
              "guidance": 2.0, "class_index": 3}
    same = {"fork_seed": 4, "fork_guidance": 2.0, "fork_class_index": 3}
    original = run(model, "sample", params)
    for k in (0, 2, 5):
        fork = run(model, "fork", {**params, **same, "fork_step": k})
        assert fork.extras["reused_timeline"]
        np.testing.assert_array_equal(fork.latents, original.latents, err_msg=f"{scheduler} k={k}")
        np.testing.assert_array_equal(fork.images, original.images)
    fresh = run(load(folder), "fork", {**params, **same, "fork_step": 2})
    assert not fresh.extras["reused_timeline"]
    np.testing.assert_array_equal(fresh.latents, original.latents, err_msg=scheduler)


def test_guidance_one_runs_the_conditional_batch_only(folder: Path) -> None:
    model = load(folder)
    calls = count_calls(model.unet)
    run(model, "sample", {"count": 3, "steps": 4, "guidance": 1.0, "class_index": 2})
    assert calls == [3] * 4
    calls.clear()
    run(model, "sample", {"count": 3, "steps": 4, "guidance": 2.0, "class_index": 2})
    assert calls == [6] * 4


def test_inpaint_pastes_the_unmasked_pixels_back(folder: Path) -> None:
    model = load(folder)
    mask = np.zeros((SIZE, SIZE, 1), np.uint8)
    mask[4:, :] = 255
    out = run(model, "inpaint", {"count": 3, "steps": 4}, image=a_glyph(), mask=mask)
    keep = mask[..., 0] < 128
    for picture in out.images:
        np.testing.assert_array_equal(picture[keep], a_glyph()[keep])


def test_a_different_vae_is_refused(folder: Path, tmp_path: Path) -> None:
    card = json.loads((folder / "card.json").read_text())
    card["config"]["vae_sha256"] = "0" * 64
    bad = tmp_path / "bad"
    shutil.copytree(folder / "vae-tiny", bad / "vae-tiny")  # the VAE the card names
    (bad / "card.json").write_text(json.dumps(card))
    (bad / WEIGHTS_FILE).write_bytes((folder / WEIGHTS_FILE).read_bytes())
    with pytest.raises(ModelLoadError, match="not the VAE"):
        load(bad)
    card["config"]["vae"] = "nowhere"
    (bad / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="VAE 'nowhere' is not there"):
        load(bad)


@pytest.mark.parametrize("how", ["absolute", "dots"])
def test_a_vae_outside_the_studio_folders_is_never_read(folder: Path, tmp_path: Path,
                                                        monkeypatch, how: str) -> None:
    """A card's VAE reference may not be absolute or use ../: it was read whole into
    memory (to hash it) from wherever it pointed."""
    outside = tmp_path / "outside"
    shutil.copytree(folder / "vae-tiny", outside)
    bad = tmp_path / "models" / "bad"
    bad.mkdir(parents=True)
    card = json.loads((folder / "card.json").read_text())
    card["config"]["vae"] = str(outside) if how == "absolute" else "../../outside"
    (bad / "card.json").write_text(json.dumps(card))
    (bad / WEIGHTS_FILE).write_bytes((folder / WEIGHTS_FILE).read_bytes())
    read = []
    monkeypatch.setattr("studio.families.latent_diffusion.model.sha256_file", read.append)
    with pytest.raises(ModelLoadError, match=r"card\.json: VAE '.*outside' leaves the folder"):
        load(bad)
    assert read == []


def test_a_recipe_names_its_vae_by_id_not_by_path(tmp_path: Path) -> None:
    recipe = {"id": "x", "family": "latent_diffusion", "dataset": {"name": "glyphs"},
              "config": {"resolution": SIZE, "channels": 1, "vae": str(tmp_path)}}
    with pytest.raises(ModelLoadError, match="leaves the folder"):
        LatentDiffusionFamily.make_trainable(recipe, tiny_data())


def test_comparison_figures_are_measured(folder: Path) -> None:
    from studio.families.latent_diffusion.model import compare_with_pixel, latent_note

    alone = compare_with_pixel(load(folder), pixel_id="no-such-model")
    assert set(alone) == {"seconds_per_image", "threads"} and alone["seconds_per_image"] > 0
    assert latent_note(alone) == ""  # no pixel model, no claim
    note = latent_note({**alone, "pixel_seconds_per_image": 4 * alone["seconds_per_image"],
                        "speedup_over_pixel": 4.0, "class_accuracy": 0.9, "pixel_class_accuracy": 0.8})
    assert "4.0× faster" in note and "0.900 against 0.800" in note
