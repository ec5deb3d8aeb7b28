"""The shipped diffusion models against the figures and thresholds in their cards: class
accuracy on the evaluator at the default guidance, sizes, determinism and fork."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.core.cards import ModelCard
from studio.core.evaluator import Evaluator
from studio.core.family import JobContext
from studio.core.paths import builtin_models_dir
from studio.families.diffusion.spec import DIFFUSION
from studio.families.latent_diffusion.spec import LATENT_DIFFUSION

SHIPPED = {"diffusion-glyphs": DIFFUSION, "latent-diffusion-glyphs": LATENT_DIFFUSION}
PER_CLASS = 10


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=sorted(SHIPPED))
def model(request):
    folder = builtin_models_dir() / request.param
    info = SHIPPED[request.param]
    return info.implementation().load(folder, ModelCard.read(folder), "cpu")


def test_shipped_sizes_and_card(model) -> None:
    card = model.card
    assert (builtin_models_dir() / card.id / card.weights_file).stat().st_size <= 8 * 1024 * 1024
    assert card.family in ("diffusion", "latent_diffusion") and card.resolution == 32
    assert card.classes == [str(k) for k in range(10)]
    for key in ("class_accuracy", "recognisability", "dataset_ceiling", "nn_distance_samples"):
        assert key in card.metrics, key
    assert card.metrics["class_accuracy"] >= 0.8  # the bar, measured at training
    assert card.thresholds["min_class_accuracy"] >= 0.7


def test_class_accuracy_at_the_default_guidance(model) -> None:
    """What evaluate_model measures (seeds 0..9, one class each), on fewer samples."""
    evaluator = Evaluator.load()
    defaults = model.info.op("sample").defaults()
    correct = 0
    for k in range(10):
        out = model.run("sample", {"seed": k, "count": PER_CLASS, "class_index": k}, {}, JobContext())
        assert out.images.shape == (PER_CLASS, 32, 32, 1)
        correct += int((evaluator.classify(out.images).argmax(1) == k).sum())
    accuracy = correct / (10 * PER_CLASS)
    assert defaults["guidance"] > 1.0
    assert accuracy >= model.card.thresholds["min_class_accuracy"], accuracy


def test_same_seed_same_pixels_and_fork_reproduces(model) -> None:
    params = {"seed": 3, "count": 2, "class_index": 5}
    a = model.run("sample", params, {}, JobContext())
    b = model.run("sample", params, {}, JobContext())
    np.testing.assert_array_equal(a.images, b.images)
    defaults = model.info.op("sample").defaults()
    fork = model.run("fork", {**params, "fork_step": 12, "fork_seed": 3,
                              "fork_guidance": defaults["guidance"], "fork_class_index": 5},
                     {}, JobContext())
    np.testing.assert_array_equal(fork.images, a.images)
