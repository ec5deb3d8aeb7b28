"""Requests as recipes: JSON round trips with embedded arrays, malformed recipes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.requests import RecipeError, Request, decode_array, encode_array


def test_recipe_round_trip_keeps_params_and_arrays_exactly():
    latent = np.random.default_rng(0).standard_normal((4, 8, 8)).astype(np.float32)
    image = np.arange(32 * 32, dtype=np.uint8).reshape(32, 32, 1)
    request = Request("vae-glyphs", "interpolate", {"seed": 3, "frames": 9, "method": "lerp"},
                      {"latent_a": latent, "image_b": image})
    again = Request.from_json(json.dumps(request.to_recipe()))
    assert again.same_recipe(request)
    assert again.inputs["latent_a"].dtype == np.float32
    assert np.array_equal(again.inputs["image_b"], image)
    assert again.seed == 3


@pytest.mark.parametrize("text, message", [
    ("{}", "not a Latent Studio recipe"),
    ("[1, 2]", "not a Latent Studio recipe"),
    ("{nope", "not valid JSON"),
    (json.dumps({"format": "latent-studio/recipe", "version": 99, "model_id": "x"}), "newer"),
    (json.dumps({"format": "latent-studio/recipe", "version": 1}), "malformed"),
])
def test_malformed_recipes_are_refused_clearly(text, message):
    with pytest.raises(RecipeError, match=message):
        Request.from_json(text)


def test_embedded_arrays_are_checked():
    blob = encode_array(np.zeros((2, 3), np.float32))
    blob["shape"] = [4, 4]
    with pytest.raises(ValueError, match="does not fill"):
        decode_array(blob)
    with pytest.raises(ValueError, match="not allowed"):
        decode_array({"dtype": "|O", "shape": [1], "data": ""})


def test_requests_are_immutable_and_copy_on_change():
    request = Request("m", "sample", {"seed": 1})
    changed = request.with_params(seed=2)
    assert request.seed == 1 and changed.seed == 2
    with pytest.raises(AttributeError):
        request.op = "decode"  # type: ignore[misc]
