"""The flow family: the shared contract on a tiny seeded Glow, then what only a flow can
do: exact inversion, an exact log-determinant, and a likelihood that splits exactly
over scales and pixels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import Split, make_glyphs
from studio.core.family import JobContext, ModelLoadError
from studio.core.params import ParamError
from studio.families.flow.model import (
    FlowConfig,
    FlowFamily,
    Glow,
    data_init,
    dequantise,
    flatten_latents,
    squeeze,
    unsqueeze,
)
from studio.families.flow.spec import FLOW
from tests.families.contract import FamilyContract

SIZE = 8


def tiny_recipe() -> dict:
    return {
        "id": "flow-tiny", "name": "Tiny flow", "family": "flow", "seed": 0,
        "dataset": {"name": "glyphs", "fonts": [], "size": SIZE, "cache": False},
        "config": {"resolution": SIZE, "channels": 1, "levels": 2, "steps_per_level": 2,
                   "hidden": [8, 8], "num_classes": 10, "dequant_draws": 2},
        "train": {"steps": 3, "batch_size": 10, "warmup": 1},
    }


def tiny_data() -> dict[str, Split]:
    train = make_glyphs(2, seed=0, fonts=[], size=SIZE, cache=False)
    held = make_glyphs(1, seed=1, fonts=[], size=SIZE, cache=False)
    return {"train": Split(*train), "held_out": Split(*held)}


def make_tiny_flow(folder: Path) -> Path:
    torch.manual_seed(0)
    data = tiny_data()
    trainable = FlowFamily.make_trainable(tiny_recipe(), data)
    train = data["train"]
    for _ in range(3):  # real steps: actnorm initialised from data, weights moved
        trainable.step({"images": torch.from_numpy(train.images[:10]).permute(0, 3, 1, 2).float() / 255.0,
                        "labels": torch.from_numpy(train.labels[:10])})
    trainable.export(folder, {})
    return folder


def perturbed_glow(seed: int = 0, num_classes: int = 3) -> Glow:
    """A tiny Glow whose every layer is far from the identity, so the tests below see
    real couplings, permutations and scales."""
    torch.manual_seed(seed)
    model = Glow(FlowConfig(resolution=SIZE, levels=2, steps_per_level=2, hidden=(8, 8),
                            num_classes=num_classes))
    data_init(model, dequantise(torch.rand(6, 1, SIZE, SIZE)), None)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


class TestFlowContract(FamilyContract):
    family = FLOW
    map_ops = ("likelihood",)

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_tiny_flow(tmp_path)


def test_squeeze_is_inverted_by_unsqueeze():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    assert squeeze(x).shape == (2, 12, 4, 4)
    assert torch.equal(unsqueeze(squeeze(x)), x)


@torch.no_grad()
def test_encode_decode_round_trip_within_1e3():
    model = perturbed_glow()
    y = dequantise(torch.rand(4, 1, SIZE, SIZE))
    zs, _, _ = model.encode(y)
    back = model.decode(zs)
    assert float((back - y).abs().max()) < 1e-3
    # and the other way: a random latent decodes, and encodes back to itself
    z = torch.randn(2, SIZE * SIZE)
    from studio.families.flow.model import split_latents

    x = model.decode(split_latents(z, model.cfg.level_shapes()))
    assert float((flatten_latents(model.encode(x)[0]) - z).abs().max()) < 1e-3


def test_log_determinant_matches_brute_force_jacobian():
    model = perturbed_glow(seed=1).double()
    y = dequantise(torch.rand(1, 1, SIZE, SIZE)).double()

    def flow(v: torch.Tensor) -> torch.Tensor:
        return flatten_latents(model.encode(v.view(1, 1, SIZE, SIZE))[0])[0]

    jacobian = torch.autograd.functional.jacobian(flow, y.flatten())  # (64, 64)
    brute = float(torch.linalg.slogdet(jacobian)[1])
    with torch.no_grad():
        _, _, logdets = model.encode(y)
    assert abs(brute) > 1.0  # the layers really change volume
    assert sum(float(m.sum()) for m in logdets) == pytest.approx(brute, abs=1e-8)


def test_likelihood_maps_sum_to_the_bits_per_dim(tmp_path):
    model = FlowFamily.load(make_tiny_flow(tmp_path), ModelCard.read(tmp_path), "cpu")
    image = tiny_data()["held_out"].images[3]
    out = model.run("likelihood", {"class_index": 3}, {"image": image}, JobContext())
    bpd = out.extras["bits_per_dim"]
    assert 0.0 < bpd < 16.0
    # the per-pixel map holds every bit: its mean is the bits/dim, exactly
    assert float(out.extras["pixel_bits"].mean()) == pytest.approx(bpd, rel=1e-5)
    assert len(out.extras["bits_per_level"]) == 2
    assert sum(out.extras["bits_per_level"]) + 8.0 == pytest.approx(bpd, rel=1e-5)
    assert out.images.shape == (4, SIZE, SIZE, 3)  # input, all scales, then one per scale
    posterior = np.asarray(out.extras["class_posterior"])
    assert posterior.shape == (10,) and posterior.sum() == pytest.approx(1.0, abs=1e-5)
    assert out.extras["map_class"] == "3"  # the maps are read under the asked class
    assert out.extras["most_likely_class"] == str(int(posterior.argmax()))
    # the class-marginal likelihood mixes the classes: never better than the best class
    marginal = model.run("likelihood", {}, {"image": image}, JobContext()).extras["bits_per_dim"]
    best = min(model.run("likelihood", {"class_index": k}, {"image": image}, JobContext())
               .extras["bits_per_dim"] for k in range(10))
    assert best <= marginal <= best + math.log2(10) / SIZE ** 2 + 1e-6


def test_likelihood_is_the_dequantised_bound(tmp_path):
    """bits/dim = (E_u[−log p(y)] + D log 256) / (D log 2), with the op's seeded draws."""
    model = FlowFamily.load(make_tiny_flow(tmp_path), ModelCard.read(tmp_path), "cpu")
    image = tiny_data()["held_out"].images[0]
    got = model.run("likelihood", {"class_index": 0}, {"image": image}, JobContext()).extras["bits_per_dim"]
    x01 = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255.0).repeat(2, 1, 1, 1)
    y = dequantise(x01, torch.Generator().manual_seed(0))
    with torch.inference_mode():
        nll = -model.model.log_prob(y, torch.zeros(2, dtype=torch.long)).mean()
    d = SIZE * SIZE
    assert got == pytest.approx((float(nll) + d * math.log(256)) / (d * math.log(2)), rel=1e-6)


def test_reconstruct_returns_the_same_pixels(tmp_path):
    model = FlowFamily.load(make_tiny_flow(tmp_path), ModelCard.read(tmp_path), "cpu")
    image = tiny_data()["held_out"].images[5]
    out = model.run("reconstruct", {}, {"image": image}, JobContext())
    assert out.extras["max_abs_error"] < 1e-3
    np.testing.assert_array_equal(out.images[0], image)
    np.testing.assert_array_equal(out.images[1], image)


def test_interpolation_ends_at_the_encoded_images(tmp_path):
    model = FlowFamily.load(make_tiny_flow(tmp_path), ModelCard.read(tmp_path), "cpu")
    held = tiny_data()["held_out"].images
    out = model.run("interpolate", {"frames": 5}, {"image_a": held[1], "image_b": held[7]},
                    JobContext())
    assert out.images.shape == (5, SIZE, SIZE, 1)
    np.testing.assert_array_equal(out.images[0], held[1])
    np.testing.assert_array_equal(out.images[-1], held[7])
    assert not np.array_equal(out.images[2], held[1])


def test_temperature_zero_gives_the_prior_mode_for_every_seed(tmp_path):
    model = FlowFamily.load(make_tiny_flow(tmp_path), ModelCard.read(tmp_path), "cpu")
    a = model.run("sample", {"seed": 1, "count": 2, "temperature": 0.0, "class_index": 4}, {}, JobContext())
    b = model.run("sample", {"seed": 9, "count": 2, "temperature": 0.0, "class_index": 4}, {}, JobContext())
    np.testing.assert_array_equal(a.images, b.images)
    c = model.run("sample", {"seed": 1, "count": 2, "temperature": 0.7, "class_index": 4}, {}, JobContext())
    assert not np.array_equal(a.latents, c.latents)
    assert a.labels == ("4", "4")


def test_wrong_latent_shape_and_class_are_clear_errors(tmp_path):
    model = FlowFamily.load(make_tiny_flow(tmp_path), ModelCard.read(tmp_path), "cpu")
    with pytest.raises(ParamError, match="latent"):
        model.run("decode", {}, {"latent": np.zeros((3, 7), np.float32)}, JobContext())
    with pytest.raises(ParamError, match="NaN"):
        model.run("decode", {}, {"latent": np.full((SIZE * SIZE,), np.nan, np.float32)}, JobContext())
    with pytest.raises(ParamError, match="class_index"):
        model.run("sample", {"class_index": 12}, {}, JobContext())


def test_corrupt_or_mismatched_weights_name_the_file(tmp_path):
    folder = make_tiny_flow(tmp_path / "m")
    card = ModelCard.read(folder)
    (folder / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match=WEIGHTS_FILE):
        FlowFamily.load(folder, card, "cpu")
    card.config = {**card.config, "hidden": [16, 16]}
    folder2 = make_tiny_flow(tmp_path / "n")
    with pytest.raises(ModelLoadError, match="shape"):
        FlowFamily.load(folder2, card, "cpu")
