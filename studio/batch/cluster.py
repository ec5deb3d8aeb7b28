"""Where the workers run: a Ray cluster joined or started, and the actors on it.

`--ray auto` joins the cluster RAY_ADDRESS names, else one started on this machine with
`ray start`, else starts a private local one; `local` always starts a private one;
anything else is a cluster's address (`HOST:6379`, or `ray://HOST:10001` through Ray
Client). A Ray that this process has already initialised (a test, a notebook) is used
as it is and left running.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ray

from studio.batch.pool import WorkerPool
from studio.batch.worker import BatchWorker, forwarded_environment


@dataclass(frozen=True)
class WorkerSpec:
    """What each worker is: the model it holds, its device and torch threads. Frames are
    the local render's bit for bit when these match the local render's."""

    model_id: str
    device: str | None = None
    threads: int = 1

    @property
    def gpus(self) -> float:
        return 1.0 if (self.device or "").startswith("cuda") else 0.0


@contextmanager
def connected(address: str = "auto", cpus: int | None = None) -> Iterator[bool]:
    """Ray initialised for the block; True when this call started it (and stops it)."""
    if ray.is_initialized():
        yield False
        return
    # the workers' logs stay in Ray's session folder: the terminal keeps the progress bar
    quiet: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                             "logging_level": logging.WARNING}
    local: dict[str, Any] = {"address": "local", "num_cpus": cpus or os.cpu_count() or 1}
    if address == "local":
        ray.init(**quiet, **local)
    elif address == "auto":
        if os.environ.get("RAY_ADDRESS"):
            ray.init(**quiet)
        else:
            try:
                ray.init(address="auto", **quiet)  # one that `ray start` runs here
            except ConnectionError:
                ray.init(**quiet, **local)
    else:
        ray.init(address=address, **quiet)
    try:
        yield True
    finally:
        ray.shutdown()


def default_workers(spec: WorkerSpec) -> int:
    """As many workers as the cluster has GPUs (on CUDA) or CPUs ÷ threads."""
    resources = ray.cluster_resources()
    if spec.gpus:
        return max(1, int(resources.get("GPU", 0) // spec.gpus))
    return max(1, int(resources.get("CPU", 1) // spec.threads))


def shortfall(spec: WorkerSpec, workers: int) -> str:
    """What the cluster lacks for `workers` of `spec` at once ('' when it has enough)."""
    resources = ray.cluster_resources()
    needs = [("CPUs", workers * spec.threads, resources.get("CPU", 0.0))]
    if spec.gpus:
        needs.append(("GPUs", workers * spec.gpus, resources.get("GPU", 0.0)))
    return "; ".join(f"{workers} workers need {need:g} {what}, the cluster has {have:g}"
                     for what, need, have in needs if need > have)


def start_pool(spec: WorkerSpec, workers: int, *, depth: int = 2) -> WorkerPool:
    """`workers` actors, each holding the model (loaded as each one starts)."""
    remote = ray.remote(BatchWorker).options(num_cpus=spec.threads, num_gpus=spec.gpus,
                                             max_restarts=0)
    env = forwarded_environment()

    def spawn() -> Any:
        return remote.remote(spec.model_id, env, spec.device, spec.threads)

    return WorkerPool(spawn, workers, depth=depth)
