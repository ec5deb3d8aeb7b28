"""numpy uint8 images → QImage / QPixmap, and N images → one grid image.

Every conversion copies the buffer: a QImage made over numpy memory would dangle once
the array is freed.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QImage, QPixmap

GRID_GAP = 1  # pixels between grid cells


def as_hwc(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 1|3|4) uint8 → contiguous (H, W, C)."""
    image = np.asarray(image)
    assert image.dtype == np.uint8, image.dtype
    if image.ndim == 2:
        image = image[..., None]
    assert image.ndim == 3 and image.shape[-1] in (1, 3, 4), image.shape
    return np.ascontiguousarray(image)


_FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888,
            4: QImage.Format.Format_RGBA8888}


def to_qimage(image: np.ndarray) -> QImage:
    image = as_hwc(image)
    height, width, channels = image.shape
    qimage = QImage(image.data, width, height, width * channels, _FORMATS[channels])
    return qimage.copy()  # own the pixels


def to_pixmap(image: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(image))


def grid_columns(count: int, columns: int = 0) -> int:
    """The column count of a grid of `count` images: `columns`, or square-ish."""
    if columns > 0:
        return min(columns, max(1, count))
    return max(1, math.ceil(math.sqrt(count)))


def grid_shape(count: int, columns: int, cell: tuple[int, int], gap: int = GRID_GAP) -> tuple[int, int]:
    """(height, width) in pixels of a grid of `count` cells of `cell` = (h, w)."""
    cols = grid_columns(count, columns)
    rows = math.ceil(count / cols)
    return rows * cell[0] + (rows - 1) * gap, cols * cell[1] + (cols - 1) * gap


def grid_image(images: np.ndarray, columns: int = 0, gap: int = GRID_GAP) -> np.ndarray:
    """(N, H, W, C) → one (H', W', 4) RGBA image; the gaps are transparent so that the
    canvas background shows between cells. One image is returned as it is."""
    images = np.asarray(images)
    assert images.ndim == 4 and images.dtype == np.uint8, images.shape
    count, h, w, channels = images.shape
    if count == 1:
        return as_hwc(images[0])
    rgba = np.empty((count, h, w, 4), np.uint8)
    rgba[..., :3] = images[..., :3] if channels >= 3 else images[..., :1]
    rgba[..., 3] = images[..., 3] if channels == 4 else 255
    cols = grid_columns(count, columns)
    out = np.zeros((*grid_shape(count, cols, (h, w), gap), 4), np.uint8)
    for i in range(count):
        row, col = divmod(i, cols)
        y, x = row * (h + gap), col * (w + gap)
        out[y:y + h, x:x + w] = rgba[i]
    return out


def pad_grid(images: np.ndarray, count: int) -> np.ndarray:
    """A partial result (a preview) padded to `count` cells with transparent ones, so the
    grid keeps its final layout while it fills in."""
    images = np.asarray(images)
    if len(images) >= count:
        return images
    n, h, w, channels = images.shape
    rgba = np.zeros((count, h, w, 4), np.uint8)
    rgba[:n, ..., :3] = images[..., :3] if channels >= 3 else images[..., :1]
    rgba[:n, ..., 3] = images[..., 3] if channels == 4 else 255
    return rgba


def cell_at(x: float, y: float, count: int, columns: int, cell: tuple[int, int],
            gap: int = GRID_GAP) -> int:
    """The index of the grid cell under pixel (x, y), or -1 (outside, or in a gap)."""
    cols = grid_columns(count, columns)
    h, w = cell
    if x < 0 or y < 0:
        return -1
    col, x_in = divmod(int(x), w + gap)
    row, y_in = divmod(int(y), h + gap)
    index = row * cols + col
    if col >= cols or x_in >= w or y_in >= h or index >= count:
        return -1
    return index


def cell_rect(index: int, count: int, columns: int, cell: tuple[int, int],
              gap: int = GRID_GAP) -> tuple[int, int, int, int]:
    """(x, y, w, h) of cell `index` in grid pixels."""
    cols = grid_columns(count, columns)
    row, col = divmod(index, cols)
    h, w = cell
    return col * (w + gap), row * (h + gap), w, h
