"""The three batch jobs on a WorkerPool: an animation, a seed sweep, an evaluation.

Each cuts its work into chunks the way a local run batches it, so the pixels are the
local run's: an animation's chunks are whole `animation.batch` batches counted from its
first frame (the batches `studio generate --recipe` renders), a sweep renders each seed
alone at count 1 (as `studio generate --seed S --count 1`), an evaluation's chunks are
whole `sample` calls of `studio eval`. No argparse, no printing: the CLI and the
benchmark drive these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray

from studio.batch.pool import WorkerPool
from studio.core.animate import Animation, write_animation
from studio.core.export_scale import ExportScale
from studio.core.requests import Request, Result

MAX_BATCHES_PER_CHUNK = 8  # long renders: ~64 frames a chunk, ms of Ray overhead each
CHUNKS_PER_WORKER = 4  # short ones: enough chunks to keep every worker busy to the end
SEEDS_PER_CHUNK = 16
CALLS_PER_CHUNK = 4


# -- chunks ---------------------------------------------------------------------------------
def frame_chunks(total: int, batch: int, workers: int,
                 batches_per_chunk: int | None = None) -> list[tuple[int, int]]:
    """[start, stop) frame ranges of whole batches from frame 0 (the last may be short,
    as the local render's last batch is)."""
    batches = math.ceil(total / batch)
    per = batches_per_chunk or max(1, min(MAX_BATCHES_PER_CHUNK,
                                          batches // (CHUNKS_PER_WORKER * max(1, workers))))
    step = per * batch
    return [(start, min(start + step, total)) for start in range(0, total, step)]


def parse_seeds(text: str) -> list[int]:
    """'0-9999', '3,17,42' or a mix ('0-9,100'): the seeds in the order given."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            if dash and low:
                first, last = int(low), int(high)
                if last < first:
                    raise ValueError(f"{part!r} runs backwards")
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except ValueError as exc:
            raise ValueError(f"--seeds: {text!r} is not a list of seeds and ranges like "
                             f"0-9999,12 ({exc})") from None
    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    if any(s < 0 for s in seeds):
        raise ValueError("--seeds: seeds are 0 or more")
    return seeds


def _grouped(values: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(values[i:i + size]) for i in range(0, len(values), size)]


# -- an animation ---------------------------------------------------------------------------
def planned(pool: WorkerPool, animation: Animation) -> Animation:
    """Every frame's path position: the recipe's own, else planned on one worker."""
    if animation.positions is not None:
        return animation
    return pool.call(lambda actor: actor.plan.remote(animation))


def render_frames(pool: WorkerPool, animation: Animation,
                  batches_per_chunk: int | None = None) -> Iterator[np.ndarray]:
    """The planned `animation`'s frames, chunk by chunk in frame order."""
    assert animation.positions is not None, "plan the animation first"
    chunks = frame_chunks(len(animation.positions), animation.batch, len(pool.actors),
                          batches_per_chunk)
    shared = ray.put(animation)  # into the object store once, not with every chunk
    return pool.map_ordered(lambda actor, span: actor.render.remote(shared, *span), chunks)


@dataclass
class AnimationReport:
    path: Path
    frames: int
    size: tuple[int, int]  # (height, width) written
    animation: Animation


def export_animation(pool: WorkerPool, animation: Animation, path: str | Path,
                     scale: ExportScale | None = None, resample: str | None = None,
                     batches_per_chunk: int | None = None,
                     on_frames: Callable[[int], None] | None = None) -> AnimationReport:
    """Render on the pool and encode as the chunks arrive; the file and its recipe are
    those `studio generate --recipe` writes. `on_frames(n)`: n frames written so far."""
    animation = planned(pool, animation)
    frames = render_frames(pool, animation, batches_per_chunk)
    writer = write_animation(animation, frames, path, scale, resample, on_frame=on_frames)
    return AnimationReport(Path(path), writer.written, writer.size or (0, 0), animation)


# -- a seed sweep ---------------------------------------------------------------------------
def sweep_requests(model_id: str, seeds: Sequence[int], device: str | None = None,
                   params: dict[str, Any] | None = None) -> list[Request]:
    """One `sample` request per seed at count 1: `studio generate --seed S --count 1`."""
    return [Request(model_id, "sample", {**(params or {}), "seed": int(s), "count": 1}, {},
                    device=device) for s in seeds]


def sweep(pool: WorkerPool, requests: Sequence[Request],
          seeds_per_chunk: int | None = None) -> Iterator[Result]:
    """Each request's result, in order."""
    for results in pool.map_ordered(lambda actor, chunk: actor.results.remote(chunk),
                                    _grouped(requests, seeds_per_chunk or SEEDS_PER_CHUNK)):
        yield from results


# -- an evaluation ---------------------------------------------------------------------------
def sample_images(pool: WorkerPool, calls: Sequence[dict[str, Any]],
                  on_images: Callable[[int], None] | None = None,
                  calls_per_chunk: int | None = None) -> np.ndarray:
    """The images of evaluate_model's `sample` calls, concatenated in call order."""
    out = []
    for images in pool.map_ordered(lambda actor, chunk: actor.sample_images.remote(chunk),
                                   _grouped(calls, calls_per_chunk or CALLS_PER_CHUNK)):
        out.append(images)
        if on_images is not None:
            on_images(len(images))
    return np.concatenate(out)


def evaluate(pool: WorkerPool, samples: int, images: np.ndarray) -> dict[str, float]:
    """`studio eval`'s figures from the drawn samples, on one worker (it holds the model)."""
    shared = ray.put(images)  # once, however often a lost worker's call is retried
    return pool.call(lambda actor: actor.evaluate.remote(samples, shared))
