"""The size an export is written at: 1×, 2×, 4×, 8× (any whole factor) or a pixel size.

The scale applies to each image of a result, so a whole grid keeps its 1-pixel gaps and
"512px" means every image is 512 px on its longer side. Small models (64 px or less) are
enlarged with nearest-neighbour, so their pixels stay crisp squares, as the canvas shows
them; larger ones with Lanczos. The scale is an export setting: it is written in the
recipe's `export` record, never in the request, so a re-render is the same run and
`studio generate --recipe` can write the same pixels again. No torch, no Qt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

# models up to this size are enlarged with nearest-neighbour (pixel art stays pixel art)
NEAREST_UP_TO = 64
FACTORS = (1, 2, 4, 8)  # the choices the window offers; the CLI takes any whole factor
MAX_FACTOR = 64
MIN_PIXELS, MAX_PIXELS = 8, 8192
NEAREST, LANCZOS = "nearest", "lanczos"
_RESAMPLE = {NEAREST: Image.Resampling.NEAREST, LANCZOS: Image.Resampling.LANCZOS}


class ScaleError(ValueError):
    """An export scale that cannot be read ("4", "4x", "512px" can)."""


@dataclass(frozen=True)
class ExportScale:
    """A whole `factor`, or `pixels` for the longer side of each image (not both)."""

    factor: int = 1
    pixels: int | None = None

    def __post_init__(self) -> None:
        if self.pixels is not None and not MIN_PIXELS <= self.pixels <= MAX_PIXELS:
            raise ScaleError(f"a pixel size is {MIN_PIXELS} to {MAX_PIXELS} px, not {self.pixels}")
        if not 1 <= self.factor <= MAX_FACTOR:
            raise ScaleError(f"a scale factor is 1 to {MAX_FACTOR}, not {self.factor}")

    @classmethod
    def parse(cls, text: str | int) -> ExportScale:
        """'4', '4x', '4×' → a factor; '512px' → a pixel size."""
        value = str(text).strip().lower()
        match = re.fullmatch(r"(\d+)\s*(px|x|×)?", value)
        if match is None:
            raise ScaleError(f"scale {text!r}: give a factor (1, 2, 4, 8) or a pixel size (512px)")
        number, unit = int(match.group(1)), match.group(2)
        return cls(pixels=number) if unit == "px" else cls(factor=number)

    @property
    def identity(self) -> bool:
        return self.pixels is None and self.factor == 1

    def label(self) -> str:
        return f"{self.pixels}px" if self.pixels is not None else f"{self.factor}x"

    def size_of(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of an image of that size once scaled."""
        if self.pixels is None:
            return height * self.factor, width * self.factor
        longer = max(height, width)
        return (max(1, round(height * self.pixels / longer)),
                max(1, round(width * self.pixels / longer)))

    def resample_for(self, height: int, width: int) -> str:
        return NEAREST if max(height, width) <= NEAREST_UP_TO else LANCZOS

    # -- the recipe's `export` record ----------------------------------------------------------
    def to_record(self, height: int, width: int, resample: str | None = None) -> dict[str, Any]:
        return {"scale": self.label(), "resample": resample or self.resample_for(height, width)}

    @classmethod
    def from_record(cls, record: Any) -> ExportScale | None:
        """The scale a recipe's `export` record holds (None: none recorded)."""
        if not isinstance(record, Mapping) or "scale" not in record:
            return None
        return cls.parse(str(record["scale"]))

    # -- pixels ------------------------------------------------------------------------------
    def apply(self, image: np.ndarray, resample: str | None = None) -> np.ndarray:
        """One (H, W, C) uint8 image at this scale; the same pixels for the same input."""
        image = np.asarray(image)
        assert image.dtype == np.uint8 and image.ndim == 3, image.shape
        height, width = image.shape[:2]
        size = self.size_of(height, width)
        if size == (height, width):
            return image
        method = resample or self.resample_for(height, width)
        if method not in _RESAMPLE:
            raise ScaleError(f"unknown resampling {method!r} (nearest or lanczos)")
        if method == NEAREST and self.pixels is None:  # a whole factor: exact block copies
            return image.repeat(self.factor, axis=0).repeat(self.factor, axis=1)
        channels = image.shape[2]
        pil = Image.fromarray(image[..., 0] if channels == 1 else image)
        out = np.asarray(pil.resize((size[1], size[0]), _RESAMPLE[method]))
        return out[..., None] if channels == 1 else out

    def apply_all(self, images: np.ndarray, resample: str | None = None) -> np.ndarray:
        """(N, H, W, C) → the same images scaled, (N, H', W', C)."""
        if self.identity:
            return images
        return np.stack([self.apply(image, resample) for image in images])


ONE = ExportScale()
