"""Request and Result: what a run needs, and what it made.

A Request is a recipe: it carries the model id, the op, every parameter value and the
input arrays (latents, or images when small), so any result can be rendered again
without the originals. It serialises to JSON for PNG metadata, history and the CLI.
No torch, no Qt.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

RECIPE_FORMAT = "latent-studio/recipe"
RECIPE_VERSION = 1
# Inputs bigger than this are not embedded in a recipe (they would bloat every PNG).
MAX_EMBEDDED_BYTES = 4 * 1024 * 1024

_job_ids = itertools.count(1)


class RecipeError(ValueError):
    """A recipe (JSON) is malformed or from an unknown format."""


@dataclass(frozen=True, eq=False)
class Request:
    model_id: str
    op: str = "sample"
    params: Mapping[str, Any] = field(default_factory=dict)
    # Named arrays: latents as float32, images/masks as uint8 (H, W, C).
    inputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    device: str | None = None  # None: the engine's device

    @property
    def seed(self) -> int | None:
        value = self.params.get("seed")
        return None if value is None else int(value)

    def with_params(self, **changes: Any) -> Request:
        return replace(self, params={**self.params, **changes})

    def with_inputs(self, **changes: np.ndarray | None) -> Request:
        merged = {**self.inputs, **changes}
        return replace(self, inputs={k: v for k, v in merged.items() if v is not None})

    def same_recipe(self, other: Request) -> bool:
        if (self.model_id, self.op, dict(self.params)) != (other.model_id, other.op, dict(other.params)):
            return False
        if set(self.inputs) != set(other.inputs):
            return False
        return all(np.array_equal(self.inputs[k], other.inputs[k]) for k in self.inputs)

    # -- recipe (JSON) -------------------------------------------------------------
    def to_recipe(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        inputs = {}
        for name, array in self.inputs.items():
            array = np.asarray(array)
            if array.nbytes > MAX_EMBEDDED_BYTES:
                raise RecipeError(f"input {name!r} is too large to embed ({array.nbytes} bytes)")
            inputs[name] = encode_array(array)
        recipe = {
            "format": RECIPE_FORMAT,
            "version": RECIPE_VERSION,
            "model_id": self.model_id,
            "op": self.op,
            "params": dict(self.params),
            "inputs": inputs,
        }
        if self.device:
            recipe["device"] = self.device
        if extra:
            recipe.update(extra)
        return recipe

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any]) -> Request:
        if not isinstance(recipe, Mapping) or recipe.get("format") != RECIPE_FORMAT:
            raise RecipeError("not a Latent Studio recipe")
        version = recipe.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise RecipeError(f"recipe version {version!r} is not a whole number")
        if version > RECIPE_VERSION:
            raise RecipeError(f"recipe version {version} is newer than this app")
        model_id = recipe.get("model_id")
        if not isinstance(model_id, str) or not model_id.strip():
            raise RecipeError(f"recipe is malformed: model_id {model_id!r} is not a model id")
        # a model id names a library entry, never a file: refuse path-like ids outright
        if any(c in model_id for c in "/\\\x00") or model_id in (".", ".."):
            raise RecipeError(f"recipe names the model {model_id!r}, a path, not a model id")
        try:
            inputs = {name: decode_array(blob) for name, blob in recipe.get("inputs", {}).items()}
            return cls(
                model_id=model_id,
                op=str(recipe.get("op", "sample")),
                params=dict(recipe.get("params", {})),
                inputs=inputs,
                device=recipe.get("device"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecipeError(f"recipe is malformed: {exc}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_recipe(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Request:
        try:
            return cls.from_recipe(json.loads(text))
        except json.JSONDecodeError as exc:
            raise RecipeError(f"recipe is not valid JSON: {exc}") from None


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """An array as JSON: dtype, shape and base64 of the raw little-endian bytes."""
    array = np.ascontiguousarray(array)
    if array.dtype.kind not in "uifb":
        raise RecipeError(f"cannot embed an array of dtype {array.dtype}")
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {
        "dtype": little.dtype.str,
        "shape": list(array.shape),
        "data": base64.b64encode(little.tobytes()).decode("ascii"),
    }


def decode_array(blob: Mapping[str, Any]) -> np.ndarray:
    dtype = np.dtype(blob["dtype"])
    if dtype.kind not in "uifb" or dtype.hasobject:
        raise ValueError(f"array dtype {dtype} is not allowed")
    shape = tuple(int(n) for n in blob["shape"])
    raw = base64.b64decode(blob["data"], validate=True)
    array = np.frombuffer(raw, dtype=dtype)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"array data does not fill shape {shape}")
    return array.reshape(shape).astype(dtype.newbyteorder("="))


@dataclass(frozen=True, eq=False)
class Result:
    """What a run made: uint8 images (N, H, W, C), optional latents, timings."""

    request: Request
    images: np.ndarray
    latents: np.ndarray | None = None
    labels: tuple[str, ...] = ()  # one caption per image, optional
    columns: int = 0  # grid layout hint; 0 = square-ish
    timings: Mapping[str, float] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)  # e.g. scalar read-outs
    device: str = "cpu"
    # device, threads and CPU kernels it was computed with (studio.core.runtime.rendered_on)
    rendered_on: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.images.dtype == np.uint8 and self.images.ndim == 4, self.images.shape
        assert self.images.shape[-1] in (1, 3, 4), self.images.shape

    @property
    def count(self) -> int:
        return int(self.images.shape[0])

    def image_rgb(self, index: int = 0) -> np.ndarray:
        """One image as (H, W, 3) uint8."""
        image = self.images[index]
        if image.shape[-1] == 1:
            return np.repeat(image, 3, axis=-1)
        return image[..., :3]


def new_job_id() -> int:
    return next(_job_ids)

