"""The reproducibility check: how far a re-render lands from the image a recipe came in.

`studio generate --recipe FILE --check` renders the recipe again and compares the new
pixels with the ones stored in FILE. A PNG is compared pixel for pixel. An animation
(GIF, WebP, or a `.recipe.json` sidecar beside one) went through a lossy palette or a
frame-merging encoder on export, so the new frames are written the same way to a
temporary file first and the two files' frames are compared: an identical re-render
then reads back identical. A keyframe animation's recipe (`op animate`: an MP4, WebM, GIF,
WebP or PNG folder and its sidecar) is checked the same way: re-rendered and written with
the recipe's own kind, scale, quality and fps, then both files decoded (PyAV for videos)
and compared frame by frame. No torch, no Qt.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core import export, media
from studio.core.requests import Result

# The verdict's three words, as the CLI prints them.
SAME, WITHIN, DIFFERENT = "same pixels", "within tolerance", "different"


@dataclass(frozen=True)
class CheckReport:
    max_difference: int  # in 1/255 steps; -1 when the sizes differ
    differing_values: int  # channel values that are not equal
    total_values: int
    tolerance: int
    detail: str = ""  # why the images cannot be compared at all, if so

    @property
    def verdict(self) -> str:
        if self.max_difference == 0:
            return SAME
        if 0 < self.max_difference <= self.tolerance:
            return WITHIN
        return DIFFERENT

    @property
    def ok(self) -> bool:
        return self.verdict != DIFFERENT

    def line(self) -> str:
        if self.detail:
            return f"{DIFFERENT}: {self.detail}"
        if self.max_difference == 0:
            return f"{SAME}: largest difference 0/255 over {self.total_values} values"
        share = self.differing_values / max(1, self.total_values)
        return (f"{self.verdict}: largest difference {self.max_difference}/255 "
                f"(tolerance {self.tolerance}/255), {self.differing_values} of "
                f"{self.total_values} values differ ({share:.2%})")


def image_file_of(path: Path) -> Path:
    """The file that holds the pixels a recipe made: the PNG or animation itself, or the
    animation a `.recipe.json` sidecar sits beside."""
    name = path.name
    if name.lower().endswith(export.SIDECAR_SUFFIX):
        image = path.with_name(name[: -len(export.SIDECAR_SUFFIX)])
        if image.exists():
            return image
        raise media.MediaError(f"{path}: the image this recipe describes ({image.name}) is missing")
    if path.suffix.lower() == ".json":
        raise media.MediaError(f"{path}: a recipe JSON holds no image to check against")
    return path


def check_result(path: str | Path, result: Result, tolerance: int = 0) -> CheckReport:
    """Compare a re-rendered `result` with the pixels stored in `path` (see module doc)."""
    source = image_file_of(Path(path))
    # an export written at a scale is compared at that scale, resampled as it was then
    scale, resample = export.recipe_scale(path)
    if source.suffix.lower() in (".gif", ".webp"):
        stored = media.read_animation(source)
        frames = result.images if scale is None else scale.apply_all(result.images, resample)
        with tempfile.TemporaryDirectory(prefix="studio-check-") as folder:
            again = Path(folder) / f"again{source.suffix.lower()}"
            media.save_animation(again, list(frames))
            rendered = media.read_animation(again)
    else:
        stored = [media.read_png_pixels(source)]
        rendered = [export.result_grid(result, export.recipe_index(source), scale, resample)]
    return compare_images(stored, rendered, tolerance)


def check_animation(path: str | Path, render_to: Callable[[Path], None],
                    tolerance: int = 0) -> CheckReport:
    """Compare a keyframe animation's file with its re-render: `render_to(temp)` writes the
    recipe again, with the same kind, scale and encoder settings, to a temp path; then both
    are decoded and compared. A lossy video re-encodes an identical render identically, so
    `same pixels` still means the same frames; differences are measured after encoding."""
    from studio.core import video

    source = image_file_of(Path(path))
    kind = video.output_kind(source)
    with tempfile.TemporaryDirectory(prefix="studio-check-") as folder:
        again = Path(folder) / ("again" if kind == video.FOLDER else f"again{source.suffix.lower()}")
        render_to(again)
        try:
            stored = list(video.read_frames(source))
        except Exception as exc:  # noqa: BLE001 - any decoder failure: the file cannot be read
            raise media.MediaError(f"{source}: cannot read its frames ({exc})") from None
        return compare_images(stored, list(video.read_frames(again)), tolerance)


def recorded_runtime(path: str | Path) -> dict:
    """The `rendered_on` a recipe file recorded (empty for recipes from before it)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            recipe = json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix.lower() in (".gif", ".webp"):
            recipe = json.loads(export.sidecar_path(path).read_text(encoding="utf-8"))
        else:
            recipe, _ = media.read_png_recipe(path)
    except (OSError, ValueError):
        return {}
    found = recipe.get("rendered_on") if isinstance(recipe, dict) else None
    return dict(found) if isinstance(found, dict) else {}


def describe_runtime(runtime: dict) -> str:
    """'cpu, 1 thread, AVX512 kernels' from a `rendered_on` record."""
    if not runtime:
        return "not recorded"
    parts = [str(runtime.get("device", "?"))]
    if "gpu" in runtime:
        parts.append(str(runtime["gpu"]))
    if "threads" in runtime:
        threads = runtime["threads"]
        parts.append(f"{threads} thread{'s' if threads != 1 else ''}")
    if "cpu_kernels" in runtime:
        parts.append(f"{runtime['cpu_kernels']} kernels")
    return ", ".join(parts)


def compare_images(stored: list[np.ndarray], rendered: list[np.ndarray],
                   tolerance: int = 0) -> CheckReport:
    if len(stored) != len(rendered):
        return CheckReport(-1, 0, 0, tolerance,
                           f"{len(rendered)} frames rendered, the file holds {len(stored)}")
    worst, differing, total = 0, 0, 0
    for i, (old, new) in enumerate(zip(stored, rendered)):
        old, new = np.asarray(old), np.asarray(new)
        if old.shape != new.shape:
            return CheckReport(-1, 0, 0, tolerance,
                               f"image {i} is {_size(new)} now, {_size(old)} in the file")
        delta = np.abs(old.astype(np.int16) - new.astype(np.int16))
        worst = max(worst, int(delta.max(initial=0)))
        differing += int(np.count_nonzero(delta))
        total += delta.size
    return CheckReport(worst, differing, total, tolerance)


def _size(image: np.ndarray) -> str:
    channels = image.shape[2] if image.ndim == 3 else 1
    return f"{image.shape[1]}×{image.shape[0]}×{channels}"
