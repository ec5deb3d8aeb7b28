"""A folder of the user's own images, prepared for training.

`prepare_folder` walks a folder recursively, reads every file through the safe importer
(media.load_image), centre-crops and resizes it to (size, size, channels), optionally
labels each image by its top-level subfolder, keeps a seeded held-out split apart, and
adds horizontal flips to the training split when asked. Files it cannot use are listed
with the reason. Nothing in the folder is written: the prepared arrays are cached under
the user data folder (studio_home()/datasets), keyed by the files' bytes and the settings,
so a second run with the same images reuses them and a changed image rebuilds them.

Pure numpy + Pillow (no torch): the GUI previews a folder with it before training.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core import atomic, media
from studio.core.datasets import IMAGE_SUFFIXES, Split
from studio.core.paths import studio_home

RESOLUTIONS = (32, 64, 128)
# the data path that names the built-in glyph digits (32 px grey, 10 classes) instead of a folder
BUILTIN_GLYPHS = "builtin:glyphs"
GLYPHS_SPEC = {"name": "glyphs", "train_per_class": 1000, "held_out_per_class": 100}
_PREP_VERSION = 1  # bump when preparation changes, so old caches are not reused


@dataclass(frozen=True)
class FolderSettings:
    """Everything that changes the prepared arrays (and so the cache key)."""

    path: str
    size: int = 32
    channels: int = 3  # 3: colour, 1: grey
    classes: bool = False  # top-level subfolders are class labels
    held_out_fraction: float = 0.1
    flip: bool = False  # add horizontally flipped copies to the training split
    seed: int = 0
    single_label: bool = False  # every image is class 0 (families that need a class)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FolderSettings:
        known = {k: spec[k] for k in cls.__dataclass_fields__ if k in spec}
        return cls(**known)

    def to_spec(self) -> dict[str, Any]:
        """The recipe's dataset entry (build_dataset reads it back)."""
        return {"name": "folder", **self.__dict__}


@dataclass
class PreparedFolder:
    splits: dict[str, Split]
    files: list[str]  # used images, relative to the folder, in array order before the split
    skipped: list[tuple[str, str]]  # (relative path, reason)
    class_names: list[str] = field(default_factory=list)
    key: str = ""  # the content key of the cache
    from_cache: bool = False

    @property
    def count(self) -> int:
        return len(self.files)


def dataset_dir() -> Path:
    return studio_home() / "datasets"


def _walk(root: Path) -> list[Path]:
    # sorted and relative: the order (and so the split) never depends on the file system
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found.extend(Path(dirpath) / name for name in sorted(filenames))
    return found


def _content_key(settings: FolderSettings, files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    public = {**settings.__dict__, "path": None}  # the same images elsewhere share a cache
    digest.update(json.dumps({"v": _PREP_VERSION, **public}, sort_keys=True).encode())
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as exc:
            digest.update(f"unreadable:{exc}".encode())
    return digest.hexdigest()[:20]


def prepare_folder(settings: FolderSettings | Mapping[str, Any], cache: bool = True) -> PreparedFolder:
    """Read, fit and split a folder of images (see the module docstring)."""
    if not isinstance(settings, FolderSettings):
        settings = FolderSettings.from_spec(settings)
    if settings.path == BUILTIN_GLYPHS:
        return prepare_glyphs(settings)
    root = Path(settings.path).expanduser()
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    if settings.channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {settings.channels}")
    if not 0.0 < settings.held_out_fraction < 1.0:
        raise ValueError(f"held-out fraction must be between 0 and 1, not {settings.held_out_fraction}")
    files = _walk(root)
    key = _content_key(settings, files, root)
    stem = dataset_dir() / f"folder-{key}"
    if cache:
        loaded = _read_cached(stem)
        if loaded is not None:
            return loaded
    prepared = _prepare(settings, root, files)
    prepared.key = key
    if cache:
        _write_cached(stem, prepared)
    return prepared


def _prepare(settings: FolderSettings, root: Path, files: list[Path]) -> PreparedFolder:
    images: list[np.ndarray] = []
    used: list[str] = []
    labels: list[str] = []
    skipped: list[tuple[str, str]] = []
    for path in files:
        rel = path.relative_to(root)
        if settings.classes and len(rel.parts) < 2:
            skipped.append((rel.as_posix(), "not in a class subfolder"))
            continue
        try:
            images.append(media.fit_image(media.load_image(path), settings.size, settings.channels))
        except Exception as exc:  # any bad file: skip it and say why, in one line
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if path.suffix.lower() not in IMAGE_SUFFIXES:  # every file is tried: say it plainly
                reason = f"not an image ({path.suffix or 'no suffix'})"
            skipped.append((rel.as_posix(), reason))
            continue
        used.append(rel.as_posix())
        labels.append(rel.parts[0])
    if len(images) < 2:
        raise ValueError(f"{root}: needs at least 2 readable images, found {len(images)}"
                         + (f" ({len(skipped)} skipped)" if skipped else ""))
    array = np.stack(images)  # (N, H, W, C) uint8
    class_names = sorted(set(labels)) if settings.classes else []
    if settings.classes and len(class_names) < 2:
        raise ValueError(f"{root}: class labels need at least 2 subfolders with images")
    label_array = (np.array([class_names.index(name) for name in labels], np.int64)
                   if settings.classes else None)
    if settings.single_label and not settings.classes:
        label_array = np.zeros(len(array), np.int64)
    order = np.random.default_rng(settings.seed).permutation(len(array))
    n_held = min(len(array) - 1, max(1, int(round(len(array) * settings.held_out_fraction))))
    held, train = order[:n_held], np.sort(order[n_held:])
    train_images = array[train]
    train_labels = label_array[train] if label_array is not None else None
    if settings.flip:  # mirrored copies: the held-out split stays as the user's images are
        train_images = np.concatenate([train_images, train_images[:, :, ::-1]])
        if train_labels is not None:
            train_labels = np.concatenate([train_labels, train_labels])
    splits = {"train": Split(np.ascontiguousarray(train_images), train_labels),
              "held_out": Split(array[np.sort(held)],
                                label_array[np.sort(held)] if label_array is not None else None)}
    return PreparedFolder(splits, used, skipped, class_names)


def prepare_glyphs(settings: FolderSettings) -> PreparedFolder:
    """The built-in glyph digits as a prepared dataset (its own cache, in datasets.py)."""
    from studio.core.datasets import GLYPH_CLASSES, GLYPH_SIZE, build_dataset

    if settings.size != GLYPH_SIZE or settings.channels != 1:
        raise ValueError(f"the built-in glyphs are {GLYPH_SIZE} px grey")
    splits = build_dataset(GLYPHS_SPEC)
    count = len(splits["train"]) + len(splits["held_out"])
    return PreparedFolder(splits, [f"glyph {i}" for i in range(count)], [], list(GLYPH_CLASSES),
                          key="glyphs")


def contact_sheet(prepared: PreparedFolder, count: int = 64) -> np.ndarray:
    """Up to `count` training images, spread evenly over the split (so every subfolder
    shows), in a grid, (H, W, 3) uint8: what will be used."""
    images = prepared.splits["train"].images
    picks = np.unique(np.linspace(0, len(images) - 1, min(count, len(images))).astype(int))
    return media.grid(list(images[picks]))


# -----------------------------------------------------------------------------
# the cache: arrays in .npz, the manifest (files, skipped, classes) in .json

def _read_cached(stem: Path) -> PreparedFolder | None:
    try:
        manifest = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        splits = {name: Split(arrays[f"{name}_images"], arrays.get(f"{name}_labels"))
                  for name in ("train", "held_out")}
        return PreparedFolder(splits, list(manifest["files"]),
                              [(str(a), str(b)) for a, b in manifest["skipped"]],
                              list(manifest["class_names"]), stem.name.removeprefix("folder-"),
                              from_cache=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: prepare again


def _write_cached(stem: Path, prepared: PreparedFolder) -> None:
    arrays = {}
    for name, split in prepared.splits.items():
        arrays[f"{name}_images"] = split.images
        if split.labels is not None:
            arrays[f"{name}_labels"] = split.labels
    manifest = {"files": prepared.files, "skipped": prepared.skipped,
                "class_names": prepared.class_names}
    try:  # arrays first: a manifest never points at missing arrays
        with atomic.atomic_path(stem.with_suffix(".npz")) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        atomic.write_text(stem.with_suffix(".json"), json.dumps(manifest))
    except OSError:
        pass  # a read-only data folder only costs time
