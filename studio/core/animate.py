"""Render a keyframe animation with any family that renders given latents, and export it.

No family branch: the op that renders latents is found from the family's spec — its
`decode` op when that takes a `latent`, else its `sample` op when that takes one (the GAN
renders w+ codes as they are). A family with neither (PixelCNN has no latent) cannot be
animated. Keyframes from seeds are the family's own `sample` latents, one seed each.

The whole export is one engine job (`export_task`): render in batches on the engine's
thread while the writer scales and encodes the previous batch on its own thread; cancel
between batches; progress with an ETA. Its recipe is a Request of op `animate` holding the
keyframe latents and every frame's path position, so a re-render (`studio generate
--recipe walk.recipe.json -o again.mp4`) evaluates the same points with the same batches.
No torch, no Qt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from studio import __version__
from studio.core import animation as anim
from studio.core.export_scale import ExportScale
from studio.core.family import JobContext
from studio.core.params import OpSpec
from studio.core.requests import RecipeError, Request
from studio.core.video import DEFAULT_QUALITY, AnimationWriter

ANIMATE_OP = "animate"  # the op of an animation's recipe (the studio runs it, not a family)
FIXED_GROUPS = ("Sampler", "Conditioning", "Size")  # the render op's settings the panel fixes
DEFAULT_BATCH = 8


class NotAnimatable(ValueError):
    """A model whose family has no latent to render (one line, naming it)."""


def render_op_for(info: Any) -> OpSpec | None:
    """The op of family `info` that renders given latents (input `latent`), or None.

    decode, else sample (the GAN's w+ codes), else interpolate (diffusion denoises given
    initial noise, with the sampler settings fixed)."""
    for name in ("decode", "sample", "interpolate"):
        try:
            op = info.op(name)
        except KeyError:
            continue
        if any(p.name == "latent" and p.kind == "latent" for p in op.params):
            return op
    return None


def keyframe_latent(render_op: OpSpec, latents: np.ndarray | None, extras: Mapping[str, Any],
                    index: int) -> np.ndarray | None:
    """The keyframe of image `index` of a result: what the render op takes back to draw it.

    Usually the result's latent; a render op that declares `extra["keyframe_latent"]` names
    the result extra that holds it instead (diffusion: each image's initial noise)."""
    key = render_op.extra.get("keyframe_latent")
    source = extras.get(key) if key else latents
    if source is None or index >= len(source):
        return None
    return np.asarray(source[index], np.float32)


def keyframe_condition(render_op: OpSpec, extras: Mapping[str, Any], index: int
                       ) -> np.ndarray | None:
    """The conditioning vector of image `index` of a result, for a render op that takes one
    per frame (`extra["keyframe_condition"]` names both the result extra and the op's input;
    class-conditional diffusion: the image's class as a one-hot class mix). None otherwise."""
    key = render_op.extra.get("keyframe_condition")
    source = extras.get(key) if key else None
    if source is None or index >= len(source):
        return None
    return np.asarray(source[index], np.float32)


def fixed_settings(render_op: OpSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """The render op's sampler and conditioning settings (steps, scheduler, guidance, …)
    found in `values` (the parameter panel's, say): fixed for every frame, and recorded in
    the recipe's render_params."""
    return {p.name: values[p.name] for p in render_op.params
            if p.group in FIXED_GROUPS and not p.is_array and p.name in values}


@dataclass(frozen=True, eq=False)
class Animation:
    """Everything an animation needs to be rendered again: its recipe."""

    model_id: str
    keyframes: np.ndarray  # (K, *latent) float32
    settings: anim.PathSettings = field(default_factory=anim.PathSettings)
    render_op: str = "decode"
    render_params: Mapping[str, Any] = field(default_factory=dict)
    fps: float = 24.0
    quality: int = DEFAULT_QUALITY
    measure: str = "pixels"  # what constant speed evens out: "pixels" or "latent"
    batch: int = DEFAULT_BATCH  # frames per forward pass (part of the recipe: floats depend on it)
    labels: tuple[str, ...] = ()
    positions: tuple[float, ...] | None = None  # every frame's path position, once planned
    # (K, D) per-keyframe conditioning (a class mix), lerped along the path; None: none
    conditions: np.ndarray | None = None

    @property
    def frame_count(self) -> int:
        return anim.frame_count(len(self.keyframes), self.settings)

    def frame_latents(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        assert self.positions is not None, "plan the animation first"
        return anim.frame_latents(np.asarray(self.keyframes, np.float32),
                                  self.positions[start:stop], self.settings)

    def frame_conditions(self, start: int = 0, stop: int | None = None) -> np.ndarray | None:
        """The frames' conditioning, lerped between keyframes (None without conditions)."""
        if self.conditions is None:
            return None
        assert self.positions is not None, "plan the animation first"
        return anim.frame_conditions(self.conditions, self.positions[start:stop], self.settings)

    def keyframe_frames(self) -> list[float]:
        assert self.positions is not None
        return anim.keyframe_frames(self.positions, len(self.keyframes))

    # -- the recipe ----------------------------------------------------------------------------
    def to_request(self) -> Request:
        s = self.settings
        params = {
            "path": s.method, "frames_per_keyframe": s.frames_per_keyframe, "loop": s.loop,
            "constant_speed": s.constant_speed, "easing": list(s.easing), "holds": list(s.holds),
            "render_op": self.render_op, "render_params": dict(self.render_params),
            "fps": float(self.fps), "quality": self.quality, "measure": self.measure,
            "batch": self.batch, "labels": list(self.labels),
            "positions": None if self.positions is None else [float(u) for u in self.positions],
        }
        inputs = {"keyframes": np.asarray(self.keyframes, np.float32)}
        if self.conditions is not None:
            inputs["conditions"] = np.asarray(self.conditions, np.float32)
        return Request(self.model_id, ANIMATE_OP, params, inputs)

    @classmethod
    def from_request(cls, request: Request) -> Animation:
        if request.op != ANIMATE_OP or "keyframes" not in request.inputs:
            raise RecipeError("not an animation recipe (op animate with keyframe latents)")
        p = request.params
        try:
            settings = anim.PathSettings(
                method=str(p.get("path", "slerp")),
                frames_per_keyframe=int(p.get("frames_per_keyframe", 24)),
                loop=bool(p.get("loop", False)), constant_speed=bool(p.get("constant_speed", False)),
                easing=tuple(str(e) for e in p.get("easing", ())),
                holds=tuple(int(h) for h in p.get("holds", ())))
            positions = p.get("positions")
            keyframes = np.asarray(request.inputs["keyframes"], np.float32)
            conditions = request.inputs.get("conditions")
            if conditions is not None:
                conditions = np.asarray(conditions, np.float32)
                if len(conditions) != len(keyframes):
                    raise ValueError(f"{len(conditions)} keyframe conditions for "
                                     f"{len(keyframes)} keyframes")
            settings.check(len(keyframes))
            made = cls(request.model_id, keyframes, settings, str(p.get("render_op", "decode")),
                       dict(p.get("render_params") or {}), float(p.get("fps", 24)),
                       int(p.get("quality", DEFAULT_QUALITY)), str(p.get("measure", "pixels")),
                       int(p.get("batch", DEFAULT_BATCH)), tuple(str(x) for x in p.get("labels", ())),
                       None if positions is None else tuple(float(u) for u in positions),
                       conditions)
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"animation recipe is malformed: {exc}") from None
        if made.positions is not None and len(made.positions) != made.frame_count:
            raise RecipeError(f"animation recipe is malformed: {len(made.positions)} frame "
                              f"positions for {made.frame_count} frames")
        return made


# -- rendering (on the engine's thread, with the loaded model) -----------------------------------
def seed_keyframes(model: Any, info: Any, seeds: Sequence[int], ctx: JobContext,
                   params: Mapping[str, Any] | None = None,
                   each: Sequence[Mapping[str, Any]] = ()) -> SeedKeyframes:
    """Each seed's latent as the family's `sample` op draws it alone (count 1), with
    `params` for all and `each[k]` for keyframe k (a class per keyframe, say); and each
    keyframe's conditioning when the render op takes one (else `conditions` is None)."""
    op = info.op("sample")
    render = render_op_for(info)
    if render is None:
        raise NotAnimatable(f"{info.label}: the family has no latent to animate")
    known = {p.name for p in op.params}
    shared = {name: v for name, v in (params or {}).items() if name in known}
    latents, labels, conditions = [], [], []
    for k, seed in enumerate(seeds):
        ctx.check_cancelled()
        own = dict(each[k]) if k < len(each) else {}
        values = op.validate({**shared, **own, "seed": int(seed), "count": 1}, {})
        out = model.run("sample", values, {}, ctx)
        latent = keyframe_latent(render, out.latents, out.extras, 0)
        if latent is None:
            raise NotAnimatable(f"{info.label}: its samples carry no latent to animate")
        latents.append(latent)
        conditions.append(keyframe_condition(render, out.extras, 0))
        labels.append(" · ".join([f"seed {seed}",
                                  *(f"{op.param(k).label.lower()} {v}" for k, v in own.items())]))
    conds = None if any(c is None for c in conditions) else np.stack(conditions)
    return SeedKeyframes(np.stack(latents), tuple(labels), conds)


class SeedKeyframes(NamedTuple):
    latents: np.ndarray
    labels: tuple[str, ...]
    conditions: np.ndarray | None


def render_batches(model: Any, info: Any, animation: Animation, latents: np.ndarray,
                   ctx: JobContext, conditions: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """(N, H, W, C) uint8 frames of `latents`, `animation.batch` at a time; with the frames'
    `conditions` (default: the animation's own frames' when it has keyframe conditions)."""
    op = info.op(animation.render_op)
    if conditions is None and animation.conditions is not None:
        conditions = animation.frame_conditions()
    condition_input = op.extra.get("keyframe_condition")
    if conditions is not None and not condition_input:
        raise NotAnimatable(f"{info.label}: {animation.render_op} takes no keyframe conditions")
    for start in range(0, len(latents), animation.batch):
        ctx.check_cancelled()
        inputs = {"latent": np.ascontiguousarray(latents[start : start + animation.batch])}
        if conditions is not None:
            inputs[condition_input] = np.ascontiguousarray(
                conditions[start : start + animation.batch])
        values = op.validate(dict(animation.render_params), inputs)
        yield np.asarray(model.run(animation.render_op, values, inputs, ctx).images)


def plan(model: Any, info: Any, animation: Animation, ctx: JobContext) -> Animation:
    """The animation with every frame's path position; constant speed in pixels renders
    the densely sampled path to measure it."""
    if animation.positions is not None:
        return animation
    measure: Callable[[np.ndarray], np.ndarray] | None = None
    if animation.settings.constant_speed and animation.measure == "pixels":
        def measure(latents: np.ndarray) -> np.ndarray:
            conditions = None
            if animation.conditions is not None:  # at the same dense, uneased positions
                dense = anim.dense_positions(len(animation.keyframes), animation.settings)
                conditions = anim.frame_conditions(animation.conditions, dense,
                                                   animation.settings, ease=False)
            return np.concatenate(list(render_batches(model, info, animation, latents, ctx,
                                                      conditions)))
    positions = anim.frame_positions(np.asarray(animation.keyframes, np.float32),
                                     animation.settings, measure)
    return replace(animation, positions=tuple(float(u) for u in positions))


def recipe_record(animation: Animation, scale: ExportScale | None, resample: str | None,
                  size: tuple[int, int], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"app": f"Latent Studio {__version__}",
                            "animation": {"frames": animation.frame_count,
                                          "keyframe_frames": animation.keyframe_frames(),
                                          "fps": float(animation.fps)}}
    if scale is not None and not scale.identity:
        info["export"] = scale.to_record(*size, resample=resample)
    info.update(extra or {})
    return animation.to_request().to_recipe(info)


@dataclass
class ExportReport:
    path: Path
    frames: int
    size: tuple[int, int]  # (height, width) written
    seconds: float
    animation: Animation


def export(model: Any, info: Any, animation: Animation, path: str | Path, ctx: JobContext,
           scale: ExportScale | None = None, resample: str | None = None,
           threaded: bool = True, extra: Mapping[str, Any] | None = None) -> ExportReport:
    """Plan, render and write `animation` to `path`; nothing lands when cancelled or failed."""
    started = time.perf_counter()
    animation = plan(model, info, animation, ctx)
    total = animation.frame_count
    latents = animation.frame_latents()

    def progress(written: int) -> None:
        elapsed = time.perf_counter() - started
        eta = elapsed / written * (total - written) if written else 0.0
        ctx.progress(written, total, f"frame {written}/{total} · ETA {eta:.0f} s")

    batches = render_batches(model, info, animation, latents, ctx)
    writer = write_animation(animation, batches, path, scale, resample, threaded, extra,
                             on_frame=progress, before_finish=ctx.check_cancelled)
    return ExportReport(Path(path), writer.written, writer.size or (0, 0),
                        time.perf_counter() - started, animation)


def write_animation(animation: Animation, batches: Iterator[np.ndarray], path: str | Path,
                    scale: ExportScale | None = None, resample: str | None = None,
                    threaded: bool = True, extra: Mapping[str, Any] | None = None,
                    on_frame: Callable[[int], None] | None = None,
                    before_finish: Callable[[], None] | None = None) -> AnimationWriter:
    """Encode the planned `animation`'s frames, batch by batch in frame order, with its
    recipe; whoever rendered them (this process, or Ray workers in `studio batch`)."""
    first = next(batches)
    # the recipe (and the MP4 comment, written when the container opens) needs the size
    record = recipe_record(animation, scale, resample, first.shape[1:3], extra)
    writer = AnimationWriter(path, animation.fps, animation.quality,
                             comment=json.dumps(record, sort_keys=True), scale=scale,
                             resample=resample, threaded=threaded, on_frame=on_frame,
                             sidecar=json.dumps(record, indent=2) + "\n")
    with writer:
        writer.add(first)
        for images in batches:
            writer.add(images)
        if before_finish is not None:
            before_finish()
        writer.finish()
    return writer


def export_task(info: Any, animation: Animation, path: str | Path, *,
                seeds: Sequence[int] = (), each: Sequence[Mapping[str, Any]] = (),
                scale: ExportScale | None = None,
                resample: str | None = None, threaded: bool = True,
                extra: Mapping[str, Any] | None = None) -> Callable[[JobContext, Any], ExportReport]:
    """An engine call (`engine.submit_call`) that exports; keyframes from `seeds` (drawn with
    the animation's fixed settings, and `each[k]` for keyframe k) when it has none yet."""

    def task(ctx: JobContext, cache: Any) -> ExportReport:
        model = cache.get(animation.model_id)
        made = animation
        if len(seeds):
            keys = seed_keyframes(model, info, seeds, ctx, animation.render_params, each)
            made = replace(animation, keyframes=keys.latents, labels=keys.labels,
                           conditions=keys.conditions)
        return export(model, info, made, path, ctx, scale, resample, threaded, extra)

    return task
