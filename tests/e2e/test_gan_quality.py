"""The shipped Glyph GAN against the figures and thresholds recorded in its card."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.torch import load_file

from studio.core.cards import ModelCard
from studio.core.directions import model_directions
from studio.core.evaluator import Evaluator, evaluate_model
from studio.core.family import JobContext
from studio.core.paths import builtin_models_dir
from studio.families.gan.model import GANFamily
from studio.families.gan.spec import GAN
from tests.e2e.quality import assert_meets_thresholds, glyph_data

FOLDER = builtin_models_dir() / "gan-glyphs"


@pytest.fixture(scope="module")
def model():
    return GANFamily.load(FOLDER, ModelCard.read(FOLDER), "cpu")


def test_shipped_sizes_and_card(model) -> None:
    card = model.card
    weights = FOLDER / card.weights_file
    assert weights.stat().st_size <= 8 * 1024 * 1024  # the cap counts the generator file
    names = set(load_file(str(weights)))
    assert {n.split(".")[0] for n in names} == {"mapping", "synthesis", "directions"}
    assert (card.id, card.name, card.family, card.resolution, card.channels) == (
        "gan-glyphs", "Glyph GAN", "gan", 32, 1)
    assert card.latent_shape == [7, 128] and card.classes == list("0123456789")
    for key in ("recognisability", "class_accuracy", "dataset_ceiling", "nn_distance_samples",
                "nn_distance_held_out", "recognisability_psi1"):
        assert key in card.metrics, key
    assert card.thresholds["min_recognisability"] >= 0.7  # the bar
    assert len(model_directions(FOLDER, card.config)) == card.config["num_directions"]


def test_samples_meet_the_thresholds(model) -> None:
    card = model.card
    metrics = evaluate_model(model, GAN, samples=256, seed=0, data=glyph_data(),
                             evaluator=Evaluator.load())
    assert_meets_thresholds(metrics, card.thresholds)


def test_truncation_zero_and_seeds(model) -> None:
    a = model.run("sample", {"seed": 11, "count": 4}, {}, JobContext())
    b = model.run("sample", {"seed": 11, "count": 4}, {}, JobContext())
    np.testing.assert_array_equal(a.images, b.images)
    mean = model.run("sample", {"seed": 11, "count": 4, "truncation": 0.0}, {}, JobContext())
    assert (mean.images == mean.images[:1]).all() and not (a.images == a.images[:1]).all()
    again = model.run("sample", {}, {"latent": a.latents}, JobContext())
    assert np.abs(again.images.astype(int) - a.images).max() <= 1
