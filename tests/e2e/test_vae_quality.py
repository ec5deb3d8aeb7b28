"""The shipped Glyph VAE against the figures and thresholds recorded in its card."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.cards import ModelCard
from studio.core.datasets import (
    DEFAULT_FONT,
    HELD_OUT_SEED,
    TRAIN_SEED,
    Split,
    default_fonts,
    make_glyphs,
)
from studio.core.evaluator import WEIGHTS_NAME, Evaluator, evaluate_model, evaluator_dir
from studio.core.family import JobContext
from studio.core.paths import builtin_models_dir
from studio.families.vae.model import VAEFamily
from studio.families.vae.spec import VAE

FOLDER = builtin_models_dir() / "vae-glyphs"


@pytest.fixture(scope="module")
def model():
    return VAEFamily.load(FOLDER, ModelCard.read(FOLDER), "cpu")


def test_shipped_sizes_and_card(model) -> None:
    assert (FOLDER / model.card.weights_file).stat().st_size <= 8 * 1024 * 1024
    assert (evaluator_dir() / WEIGHTS_NAME).stat().st_size <= 1024 * 1024
    card = model.card
    assert (card.id, card.name, card.family, card.resolution, card.channels) == (
        "vae-glyphs", "Glyph VAE", "vae", 32, 1)
    for key in ("recognisability", "dataset_ceiling", "reconstruction_mse",
                "nn_distance_samples", "nn_distance_held_out"):
        assert key in card.metrics, key
    assert card.thresholds["min_recognisability"] >= 0.7  # the bar


def test_samples_meet_the_thresholds(model) -> None:
    card = model.card
    # the training prefix (every class, every font) keeps this fast; the distance to a
    # subset is never smaller than to the whole set, so the memorisation check holds
    fonts = default_fonts()
    data = {"train": Split(*make_glyphs(100, TRAIN_SEED, fonts, cache=False)),
            "held_out": Split(*make_glyphs(20, HELD_OUT_SEED, fonts, cache=False))}
    metrics = evaluate_model(model, VAE, samples=256, seed=0, data=data, evaluator=Evaluator.load())
    t = card.thresholds
    assert metrics["recognisability"] >= t["min_recognisability"], metrics
    assert metrics["nn_distance_samples"] >= t["min_nn_distance_samples"], metrics
    if fonts != [DEFAULT_FONT]:  # the held-out images it was measured on need DejaVu
        assert metrics["reconstruction_mse"] <= t["max_reconstruction_mse"], metrics


def test_same_seed_same_pixels_and_decode_matches(model) -> None:
    a = model.run("sample", {"seed": 11, "count": 4}, {}, JobContext())
    b = model.run("sample", {"seed": 11, "count": 4}, {}, JobContext())
    np.testing.assert_array_equal(a.images, b.images)
    again = model.run("decode", {}, {"latent": a.latents}, JobContext())
    assert np.abs(again.images.astype(int) - a.images).max() <= 1
