"""Latent maths: lerp, slerp, paths and map points."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.latent import grid_point, lerp, path, slerp


@pytest.fixture
def ends():
    rng = np.random.default_rng(1)
    return rng.standard_normal((4, 8, 8)).astype(np.float32), rng.standard_normal((4, 8, 8)).astype(np.float32)


def test_ends_are_exact(ends):
    a, b = ends
    for fn in (lerp, slerp):
        assert np.allclose(fn(a, b, 0.0), a, atol=1e-6)
        assert np.allclose(fn(a, b, 1.0), b, atol=1e-6)


def test_slerp_keeps_the_radius_where_lerp_shrinks_it(ends):
    a, b = ends
    mid_norm = np.linalg.norm(slerp(a, b, 0.5))
    expected = (np.linalg.norm(a) + np.linalg.norm(b)) / 2
    assert mid_norm == pytest.approx(expected, rel=1e-4)
    assert np.linalg.norm(lerp(a, b, 0.5)) < 0.85 * expected  # near-orthogonal Gaussians


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    a = np.ones(8, np.float32)
    assert np.allclose(slerp(a, 2 * a, 0.5), 1.5 * a)


def test_multi_point_path_visits_every_point(ends):
    a, b = ends
    c = -a
    frames = path([a, b, c], 5, method="lerp")
    assert frames.shape == (5, 4, 8, 8)
    assert np.allclose(frames[0], a) and np.allclose(frames[2], b) and np.allclose(frames[4], c)


def test_closed_path_loops_without_repeating_the_start(ends):
    a, b = ends
    frames = path([a, b], 4, method="lerp", closed=True)
    assert np.allclose(frames[0], a) and np.allclose(frames[2], b)
    assert not np.allclose(frames[-1], a)


def test_grid_point():
    c, x, y = np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 2.0, 0])
    assert np.allclose(grid_point(c, x, y, 0.5, -1.0), [0.5, -2.0, 0])
