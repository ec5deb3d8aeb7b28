"""Keyframe path maths: frame counts, where keyframes land, splines, easing, constant speed
and loop closure (studio/core/animation.py)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core import animation as anim
from studio.core.animation import AnimationError, PathSettings


def keys(count: int = 3, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)


@pytest.mark.parametrize("count,per,loop,expected", [
    (3, 24, False, 49), (3, 24, True, 72), (2, 5, False, 6), (4, 1, True, 4), (5, 7, False, 29),
])
def test_frame_counts_follow_the_contract(count, per, loop, expected):
    settings = PathSettings(frames_per_keyframe=per, loop=loop)
    assert anim.frame_count(count, settings) == expected
    assert len(anim.frame_positions(keys(count), settings)) == expected
    fast = PathSettings(frames_per_keyframe=per, loop=loop, constant_speed=True)
    assert len(anim.frame_positions(keys(count), fast)) == expected  # the count stays the same


def test_holds_add_frames_and_repeat_the_keyframe():
    k = keys(3)
    settings = PathSettings(method="lerp", frames_per_keyframe=4, holds=(2, 0, 3))
    positions = anim.frame_positions(k, settings)
    assert len(positions) == anim.frame_count(3, settings) == 9 + 5
    latents = anim.frame_latents(k, positions, settings)
    assert np.array_equal(latents[0], k[0]) and np.array_equal(latents[2], k[0])
    # keyframe 1 lands after 4 frames of motion and the 2 held ones
    assert anim.keyframe_frames(positions, 3)[1] == 6.0
    assert np.array_equal(latents[-1], k[2]) and np.array_equal(latents[-4], k[2])


@pytest.mark.parametrize("method", anim.PATHS)
@pytest.mark.parametrize("loop", [False, True])
def test_timed_keyframes_land_on_multiples_of_frames_per_keyframe(method, loop):
    k = keys(4)
    settings = PathSettings(method=method, frames_per_keyframe=6, loop=loop)
    positions = anim.frame_positions(k, settings)
    latents = anim.frame_latents(k, positions, settings)
    for index in range(4):
        assert anim.keyframe_frames(positions, 4)[index] == index * 6
        np.testing.assert_allclose(latents[index * 6], k[index], atol=1e-6)


def test_spline_passes_through_every_keyframe_and_is_smooth_at_them():
    k = keys(4, dim=2, seed=3)
    settings = PathSettings(method="spline", frames_per_keyframe=8)
    for index in range(4):
        np.testing.assert_allclose(anim.point(k, index, settings), k[index], atol=1e-6)
    # C1: the velocity just before and after an inner keyframe agrees (a polyline's does not)
    h = 1e-4
    before = (anim.point(k, 1.0, settings) - anim.point(k, 1.0 - h, settings)) / h
    after = (anim.point(k, 1.0 + h, settings) - anim.point(k, 1.0, settings)) / h
    np.testing.assert_allclose(before, after, rtol=1e-2, atol=1e-2)
    # and it is not the straight line between the keys
    mid = anim.point(k, 1.5, settings)
    assert not np.allclose(mid, (k[1] + k[2]) / 2, atol=1e-3)


def test_lerp_is_straight_and_slerp_keeps_a_gaussian_radius():
    k = keys(2, dim=512, seed=1)
    mid_lerp = anim.point(k, 0.5, PathSettings(method="lerp"))
    np.testing.assert_allclose(mid_lerp, (k[0] + k[1]) / 2, atol=1e-6)
    mid_slerp = anim.point(k, 0.5, PathSettings(method="slerp"))
    radius = (np.linalg.norm(k[0]) + np.linalg.norm(k[1])) / 2
    assert abs(np.linalg.norm(mid_slerp) - radius) < 1e-3 * radius
    assert np.linalg.norm(mid_lerp) < 0.8 * radius  # lerp cuts through the middle


@pytest.mark.parametrize("method", anim.PATHS)
def test_a_loop_closes_without_repeating_its_first_frame(method):
    k = keys(3, seed=5)
    settings = PathSettings(method=method, frames_per_keyframe=10, loop=True)
    positions = anim.frame_positions(k, settings)
    latents = anim.frame_latents(k, positions, settings)
    assert not np.allclose(latents[-1], latents[0], atol=1e-3)  # no repeated frame
    # the frame after the last one is the path's next sample, and that is frame 0
    assert positions[-1] + 1 / 10 == pytest.approx(3.0)
    np.testing.assert_allclose(anim.point(k, 3.0, settings), latents[0], atol=1e-5)
    # no jump at the seam: the closing step is no bigger than the largest step elsewhere
    steps = anim.mean_abs_steps(np.concatenate([latents, latents[:1]]))
    assert steps[-1] <= steps[:-1].max() * 1.01


def test_a_spline_loop_is_smooth_through_its_seam():
    k = keys(4, dim=3, seed=7)
    settings = PathSettings(method="spline", loop=True)
    h = 1e-4
    before = (anim.point(k, 4.0, settings) - anim.point(k, 4.0 - h, settings)) / h
    after = (anim.point(k, h, settings) - anim.point(k, 0.0, settings)) / h
    np.testing.assert_allclose(before, after, rtol=1e-2, atol=1e-2)


def test_easing_moves_the_inner_frames_not_the_keyframes():
    k = keys(2)
    plain = PathSettings(method="lerp", frames_per_keyframe=8)
    eased = PathSettings(method="lerp", frames_per_keyframe=8, easing=("ease-in-out",))
    a = anim.frame_latents(k, anim.frame_positions(k, plain), plain)
    b = anim.frame_latents(k, anim.frame_positions(k, eased), eased)
    np.testing.assert_allclose(a[[0, -1]], b[[0, -1]], atol=1e-6)
    np.testing.assert_allclose(a[4], b[4], atol=1e-6)  # smoothstep(0.5) = 0.5
    # slow at the ends: the first step is smaller than the linear one
    assert np.abs(b[1] - b[0]).mean() < 0.5 * np.abs(a[1] - a[0]).mean()
    for name, ease in anim.EASINGS.items():
        assert ease(0.0) == 0.0 and ease(1.0) == 1.0, name


def test_constant_speed_spreads_the_frames_evenly_in_the_measure():
    # keyframes at very uneven distances: timed frames crawl on the short segment
    k = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.0, 3.0]], dtype=np.float32)
    timed = PathSettings(method="lerp", frames_per_keyframe=10)
    even = PathSettings(method="lerp", frames_per_keyframe=10, constant_speed=True)
    t_steps = anim.mean_abs_steps(anim.frame_latents(k, anim.frame_positions(k, timed), timed))
    e_pos = anim.frame_positions(k, even)
    e_steps = anim.mean_abs_steps(anim.frame_latents(k, e_pos, even))
    assert anim.coefficient_of_variation(t_steps) > 0.5
    assert anim.coefficient_of_variation(e_steps) < 0.01
    assert e_pos[0] == 0.0 and e_pos[-1] == 3.0  # the open path still ends on its keyframes
    # keyframe 1 is near the start of the length, so it falls between frames 0 and 1
    assert 0.0 < anim.keyframe_frames(e_pos, 4)[1] < 1.0


def test_constant_speed_uses_the_given_measure():
    k = np.array([[0.0], [1.0], [2.0]], dtype=np.float32)
    settings = PathSettings(method="lerp", frames_per_keyframe=4, constant_speed=True)
    # a measure under which the second half changes three times as fast
    positions = anim.frame_positions(k, settings, measure=lambda z: np.where(z < 1, z, 3 * z - 2))
    steps = np.diff(np.where(positions < 1, positions, 3 * positions - 2))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-3)
    assert len(positions) == 9


def test_constant_speed_loop_keeps_the_count_and_closes():
    k = keys(4, seed=2)
    settings = PathSettings(method="spline", frames_per_keyframe=6, loop=True, constant_speed=True)
    positions = anim.frame_positions(k, settings)
    assert len(positions) == 24 and positions[0] == 0.0 and positions[-1] < 4.0
    timed = PathSettings(method="spline", frames_per_keyframe=6, loop=True)

    def cv(s: PathSettings) -> float:
        latents = anim.frame_latents(k, anim.frame_positions(k, s), s)
        return anim.coefficient_of_variation(anim.frame_steps(latents, loop=True))

    # the closing step counts too; mean |Δ| is measured on dense samples, so frame steps
    # across a turn of one coordinate come out a little short: even, not perfectly even
    assert cv(settings) < 0.5 * cv(timed)


@pytest.mark.parametrize("settings,count,message", [
    (PathSettings(method="cubic"), 3, "path"),
    (PathSettings(), 1, "2 keyframes"),
    (PathSettings(frames_per_keyframe=0), 3, "frames per keyframe"),
    (PathSettings(easing=("linear", "bounce")), 3, "easing"),
    (PathSettings(easing=("linear",) * 3), 3, "one per segment"),
    (PathSettings(holds=(1, -1)), 3, "holds"),
])
def test_bad_settings_say_what_is_wrong(settings, count, message):
    with pytest.raises(AnimationError, match=message):
        anim.frame_positions(keys(count), settings)


@pytest.mark.parametrize("method", ["slerp", "spline"])
def test_keyframe_conditions_are_lerped_at_the_latents_eased_time(method):
    """A class mix (or any conditioning vector) per keyframe: exact at the keyframes, lerped
    between them at the segment's eased time whatever the latent path, closed on a loop."""
    conditions = np.eye(3, dtype=np.float32)  # three one-hot classes
    settings = anim.PathSettings(method, 4, loop=True, easing=("ease-in-out", "linear", "linear"))
    positions = anim.frame_positions(np.zeros((3, 2), np.float32), settings)
    mixes = anim.frame_conditions(conditions, positions, settings)
    assert mixes.shape == (12, 3)
    for k in range(3):
        assert np.array_equal(mixes[4 * k], conditions[k])
    assert np.allclose(mixes.sum(1), 1.0) and (mixes >= 0).all()  # never outside the two
    t = 0.25 * 0.25 * (3.0 - 2.0 * 0.25)  # smoothstep at a quarter of the segment
    assert np.allclose(mixes[1], [1 - t, t, 0])  # first segment: eased
    assert np.allclose(mixes[5], [0, 0.75, 0.25])  # second: linear
    assert np.allclose(mixes[11], [0.75, 0, 0.25])  # the loop's last segment: back to 0


def _slerp_reference(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """slerp as the recipes of earlier versions computed it, operation for operation."""
    fa, fb = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    na, nb = np.linalg.norm(fa), np.linalg.norm(fb)
    ua, ub = fa / na, fb / nb
    omega = float(np.arccos(np.clip(np.dot(ua, ub), -1.0, 1.0)))
    direction = (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    radius = (1.0 - t) * na + t * nb
    return (direction * radius).reshape(a.shape).astype(np.float32)


@pytest.mark.parametrize("loop", [False, True])
def test_slerp_frames_are_bit_identical_to_slerping_each_frame_alone(loop):
    """The frames' latents reuse each segment's norms and angle: not one ulp may move, or a
    recipe re-rendered would not give the same frames."""
    k = keys(4, dim=64, seed=5)
    settings = PathSettings("slerp", 7, loop=loop, easing=("ease-in",))
    positions = anim.frame_positions(k, settings)
    frames = anim.frame_latents(k, positions, settings)
    for frame, u in zip(frames, positions):
        index = min(int(u), anim.segment_count(4, loop) - 1)
        t = settings.easing_of(index)(u - index)
        assert np.array_equal(frame, _slerp_reference(k[index], k[(index + 1) % 4], t))
