"""Exports that carry their recipe: PNG (our JSON chunk + an AUTOMATIC1111-style
`parameters` chunk), animations with a JSON sidecar, contact sheets; and reading a
recipe back from any of them. No torch, no Qt.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from studio import __version__
from studio.core import atomic, media
from studio.core.export_scale import LANCZOS, NEAREST, ExportScale, ScaleError
from studio.core.requests import RecipeError, Request, Result

SIDECAR_SUFFIX = ".recipe.json"
# files whose recipe is read from their sidecar (videos: studio.core.video writes them)
SIDECAR_KINDS = (".gif", ".webp", ".mp4", ".webm")
# studio parameters that AUTOMATIC1111 writes under a key of its own
A1111_KEYS = {"strength": "Denoising strength"}


def result_grid(result: Result, index: int | None = None, scale: ExportScale | None = None,
                resample: str | None = None) -> np.ndarray:
    """The image a PNG export holds: one image, or the whole result as a tight grid; each
    image at `scale` (a grid keeps its 1-pixel gaps)."""
    images = result.images if index is None else result.images[index : index + 1]
    if scale is not None:
        images = scale.apply_all(images, resample)
    if len(images) == 1:
        return images[0]
    return media.grid(images, result.columns or 0)


def export_size(result: Result, index: int | None = None,
                scale: ExportScale | None = None) -> tuple[int, int]:
    """(height, width) of what `result_grid` makes, without making it (media.grid's
    layout: a 1-pixel border and gaps)."""
    height, width = result.images.shape[1:3]
    if scale is not None:
        height, width = scale.size_of(height, width)
    count = 1 if index is not None else result.count
    if count == 1:
        return height, width
    columns = min(result.columns or math.ceil(math.sqrt(count)), count)
    rows = math.ceil(count / columns)
    return rows * height + rows + 1, columns * width + columns + 1


def recipe_of(result: Result, index: int | None = None, scale: ExportScale | None = None,
              resample: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"app": f"Latent Studio {__version__}", "device": result.device}
    if result.rendered_on:
        extra["rendered_on"] = dict(result.rendered_on)  # what exact re-renders need alike
    if index is not None and result.count > 1:
        extra["index"] = index  # which image of the result this file holds
    if scale is not None and not scale.identity:
        # an export setting beside the request, not in it: the run is the same run
        extra["export"] = scale.to_record(*result.images.shape[1:3], resample=resample)
    return result.request.to_recipe(extra)


def image_seed(request: Request, index: int) -> int | None:
    """The seed that alone draws image `index` of a result, where the op draws image i
    from seed + i (a plain sample); else None (a VAE's batch shares one generator)."""
    seed = request.seed
    if seed is None or request.op != "sample" or request.inputs:
        return None
    return seed + index


def suggested_name(result: Result, suffix: str, index: int | None = None,
                   seed_of_index: int | None = None) -> str:
    """A file name that says what the file shows: model, op and the seed of that image
    (`seed_of_index` when the explorer knows it), or the seeds of a whole grid."""
    request, seed = result.request, result.request.seed
    stem = f"{request.model_id}-{request.op}"
    if seed is None:
        tail = "" if index is None or result.count == 1 else f"-image{index + 1}"
    elif index is not None and result.count > 1:
        tail = (f"-seed{seed_of_index}" if seed_of_index is not None
                else f"-seed{seed}-image{index + 1}")
    elif result.count > 1 and image_seed(request, result.count - 1) is not None:
        tail = f"-seed{seed}-{seed + result.count - 1}"  # one seed per image: all of them
    else:
        tail = f"-seed{seed}"
    return f"{stem}{tail}{suffix}"


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
               family: str = "", steps: int = 1, scale: ExportScale | None = None,
               resample: str | None = None) -> Path:
    """`resample` overrides the scale's own choice (a recipe's recorded one)."""
    path = Path(path)
    image = result_grid(result, index, scale, resample)
    text = parameters_text(result.request, image.shape[1], image.shape[0], steps, family=family)
    media.save_png_with_recipe(path, image, recipe_of(result, index, scale, resample), text)
    return path


def export_animation(path: str | Path, result: Result, fps: int = 12, boomerang: bool = False,
                     scale: ExportScale | None = None, resample: str | None = None) -> Path:
    """Frames as GIF/WebP, the recipe in the file's comment and in a JSON sidecar."""
    path = Path(path)
    recipe = recipe_of(result, scale=scale, resample=resample)
    text = json.dumps(recipe, sort_keys=True)
    frames = scale.apply_all(result.images, resample) if scale is not None else result.images
    with atomic.together():  # the animation and its sidecar land together, or neither does
        media.save_animation(path, list(frames), fps=fps, loop=True, boomerang=boomerang,
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
        if path.suffix.lower() in SIDECAR_KINDS and sidecar_path(path).exists():
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


def recipe_record(path: str | Path) -> dict[str, Any]:
    """The whole recipe record of an exported file (a PNG, an animation's sidecar, a
    recipe JSON), with what lies beside the request; {} when it has none."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            record = json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix.lower() in SIDECAR_KINDS:
            record = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        else:
            record, _ = media.read_png_recipe(path)
    except (OSError, ValueError, media.MediaError):
        return {}
    return dict(record) if isinstance(record, dict) else {}


def recipe_scale(path: str | Path) -> tuple[ExportScale | None, str | None]:
    """The export scale a file's recipe records and the resampling it was written with
    ((None, None): written at the model's size). A damaged record is a RecipeError."""
    record = recipe_record(path).get("export")
    try:
        scale = ExportScale.from_record(record)
    except ScaleError as exc:
        raise RecipeError(f"{path}: export settings: {exc}") from None
    resample = record.get("resample") if scale is not None else None
    if resample is not None and resample not in (NEAREST, LANCZOS):
        raise RecipeError(f"{path}: export settings: unknown resampling {resample!r}")
    return scale, resample


def recipe_index(path: str | Path) -> int | None:
    """Which image of a multi-image result a PNG holds (None: the whole grid)."""
    try:
        recipe, _ = media.read_png_recipe(Path(path))
    except (media.MediaError, OSError):
        return None
    return None if not recipe else recipe.get("index")
