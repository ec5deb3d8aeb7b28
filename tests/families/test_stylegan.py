"""Imported StyleGANs: NVIDIA's numerics reproduced (the fixtures), network pickles in
NVIDIA's layout imported and rendered (made here by the tests' own code), and every way a
pickle could try to run code refused without running it."""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from studio import cli
from studio.core.cards import ModelCard
from studio.core.family import JobContext
from studio.core.library import Library
from studio.families.stylegan.family import StyleGANFamily
from studio.families.stylegan.importer import import_network_pickle
from studio.families.stylegan.networks import Generator, StyleGANConfig, to_uint8
from studio.families.stylegan.pickle_reader import (
    PickleReadError,
    TensorFlowPickleError,
    UnsafePickleError,
    read_network_pickle,
)
from studio.families.stylegan.spec import STYLEGAN
from tests.families.contract import FamilyContract
from tests.families.stylegan_pickles import network_pickle, nvidia_names, record_of, tiny_generator

# NVIDIA-made weights, kept out of the repository (their licence): shared/ lies beside the
# clone, in CI too; LATENT_STUDIO_FIXTURES names another place.
FIXTURES = Path(os.environ.get("LATENT_STUDIO_FIXTURES")
                or Path(__file__).resolve().parents[3] / "shared" / "fixtures") / "stylegan"


def nvidia_render(G: Generator, seed: int, psi: float, class_index: int | None = None,
                  noise_mode: str = "const") -> np.ndarray:
    """gen_images.py's recipe with the studio's generator: RandomState z, one-hot label,
    ×127.5 + 128, clamp, truncate."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.cfg.z_dim))
    c = None
    if G.cfg.c_dim:
        c = torch.zeros(1, G.cfg.c_dim)
        c[:, class_index] = 1
    with torch.no_grad():
        return to_uint8(G(z, c, psi, noise_mode))[0]


def import_cli(path: Path, capsys) -> str:
    assert cli.main(["import", str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    return out[-1]  # the new model's id on the last line


# -- NVIDIA's numerics ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sg2-uncond-32", "sg3t-uncond-64"])
def test_fixtures_are_reproduced_within_one_level(name):
    # missing fixtures fail the test: a silent skip would hide that NVIDIA's numerics
    # were never checked
    assert FIXTURES.is_dir(), f"{FIXTURES}: the StyleGAN fixtures are missing (set LATENT_STUDIO_FIXTURES)"
    index = json.loads((FIXTURES / "index.json").read_text())
    model = index["models"][name]
    cfg = StyleGANConfig.from_init_kwargs(model["architecture"], model["init_kwargs"])
    assert cfg.num_ws == model["num_ws"]
    G = Generator(cfg).eval()
    tensors = load_file(str(FIXTURES / model["weights"]))
    assert {k: list(v.shape) for k, v in tensors.items()} == model["tensors"]
    G.load_state_dict(tensors)
    refs = np.load(FIXTURES / model["references"])
    ws = []
    for case in model["cases"]:
        z = torch.from_numpy(refs[case["z"]])
        np.testing.assert_array_equal(z.numpy(), np.random.RandomState(case["seed"]).randn(1, cfg.z_dim))
        with torch.no_grad():
            w = G.mapping.truncate(G.mapping(z), case["psi"])
        # float32 on any CPU: the mapping's matmuls may round differently by a few ulps
        np.testing.assert_allclose(w.numpy(), refs[case["w"]], atol=1e-4)
        ws.append(w)
    with torch.no_grad():  # the cases as one batch: every image is computed on its own
        images = to_uint8(G.synthesis(torch.cat(ws)))
    for case, image in zip(model["cases"], images):
        diff = np.abs(image.astype(int) - refs[case["uint8"]].astype(int))
        assert diff.max() <= 1, (name, case, diff.max())  # truncation to uint8 may flip one level


# -- import and render ------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["stylegan2", "stylegan3-t", "stylegan3-r"])
def test_imported_pickle_renders_what_gen_images_would(architecture, tmp_path, capsys):
    G, kwargs = tiny_generator(architecture)
    path = tmp_path / f"tiny-{architecture}.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    model_id = import_cli(path, capsys)
    entry = Library().get(model_id)
    assert entry.family == "stylegan"
    assert entry.card.latent_shape == [G.cfg.num_ws, G.cfg.w_dim]
    assert entry.card.config["architecture"] == architecture
    assert (entry.folder / "discriminator.safetensors").is_file()  # D kept for projection
    assert not any(p.suffix == ".pkl" for p in entry.folder.iterdir())  # never read again
    for seed, psi in ((3, 0.7), (5, -0.5), (8, 2.0)):
        out = tmp_path / f"seed{seed}.png"
        assert cli.main(["generate", "--model", model_id, "--seed", str(seed), "--count", "1",
                         "--truncation", str(psi), "--noise-mode", "const", "-o", str(out)]) == 0
        got = np.asarray(Image.open(out).convert("RGB"))
        want = nvidia_render(G, seed, psi)
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.parametrize("architecture", ["stylegan2", "stylegan3-t"])
def test_conditional_model_takes_a_one_hot_class(architecture, tmp_path, capsys):
    G, kwargs = tiny_generator(architecture, c_dim=4)
    path = tmp_path / "cond.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    model_id = import_cli(path, capsys)
    images = []
    for k in (1, 2):
        out = tmp_path / f"class{k}.png"
        assert cli.main(["generate", "--model", model_id, "--seed", "4", "--count", "1",
                         "--truncation", "1", "--class-index", str(k), "-o", str(out)]) == 0
        got = np.asarray(Image.open(out).convert("RGB"))
        assert np.abs(got.astype(int) - nvidia_render(G, 4, 1.0, k).astype(int)).max() <= 1
        images.append(got)
    assert not np.array_equal(images[0], images[1])


def _loaded(tmp_path: Path, architecture: str = "stylegan2", **kw):
    G, kwargs = tiny_generator(architecture, **kw)
    path = tmp_path / "net.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    folder = import_network_pickle(path, tmp_path / "models", pca_samples=2000)
    return G, StyleGANFamily.load(folder, ModelCard.read(folder), "cpu")


def test_noise_modes_and_every_gan_op(tmp_path):
    G, model = _loaded(tmp_path)
    ctx = JobContext()
    const = model.run("sample", {"seed": 2, "count": 1, "noise_mode": "const"}, {}, ctx).images[0]
    none = model.run("sample", {"seed": 2, "count": 1, "noise_mode": "none"}, {}, ctx).images[0]
    rand_a = model.run("sample", {"seed": 2, "count": 1, "noise_mode": "random"}, {}, ctx).images[0]
    rand_b = model.run("sample", {"seed": 2, "count": 1, "noise_mode": "random"}, {}, ctx).images[0]
    np.testing.assert_array_equal(const, nvidia_render(G, 2, 1.0))
    np.testing.assert_array_equal(none, nvidia_render(G, 2, 1.0, noise_mode="none"))
    np.testing.assert_array_equal(rand_a, rand_b)  # random noise is drawn from the seed
    assert not np.array_equal(const, none) and not np.array_equal(const, rand_a)

    # style mixing with the model's own layer ranges: fine layers from the column seed
    first, last = model.cfg.layer_ranges()["fine"]
    mix = model.run("mix", {"row_seeds": "1", "column_seeds": "2", "layers": "fine"}, {}, ctx)
    cell = mix.latents[3]  # row 1, column 1
    np.testing.assert_array_equal(cell[first:last + 1], mix.latents[1][first:last + 1])
    np.testing.assert_array_equal(cell[:first], mix.latents[2][:first])

    walk = model.run("walk", {"seed": 0, "points": 2, "frames_per_point": 3, "loop": False}, {}, ctx)
    assert walk.images.shape[0] == 4
    edits = json.dumps([{"direction": 0, "amount": 2.0}])
    edited = model.run("sample", {"seed": 2, "count": 1, "edits": edits}, {}, ctx)
    assert not np.array_equal(edited.images[0], const)
    assert len(model.directions) == model.cfg.num_directions


def test_pca_directions_are_orthonormal_and_ordered(tmp_path):
    _, model = _loaded(tmp_path)
    v = model.vectors.double()
    np.testing.assert_allclose((v @ v.T).numpy(), np.eye(len(v)), atol=1e-4)
    sigmas = [d["sigma"] for d in model.directions]
    assert sigmas == sorted(sigmas, reverse=True)


def test_stylegan2_preview_stops_early_and_is_shown_full_size(tmp_path):
    G, model = _loaded(tmp_path)
    out = model.run("sample", {"seed": 1, "count": 1, "preview_resolution": 8}, {}, JobContext())
    assert out.images.shape == (1, 16, 16, 3) and out.extras["preview"] is True
    with torch.no_grad():
        ws = G.mapping.truncate(G.mapping(torch.from_numpy(np.random.RandomState(1).randn(1, 16))), 1.0)
        low = G.synthesis(ws, stop_res=8)
    assert low.shape[-1] == 8  # the ToRGB branch at 8 × 8, before the 16 × 16 block


def test_a_render_is_abandoned_between_blocks(tmp_path):
    G, _ = _loaded(tmp_path)
    calls = []

    def should_stop():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("superseded")

    with pytest.raises(RuntimeError, match="superseded"):
        G.synthesis(torch.zeros(1, G.cfg.num_ws, G.cfg.w_dim), should_stop=should_stop)
    assert len(calls) == 2  # stopped at the second block of three


def test_projection_uses_the_discriminator_and_lowers_the_loss(tmp_path):
    _, model = _loaded(tmp_path)
    target = model.run("sample", {"seed": 6, "count": 1}, {}, JobContext()).images[0]
    out = model.run("project", {"steps": 20, "seed": 0}, {"image": target}, JobContext())
    assert out.extras["features"] == "discriminator"
    assert out.extras["loss"] < out.extras["initial_loss"]
    assert out.latents.shape == (1, model.cfg.num_ws, model.cfg.w_dim)


# -- nothing from the file runs -----------------------------------------------------------


def test_embedded_module_source_is_never_run(tmp_path, capsys):
    marker = tmp_path / "marker"
    src = f"open({str(marker)!r}, 'w').write('ran')\nimport os\nos.system('touch {marker}')\n"
    G, kwargs = tiny_generator("stylegan2")
    path = tmp_path / "payload.pkl"
    path.write_bytes(network_pickle(G, kwargs, module_src=src))
    data = read_network_pickle(path.read_bytes())
    assert data["G_ema"].module_src == src  # kept as data only
    model_id = import_cli(path, capsys)
    assert cli.main(["generate", "--model", model_id, "--seed", "0", "--count", "1",
                     "-o", str(tmp_path / "x.png")]) == 0
    assert not marker.exists()


def test_unknown_persistent_class_is_refused(tmp_path, capsys):
    G, kwargs = tiny_generator("stylegan2")
    path = tmp_path / "evil.pkl"
    path.write_bytes(network_pickle(G, kwargs, g_class="Evil"))
    assert cli.main(["import", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "evil.pkl" in err and "'Evil'" in err


class _Reduce:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Builtin:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w')",))


@pytest.mark.parametrize("payload", [_Reduce, _Builtin])
def test_reduce_payloads_are_refused_naming_the_global(payload, tmp_path, capsys):
    marker = tmp_path / "marker"
    G, kwargs = tiny_generator("stylegan2")
    with nvidia_names():
        data = {"G": record_of(G, "Generator", kwargs), "D": None, "G_ema": record_of(G, "Generator", kwargs),
                "augment_pipe": payload(marker), "training_set_kwargs": {}}
        raw = pickle.dumps(data, protocol=4)
    path = tmp_path / "reduce.pkl"
    path.write_bytes(raw)
    with pytest.raises(UnsafePickleError, match=r"refused global (posix|nt|os)\.system|refused global builtins\.eval"):
        read_network_pickle(raw)
    assert cli.main(["import", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "reduce.pkl" in err and "refused global" in err
    assert not marker.exists()
    assert Library().entries() == [e for e in Library().entries() if e.builtin]


def test_plain_torch_modules_are_refused_too(tmp_path):
    with nvidia_names():
        raw = pickle.dumps({"G_ema": torch.nn.Linear(2, 2)}, protocol=4)
    with pytest.raises(UnsafePickleError, match="torch.nn.modules.linear.Linear"):
        read_network_pickle(raw)


@pytest.mark.parametrize("numpy_names", ["numpy._core", "numpy.core"])
def test_numpy_1_and_numpy_2_globals_both_load(numpy_names, tmp_path):
    G, kwargs = tiny_generator("stylegan3-t")
    raw = network_pickle(G, kwargs, protocol=2)  # GLOBAL opcodes name module and attribute as text
    raw = raw.replace(b"numpy._core.multiarray\n", f"{numpy_names}.multiarray\n".encode())
    assert f"{numpy_names}.multiarray\n".encode() in raw
    data = read_network_pickle(raw)
    record = data["G_ema"].child("synthesis").child("input")
    assert isinstance(record.state["act_gain"], np.floating)
    np.testing.assert_array_equal(record.state["size"], [16, 16])
    path = tmp_path / "np.pkl"
    path.write_bytes(raw)
    folder = import_network_pickle(path, tmp_path / "models", pca_samples=1000)
    model = StyleGANFamily.load(folder, ModelCard.read(folder), "cpu")
    got = model.run("sample", {"seed": 9, "count": 1, "truncation": 0.5}, {}, JobContext()).images[0]
    assert np.abs(got.astype(int) - nvidia_render(G, 9, 0.5).astype(int)).max() <= 1


def test_tensorflow_era_pickle_is_refused_in_one_line(tmp_path, capsys):
    class Network:
        def __init__(self, name: str) -> None:
            self.name = name
            self.variables = [("w", np.zeros(2, np.float32))]

    Network.__module__ = "dnnlib.tflib.network"
    Network.__qualname__ = "Network"
    with nvidia_names({"dnnlib.tflib": {}, "dnnlib.tflib.network": {"Network": Network}}):
        raw = pickle.dumps((Network("G"), Network("D"), Network("Gs")), protocol=2)
    with pytest.raises(TensorFlowPickleError):
        read_network_pickle(raw)
    path = tmp_path / "karras2019stylegan-ffhq-1024x1024.pkl"
    path.write_bytes(raw)
    assert cli.main(["import", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "TensorFlow" in err and path.name in err


def test_garbage_is_one_clear_line(tmp_path, capsys):
    path = tmp_path / "broken.pkl"
    path.write_bytes(b"\x80\x04not a pickle at all")
    with pytest.raises(PickleReadError):
        read_network_pickle(path.read_bytes())
    assert cli.main(["import", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.pkl" in err


def test_nothing_of_nvidia_is_imported():
    assert not any(name.split(".")[0] in ("torch_utils", "dnnlib", "legacy") for name in sys.modules)


def test_a_png_recipe_re_renders_the_same_pixels(tmp_path, capsys):
    G, kwargs = tiny_generator("stylegan2")
    path = tmp_path / "recipe.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    model_id = import_cli(path, capsys)
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    assert cli.main(["generate", "--model", model_id, "--seed", "12", "--count", "2", "--truncation", "0.6",
                     "--noise-mode", "random", "-o", str(first)]) == 0
    assert cli.main(["generate", "--recipe", str(first), "-o", str(again)]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(again)))


# -- the family contract every family keeps --------------------------------------------


def _folder(tmp_path: Path, architecture: str, with_d: bool, **kw) -> Path:
    G, kwargs = tiny_generator(architecture, **kw)
    path = tmp_path / f"{architecture}.pkl"
    path.write_bytes(network_pickle(G, kwargs, with_d=with_d))
    return import_network_pickle(path, tmp_path / "models", pca_samples=1000)


class TestConditionalStyleGAN2Contract(FamilyContract):
    family = STYLEGAN

    def make_model_folder(self, tmp_path: Path) -> Path:
        return _folder(tmp_path, "stylegan2", True, c_dim=3)


class TestStyleGAN3Contract(FamilyContract):
    """No discriminator in the pickle: project matches pixels only."""

    family = STYLEGAN

    def make_model_folder(self, tmp_path: Path) -> Path:
        return _folder(tmp_path, "stylegan3-r", False, margin_size=2)


def test_stylegan2_ada_pytorch_kwargs_nest_the_synthesis_kwargs(tmp_path):
    G, kwargs = tiny_generator("stylegan2")
    synthesis = {k: kwargs.pop(k) for k in ("channel_base", "channel_max", "num_fp16_res", "conv_clamp")}
    kwargs.pop("fused_modconv_default")
    kwargs["synthesis_kwargs"] = synthesis  # training.networks.Generator's signature
    path = tmp_path / "ada.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    folder = import_network_pickle(path, tmp_path / "models", pca_samples=1000)
    model = StyleGANFamily.load(folder, ModelCard.read(folder), "cpu")
    got = model.run("sample", {"seed": 4, "count": 1, "truncation": 0.8}, {}, JobContext()).images[0]
    np.testing.assert_array_equal(got, nvidia_render(G, 4, 0.8))


@pytest.mark.parametrize("separable", [True, False])
@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (4, 1), (1, 2), (2, 2)])
@pytest.mark.parametrize("padding", [(0, 0, 0, 0), (3, 2, 3, 2), (-1, 2, 5, -2)])
def test_fast_upfirdn2d_equals_its_literal_definition(separable, up, down, padding):
    from studio.families.stylegan.ops import upfirdn2d, upfirdn2d_reference

    gen = torch.Generator().manual_seed(up * 10 + down)
    f = torch.rand(12 if separable else 4, generator=gen)
    if not separable:
        f = torch.outer(f, f)
    x = torch.randn(2, 3, 17, 19, generator=gen)  # larger than the filter: every case valid
    want = upfirdn2d_reference(x, f, up, down, padding, gain=up * up)
    got = upfirdn2d(x, f, up, down, padding, gain=up * up)
    assert got.shape == want.shape
    # float32 sums of ≤ 144 products in another order
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)


def test_a_stylegan2_without_noise_inputs_imports(tmp_path):
    G, kwargs = tiny_generator("stylegan2", use_noise=False)
    assert not any("noise" in name for name in G.state_dict())
    path = tmp_path / "quiet.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    folder = import_network_pickle(path, tmp_path / "models", pca_samples=1000)
    model = StyleGANFamily.load(folder, ModelCard.read(folder), "cpu")
    got = model.run("sample", {"seed": 1, "count": 1, "noise_mode": "random"}, {}, JobContext()).images[0]
    np.testing.assert_array_equal(got, nvidia_render(G, 1, 1.0))


def test_a_card_pointing_outside_its_folder_is_refused(tmp_path):
    from studio.core.family import ModelLoadError

    G, kwargs = tiny_generator("stylegan2")
    path = tmp_path / "escape.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    folder = import_network_pickle(path, tmp_path / "models", pca_samples=1000)
    card = json.loads((folder / "card.json").read_text())
    card["config"]["discriminator_file"] = "../../escape.pkl"
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="discriminator_file"):
        StyleGANFamily.load(folder, ModelCard.read(folder), "cpu")
