"""The VAE family: the shared contract on a tiny seeded VAE, then VAE specifics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import make_glyphs
from studio.core.family import JobContext, ModelLoadError
from studio.core.latent import grid_point
from studio.core.params import ParamError
from studio.families.vae.model import VAEConfig, VAEFamily
from studio.families.vae.spec import VAE
from tests.families.contract import FamilyContract

SIZE = 8  # tiny: 8 × 8 glyphs, a 2 × 4 × 4 latent


def tiny_recipe(prior: str = "standard") -> dict:
    return {
        "id": "vae-tiny", "name": "Tiny VAE", "family": "vae", "seed": 0,
        "dataset": {"name": "glyphs", "fonts": [], "size": SIZE, "cache": False},
        "config": {"resolution": SIZE, "channels": 1, "latent_channels": 2, "widths": [4, 8],
                   "prior": prior},
        "train": {"steps": 2, "batch_size": 8, "kl_warmup": 1},
    }


def tiny_data() -> dict:
    from studio.core.datasets import Split

    train = make_glyphs(2, seed=0, fonts=[], size=SIZE, cache=False)
    held = make_glyphs(2, seed=1, fonts=[], size=SIZE, cache=False)
    return {"train": Split(*train), "held_out": Split(*held)}


def make_tiny_vae(folder: Path, prior: str = "standard") -> Path:
    torch.manual_seed(0)
    data = tiny_data()
    trainable = VAEFamily.make_trainable(tiny_recipe(prior), data)
    # two real steps, so the EMA and PCA are not all at their initial values
    for i in range(2):
        batch = data["train"].images[i * 8:(i + 1) * 8]
        trainable.step({"images": torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255.0})
    trainable.export(folder, {})
    return folder


class TestVAEContract(FamilyContract):
    family = VAE

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_tiny_vae(tmp_path)


class TestFittedPriorVAEContract(FamilyContract):
    family = VAE

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_tiny_vae(tmp_path, prior="fitted")


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory) -> Path:
    return make_tiny_vae(tmp_path_factory.mktemp("vae"))


@pytest.fixture(scope="module")
def vae(vae_folder: Path):
    return VAEFamily.load(vae_folder, ModelCard.read(vae_folder), "cpu")


def run(model, op, params=None, **inputs):
    return model.run(op, params or {}, inputs, JobContext())


def test_card_and_config(vae) -> None:
    card = vae.card
    assert card.latent_shape == [2, 4, 4]
    assert VAEConfig.from_dict(card.config).latent_shape == (2, 4, 4)
    assert "reconstruction_mse" in card.metrics and card.weights_sha256


def test_sample_shapes_and_temperature_zero(vae) -> None:
    out = run(vae, "sample", {"seed": 1, "count": 5, "temperature": 0.0})
    assert out.images.shape == (5, SIZE, SIZE, 1) and out.latents.shape == (5, 2, 4, 4)
    assert (out.latents == 0).all() and (out.images == out.images[:1]).all()


def test_encode_fits_any_image(vae) -> None:
    image = np.random.default_rng(0).integers(0, 256, (50, 30, 3), dtype=np.uint8)
    out = run(vae, "encode", image=image)
    assert out.latents.shape == (1, 2, 4, 4) and out.images.shape == (1, SIZE, SIZE, 1)


def test_reconstruct_pairs_input_and_output(vae) -> None:
    image = make_glyphs(1, seed=3, fonts=[], size=SIZE, cache=False)[0][4]
    out = run(vae, "reconstruct", image=image)
    assert out.columns == 2 and out.images.shape == (2, SIZE, SIZE, 1)
    np.testing.assert_array_equal(out.images[0], image)
    expected = ((out.images[0] / 255.0 - out.images[1] / 255.0) ** 2).mean()
    assert out.extras["mse"] == pytest.approx(expected, rel=1e-5)


def test_decode_accepts_one_or_many_and_rejects_wrong_shapes(vae) -> None:
    z = np.random.default_rng(1).standard_normal((3, 2, 4, 4)).astype(np.float32)
    many = run(vae, "decode", latent=z).images
    one = run(vae, "decode", latent=z[1]).images
    assert many.shape == (3, SIZE, SIZE, 1) and one.shape == (1, SIZE, SIZE, 1)
    assert np.abs(many[1].astype(int) - one[0]).max() <= 1  # batch size may round differently
    with pytest.raises(ParamError, match="latent"):
        run(vae, "decode", latent=np.zeros((4, 4, 4), np.float32))


def test_interpolate_ends_decode_the_endpoints(vae) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    for method in ("slerp", "lerp"):
        out = run(vae, "interpolate", {"frames": 5, "method": method}, latent_a=a, latent_b=b)
        assert out.images.shape[0] == 5 and out.columns == 5
        np.testing.assert_allclose(out.latents[0], a, atol=1e-5)
        np.testing.assert_allclose(out.latents[-1], b, atol=1e-5)
        ends = run(vae, "decode", latent=np.stack([a, b])).images
        assert np.abs(out.images[[0, -1]].astype(int) - ends).max() <= 1


def test_interpolate_from_images_and_from_the_seed(vae) -> None:
    images = make_glyphs(1, seed=4, fonts=[], size=SIZE, cache=False)[0]
    out = run(vae, "interpolate", {"frames": 3}, image_a=images[0], image_b=images[1])
    enc = run(vae, "encode", image=images[0]).latents[0]
    np.testing.assert_allclose(out.latents[0], enc, atol=1e-5)
    seeded = run(vae, "interpolate", {"seed": 9, "frames": 3})
    first = run(vae, "sample", {"seed": 9, "count": 2}).latents
    np.testing.assert_allclose(seeded.latents[[0, -1]], first, atol=1e-5)


def test_traverse_grid(vae) -> None:
    out = run(vae, "traverse", {"first_direction": 2, "directions": 3, "steps": 5, "extent": 1.0})
    assert out.images.shape[0] == 15 and out.columns == 5
    center = out.extras["center"]
    # the middle column is the centre itself; rows move along PC2, PC3, PC4
    np.testing.assert_allclose(out.latents[2], center, atol=1e-6)
    pca_axis = vae.pca.components[3] * vae.pca.stds[3]
    np.testing.assert_allclose(out.latents[9] - center, pca_axis.reshape(2, 4, 4), atol=1e-5)


def test_map_extras_recompute_any_cell(vae) -> None:
    size, extent = 5, 2.0
    out = run(vae, "map", {"size": size, "extent": extent, "direction_x": 1, "direction_y": 0})
    ex = out.extras
    assert ex["size"] == size and ex["extent"] == extent and out.columns == size
    for key in ("center", "axis_x", "axis_y"):
        assert ex[key].dtype == np.float32 and ex[key].shape == (2, 4, 4)
    us, vs = np.linspace(-extent, extent, size), np.linspace(extent, -extent, size)
    for row, col in ((0, 0), (0, size - 1), (3, 1), (size - 1, size - 1)):
        z = grid_point(ex["center"], ex["axis_x"], ex["axis_y"], us[col], vs[row])
        np.testing.assert_allclose(z, out.latents[row * size + col], atol=1e-5)
        decoded = run(vae, "decode", latent=z).images[0]
        assert np.abs(decoded.astype(int) - out.images[row * size + col]).max() <= 1
    # row 0 is the top: +extent on y
    np.testing.assert_allclose(out.latents[0], ex["center"] - extent * ex["axis_x"] + extent * ex["axis_y"], atol=1e-5)


def test_map_direction_beyond_the_latent_is_refused(vae) -> None:
    with pytest.raises(ParamError, match="direction_x"):
        run(vae, "map", {"direction_x": 40})


def test_centre_latent_input_is_used(vae) -> None:
    z = np.full((2, 4, 4), 0.5, np.float32)
    out = run(vae, "map", {"size": 3}, latent=z)
    np.testing.assert_allclose(out.extras["center"], z)
    np.testing.assert_allclose(out.latents[4], z, atol=1e-6)


def test_wrong_shaped_tensor_is_named(vae_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "card.json").write_bytes((vae_folder / "card.json").read_bytes())
    tensors = load_file(str(vae_folder / WEIGHTS_FILE))
    tensors["decoder.net.0.weight"] = torch.zeros(3, 3, 3, 3)
    save_file(tensors, str(folder / WEIGHTS_FILE))
    with pytest.raises(ModelLoadError) as err:
        VAEFamily.load(folder, ModelCard.read(folder), "cpu")
    message = str(err.value)
    assert str(folder / WEIGHTS_FILE) in message and "'decoder.net.0.weight'" in message
    assert "(3, 3, 3, 3)" in message and "expects" in message


def test_corrupt_or_missing_weights_are_named(vae_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "corrupt"
    folder.mkdir()
    (folder / "card.json").write_bytes((vae_folder / "card.json").read_bytes())
    data = (vae_folder / WEIGHTS_FILE).read_bytes()
    for blob in (data[: len(data) // 2], b"not a safetensors file at all"):
        (folder / WEIGHTS_FILE).write_bytes(blob)
        with pytest.raises(ModelLoadError, match=str(folder / WEIGHTS_FILE)):
            VAEFamily.load(folder, ModelCard.read(folder), "cpu")
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        VAEFamily.load(folder, ModelCard.read(folder), "cpu")


def test_fitted_prior_draws_from_the_class_mixture(tmp_path: Path) -> None:
    folder = make_tiny_vae(tmp_path, prior="fitted")
    model = VAEFamily.load(folder, ModelCard.read(folder), "cpu")
    means, scales, weights = (t.numpy() for t in model.prior)
    assert means.shape == (10, 32) and scales.shape == (10, 32, 32) and weights.shape == (10,)
    assert np.allclose(np.triu(scales[0], 1), 0)  # Cholesky factors
    # at temperature 0 every draw is the mean of the component it picked
    zero = run(model, "sample", {"seed": 1, "count": 64, "temperature": 0.0}).latents.reshape(64, -1)
    hits = np.abs(zero[:, None, :] - means[None]).max(-1).min(-1)
    assert hits.max() < 1e-5 and len({tuple(z) for z in zero.round(5)}) > 5
    assert model.memory_bytes() > scales.nbytes
