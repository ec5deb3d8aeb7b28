"""(h) Soak: resident memory and the cache budget over a long session, in one process.

The studio's services as the window builds them (library, model cache, threaded engine,
background history), driven the way a long session would:

  - 1000 generations in 20 blocks of 50. Each block works with one of the five batch
    families (VAE, GAN and flow at count 16; latent diffusion at count 4 and 10 steps;
    pixel diffusion at count 2 and 10 steps), in turn, so the 20 blocks are 20 model
    switches; every 20th job is a PixelCNN sample at count 1.
  - 100 cancels (5 per block): a 50-step diffusion sample (the block's own diffusion
    model, else the pixel one) cancelled as soon as its progress passes step 3.
  - the model cache's budget is 60 % of what the six models take together, so they do
    not all fit and every switch makes the cache unload the least recent ones.

Each result goes to the history, as the window adds it. Warm-up: every kind of job on
every model once, under the budget; RSS is then the baseline. RSS is sampled every 50
jobs (the curve goes in the JSON). Targets: RSS at the end (after a gc) ≤ baseline +
50 MB, the cache's memory after every job ≤ its budget, wall time ≤ 15 minutes.
`--smoke`: 4 blocks of 5 jobs and 4 cancels, seconds (most of it the warm-up).
"""

from __future__ import annotations

import gc
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Report
from benchmarks.family_models import models_dir

MB = 1024 * 1024
MAX_GROWTH_MB = 50.0
MAX_WALL_S = 15 * 60
BUDGET_FRACTION = 0.6
CANCEL_STEPS = 50
CANCEL_AFTER_STEP = 3

PIXELCNN = "pixelcnn-glyphs"
PIXEL_DIFFUSION = "diffusion-glyphs"
DIFFUSION_MODELS = (PIXEL_DIFFUSION, "latent-diffusion-glyphs")
# the block families, in turn, and the parameters of one generation of each
JOBS: dict[str, dict[str, Any]] = {
    "vae-glyphs": {"count": 16},
    "gan-glyphs": {"count": 16},
    "flow-glyphs": {"count": 16},
    "latent-diffusion-glyphs": {"count": 4, "steps": 10},
    PIXEL_DIFFUSION: {"count": 2, "steps": 10},
}
EVERY_PIXELCNN = 20  # every 20th job
PIXELCNN_JOB = {"count": 1}


def rss_bytes() -> int:
    import psutil  # installed with accelerate, which the studio depends on

    return int(psutil.Process().memory_info().rss)


class Soak:
    """The services, a job runner that waits for each job (as a user does), and the
    checks made on the engine's thread after every job."""

    def __init__(self, home: Path) -> None:
        from studio.core.engine import CANCELLED, FINISHED, PROGRESS
        from studio.wiring import build_services

        self.services = build_services(home=home, builtin_dir=models_dir())
        self.engine, self.cache = self.services.engine, self.services.cache
        self.max_cache_bytes = 0
        self.over_budget = 0
        self.loads = 0
        self.cancel_at: dict[int, float] = {}  # job id → the fraction to cancel at
        self._events = (FINISHED, CANCELLED, PROGRESS)
        self._loaded: set[str] = set()
        self.engine.add_listener(self._on_event)

    def _on_event(self, event: str, job: Any, payload: Any) -> None:
        finished, cancelled, progress = self._events
        if event == progress:
            at = self.cancel_at.get(job.id)
            if at is not None and payload[0] >= at:
                job.cancel()
        elif event in (finished, cancelled):  # on the worker, between jobs: a settled cache
            loaded = set(self.cache.loaded_ids())
            self.loads += len(loaded - self._loaded)  # models this job had to (re)load
            self._loaded = loaded
            in_use = self.cache.memory_in_use()
            self.max_cache_bytes = max(self.max_cache_bytes, in_use)
            if in_use > self.cache.budget_bytes:
                self.over_budget += 1

    def generate(self, model_id: str, params: dict[str, Any], seed: int) -> None:
        from studio.core.engine import JobState
        from studio.core.requests import Request

        job = self.engine.submit(Request(model_id, "sample", {**params, "seed": seed}))
        job.wait()
        if job.state is not JobState.DONE or job.result is None:
            raise RuntimeError(f"soak: {model_id} job {seed} ended {job.state.value}: {job.error}")
        family = self.services.library.get(model_id).card.family
        self.services.history.add(job.result, family=family)  # as the window adds it

    def cancel_run(self, model_id: str, seed: int) -> int:
        """A 50-step sample, cancelled a few steps in; returns the steps it ran (from its
        last progress)."""
        from studio.core.engine import PROGRESS, JobState
        from studio.core.requests import Request

        request = Request(model_id, "sample", {"count": 1, "steps": CANCEL_STEPS, "seed": seed})
        seen: list[float] = []
        ids: list[int] = []
        lock = threading.RLock()  # submit emits "queued" to the listener on this thread

        def listen(event: str, job: Any, payload: Any) -> None:
            with lock:
                if event == PROGRESS and job.id in ids:
                    seen.append(payload[0])

        self.engine.add_listener(listen)
        # set just after submit: a progress that comes before it is not missed, as any
        # later one past the cancel point cancels
        with lock:
            job = self.engine.submit(request)
            ids.append(job.id)
            self.cancel_at[job.id] = CANCEL_AFTER_STEP / CANCEL_STEPS
        try:
            job.wait()
        finally:
            self.engine.remove_listener(listen)
            self.cancel_at.pop(job.id, None)
        if job.state is not JobState.CANCELLED:
            raise RuntimeError(f"soak: the cancel of {model_id} ended {job.state.value}")
        return round(max(seen, default=0.0) * CANCEL_STEPS)

    def close(self) -> None:
        self.services.close()


def run(smoke: bool = False) -> list[Report]:
    blocks, per_block, cancels_per_block = (4, 5, 1) if smoke else (20, 50, 5)
    families = list(JOBS)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        soak = Soak(Path(home))
        try:
            # warm-up: every model, for its size, then every kind of job under the budget
            sizes = {}
            for model_id in [*families, PIXELCNN]:
                soak.engine.submit_call(lambda ctx, cache, m=model_id: cache.get(m),
                                        label=f"load {model_id}").wait()
                sizes[model_id] = soak.cache.memory_in_use() - sum(sizes.values())
            total = soak.cache.memory_in_use()
            soak.cache.budget_bytes = int(BUDGET_FRACTION * total)
            soak.max_cache_bytes = 0  # from here on, under the budget
            soak.engine.submit_call(lambda ctx, cache: cache.unload_all(), label="unload").wait()
            for model_id in families:
                soak.generate(model_id, JOBS[model_id], seed=0)
            soak.generate(PIXELCNN, PIXELCNN_JOB, seed=0)
            for model_id in DIFFUSION_MODELS:
                soak.cancel_run(model_id, seed=0)
            gc.collect()
            baseline = rss_bytes()
            warm_loads = soak.loads
            warmed = time.perf_counter()

            curve: list[tuple[int, float]] = [(0, baseline / MB)]
            cancel_steps: list[int] = []
            job = 0
            for block in range(blocks):
                model_id = families[block % len(families)]
                cancel_model = model_id if model_id in DIFFUSION_MODELS else PIXEL_DIFFUSION
                cancel_every = per_block // cancels_per_block
                for i in range(per_block):
                    job += 1
                    if job % EVERY_PIXELCNN == 0:
                        soak.generate(PIXELCNN, PIXELCNN_JOB, seed=job)
                    else:
                        soak.generate(model_id, JOBS[model_id], seed=job)
                    if i % cancel_every == cancel_every - 1:
                        cancel_steps.append(soak.cancel_run(cancel_model, seed=job))
                    if job % 50 == 0:
                        curve.append((job, rss_bytes() / MB))
            soak.services.history.flush()
            gc.collect()
            final = rss_bytes()
            if curve[-1][0] != job:
                curve.append((job, final / MB))
            wall = time.perf_counter() - started
            report = Report("soak")
            report.add("generations", job)
            report.add("cancels", len(cancel_steps))
            report.add("cancelled at step (max of the last progress)", max(cancel_steps))
            report.add("model switches (blocks)", blocks)
            report.add("model loads after warm-up", soak.loads - warm_loads)
            report.add("models' memory, all six", total / MB, "MB")
            report.add("cache budget", soak.cache.budget_bytes / MB, "MB")
            report.add("cache memory, max after a job", soak.max_cache_bytes / MB, "MB")
            report.add("history entries", len(soak.services.history))
            report.add("RSS after warm-up", baseline / MB, "MB")
            report.add("RSS at the end", final / MB, "MB")
            report.add("RSS max of the curve", max(mb for _, mb in curve), "MB")
            report.add("warm-up time", warmed - started, "s")
            report.add("wall time", wall, "s")
            report.data["rss_curve_mb"] = [{"job": j, "rss_mb": round(mb, 2)} for j, mb in curve]
            report.data["model_sizes_mb"] = {m: round(b / MB, 2) for m, b in sizes.items()}
            report.target("RSS growth after warm-up", (final - baseline) / MB, MAX_GROWTH_MB, "MB")
            report.target("cache memory over its budget (jobs)", soak.over_budget, 0)
            report.target("wall time", wall, MAX_WALL_S, "s")
        finally:
            soak.close()
    return [report]
