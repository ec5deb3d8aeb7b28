"""Exports that carry their recipe: PNG (our JSON chunk + an AUTOMATIC1111-style
`parameters` chunk), animations with a JSON sidecar, contact sheets; and reading a
recipe back from any of them. No torch, no Qt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from studio import __version__
from studio.core import atomic, media
from studio.core.requests import RecipeError, Request, Result

SIDECAR_SUFFIX = ".recipe.json"
# studio parameters that AUTOMATIC1111 writes under a key of its own
A1111_KEYS = {"strength": "Denoising strength"}


def result_grid(result: Result, index: int | None = None) -> np.ndarray:
    """The image a PNG export holds: one image, or the whole result as a tight grid."""
    if index is not None:
        return result.images[index]
    if result.count == 1:
        return result.images[0]
    return media.grid(result.images, result.columns or 0)


def recipe_of(result: Result, index: int | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"app": f"Latent Studio {__version__}", "device": result.device}
    if result.rendered_on:
        extra["rendered_on"] = dict(result.rendered_on)  # what exact re-renders need alike
    if index is not None and result.count > 1:
        extra["index"] = index  # which image of the result this file holds
    return result.request.to_recipe(extra)


def parameters_text(request: Request, width: int, height: int, steps: int = 1,
                    sampler: str | None = None, family: str = "") -> str:
    """The `parameters` chunk other tools' metadata readers show, in AUTOMATIC1111's
    layout and with its keys where it has one (guidance is `CFG scale`, the negative prompt
    its own line); the studio's other parameters follow as `name: value`."""
    params = request.params
    first = str(params.get("prompt") or params.get("class_label") or request.op)
    own = ("prompt", "negative_prompt", "guidance", "seed", "steps", "scheduler", "class_label")
    extra = {A1111_KEYS.get(k, k): v for k, v in params.items() if k not in own and v is not None}
    extra["Op"] = request.op
    guidance = params.get("guidance")
    return media.format_parameters(
        first, steps=int(params.get("steps", steps)) if request.op != "traverse" else steps,
        sampler=str(params.get("scheduler") or sampler or f"{family or 'model'} {request.op}"),
        seed=request.seed, width=width, height=height, model=request.model_id, extra=extra,
        negative_prompt=str(params.get("negative_prompt") or "") or None,
        cfg_scale=None if guidance is None else float(guidance))


def export_png(path: str | Path, result: Result, index: int | None = None,
               family: str = "", steps: int = 1) -> Path:
    path = Path(path)
    image = result_grid(result, index)
    text = parameters_text(result.request, image.shape[1], image.shape[0], steps, family=family)
    media.save_png_with_recipe(path, image, recipe_of(result, index), text)
    return path


def export_animation(path: str | Path, result: Result, fps: int = 12, boomerang: bool = False) -> Path:
    """Frames as GIF/WebP, the recipe in the file's comment and in a JSON sidecar."""
    path = Path(path)
    recipe = recipe_of(result)
    text = json.dumps(recipe, sort_keys=True)
    with atomic.together():  # the animation and its sidecar land together, or neither does
        media.save_animation(path, list(result.images), fps=fps, loop=True, boomerang=boomerang,
                             comment=text)
        atomic.write_bytes(sidecar_path(path), (json.dumps(recipe, indent=2) + "\n").encode())
    return path


def export_contact_sheet(path: str | Path, images: Sequence[np.ndarray] | np.ndarray,
                         columns: int = 0, labels: Sequence[str] | None = None, scale: int = 2,
                         recipes: Sequence[dict[str, Any]] | None = None) -> Path:
    path = Path(path)
    sheet = media.contact_sheet(list(images), columns=columns, labels=labels, scale=scale)
    text = {}
    if recipes:
        text[media.RECIPE_CHUNK + "_sheet"] = json.dumps(list(recipes), sort_keys=True)
    media.save_png(path, sheet, text)
    return path


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def open_recipe(path: str | Path) -> Request:
    """The request that made an exported file: a PNG, an animation's sidecar, or a
    recipe JSON. Errors name the file."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            return Request.from_json(path.read_text(encoding="utf-8"))
        if path.suffix.lower() in (".gif", ".webp") and sidecar_path(path).exists():
            return Request.from_json(sidecar_path(path).read_text(encoding="utf-8"))
        recipe, _ = media.read_png_recipe(path)
    except RecipeError as exc:
        raise RecipeError(f"{path}: {exc}") from None
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if recipe is None:
        raise RecipeError(f"{path}: has no Latent Studio recipe")
    try:
        return Request.from_recipe(recipe)
    except RecipeError as exc:
        raise RecipeError(f"{path}: {exc}") from None


def recipe_index(path: str | Path) -> int | None:
    """Which image of a multi-image result a PNG holds (None: the whole grid)."""
    try:
        recipe, _ = media.read_png_recipe(Path(path))
    except (media.MediaError, OSError):
        return None
    return None if not recipe else recipe.get("index")
