"""Heatmaps of per-pixel figures (bits per pixel, log-density maps). Pure numpy.

A fixed perceptual ramp (black → purple → orange → pale yellow, like matplotlib's
"inferno") so that maps from different models read the same way; the scale's ends
are returned with the image, so a read-out can say what the colours mean.
"""

from __future__ import annotations

import numpy as np

# (position, r, g, b) stops of the ramp
_STOPS = np.array([
    (0.00, 0, 0, 4),
    (0.25, 87, 16, 110),
    (0.50, 188, 55, 84),
    (0.75, 249, 142, 9),
    (1.00, 252, 255, 164),
], dtype=np.float64)


def heatmap_rgb(values: np.ndarray, vmin: float | None = None, vmax: float | None = None,
                size: int | None = None) -> np.ndarray:
    """(H, W) floats → (S, S, 3) uint8 (S = size, or H), scaled from vmin (dark) to vmax
    (bright); defaults: the map's own minimum and maximum. Upscaled by pixel repetition,
    so a coarse map keeps its cells visible."""
    v = np.asarray(values, dtype=np.float64)
    assert v.ndim == 2, v.shape
    lo = float(np.min(v)) if vmin is None else float(vmin)
    hi = float(np.max(v)) if vmax is None else float(vmax)
    t = np.clip((v - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(v)
    rgb = np.stack([np.interp(t, _STOPS[:, 0], _STOPS[:, i]) for i in (1, 2, 3)], axis=-1)
    out = np.round(rgb).astype(np.uint8)
    if size is not None and size != v.shape[0]:
        assert size % v.shape[0] == 0 and v.shape[0] == v.shape[1], (size, v.shape)
        k = size // v.shape[0]
        out = out.repeat(k, axis=0).repeat(k, axis=1)
    return out


def gray_to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 1) or (H, W, 3) uint8 → (H, W, 3): so an input can sit in one grid with maps."""
    return image if image.shape[-1] == 3 else np.repeat(image[..., :1], 3, axis=-1)
