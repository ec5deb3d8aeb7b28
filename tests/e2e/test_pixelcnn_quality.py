"""The shipped Glyph PixelCNN against the figures and thresholds recorded in its card."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.cards import ModelCard
from studio.core.datasets import HELD_OUT_SEED, default_fonts, make_glyphs
from studio.core.evaluator import Evaluator, evaluate_model
from studio.core.family import JobContext
from studio.core.paths import builtin_models_dir
from studio.families.autoregressive.model import AutoregressiveFamily
from studio.families.autoregressive.spec import AUTOREGRESSIVE
from tests.e2e.quality import assert_meets_thresholds, glyph_data

FOLDER = builtin_models_dir() / "pixelcnn-glyphs"


@pytest.fixture(scope="module")
def model():
    return AutoregressiveFamily.load(FOLDER, ModelCard.read(FOLDER), "cpu")


def test_shipped_size_and_card(model) -> None:
    card = model.card
    assert (FOLDER / card.weights_file).stat().st_size <= 8 * 1024 * 1024
    assert (card.id, card.family, card.resolution, card.channels) == (
        "pixelcnn-glyphs", "autoregressive", 32, 1)
    assert card.classes == list("0123456789")
    for key in ("recognisability", "class_accuracy", "bits_per_dim", "nn_distance_samples",
                "nn_distance_held_out"):
        assert key in card.metrics, key
    assert card.thresholds["min_recognisability"] >= 0.7  # the bar


def test_samples_and_bits_per_dim_meet_the_thresholds(model) -> None:
    data = glyph_data()
    metrics = evaluate_model(model, AUTOREGRESSIVE, samples=128, seed=0, data=data,
                             evaluator=Evaluator.load())
    assert_meets_thresholds(metrics, model.card.thresholds)


def test_completion_of_a_held_out_glyph_keeps_it_recognisable(model) -> None:
    images, labels = make_glyphs(1, HELD_OUT_SEED, default_fonts(), cache=False)
    image, label = images[7], int(labels[7])
    mask = np.zeros((32, 32), np.uint8)
    mask[16:, :] = 255  # erase the bottom half
    out = model.run("complete", {"seed": 0, "variations": 4}, {"image": image, "mask": mask},
                    JobContext())
    for variation in out.images[1:]:
        np.testing.assert_array_equal(variation[:16], image[:16])
    assert out.extras["class"] == str(label)  # the kept half names the digit
    probs = Evaluator.load().classify(out.images[1:])
    assert (probs.argmax(1) == label).mean() >= 0.5, probs.argmax(1)
