"""One Ray actor's work: the model loaded once, and chunks rendered exactly as the local
commands render them (the same engine, op calls, batch shapes and thread count).

A plain class: `cluster.start_workers` makes it a Ray actor; tests and one-process runs
may use it as it is. No Ray here.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from studio.core.animate import Animation, plan, render_batches
from studio.core.requests import Request, Result

# what a worker takes over from the driver's environment: where the models are, the
# plug-in families, the device preference, the offline hub
FORWARDED_PREFIXES = ("LATENT_STUDIO_",)
FORWARDED_NAMES = ("HF_HUB_OFFLINE",)


def forwarded_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items()
            if k.startswith(FORWARDED_PREFIXES) or k in FORWARDED_NAMES}


class BatchJobError(Exception):
    """A chunk failed in the studio's own code on a worker; `expected` as the engine's
    jobs say it (bad input rather than a bug). Retried nowhere: it would fail again."""

    def __init__(self, message: str, expected: bool = True) -> None:
        super().__init__(message, expected)
        self.message, self.expected = message, expected

    def __str__(self) -> str:
        return self.message


class BatchWorker:
    def __init__(self, model_id: str, env: Mapping[str, str], device: str | None,
                 threads: int) -> None:
        os.environ.update(env)  # before the library and the runtime read them
        from studio.wiring import build_services

        self.model_id = model_id
        # the CLI's own services: a synchronous engine at `threads` torch threads
        self.services = build_services(synchronous=True, device=device, threads=threads)
        entry = self.services.library.get(model_id)
        self.family = entry.family
        self.info = self.services.registry.get(entry.family)

    def ready(self) -> dict[str, Any]:
        """Load the model; where this worker runs (its recipe's `rendered_on`, pid, host)."""
        def load(_ctx: Any, cache: Any) -> dict[str, Any]:
            cache.get(self.model_id)
            runtime = importlib.import_module("studio.core.runtime")
            return dict(runtime.rendered_on(cache.device))
        where = self._call(load, "load")
        return {**where, "pid": os.getpid(), "host": socket.gethostname()}

    # -- an animation -------------------------------------------------------------------------
    def plan(self, animation: Animation) -> Animation:
        """Every frame's path position (constant speed in pixels renders to measure)."""
        return self._call(lambda ctx, cache: plan(cache.get(self.model_id), self.info,
                                                  animation, ctx), "plan")

    def render(self, animation: Animation, start: int, stop: int) -> np.ndarray:
        """(N, H, W, C) uint8 frames `start` to `stop` of the planned `animation`, in
        batches of `animation.batch` from `start` (a multiple of it: the local batches)."""
        # the chunk as an animation of its own frames: whatever a frame's render needs
        # (its latent, any per-frame input) is taken for these frames alone
        part = replace(animation, positions=animation.positions[start:stop])

        def render(ctx: Any, cache: Any) -> np.ndarray:
            model = cache.get(self.model_id)
            return np.concatenate(list(render_batches(model, self.info, part,
                                                      part.frame_latents(), ctx)))
        return self._call(render, "render")

    # -- a seed sweep and an evaluation --------------------------------------------------------
    def results(self, requests: Sequence[Request]) -> list[Result]:
        """Each request run as `studio generate` runs it: validated, one engine job each."""
        from studio.core.engine import JobState

        out = []
        for request in requests:
            job = self.services.engine.submit(request, label="batch")
            if job.state is not JobState.DONE or job.result is None:
                raise BatchJobError(job.error or job.state.value, not job.unexpected)
            out.append(job.result)
        return out

    def sample_images(self, calls: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The evaluation's `sample` calls (studio.core.evaluator.sample_calls), run as
        evaluate_model runs them: its images, in order."""
        def sample(ctx: Any, cache: Any) -> np.ndarray:
            model = cache.get(self.model_id)
            return np.concatenate([model.run("sample", dict(p), {}, ctx).images for p in calls])
        return self._call(sample, "sample")

    def evaluate(self, samples: int, images: np.ndarray) -> dict[str, float]:
        """`studio eval`'s figures, with the unconditional samples drawn already."""
        def evaluate(_ctx: Any, cache: Any) -> dict[str, float]:
            from studio.core.datasets import build_dataset
            from studio.core.evaluator import Evaluator, dataset_ceiling, evaluate_model

            card = self.services.library.get(self.model_id).card
            data = build_dataset({"name": card.dataset or "glyphs",
                                  **card.training.get("dataset", {})})
            evaluator = Evaluator.load()
            figures = evaluate_model(cache.get(self.model_id), self.info, samples=samples,
                                     data=data, evaluator=evaluator, images=images)
            figures["dataset_ceiling"] = round(dataset_ceiling(data["train"], evaluator,
                                                               samples), 5)
            return figures
        return self._call(evaluate, "evaluate")

    # -- plumbing --------------------------------------------------------------------------------
    def _call(self, task: Callable[[Any, Any], Any], what: str) -> Any:
        from studio.core.engine import JobState

        job = self.services.engine.submit_call(task, label=f"batch {what} · {self.model_id}")
        if job.state is not JobState.DONE:
            raise BatchJobError(job.error or job.state.value, not job.unexpected)
        return job.value
