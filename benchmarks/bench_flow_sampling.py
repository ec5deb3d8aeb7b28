"""(f) Flow sampling: the studio's `sample` op against the raw inverse pass.

On the built-in flow, batches of 64 at temperature 0.7. A is the family's `run("sample")`
as the engine's worker calls it (noise from the seed, the class-conditional priors at
every scale, the inverse, uint8 out); B is the raw network's inverse pass (`decode`) on
the same latents. Both on a worker thread with the engine's torch thread count, runs
alternating A B A B ...; the figure is the median of the per-pair ratios A/B. A's
images must equal B's. Target: A ≤ 1.3 × B (the priors run beside the inverse).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Report, median, on_worker_thread
from benchmarks.family_models import load_builtin

MODEL = "flow-glyphs"
BATCH = 64
PAIRS = 15
MAX_RATIO = 1.3


def run(smoke: bool = False) -> list[Report]:
    import torch

    from studio.core.engine import default_thread_count
    from studio.core.family import JobContext
    from studio.families.flow.model import split_latents, to_uint8

    threads = default_thread_count()
    loaded = load_builtin(MODEL, threads)
    shapes = loaded.cfg.level_shapes()
    params = {"count": BATCH, "temperature": 0.7}

    def studio(seed: int):
        start = time.perf_counter()
        out = loaded.run("sample", {**params, "seed": seed}, {}, JobContext())
        return time.perf_counter() - start, out

    def raw(latents: np.ndarray):
        zs = split_latents(torch.from_numpy(latents), shapes)
        start = time.perf_counter()
        with torch.inference_mode():
            y = loaded.model.decode(zs)
        elapsed = time.perf_counter() - start
        return elapsed, to_uint8(y)

    on_worker_thread(lambda: studio(0), threads)  # warm-up
    ratios, a_times, b_times = [], [], []
    for seed in range(1 if smoke else PAIRS):
        a_time, out = on_worker_thread(lambda s=seed: studio(s), threads)
        b_time, images = on_worker_thread(lambda o=out: raw(o.latents), threads)
        if not np.array_equal(images, out.images):
            raise AssertionError("the studio's samples differ from the raw inverse of their latents")
        ratios.append(a_time / b_time)
        a_times.append(a_time)
        b_times.append(b_time)
    report = Report("flow_sampling")
    report.add("model", f"{MODEL}, batch {BATCH}, temperature 0.7")
    report.add("torch threads (both)", threads)
    report.add("studio sample op", BATCH / median(a_times), "samples/s")
    report.add("raw inverse pass", BATCH / median(b_times), "samples/s")
    report.add(f"ratio studio / raw (median of {len(ratios)} pairs)", median(ratios))
    report.target("studio sample time / raw inverse", median(ratios), MAX_RATIO)
    return [report]
