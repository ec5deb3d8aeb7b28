"""The autoregressive family: the shared contract on a tiny seeded PixelCNN, then its
promises: causality (by gradient), the cached sampler drawing exactly the plain
sampler's pixels, completion that keeps every unmasked pixel, exact per-pixel NLL, and
a live preview that can be cancelled."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.cards import ModelCard
from studio.core.datasets import Split, make_glyphs
from studio.core.family import Cancelled, JobContext
from studio.core.params import ParamError
from studio.families.autoregressive.model import (
    UNDRAWN,
    AutoregressiveFamily,
    PixelCNN,
    PixelCNNConfig,
    new_request,
    pixel_nll,
    sample_cached,
    sample_plain,
)
from studio.families.autoregressive.spec import AUTOREGRESSIVE
from tests.families.contract import FamilyContract

SIZE = 8


def tiny_recipe() -> dict:
    return {
        "id": "pixelcnn-tiny", "name": "Tiny PixelCNN", "family": "autoregressive", "seed": 0,
        "dataset": {"name": "glyphs", "fonts": [], "size": SIZE, "cache": False},
        "config": {"resolution": SIZE, "channels": 1, "hidden": 8, "layers": 3, "kernel": 3,
                   "first_kernel": 5, "head": 16, "num_classes": 10},
        "train": {"steps": 2, "batch_size": 10},
    }


def tiny_data() -> dict[str, Split]:
    train = make_glyphs(2, seed=0, fonts=[], size=SIZE, cache=False)
    held = make_glyphs(1, seed=1, fonts=[], size=SIZE, cache=False)
    return {"train": Split(*train), "held_out": Split(*held)}


def make_tiny_pixelcnn(folder: Path) -> Path:
    torch.manual_seed(0)
    data = tiny_data()
    trainable = AutoregressiveFamily.make_trainable(tiny_recipe(), data)
    train = data["train"]
    for _ in range(2):
        trainable.step({"images": torch.from_numpy(train.images[:10]).permute(0, 3, 1, 2).float() / 255.0,
                        "labels": torch.from_numpy(train.labels[:10])})
    trainable.export(folder, {})
    return folder


def load_tiny(tmp_path: Path):
    folder = make_tiny_pixelcnn(tmp_path)
    return AutoregressiveFamily.load(folder, ModelCard.read(folder), "cpu")


def random_pixelcnn(seed: int = 0, **changes) -> PixelCNN:
    """Weights far from their initial values, so every path of the network carries signal."""
    torch.manual_seed(seed)
    cfg = PixelCNNConfig(**{"resolution": SIZE, "hidden": 8, "layers": 3, "kernel": 3,
                            "first_kernel": 5, "head": 16, "num_classes": 4, **changes})
    model = PixelCNN(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model.eval()


class TestPixelCNNContract(FamilyContract):
    family = AUTOREGRESSIVE
    map_ops = ("likelihood",)

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_tiny_pixelcnn(tmp_path)


@pytest.mark.parametrize("changes", [{}, {"layers": 5, "kernel": 5, "first_kernel": 3}])
def test_each_output_depends_only_on_earlier_pixels(changes):
    model = random_pixelcnn(**changes)
    x = torch.rand(1, 1, SIZE, SIZE, requires_grad=True)
    logits = model(x, torch.tensor([2]))
    order = torch.arange(SIZE * SIZE).view(SIZE, SIZE)
    seen_before = 0
    for r in range(SIZE):
        for c in range(SIZE):
            (grad,) = torch.autograd.grad(logits[0, :, r, c].sum(), x, retain_graph=True)
            depends = grad[0, 0].abs() > 0
            assert not depends[order >= r * SIZE + c].any(), (r, c)  # nothing at or after i
            seen_before += int(depends.sum())
    assert seen_before > SIZE * SIZE  # and it does look at the pixels before it


@pytest.mark.parametrize("temperature,top_k,class_index", [(1.0, 0, -1), (0.6, 4, 2), (1.5, 0, 1)])
def test_cached_sampler_draws_the_plain_samplers_pixels(temperature, top_k, class_index):
    model = random_pixelcnn(seed=3)
    for seed in (0, 1):
        plain = sample_plain(model, new_request(model.cfg, 3, seed, class_index, temperature, top_k, "cpu"))
        cached = sample_cached(model, new_request(model.cfg, 3, seed, class_index, temperature, top_k, "cpu"))
        assert torch.equal(plain, cached)
        assert len(torch.unique(plain)) > 4  # real draws, not a constant image


def test_cached_sampler_matches_plain_when_completing():
    model = random_pixelcnn(seed=4)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (SIZE, SIZE, 1), dtype=np.uint8)
    fill = np.zeros((SIZE, SIZE), dtype=bool)
    fill[3:6, 2:7] = True
    args = (model.cfg, 2, 7, 1, 1.0, 0, "cpu", image, fill)
    plain = sample_plain(model, new_request(*args))
    cached = sample_cached(model, new_request(*args))
    assert torch.equal(plain, cached)
    kept = torch.from_numpy(~fill)
    assert torch.equal(plain[:, 0][:, kept], torch.from_numpy(image[..., 0]).float()[kept].repeat(2, 1))


def test_complete_keeps_unmasked_pixels_bit_exact(tmp_path):
    model = load_tiny(tmp_path)
    image = tiny_data()["held_out"].images[4]
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    mask[2:6, 1:7] = 255
    out = model.run("complete", {"seed": 3, "variations": 4}, {"image": image, "mask": mask}, JobContext())
    assert out.images.shape == (5, SIZE, SIZE, 1)
    hole = mask > 0
    assert (out.images[0][hole] == UNDRAWN).all()
    for variation in out.images[1:]:
        np.testing.assert_array_equal(variation[~hole], image[~hole])
    assert len({v[hole].tobytes() for v in out.images[1:]}) == 4  # four different fills
    bpd = out.extras["bits_per_dim"]
    assert bpd == sorted(bpd)  # most likely first
    assert out.extras["class"] in [str(k) for k in range(10)]


def test_complete_refuses_an_empty_mask(tmp_path):
    model = load_tiny(tmp_path)
    image = tiny_data()["held_out"].images[0]
    with pytest.raises(ParamError, match="mask"):
        model.run("complete", {}, {"image": image, "mask": np.zeros((SIZE, SIZE), np.uint8)}, JobContext())


def test_likelihood_is_the_sum_of_the_pixel_terms(tmp_path):
    model = load_tiny(tmp_path)
    image = tiny_data()["held_out"].images[2]
    out = model.run("likelihood", {"class_index": 2}, {"image": image}, JobContext())
    pixel_bits = out.extras["pixel_bits"]
    assert pixel_bits.shape == (SIZE, SIZE) and (pixel_bits >= 0).all()
    assert float(pixel_bits.mean()) == pytest.approx(out.extras["bits_per_dim"], rel=1e-5)
    # against the network directly: −log2 of the softmax at each true grey level
    x = torch.from_numpy(image[..., 0].astype(np.float32))[None, None]
    with torch.inference_mode():
        direct = pixel_nll(model.model, x, torch.tensor([2]))[0] / math.log(2)
    np.testing.assert_allclose(pixel_bits, direct.numpy(), rtol=1e-5, atol=1e-6)
    marginal = model.run("likelihood", {}, {"image": image}, JobContext()).extras
    assert abs(sum(marginal["class_posterior"]) - 1.0) < 1e-5
    likeliest = str(int(np.argmax(marginal["class_posterior"])))
    assert marginal["most_likely_class"] == marginal["map_class"] == likeliest
    assert out.extras["map_class"] == "2" and out.extras["most_likely_class"] == likeliest
    assert out.images.shape == (2, SIZE, SIZE, 3)


def test_sample_previews_show_the_pixels_as_they_are_drawn_and_cancel_stops_it(tmp_path):
    model = load_tiny(tmp_path)
    previews: list[np.ndarray] = []
    cancel = threading.Event()

    def on_preview(images: np.ndarray) -> None:
        previews.append(images.copy())
        if len(previews) == 3:
            cancel.set()  # the user presses Cancel while it paints

    ctx = JobContext(cancel_event=cancel, on_preview=on_preview, min_interval=0.0)
    with pytest.raises(Cancelled):
        model.run("sample", {"count": 2, "seed": 1}, {}, ctx)
    assert len(previews) == 3  # no row was drawn after the cancel
    undrawn = [int((p == UNDRAWN).sum()) for p in previews]
    assert undrawn[0] > undrawn[1] > undrawn[2] > 0  # row by row, top down
    assert (previews[0][:, 0] != UNDRAWN).any() and (previews[0][:, -1] == UNDRAWN).all()


def test_plain_and_cached_ops_give_the_same_images(tmp_path):
    model = load_tiny(tmp_path)
    a = model.run("sample", {"seed": 5, "count": 2, "sampler": "plain"}, {}, JobContext())
    b = model.run("sample", {"seed": 5, "count": 2, "sampler": "cached"}, {}, JobContext())
    np.testing.assert_array_equal(a.images, b.images)
    assert a.labels == b.labels and len(a.labels) == 2
