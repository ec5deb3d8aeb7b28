"""Latent maths in numpy: lerp, slerp and multi-point paths. No torch, no Qt.

The GUI uses these directly to scrub (a few hundred floats), so they must stay cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    assert a.shape == b.shape, (a.shape, b.shape)
    return ((1.0 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: float, eps: float = 1e-7) -> np.ndarray:
    """Spherical interpolation of the flattened vectors; their norms are interpolated
    linearly, so slerp between Gaussian draws stays at a typical radius."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    assert a.shape == b.shape, (a.shape, b.shape)
    fa, fb = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    na, nb = np.linalg.norm(fa), np.linalg.norm(fb)
    if na < eps or nb < eps:
        return lerp(a, b, t)
    ua, ub = fa / na, fb / nb
    omega = float(np.arccos(np.clip(np.dot(ua, ub), -1.0, 1.0)))
    if omega < 1e-4:  # nearly parallel: slerp degenerates to lerp
        return lerp(a, b, t)
    direction = (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    radius = (1.0 - t) * na + t * nb
    return (direction * radius).reshape(a.shape).astype(np.float32)


def interpolate(a: np.ndarray, b: np.ndarray, t: float, method: str = "slerp") -> np.ndarray:
    if method == "slerp":
        return slerp(a, b, t)
    if method == "lerp":
        return lerp(a, b, t)
    raise ValueError(f"unknown interpolation method {method!r}")


def path(points: Sequence[np.ndarray], frames: int, method: str = "slerp",
         closed: bool = False) -> np.ndarray:
    """`frames` latents along the polyline through `points`, evenly spread over the
    segments; `closed` returns to the first point (for looping walks)."""
    assert len(points) >= 2 and frames >= 2, (len(points), frames)
    pts = [np.asarray(p, dtype=np.float32) for p in points]
    if closed:
        pts.append(pts[0])
    segments = len(pts) - 1
    # closed loops drop the last frame: it equals the first
    positions = np.linspace(0.0, segments, frames, endpoint=not closed)
    out = []
    for pos in positions:
        index = min(int(pos), segments - 1)
        out.append(interpolate(pts[index], pts[index + 1], float(pos - index), method))
    return np.stack(out).astype(np.float32)


def grid_point(center: np.ndarray, axis_x: np.ndarray, axis_y: np.ndarray,
               u: float, v: float) -> np.ndarray:
    """A point of a 2-D latent map: centre + u·axis_x + v·axis_y."""
    return (np.asarray(center) + u * np.asarray(axis_x) + v * np.asarray(axis_y)).astype(np.float32)
