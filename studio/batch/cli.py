"""`studio batch`: an animation recipe, a seed sweep or an evaluation on Ray workers.

    studio batch --recipe walk.mp4.recipe.json -o walk.mp4 [--ray auto|local|ADDRESS]
                 [--workers N] [--threads 1] [--device D] [--chunk BATCHES] [--scale S]
    studio batch --model ID --seeds 0-9999 -o folder/
    studio batch --eval --model ID --samples 50000 [--json]

Ray is an optional extra; without it this command says how to install it. Nothing here
imports Ray before the arguments are read, so `--help` works without it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.batch import INSTALL_HINT

DESCRIPTION = """\
Long renders on Ray: each worker (a Ray actor) loads the model once and renders chunks;
the results come back in order and are written as they arrive. One of:
  --recipe FILE        an animation's recipe (what `studio animate` and the Animator write)
                       to -o walk.mp4 / .webm / .gif / .webp / a folder of PNGs
  --model ID --seeds S one PNG with its recipe per seed into the folder -o, each the file
                       `studio generate --model ID --seed S --count 1` writes
  --eval --model ID    `studio eval`'s figures, the samples drawn on the workers
Pixels equal a local render's bit for bit at the same device and torch thread count
(`--threads`, 1 per worker by default: compare with `studio generate --threads 1`);
chunks hold whole local batches. A worker that dies has its chunks run on another."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio batch", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", type=Path, help="an animation's recipe (FILE.recipe.json, or "
                   "the video or GIF it sits beside)")
    p.add_argument("--model", help="model id (see `studio models`), with --seeds or --eval")
    p.add_argument("--seeds", metavar="SEEDS", help="a seed sweep: seeds and ranges, e.g. "
                   "0-9999 or 3,17,40-49")
    p.add_argument("--eval", action="store_true", help="evaluate the model (`studio eval`)")
    p.add_argument("--samples", type=int, default=256, help="with --eval: samples to draw "
                   "(default 256)")
    p.add_argument("-o", "--output", type=Path, help="the animation file, or the sweep's folder")
    p.add_argument("--ray", default="auto", metavar="auto|local|ADDRESS",
                   help="auto (default): the cluster RAY_ADDRESS names or one `ray start` "
                        "runs here, else a private local one; local: always a private one; "
                        "or a cluster's address, HOST:6379 or ray://HOST:10001")
    p.add_argument("--workers", type=int, metavar="N", help="Ray actors (default: the "
                   "cluster's CPUs ÷ --threads, or its GPUs with --device cuda)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="torch threads per worker (default 1)")
    p.add_argument("--device", help="the workers' device: auto, cpu, cuda or mps "
                   "(cuda: one GPU per worker)")
    p.add_argument("--chunk", type=int, metavar="BATCHES",
                   help="local batches per chunk a worker takes: an animation's batches "
                        "(default up to 8, fewer for short renders so every worker gets "
                        "work), a sweep's seeds (16), an evaluation's sample calls (4)")
    p.add_argument("--scale", metavar="S", help="write each image or frame enlarged, as "
                   "`studio generate --scale` (an animation: the recipe's by default)")
    p.add_argument("--json", action="store_true", help="with --eval: machine-readable output")
    return p


def cmd_batch(argv: Sequence[str]) -> int:
    from studio.cli import UsageError

    args = _parser().parse_args(argv)
    modes = [name for name, given in (("--recipe", args.recipe), ("--seeds", args.seeds),
                                      ("--eval", args.eval)) if given]
    if len(modes) != 1:
        raise UsageError("give one of --recipe FILE, --model ID --seeds S, or --eval --model ID"
                         + (f" (not {' and '.join(modes)} together)" if modes else ""))
    if (args.seeds or args.eval) and not args.model:
        raise UsageError(f"{modes[0]} needs --model ID")
    if args.recipe and args.model:
        raise UsageError("--recipe names its model; drop --model")
    if not args.eval and args.output is None:
        raise UsageError("give -o (the animation file, or the sweep's folder)")
    for flag, value in (("--workers", args.workers), ("--threads", args.threads),
                        ("--chunk", args.chunk), ("--samples", args.samples)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be 1 or more, not {value}")
    try:
        import ray  # noqa: F401 - only to know that it is there
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    if args.recipe:
        return _animation(args)
    if args.seeds:
        return _sweep(args)
    return _evaluation(args)


# -- the three jobs --------------------------------------------------------------------------
def _animation(args: argparse.Namespace) -> int:
    from studio.batch import jobs
    from studio.cli import UsageError, _export_scale
    from studio.core import media
    from studio.core.animate import Animation
    from studio.core.export import open_recipe
    from studio.core.requests import RecipeError
    from studio.core.video import VideoError, check_encoder

    try:
        animation = Animation.from_request(open_recipe(args.recipe))
    except (RecipeError, media.MediaError) as exc:
        raise UsageError(f"{args.recipe}: {exc}") from None
    _entry(animation.model_id)
    try:
        check_encoder(args.output)
    except VideoError as exc:
        raise UsageError(str(exc)) from None
    scale, resample = _export_scale(args)
    bar = _bar(animation.frame_count, "frame")

    def run(pool: Any) -> str:
        report = jobs.export_animation(pool, animation, args.output, scale, resample,
                                       args.chunk, on_frames=lambda n: bar.update(n - bar.n))
        height, width = report.size
        return (f"wrote {report.path} ({report.frames} frames, {width}×{height}, "
                f"{report.animation.fps:g} fps)")

    return _on_ray(args, animation.model_id, bar, animation.frame_count, run)


def _sweep(args: argparse.Namespace) -> int:
    from studio.batch import jobs
    from studio.cli import UsageError, _export_scale, write_result
    from studio.core.engine import validator_for
    from studio.core.export import suggested_name
    from studio.core.library import Library
    from studio.wiring import family_registry

    entry = _entry(args.model)
    try:
        seeds = jobs.parse_seeds(args.seeds)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    requests = jobs.sweep_requests(args.model, seeds, args.device)
    try:  # the spec's refusals here, before Ray starts (a family without seeds, say)
        validator_for(family_registry(), Library())(requests[0])
    except (ValueError, KeyError) as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    args.recipe = None
    scale, resample = _export_scale(args)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot make the folder ({exc.strerror or exc})") from None
    bar = _bar(len(seeds), "image")

    def run(pool: Any) -> str:
        for result in jobs.sweep(pool, requests, args.chunk):
            write_result(args.output / suggested_name(result, ".png"), result, entry.family,
                         scale=scale, resample=resample)
            bar.update(1)
        return f"wrote {len(seeds)} PNGs with their recipes to {args.output}"

    return _on_ray(args, args.model, bar, len(seeds), run)


def _evaluation(args: argparse.Namespace) -> int:
    from studio.batch import jobs
    from studio.core.evaluator import sample_calls
    from studio.wiring import family_registry

    entry = _entry(args.model)
    info = family_registry().get(entry.family)
    ops = {op.name: op for op in info.ops}
    calls = sample_calls(ops["sample"], args.samples) if "sample" in ops else []
    bar = _bar(args.samples, "sample")
    figures: dict[str, Any] = {}

    def run(pool: Any) -> str:
        images = (jobs.sample_images(pool, calls, bar.update, args.chunk) if calls
                  else None)
        figures.update(jobs.evaluate(pool, args.samples, images))
        return f"evaluated {args.model} on {args.samples} samples"

    status = _on_ray(args, args.model, bar, args.samples, run, quiet=args.json)
    if status:
        return status
    if args.json:
        print(json.dumps({"model": args.model, "figures": figures, "card": entry.card.metrics},
                         indent=2))
        return 0
    print(f"{args.model} ({entry.family}), {args.samples} samples")
    for key, value in figures.items():
        card = entry.card.metrics.get(key)
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"  {key:<28} {shown:>10}"
              + (f"   (card: {card:.4f})" if isinstance(card, float) else ""))
    return 0


# -- shared ----------------------------------------------------------------------------------
def _entry(model_id: str) -> Any:
    from studio.cli import UsageError
    from studio.core.library import Library, LibraryError

    try:
        return Library().get(model_id)
    except LibraryError as exc:
        raise UsageError(str(exc)) from None


def _bar(total: int, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc="studio batch", dynamic_ncols=True, delay=0.5)


def _on_ray(args: argparse.Namespace, model_id: str, bar: Any, items: int, run: Any,
            quiet: bool = False) -> int:
    """Join or start Ray, start the workers, `run(pool)`, and say how long each part took."""
    from ray.exceptions import RayActorError

    from studio.batch.cluster import WorkerSpec, connected, default_workers, shortfall, start_pool
    from studio.batch.pool import WorkersLost
    from studio.batch.worker import BatchJobError
    from studio.cli import Bug, UsageError

    spec = WorkerSpec(model_id, args.device, args.threads)
    started = time.perf_counter()
    cpus = args.workers * args.threads if args.workers else None
    try:
        with connected(args.ray, cpus):
            workers = args.workers or default_workers(spec)
            short = shortfall(spec, workers)
            if short:  # the actors would wait without a word: say why
                print(f"studio batch: {short}; the workers wait until it has them (an "
                      f"autoscaler may add nodes)", file=sys.stderr)
            pool = start_pool(spec, workers)
            try:
                try:
                    where = pool.ready()
                except RayActorError as exc:
                    raise UsageError(f"a worker could not start: {_last_line(exc)}") from None
                ready = time.perf_counter()
                bar.reset()  # its clock from here: rates and ETA without the start-up
                line = run(pool)
                finished = time.perf_counter()
            finally:
                pool.close()
                bar.close()
    except BatchJobError as exc:
        raise (UsageError if exc.expected else Bug)(str(exc)) from None
    except WorkersLost as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 1
    except ConnectionError as exc:
        raise UsageError(f"--ray {args.ray}: {exc}") from None
    if not quiet:
        seconds = finished - ready
        retried = pool.stats.retried
        print(f"{line} on {workers} worker{'s' if workers != 1 else ''} "
              f"({_describe(where)}) in {seconds:.1f} s, {items / max(seconds, 1e-9):.1f}/s; "
              f"Ray and the workers started in {ready - started:.1f} s"
              + (f"; {len(retried)} chunk(s) retried after {len(pool.stats.lost)} worker(s) "
                 f"were lost" if retried else ""))
    return 0


def _describe(where: Sequence[dict[str, Any]]) -> str:
    first = where[0] if where else {}
    bits = [str(first.get("device", "?"))]
    if "threads" in first:
        bits.append(f"{first['threads']} thread{'s' if first['threads'] != 1 else ''} each")
    hosts = {w.get("host") for w in where}
    bits.append(f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}")
    return ", ".join(bits)


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
