"""Preparing a folder of the user's own images for training (studio.core.train_data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.datasets import build_dataset
from studio.core.train_data import FolderSettings, contact_sheet, dataset_dir, prepare_folder


def make_folder(root: Path) -> Path:
    """Two class subfolders (one nested deeper), an image at the top, and odd files."""
    (root / "cats" / "deep").mkdir(parents=True)
    (root / "dogs").mkdir()
    for i in range(6):
        Image.new("RGB", (40, 20), (200, 10 * i, 0)).save(root / "cats" / f"c{i}.png")
        Image.new("RGB", (24, 24), (0, 10 * i, 200)).save(root / "dogs" / f"d{i}.jpg")
    # left half white, right half black: a flip is visible
    half = np.zeros((16, 16, 3), np.uint8)
    half[:, :8] = 255
    Image.fromarray(half).save(root / "cats" / "deep" / "half.png")
    Image.new("L", (8, 8), 77).save(root / "top.png")
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "notes.txt").write_text("not an image")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_is_read_recursively_and_odd_files_are_reported(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "mine")
    before = snapshot(root)
    prepared = prepare_folder(FolderSettings(str(root), size=16, channels=3))
    assert prepared.count == 14 and "cats/deep/half.png" in prepared.files
    skipped = dict(prepared.skipped)
    assert set(skipped) == {"dogs/broken.png", "notes.txt"}
    assert all(reason for reason in skipped.values())
    assert skipped["notes.txt"] == "not an image (.txt)"
    train, held = prepared.splits["train"], prepared.splits["held_out"]
    assert len(held) == 1 and len(train) == 13 and train.labels is None  # 10% held out
    assert train.images.shape[1:] == (16, 16, 3) and train.images.dtype == np.uint8
    assert snapshot(root) == before  # nothing in the user's folder changes
    assert contact_sheet(prepared).shape[2] == 3


def test_grey_centre_crop_classes_and_flips(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "mine")
    settings = FolderSettings(str(root), size=8, channels=1, classes=True, flip=True,
                              held_out_fraction=0.25)
    prepared = prepare_folder(settings)
    assert prepared.class_names == ["cats", "dogs"]
    assert dict(prepared.skipped)["top.png"] == "not in a class subfolder"
    train, held = prepared.splits["train"], prepared.splits["held_out"]
    assert prepared.count == 13 and len(held) == 3 and len(train) == 2 * 10  # flips double it
    assert train.images.shape[1:] == (8, 8, 1) and held.images.shape[1:] == (8, 8, 1)
    assert set(train.labels.tolist()) | set(held.labels.tolist()) == {0, 1}
    # the second half of the training split mirrors the first, labels and all
    n = len(train) // 2
    assert np.array_equal(train.images[n:], train.images[:n, :, ::-1])
    assert np.array_equal(train.labels[n:], train.labels[:n])


def test_the_cache_is_keyed_by_content(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "mine")
    settings = FolderSettings(str(root), size=8, channels=3)
    first = prepare_folder(settings)
    assert not first.from_cache and list(dataset_dir().glob(f"folder-{first.key}.*"))
    again = prepare_folder(settings)
    assert again.from_cache and again.key == first.key
    assert np.array_equal(again.splits["train"].images, first.splits["train"].images)
    assert again.skipped == first.skipped and again.files == first.files
    # a copy of the same images elsewhere reuses it; other settings do not
    copy = make_folder(tmp_path / "copy")
    assert prepare_folder(FolderSettings(str(copy), size=8, channels=3)).from_cache
    assert not prepare_folder(FolderSettings(str(root), size=8, channels=1)).from_cache
    # one changed pixel in one file: a new key, prepared afresh
    Image.new("RGB", (40, 20), (201, 0, 0)).save(root / "cats" / "c0.png")
    changed = prepare_folder(settings)
    assert not changed.from_cache and changed.key != first.key


def test_build_dataset_reads_a_folder_spec_and_refuses_too_few_images(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "mine")
    spec = FolderSettings(str(root), size=8, channels=1, held_out_fraction=0.5).to_spec()
    splits = build_dataset(spec)
    assert len(splits["train"]) == 7 and len(splits["held_out"]) == 7
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="at least 2 readable images"):
        prepare_folder(FolderSettings(str(empty)))
    with pytest.raises(ValueError, match="not a folder"):
        prepare_folder(FolderSettings(str(tmp_path / "missing")))
