"""Keyframe animation maths: paths through latents, easing, constant speed, perfect loops.

A path runs through K keyframe latents. Its parameter u goes from 0 (keyframe 0) to S, the
number of segments: K − 1 for an open path, K for a loop (the last segment returns to
keyframe 0). Keyframe k sits at u = k. A frame is a value of u; the frame list is what the
recipe records, so a re-render evaluates the very same points. No torch, no Qt.

Frame counts (the `studio animate` contract):
- a loop has K × frames_per_keyframe frames, the open path (K − 1) × frames_per_keyframe + 1:
  a loop never repeats its first frame at the end, the last frame flows into the first;
- holds add frames: keyframe k held h frames is shown h more times;
- timed (default): keyframe k lands on frame k × frames_per_keyframe (plus earlier holds);
- constant speed: the frames are spread evenly over the path's length, so keyframes may
  fall between frames, and the count stays the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from studio.core import latent as latent_math

PATHS = ("slerp", "lerp", "spline")
MEASURES = ("pixels", "latent")
# dense samples per frame interval when measuring the path's length for constant speed
DENSITY = 4


class AnimationError(ValueError):
    """Settings that make no animation (too few keyframes, an unknown path or easing)."""


# -- easing: [0, 1] → [0, 1], fixed ends -----------------------------------------------------
def _linear(t: float) -> float:
    return t


def _ease_in(t: float) -> float:
    return t * t


def _ease_out(t: float) -> float:
    return 1.0 - (1.0 - t) * (1.0 - t)


def _ease_in_out(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)  # smoothstep: zero speed at both keyframes


EASINGS: dict[str, Callable[[float], float]] = {
    "linear": _linear, "ease-in": _ease_in, "ease-out": _ease_out, "ease-in-out": _ease_in_out,
}


@dataclass(frozen=True)
class PathSettings:
    """How the frames move through the keyframes."""

    method: str = "slerp"
    frames_per_keyframe: int = 24
    loop: bool = False
    constant_speed: bool = False
    # one easing per segment, or one for all ("linear" when empty); ignored at constant speed,
    # which sets the timing itself
    easing: tuple[str, ...] = ()
    holds: tuple[int, ...] = ()  # extra frames per keyframe (missing = 0)

    def check(self, keyframes: int) -> None:
        if self.method not in PATHS:
            raise AnimationError(f"path {self.method!r}: use one of {', '.join(PATHS)}")
        if keyframes < 2:
            raise AnimationError(f"an animation needs 2 keyframes or more, not {keyframes}")
        if self.frames_per_keyframe < 1:
            raise AnimationError(f"frames per keyframe must be 1 or more, not {self.frames_per_keyframe}")
        segments = segment_count(keyframes, self.loop)
        if len(self.easing) not in (0, 1, segments):
            raise AnimationError(f"give one easing, or one per segment ({segments}), "
                                 f"not {len(self.easing)}")
        for name in self.easing:
            if name not in EASINGS:
                raise AnimationError(f"easing {name!r}: use one of {', '.join(EASINGS)}")
        if len(self.holds) > keyframes or any(h < 0 for h in self.holds):
            raise AnimationError(f"holds: at most one per keyframe ({keyframes}), none negative")

    def easing_of(self, segment: int) -> Callable[[float], float]:
        if not self.easing:
            return _linear
        return EASINGS[self.easing[0] if len(self.easing) == 1 else self.easing[segment]]

    def hold_of(self, keyframe: int) -> int:
        return self.holds[keyframe] if keyframe < len(self.holds) else 0


def segment_count(keyframes: int, loop: bool) -> int:
    return keyframes if loop else keyframes - 1


def moving_frame_count(keyframes: int, frames_per_keyframe: int, loop: bool) -> int:
    """Frames without holds: K × f for a loop, (K − 1) × f + 1 for an open path."""
    return keyframes * frames_per_keyframe if loop else (keyframes - 1) * frames_per_keyframe + 1


def frame_count(keyframes: int, settings: PathSettings) -> int:
    holds = sum(settings.hold_of(k) for k in range(keyframes))
    return moving_frame_count(keyframes, settings.frames_per_keyframe, settings.loop) + holds


# -- points on the path ------------------------------------------------------------------------
def _catmull_rom(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, t: float
                 ) -> np.ndarray:
    """The uniform Catmull-Rom spline between p1 (t = 0) and p2 (t = 1): through every key."""
    t2, t3 = t * t, t * t * t
    return 0.5 * (2.0 * p1 + (p2 - p0) * t + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t2
                  + (3.0 * p1 - p0 - 3.0 * p2 + p3) * t3)


def _neighbour(keys: np.ndarray, index: int, loop: bool) -> np.ndarray:
    """Keyframe `index`, wrapped on a loop; past an open end, the reflection of the next
    one in (so the spline leaves the end keyframe heading straight at its neighbour)."""
    count = len(keys)
    if loop:
        return keys[index % count]
    if index < 0:
        return 2.0 * keys[0] - keys[1]
    if index >= count:
        return 2.0 * keys[-1] - keys[-2]
    return keys[index]


def _segment(count: int, u: float, settings: PathSettings, ease: bool) -> tuple[int, float]:
    """The segment holding path parameter u and how far along it (eased when `ease`)."""
    segments = segment_count(count, settings.loop)
    u = float(min(max(u, 0.0), segments))
    index = min(int(np.floor(u)), segments - 1)
    t = u - index
    if ease:
        t = settings.easing_of(index)(t)
    return index, t


def point(keys: np.ndarray, u: float, settings: PathSettings, ease: bool = True) -> np.ndarray:
    """The latent at path parameter u (0 ≤ u ≤ S); `ease` applies the segment's easing."""
    count = len(keys)
    index, t = _segment(count, u, settings, ease)
    a, b = keys[index], keys[(index + 1) % count]
    if settings.method == "spline":
        k64 = keys.astype(np.float64)
        out = _catmull_rom(_neighbour(k64, index - 1, settings.loop), k64[index],
                           k64[(index + 1) % count], _neighbour(k64, index + 2, settings.loop), t)
        return out.astype(np.float32)
    return latent_math.interpolate(a, b, t, settings.method)


def points(keys: np.ndarray, positions: Sequence[float], settings: PathSettings,
           ease: bool = True) -> np.ndarray:
    """(N, *latent) latents at the given path positions."""
    keys = np.asarray(keys, dtype=np.float32)
    if settings.method != "slerp":
        return np.stack([point(keys, float(u), settings, ease) for u in positions]).astype(np.float32)
    # slerp: each segment's norms and angle once (the same values `point` gives)
    count, arcs = len(keys), {}
    out = []
    for u in positions:
        index, t = _segment(count, float(u), settings, ease)
        if index not in arcs:
            arcs[index] = latent_math.Slerp(keys[index], keys[(index + 1) % count])
        out.append(arcs[index].at(t))
    return np.stack(out).astype(np.float32)


# -- where the frames fall ---------------------------------------------------------------------
def timed_positions(keyframes: int, settings: PathSettings) -> np.ndarray:
    """Without holds: frame j at u = j / frames_per_keyframe, so keyframe k lands on frame k·f."""
    n = moving_frame_count(keyframes, settings.frames_per_keyframe, settings.loop)
    return np.arange(n, dtype=np.float64) / settings.frames_per_keyframe


def even_positions(lengths: np.ndarray, dense: np.ndarray, frames: int, loop: bool) -> np.ndarray:
    """Frame positions spread evenly over the path's length: invert the cumulative length.

    `dense` are increasing path positions (from 0 to S) and `lengths[i]` the change between
    dense[i] and dense[i + 1], measured in any unit. A loop leaves out the end (it is frame 0).
    """
    steps = np.maximum(np.asarray(lengths, dtype=np.float64), 0.0)
    assert len(steps) == len(dense) - 1, (len(steps), len(dense))
    # a tiny floor keeps the cumulative length strictly increasing where the path stands still
    steps = steps + 1e-12 * max(float(steps.sum()), 1.0)
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.linspace(0.0, cumulative[-1], frames, endpoint=not loop)
    return np.interp(targets, cumulative, np.asarray(dense, dtype=np.float64))


def dense_positions(keyframes: int, settings: PathSettings, density: int = DENSITY) -> np.ndarray:
    """Positions where the path is measured for constant speed: `density` per frame interval."""
    segments = segment_count(keyframes, settings.loop)
    per_segment = max(2, density * settings.frames_per_keyframe)
    return np.linspace(0.0, segments, segments * per_segment + 1)


def mean_abs_steps(features: np.ndarray) -> np.ndarray:
    """Mean |Δ| between consecutive rows (pixels or latents): the path's length per step."""
    flat = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    return np.abs(np.diff(flat, axis=0)).mean(axis=1).astype(np.float64)


def with_holds(positions: np.ndarray, keyframes: int, settings: PathSettings) -> np.ndarray:
    """Insert each keyframe's hold frames (u = k repeated) where the path reaches it."""
    out = list(np.asarray(positions, dtype=np.float64))
    for k in range(keyframes - 1, -1, -1):  # from the end, so earlier indices stay put
        hold = settings.hold_of(k)
        if hold:
            at = int(np.searchsorted(out, k, side="right"))
            out[at:at] = [float(k)] * hold
    return np.asarray(out, dtype=np.float64)


def frame_positions(keys: np.ndarray, settings: PathSettings,
                    measure: Callable[[np.ndarray], np.ndarray] | None = None,
                    density: int = DENSITY) -> np.ndarray:
    """Every frame's path position, holds included.

    At constant speed, `measure` turns a batch of latents into what "change" means: rendered
    pixels, or the latents themselves (the default)."""
    count = len(keys)
    settings.check(count)
    if not settings.constant_speed:
        return with_holds(timed_positions(count, settings), count, settings)
    dense = dense_positions(count, settings, density)
    latents = points(keys, dense, settings, ease=False)
    features = latents if measure is None else measure(latents)
    n = moving_frame_count(count, settings.frames_per_keyframe, settings.loop)
    return with_holds(even_positions(mean_abs_steps(features), dense, n, settings.loop),
                      count, settings)


def frame_latents(keys: np.ndarray, positions: Sequence[float], settings: PathSettings
                  ) -> np.ndarray:
    """The latents the frames render; easing applies to timed paths only (constant speed
    positions were placed on the uneased path)."""
    return points(keys, positions, settings, ease=not settings.constant_speed)


def frame_conditions(conditions: np.ndarray, positions: Sequence[float], settings: PathSettings,
                     ease: bool | None = None) -> np.ndarray:
    """(N, D) conditioning of the frames (a class mix, a text embedding): lerped between the
    two keyframes of each frame's segment, at the same eased time as the latent, whatever
    the latent's path (a conditioning vector is no Gaussian draw to slerp, and a spline's
    overshoot would ask for classes outside the keyframes')."""
    conditions = np.asarray(conditions, dtype=np.float32)
    ease = not settings.constant_speed if ease is None else ease
    count = len(conditions)
    out = np.empty((len(positions), *conditions.shape[1:]), np.float32)
    for row, u in enumerate(positions):
        index, t = _segment(count, float(u), settings, ease)
        a, b = conditions[index], conditions[(index + 1) % count]
        out[row] = a if t == 0.0 else latent_math.lerp(a, b, t)
    return out


def keyframe_frames(positions: Sequence[float], keyframes: int) -> list[float]:
    """Where each keyframe falls, in frames (fractional between two frames): its first
    position, by linear interpolation of frame index over path position."""
    pos = np.asarray(positions, dtype=np.float64)
    index = np.arange(len(pos), dtype=np.float64)
    out = []
    for k in range(keyframes):
        exact = np.flatnonzero(pos == k)
        out.append(float(exact[0]) if len(exact) else float(np.interp(k, pos, index)))
    return out


def coefficient_of_variation(values: Sequence[float]) -> float:
    """std / mean: how uneven the per-frame change is (0 = perfectly even)."""
    array = np.asarray(values, dtype=np.float64)
    mean = float(array.mean())
    return float(array.std() / mean) if mean > 0 else 0.0


def frame_steps(frames: np.ndarray, loop: bool) -> np.ndarray:
    """Per-frame mean |Δpixel| of rendered frames; a loop includes last → first."""
    frames = np.asarray(frames)
    if loop:
        frames = np.concatenate([frames, frames[:1]])
    return mean_abs_steps(frames.astype(np.float32))
