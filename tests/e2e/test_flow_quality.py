"""The shipped Glyph Flow against the figures and thresholds recorded in its card."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.cards import ModelCard
from studio.core.datasets import HELD_OUT_SEED, default_fonts, make_glyphs
from studio.core.evaluator import Evaluator, evaluate_model
from studio.core.family import JobContext
from studio.core.paths import builtin_models_dir
from studio.families.flow.model import FlowFamily
from studio.families.flow.spec import FLOW
from tests.e2e.quality import assert_meets_thresholds, glyph_data

FOLDER = builtin_models_dir() / "flow-glyphs"


@pytest.fixture(scope="module")
def model():
    return FlowFamily.load(FOLDER, ModelCard.read(FOLDER), "cpu")


def test_shipped_size_and_card(model) -> None:
    card = model.card
    assert (FOLDER / card.weights_file).stat().st_size <= 8 * 1024 * 1024
    assert (card.id, card.family, card.resolution, card.channels) == ("flow-glyphs", "flow", 32, 1)
    assert card.latent_shape == [1024] and card.classes == list("0123456789")
    for key in ("recognisability", "class_accuracy", "bits_per_dim", "nn_distance_samples",
                "nn_distance_held_out", "reconstruction_mse"):
        assert key in card.metrics, key
    assert card.thresholds["min_recognisability"] >= 0.7  # the bar


def test_samples_and_bits_per_dim_meet_the_thresholds(model) -> None:
    data = glyph_data()
    metrics = evaluate_model(model, FLOW, samples=256, seed=0, data=data, evaluator=Evaluator.load())
    assert_meets_thresholds(metrics, model.card.thresholds)
    assert metrics["reconstruction_mse"] == 0.0  # a flow decodes what it encodes, exactly


def test_round_trip_of_held_out_glyphs(model) -> None:
    held = make_glyphs(3, HELD_OUT_SEED, default_fonts(), cache=False)[0]
    for image in held:
        out = model.run("reconstruct", {}, {"image": image}, JobContext())
        assert out.extras["max_abs_error"] < 1e-3
        np.testing.assert_array_equal(out.images[1], image)


def test_glyphs_are_likelier_than_noise(model) -> None:
    glyph = make_glyphs(1, HELD_OUT_SEED, default_fonts(), cache=False)[0][3]
    noise = np.random.default_rng(0).integers(0, 256, glyph.shape, dtype=np.uint8)
    bpd = [model.run("likelihood", {}, {"image": im}, JobContext()).extras["bits_per_dim"]
           for im in (glyph, noise)]
    assert bpd[0] < 2.0 < 6.0 < bpd[1], bpd
