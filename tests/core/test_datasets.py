"""The built-in glyph dataset and image folders. Only Pillow's bundled font is used
(`fonts=[]`), so these tests need no installed fonts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.datasets import (
    DEFAULT_FONT,
    GLYPH_CLASSES,
    ImageFolderDataset,
    build_dataset,
    dataset_cache_dir,
    default_fonts,
    glyph_splits,
    make_glyphs,
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_glyphs_shape_labels_and_look() -> None:
    images, labels = make_glyphs(3, seed=0, fonts=[], cache=False)
    assert images.shape == (30, 32, 32, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and list(labels[:10]) == list(range(10))
    assert np.bincount(labels).tolist() == [3] * len(GLYPH_CLASSES)
    # white on black: dark borders, bright strokes
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]])
    assert border.mean() < 20 and images.max(axis=(1, 2, 3)).min() > 200


def test_glyphs_are_deterministic_and_seeded() -> None:
    a = make_glyphs(2, seed=5, fonts=[], size=16, cache=False)[0]
    b = make_glyphs(2, seed=5, fonts=[], size=16, cache=False)[0]
    c = make_glyphs(2, seed=6, fonts=[], size=16, cache=False)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a smaller count is a prefix of a larger one: held-out subsets match the full split
    np.testing.assert_array_equal(make_glyphs(1, seed=5, fonts=[], size=16, cache=False)[0], a[:10])


def test_glyph_cache_round_trip() -> None:
    first = make_glyphs(1, seed=2, fonts=[], size=16)
    files = list(dataset_cache_dir().glob("glyphs-*.npz"))
    assert len(files) == 1
    again = make_glyphs(1, seed=2, fonts=[], size=16)
    np.testing.assert_array_equal(first[0], again[0])
    files[0].write_bytes(b"damaged")  # a damaged cache is regenerated, not trusted
    np.testing.assert_array_equal(make_glyphs(1, seed=2, fonts=[], size=16)[0], first[0])


def test_splits_differ_and_build_dataset() -> None:
    splits = glyph_splits(2, 1, fonts=[], size=16, cache=False)
    assert len(splits["train"]) == 20 and len(splits["held_out"]) == 10
    assert not np.array_equal(splits["train"].images[:10], splits["held_out"].images)
    built = build_dataset({"name": "glyphs", "train_per_class": 2, "held_out_per_class": 1,
                           "fonts": [], "size": 16, "cache": False})
    np.testing.assert_array_equal(built["train"].images, splits["train"].images)
    with pytest.raises(ValueError, match="unknown dataset"):
        build_dataset({"name": "nope"})


def test_default_fonts_end_with_pillows_font() -> None:
    fonts = default_fonts()
    assert fonts[-1] == DEFAULT_FONT and fonts[:-1] == sorted(fonts[:-1])


def test_image_folder_skips_bad_files(tmp_path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (40, 20), (255, 0, 0)).save(folder / "a.png")
    Image.new("L", (8, 8), 128).save(folder / "b.jpg")
    (folder / "c.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored")
    data = ImageFolderDataset(folder, 16, 3)
    assert len(data) == 2 and data.images.shape == (2, 16, 16, 3)
    assert [p.name for p, _ in data.skipped] == ["c.png"] and data.skipped[0][1]
    assert data[0][8, 8].tolist() == [255, 0, 0]
    gray = build_dataset({"name": "folder", "path": str(folder), "size": 8, "channels": 1,
                          "held_out_fraction": 0.5})
    assert len(gray["train"]) == 1 and gray["held_out"].images.shape == (1, 8, 8, 1)
