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
    return Slerp(a, b, eps).at(t)


class Slerp:
    """`slerp(a, b, t)` for many t: the ends' norms and angle are worked out once, by the
    same operations, so `at(t)` gives the very same values as `slerp` (an animation's
    frames, re-rendered from a recipe, must not move by an ulp)."""

    def __init__(self, a: np.ndarray, b: np.ndarray, eps: float = 1e-7) -> None:
        self.a = np.asarray(a, dtype=np.float32)
        self.b = np.asarray(b, dtype=np.float32)
        assert self.a.shape == self.b.shape, (self.a.shape, self.b.shape)
        fa, fb = self.a.reshape(-1).astype(np.float64), self.b.reshape(-1).astype(np.float64)
        self.na, self.nb = np.linalg.norm(fa), np.linalg.norm(fb)
        self.linear = bool(self.na < eps or self.nb < eps)
        if not self.linear:
            self.ua, self.ub = fa / self.na, fb / self.nb
            self.omega = float(np.arccos(np.clip(np.dot(self.ua, self.ub), -1.0, 1.0)))
            self.linear = self.omega < 1e-4  # nearly parallel: slerp degenerates to lerp

    def at(self, t: float) -> np.ndarray:
        if self.linear:
            return lerp(self.a, self.b, t)
        direction = (np.sin((1.0 - t) * self.omega) * self.ua
                     + np.sin(t * self.omega) * self.ub) / np.sin(self.omega)
        radius = (1.0 - t) * self.na + t * self.nb
        return (direction * radius).reshape(self.a.shape).astype(np.float32)


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
