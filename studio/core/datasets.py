"""Datasets: the built-in glyph set every family trains on, and image folders.

Pure numpy + Pillow (no torch) so the GUI can preview a dataset without loading torch.

"glyphs" is 10 classes (the digits) rendered white on black from TrueType fonts: the
DejaVu faces under /usr/share/fonts (Debian: fonts-dejavu-core) plus Pillow's bundled
font, with seeded augmentation (scale, small rotation, shift, stroke). Given a seed and
the font list the pixels are identical on every run, so a recipe can rebuild its data.
Generated arrays are cached as .npz under the user cache, keyed by every parameter.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from studio.core import atomic

GLYPH_CLASSES: tuple[str, ...] = tuple("0123456789")
GLYPH_SIZE = 32
GLYPH_PACKAGES = ("fonts-dejavu-core",)  # Debian packages the full glyph set needs
FONT_GLOBS = ("/usr/share/fonts/**/DejaVu*.ttf",)
DEFAULT_FONT = "<pillow-default>"  # Pillow's bundled font, on every machine
# Seeds of the fixed splits: the same fonts, different augmentation draws.
TRAIN_SEED = 0
HELD_OUT_SEED = 1
_GENERATOR_VERSION = 1  # bump when the rendering changes, so old caches are not reused
_SUPERSAMPLE = 4  # render big, then downscale: clean antialiased strokes


# -----------------------------------------------------------------------------
# glyphs

def default_fonts() -> list[str]:
    """The DejaVu faces installed here (sorted, for determinism) plus Pillow's font.

    DejaVuMathTeXGyre is left out: its digits are a near copy of DejaVu Serif's."""
    found: set[str] = set()
    for pattern in FONT_GLOBS:
        found.update(p for p in glob.glob(pattern, recursive=True) if "MathTeX" not in p)
    return sorted(found) + [DEFAULT_FONT]


def _load_font(font: str, size: int, cache: dict[tuple[str, int], Any]) -> Any:
    key = (font, size)
    if key not in cache:
        if font == DEFAULT_FONT:
            cache[key] = ImageFont.load_default(size)
        else:
            cache[key] = ImageFont.truetype(font, size)
    return cache[key]


def render_glyph(text: str, font: str, rng: np.random.Generator, size: int = GLYPH_SIZE,
                 augment: bool = True, cache: dict | None = None) -> np.ndarray:
    """One glyph, white on black, (size, size) uint8. Augmentation draws from `rng`."""
    cache = {} if cache is None else cache
    big = size * _SUPERSAMPLE
    # the draw order of rng calls is fixed: determinism depends on it
    scale, angle, dx, dy, stroke = 0.72, 0.0, 0.0, 0.0, 0
    if augment:
        scale = float(rng.uniform(0.55, 0.85))  # glyph height as a fraction of the image
        angle = float(rng.uniform(-12.0, 12.0))
        dx, dy = (float(v) for v in rng.uniform(-0.08, 0.08, size=2))
        stroke = int(rng.integers(0, 3))  # 0..2 px at the supersampled scale
    pt = max(4, int(round(big * scale)))
    face = _load_font(font, pt, cache)
    canvas = Image.new("L", (big * 2, big * 2), 0)  # roomy: rotation must not clip
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=face, stroke_width=stroke)
    x = big - (left + right) / 2
    y = big - (top + bottom) / 2
    draw.text((x, y), text, fill=255, font=face, stroke_width=stroke, stroke_fill=255)
    # rotate about the glyph centre, then shift and crop the middle
    canvas = canvas.rotate(angle, resample=Image.Resampling.BILINEAR, center=(big, big))
    ox, oy = int(round(big / 2 - dx * big)), int(round(big / 2 - dy * big))
    canvas = canvas.crop((ox, oy, ox + big, oy + big))
    small = canvas.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8)


def make_glyphs(count_per_class: int, seed: int = TRAIN_SEED, fonts: Sequence[str] | None = None,
                size: int = GLYPH_SIZE, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, size, size, 1) uint8, labels (N,) int64), N = 10 * count_per_class.

    `fonts`: font file paths (and/or DEFAULT_FONT); None = default_fonts(); [] = Pillow's
    bundled font only (what tests use: it needs no installed fonts). Ordered by sample:
    class k is at indices k, k+10, ... so any prefix is balanced.
    """
    assert count_per_class >= 1 and size >= 8, (count_per_class, size)
    font_list = default_fonts() if fonts is None else (list(fonts) or [DEFAULT_FONT])
    path = _cache_path("glyphs", {"count_per_class": count_per_class, "seed": seed,
                                  "size": size, "fonts": _font_keys(font_list)})
    if cache:
        loaded = _read_cache(path)
        if loaded is not None:
            return loaded["images"], loaded["labels"]
    rng = np.random.default_rng(seed)
    font_cache: dict = {}
    n = count_per_class * len(GLYPH_CLASSES)
    images = np.empty((n, size, size, 1), dtype=np.uint8)
    labels = np.empty((n,), dtype=np.int64)
    for i in range(n):
        label = i % len(GLYPH_CLASSES)
        # fonts cycle per sample so every class sees every font about equally
        font = font_list[(i // len(GLYPH_CLASSES)) % len(font_list)]
        images[i, :, :, 0] = render_glyph(GLYPH_CLASSES[label], font, rng, size, cache=font_cache)
        labels[i] = label
    if cache:
        _write_cache(path, images=images, labels=labels)
    return images, labels


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray | None  # (N,) int64, or None for unlabelled data

    def __len__(self) -> int:
        return int(self.images.shape[0])


def glyph_splits(train_per_class: int = 1000, held_out_per_class: int = 100,
                 fonts: Sequence[str] | None = None, size: int = GLYPH_SIZE,
                 cache: bool = True) -> dict[str, Split]:
    """The fixed train / held-out split: same fonts, independent augmentation seeds."""
    train = make_glyphs(train_per_class, TRAIN_SEED, fonts, size, cache)
    held = make_glyphs(held_out_per_class, HELD_OUT_SEED, fonts, size, cache)
    return {"train": Split(*train), "held_out": Split(*held)}


def build_dataset(spec: Mapping[str, Any]) -> dict[str, Split]:
    """A recipe's dataset spec → {"train", "held_out"} splits.

    {"name": "glyphs", "train_per_class": 1000, "held_out_per_class": 100, "size": 32,
     "fonts": null | [paths]}  or
    {"name": "folder", "path": "...", "size": 32, "channels": 1, "held_out_fraction": 0.1,
     "classes": false, "flip": false, "seed": 0}  (studio.core.train_data)
    """
    name = spec.get("name", "glyphs")
    if name == "glyphs":
        return glyph_splits(int(spec.get("train_per_class", 1000)),
                            int(spec.get("held_out_per_class", 100)),
                            spec.get("fonts"), int(spec.get("size", GLYPH_SIZE)),
                            bool(spec.get("cache", True)))
    if name == "folder":  # recursive, class subfolders, flips, a content-keyed cache
        from studio.core.train_data import prepare_folder

        return prepare_folder(spec, cache=bool(spec.get("cache", True))).splits
    raise ValueError(f"unknown dataset {name!r} (known: glyphs, folder)")


# -----------------------------------------------------------------------------
# image folders

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class ImageFolderDataset:
    """Every image in a folder, fitted to (size, size, channels) uint8.

    Unreadable files are skipped and listed in `skipped` as (path, reason)."""

    def __init__(self, folder: str | Path, size: int, channels: int) -> None:
        from studio.core import media  # light (no torch), imported late to keep this module lean

        assert channels in (1, 3), channels
        self.folder = Path(folder)
        self.size, self.channels = size, channels
        self.paths: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []
        images = []
        files = sorted(p for p in self.folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        for path in files:
            try:
                image = media.load_image(path)
                images.append(media.fit_image(image, size, channels))
                self.paths.append(path)
            except Exception as exc:  # any bad file: skip it and say why
                self.skipped.append((path, str(exc) or type(exc).__name__))
        self.images = (np.stack(images) if images
                       else np.zeros((0, size, size, channels), dtype=np.uint8))
        assert self.images.shape[1:] == (size, size, channels), self.images.shape

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> np.ndarray:
        return self.images[index]


# -----------------------------------------------------------------------------
# the .npz cache

def dataset_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "latent-studio" / "datasets"


def _font_keys(fonts: Sequence[str]) -> list[str]:
    # a font file that changes (size) must not reuse an old cache
    keys = []
    for font in fonts:
        try:
            keys.append(f"{font}:{os.path.getsize(font)}" if font != DEFAULT_FONT else font)
        except OSError:
            keys.append(font)
    return keys


def _cache_path(kind: str, params: Mapping[str, Any]) -> Path:
    import PIL

    blob = json.dumps({"v": _GENERATOR_VERSION, "pil": PIL.__version__, **params}, sort_keys=True)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return dataset_cache_dir() / f"{kind}-{digest}.npz"


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError):
        return None  # missing or damaged: regenerate


def _write_cache(path: Path, **arrays: np.ndarray) -> None:
    # temp file + rename: a crash never leaves a half-written cache behind
    try:
        with atomic.atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)  # a file object: np.savez would add .npz to a bare name
    except OSError:
        pass  # a read-only cache only costs time
