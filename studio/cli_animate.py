"""`studio animate`: a keyframe animation from seeds, without the window; and the re-render
of an animation's recipe (`studio generate --recipe walk.recipe.json -o again.mp4`).

    studio animate --model ID --keyframes 3,17,42 [--frames-per-keyframe 24]
                   [--path slerp|lerp|spline] [--constant-speed] [--loop] [--fps 24]
                   [--scale 4] [--classes 1,7,1] [--set steps=10 ...] -o walk.mp4
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from studio.core import animation as anim
from studio.core.animate import DEFAULT_BATCH, Animation, export_task, render_op_for
from studio.core.video import DEFAULT_QUALITY

DESCRIPTION = """\
Render a keyframe animation from seeds: each seed's latent is a keyframe, the frames follow
a path through them, and the file is written with its recipe (a JSON sidecar FILE.recipe.json,
and the MP4/WebM metadata comment). Frame count: with --loop, keyframes × frames-per-keyframe
(the last frame flows into the first, none repeated); without, (keyframes − 1) ×
frames-per-keyframe + 1; --hold adds frames. Without --constant-speed keyframe k lands on frame
k × frames-per-keyframe; with it the frames are spread evenly over the path's length (keyframes
may fall between frames; the count is the same). Re-render with
`studio generate --recipe FILE.recipe.json -o again.mp4`."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio animate", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model id (see `studio models`); any family "
                   "with a latent: VAE, GAN, imported StyleGAN, flow, pixel and latent "
                   "diffusion, imported diffusers pipelines (a seed's keyframe is its initial "
                   "noise, with its class or prompt)")
    p.add_argument("--keyframes", required=True, metavar="SEEDS",
                   help="comma-separated seeds, one keyframe each (at least 2), e.g. 3,17,42")
    p.add_argument("--frames-per-keyframe", type=int, default=24, metavar="N",
                   help="frames from one keyframe to the next (default 24)")
    p.add_argument("--path", choices=anim.PATHS, default="slerp",
                   help="slerp (default: keeps the radius of Gaussian latents), lerp (straight "
                        "lines), or spline (a smooth Catmull-Rom curve through the keyframes)")
    p.add_argument("--constant-speed", action="store_true",
                   help="reparametrise the path so that equal time is equal change (measured "
                        "as --measure says); easing is then not applied")
    p.add_argument("--measure", choices=anim.MEASURES, default="pixels",
                   help="with --constant-speed: change measured in rendered pixels (default; "
                        "renders the path densely first) or in the latent")
    p.add_argument("--loop", action="store_true",
                   help="return to the first keyframe: a perfect loop, no frame repeated")
    p.add_argument("--easing", default="", metavar="E[,E...]",
                   help=f"one easing for every segment or one per segment: "
                        f"{', '.join(anim.EASINGS)} (default linear)")
    p.add_argument("--hold", default="", metavar="H[,H...]",
                   help="extra frames each keyframe is held, in keyframe order (default 0)")
    p.add_argument("--classes", default="", metavar="C[,C...]",
                   help="class-conditional diffusion: each keyframe's class, in keyframe order "
                        "(default: the --set class_index, else each seed's own class); between "
                        "keyframes of two classes the class embedding is lerped")
    p.add_argument("--prompt", action="append", default=[], metavar="TEXT", dest="prompts",
                   help="imported Stable Diffusion / SDXL pipelines: each keyframe's prompt, "
                        "once per keyframe in keyframe order (default: the --set prompt); "
                        "between keyframes of two prompts the text embeddings are lerped")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                   help="a sampler or conditioning setting of the render op, fixed for every "
                        "frame and kept in the recipe (diffusion: steps, scheduler, eta, "
                        "guidance, class_index, negative_class_index; imported pipelines also "
                        "prompt, negative_prompt, width, height); repeat for more")
    p.add_argument("--fps", type=float, default=24, help="frames per second (default 24)")
    p.add_argument("--scale", metavar="S",
                   help="each frame enlarged: a whole factor (1, 2, 4, 8) or a pixel size "
                        "(512px); nearest-neighbour for models of 64 px or less, Lanczos "
                        "otherwise")
    p.add_argument("--quality", type=int, default=DEFAULT_QUALITY, metavar="Q",
                   help=f"MP4/WebM quality 0..100 (default {DEFAULT_QUALITY}: constant quality, "
                        "CRF 13 for H.264, 16 for VP9); GIF and WebP are lossless")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH, metavar="N",
                   help=f"frames per forward pass (default {DEFAULT_BATCH})")
    p.add_argument("--device", help="auto, cpu, cuda or mps")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads on the CPU")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="walk.mp4 (H.264), walk.webm (VP9), walk.gif, walk.webp, or a folder "
                        "name (no suffix) for numbered PNGs")
    return p


def _ints(text: str, what: str) -> tuple[int, ...]:
    from studio.cli import UsageError

    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"{what}: give whole numbers separated by commas, not {text!r}") from None


def cmd_animate(argv: Sequence[str]) -> int:
    from studio.cli import UsageError, _export_scale
    from studio.core.library import Library, LibraryError
    from studio.wiring import family_registry

    args = _parser().parse_args(argv)
    seeds = _ints(args.keyframes, "--keyframes")
    settings = anim.PathSettings(
        method=args.path, frames_per_keyframe=args.frames_per_keyframe, loop=args.loop,
        constant_speed=args.constant_speed,
        easing=tuple(e.strip() for e in args.easing.split(",") if e.strip()),
        holds=_ints(args.hold, "--hold"))
    try:
        settings.check(len(seeds))
    except anim.AnimationError as exc:
        raise UsageError(str(exc)) from None
    if args.batch < 1 or args.threads is not None and args.threads < 1:
        raise UsageError("--batch and --threads must be 1 or more")
    try:
        entry = Library().get(args.model)
    except LibraryError as exc:
        raise UsageError(str(exc)) from None
    info = family_registry().get(entry.family)
    op = render_op_for(info)
    if op is None:
        raise UsageError(f"{args.model}: the {info.label} family has no latent to animate")
    fixed = _fixed_settings(op, args.settings)
    classes = _ints(args.classes, "--classes")
    if classes and len(classes) != len(seeds):
        raise UsageError(f"--classes: give one class per keyframe ({len(seeds)}), "
                         f"not {len(classes)}")
    if classes and not any(p.name == "class_index" for p in info.op("sample").params):
        raise UsageError(f"--classes: the {info.label} family has no classes")
    args.recipe = None
    scale, resample = _export_scale(args)
    animation = Animation(args.model, np.zeros((len(seeds), 1), np.float32), settings,
                          render_op=op.name, render_params=fixed, fps=args.fps,
                          quality=args.quality, measure=args.measure, batch=args.batch)
    if args.prompts and len(args.prompts) != len(seeds):
        raise UsageError(f"--prompt: give one per keyframe ({len(seeds)}), not {len(args.prompts)}")
    if args.prompts and not any(p.name == "prompt" for p in info.op("sample").params):
        raise UsageError(f"--prompt: the {info.label} family has no prompts")
    if classes and args.prompts:
        raise UsageError("--classes and --prompt: a family has one or the other")
    each = [{"class_index": c} for c in classes] or [{"prompt": p} for p in args.prompts]
    return _run(animation, info, args.output, scale, resample, args.device, args.threads, seeds,
                each)


def _fixed_settings(op: Any, pairs: Sequence[str]) -> dict[str, Any]:
    """--set NAME=VALUE pairs, checked against the render op's sampler and conditioning
    settings (the ones fixed for every frame)."""
    from studio.cli import UsageError
    from studio.core.animate import FIXED_GROUPS
    from studio.core.params import ParamError

    allowed = {p.name: p for p in op.params if p.group in FIXED_GROUPS and not p.is_array}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in allowed:
            names = ", ".join(allowed) or "none for this family"
            raise UsageError(f"--set {pair!r}: give NAME=VALUE with NAME one of: {names}")
        try:
            out[name] = allowed[name].coerce(value.strip())
        except ParamError as exc:
            raise UsageError(f"--set: {exc}") from None
    return out


def render_recipe(request: Any, args: argparse.Namespace, scale: Any, resample: str | None) -> int:
    """`studio generate --recipe X.recipe.json -o again.mp4` for an animation's recipe."""
    from studio.cli import UsageError
    from studio.core.animate import Animation
    from studio.core.requests import RecipeError
    from studio.wiring import family_registry

    try:
        animation = Animation.from_request(request)
    except RecipeError as exc:
        raise UsageError(f"{args.recipe}: {exc}") from None
    from studio.core.library import Library, LibraryError

    try:
        entry = Library().get(animation.model_id)
    except LibraryError as exc:
        raise UsageError(str(exc)) from None
    info = family_registry().get(entry.family)
    status = 0
    if args.output is not None:
        status = _run(animation, info, args.output, scale, resample, args.device, args.threads, ())
    if args.check:
        status = status or _check(animation, info, args, scale, resample)
    return status


def _check(animation: Animation, info: Any, args: argparse.Namespace, scale: Any,
           resample: str | None) -> int:
    """`--check`: re-render into a temp file of the recipe's kind and compare the frames;
    exit 1 when they differ by more than --tolerance."""
    from studio.cli import Bug, UsageError
    from studio.core import media
    from studio.core.reproduce import check_animation

    def render_to(path: Path) -> None:
        if _run(animation, info, path, scale, resample, args.device, args.threads, (),
                quiet=True):
            raise Bug("the re-render for --check was cancelled")

    try:
        report = check_animation(args.recipe, render_to, args.tolerance)
    except (media.MediaError, OSError) as exc:
        raise UsageError(str(exc)) from None
    print(f"check: {report.line()}")
    return 0 if report.ok else 1


def _run(animation: Animation, info: Any, output: Path, scale: Any, resample: str | None,
         device: str | None, threads: int | None, seeds: Sequence[int],
         each: Sequence[Any] = (), quiet: bool = False) -> int:
    from studio.cli import Bug, UsageError, _services
    from studio.core.engine import JobState
    from studio.core.video import VIDEO_SUFFIXES, VideoError, check_encoder

    try:
        kind = check_encoder(output)
    except VideoError as exc:
        raise UsageError(str(exc)) from None
    if kind in VIDEO_SUFFIXES.values():
        from studio.core import video_process

        video_process.prestart()  # its ~0.3 s start-up runs while the model loads
    services = _services(device, threads)
    try:
        task = export_task(info, animation, output, seeds=seeds, each=each, scale=scale,
                           resample=resample)
        started = time.perf_counter()
        job = services.engine.submit_call(task, label=f"animate · {animation.model_id}")
        job.wait()
        if job.state is JobState.FAILED:
            raise (Bug if job.unexpected else UsageError)(job.error)
        if job.state is not JobState.DONE:
            print("studio: animation cancelled; nothing written", file=sys.stderr)
            return 1
        report = job.value
        if quiet:
            return 0
        height, width = report.size
        seconds = time.perf_counter() - started
        print(f"wrote {report.path} ({report.frames} frames, {width}×{height}, "
              f"{report.animation.fps:g} fps, {seconds:.1f} s, "
              f"{report.frames / max(seconds, 1e-9):.1f} frames/s)")
        return 0
    finally:
        services.close()
