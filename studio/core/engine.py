"""The engine: a queue of jobs and one worker thread per device that owns the models.

Jobs move queued → running → done / cancelled / failed only here. Cancellation is
cooperative (an Event the family checks between steps). A *latest-wins* lane keeps only
the newest pending job: while a slider drags, superseded requests never run, and a
result older than one already delivered in its lane is dropped. `synchronous=True` runs
every job inline on the caller's thread, for tests and the CLI.

No Qt, and no torch at import: torch is imported on the worker thread, so the window
can show before it loads. Listeners are called on the worker thread; the Qt bridge
re-emits them as queued signals.
"""

from __future__ import annotations

import enum
import gc
import importlib
import logging
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from studio.core.family import Cancelled, JobContext, ModelLoadError, Output
from studio.core.params import ParamError
from studio.core.requests import Request, Result, new_job_id

log = logging.getLogger(__name__)

# Faults that come from the user's input or files: the message says all there is to say.
# Any other exception in a job is a bug (`Job.unexpected`): the job fails alone all the
# same, and the window offers the traceback to report it.
EXPECTED_ERRORS = (ValueError, KeyError, OSError, ModelLoadError, MemoryError)


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.CANCELLED, JobState.FAILED)


# Events sent to listeners: (event, job, payload)
QUEUED, STARTED, PROGRESS, PREVIEW = "queued", "started", "progress", "preview"
FINISHED, FAILED, CANCELLED, DROPPED = "finished", "failed", "cancelled", "dropped"
Listener = Callable[[str, "Job", Any], None]
TaskFn = Callable[[JobContext, Any], Any]  # (ctx, cache) -> value


@dataclass(eq=False)
class Job:
    id: int
    label: str
    lane: str
    request: Request | None = None  # a model run; else `task` is a plain call
    task: TaskFn | None = None
    state: JobState = JobState.QUEUED
    result: Result | None = None
    value: Any = None
    error: str = ""
    detail: str = ""  # traceback for failures
    unexpected: bool = False  # failed with a bug rather than bad input (see EXPECTED_ERRORS)
    superseded: bool = False
    cancel_event: threading.Event = field(default_factory=threading.Event)
    submitted_at: float = field(default_factory=time.perf_counter)
    started_at: float = 0.0
    finished_at: float = 0.0
    _done: threading.Event = field(default_factory=threading.Event)
    callbacks: dict[str, Callable[..., None]] = field(default_factory=dict)

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


SWITCH_INTERVAL = 0.0005  # seconds; see Engine.start


def default_thread_count() -> int:
    # Leave the GUI a core: measured here, a worker at 2 intra-op threads on 2 cores
    # ran a tiny pipeline 2.5x slower than at 1 thread (DESIGN.md).
    return max(1, (os.cpu_count() or 2) - 1)


class Engine:
    def __init__(self, cache: Any, *, synchronous: bool = False, threads: int | None = None,
                 validate: Callable[[Request], dict[str, Any]] | None = None,
                 start: bool = True) -> None:
        """`cache` is a studio.core.cache.ModelCache (or any object with `get(model_id)`);
        `validate` maps a request to its full, checked parameters (raises ParamError).
        With `start=False` the worker (and its torch import) waits for `start()`: the app
        shows its window first, as the worker's import would compete for the GIL."""
        self.cache = cache
        self.synchronous = synchronous
        self.threads = threads or default_thread_count()
        self._validate = validate
        self._listeners: list[Listener] = []
        self._queue: deque[Job] = deque()
        self._cond = threading.Condition(threading.RLock())
        self._running: Job | None = None
        self._delivered_seq: dict[str, int] = {}  # lane → newest delivered job id
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._runtime_ready = False
        # set once the worker has made torch's lazy imports (see _worker_loop); a
        # synchronous engine has no idle worker and makes them on first use
        self.warmed_up = threading.Event()
        if synchronous:
            self.warmed_up.set()
        else:
            self._thread = threading.Thread(target=self._worker_loop, name="studio-engine",
                                            daemon=True)
            if start:
                self.start()

    def start(self) -> None:
        """Start the worker thread (once; jobs submitted before wait in the queue)."""
        with self._cond:
            if self._thread is not None and self._thread.ident is None and not self._stopping:
                # The worker and the GUI thread share the GIL. With Python's default 5 ms
                # switch interval a live render that wants the GIL back between two torch
                # ops can wait for the GUI's Python for up to 5 ms; measured on the GAN
                # truncation drag, 0.5 ms cut the median frame time from ~4.6 to 3.7-4.2 ms.
                sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
                self._thread.start()

    # -- public API (any thread) -------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def submit(self, request: Request, *, lane: str = "default", latest_wins: bool = False,
               label: str = "", on_done: Callable[[Job], None] | None = None) -> Job:
        """Queue a model run. Bad parameters raise ParamError here, before queueing."""
        if self._validate is not None:
            request = replace(request, params=self._validate(request))
        job = Job(id=new_job_id(), label=label or f"{request.op} · {request.model_id}",
                  lane=lane, request=request)
        return self._enqueue(job, latest_wins, on_done)

    def submit_call(self, task: TaskFn, *, label: str, lane: str = "default",
                    latest_wins: bool = False,
                    on_done: Callable[[Job], None] | None = None) -> Job:
        """Queue a plain call `task(ctx, cache)` on the worker: load, unload, train, eval."""
        job = Job(id=new_job_id(), label=label, lane=lane, task=task)
        return self._enqueue(job, latest_wins, on_done)

    # -- commands: the model manager's load, unload, device and status ---------------------
    # The model cache belongs to the worker thread; the UI asks through these, on the
    # "calls" lane, and every one of them answers with `cache_status` (what the Models
    # dock shows).
    def load(self, model_id: str, *, lane: str = "calls") -> Job:
        def load(_ctx: JobContext, cache: Any) -> dict[str, Any]:
            cache.get(model_id)
            return cache_status(cache)
        return self.submit_call(load, label=f"load {model_id}", lane=lane)

    def unload(self, model_id: str, *, lane: str = "calls") -> Job:
        def unload(_ctx: JobContext, cache: Any) -> dict[str, Any]:
            cache.unload(model_id)
            return cache_status(cache)
        return self.submit_call(unload, label=f"unload {model_id}", lane=lane)

    def set_device(self, device: str | None, *, fallback: str | None = None,
                   check: bool = True, label: str = "", lane: str = "calls") -> Job:
        """Use `device` (None: the best there is) from the next load on. With `check`,
        when it does not work here, go back to `fallback` and fail with the reason, so
        that a working device stays in use; without, just set it (the saved setting at
        start-up: the first load says what is wrong)."""
        def change(_ctx: JobContext, cache: Any) -> dict[str, Any] | None:
            cache.set_device(device)
            if not check:
                return None
            try:
                return cache_status(cache)
            except ValueError:
                cache.set_device(fallback)
                raise
        return self.submit_call(change, label=label or f"device {device or 'auto'}", lane=lane)

    def status(self, *, lane: str = "calls") -> Job:
        return self.submit_call(lambda _ctx, cache: cache_status(cache), label="status",
                                lane=lane)

    def cancel(self, job: Job) -> None:
        with self._cond:
            job.cancel()
            if job.state is JobState.QUEUED and job in self._queue:
                self._queue.remove(job)
                self._finish(job, JobState.CANCELLED, CANCELLED)

    def cancel_all(self) -> None:
        with self._cond:
            for job in list(self._queue):
                self.cancel(job)
            if self._running is not None:
                self._running.cancel()

    @property
    def running_job(self) -> Job | None:
        return self._running

    def pending(self) -> list[Job]:
        with self._cond:
            return list(self._queue)

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and self._running is None

    def wait_idle(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._running is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        self.cancel_all()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)

    # -- queueing -----------------------------------------------------------------------
    def _enqueue(self, job: Job, latest_wins: bool, on_done: Callable[[Job], None] | None) -> Job:
        if on_done is not None:
            job.callbacks["done"] = on_done
        if self.synchronous:
            self._emit(QUEUED, job, None)
            self._run(job)
            return job
        with self._cond:
            if latest_wins:
                for old in [j for j in self._queue if j.lane == job.lane]:
                    self._queue.remove(old)
                    old.superseded = True
                    self._finish(old, JobState.CANCELLED, DROPPED)
                # interactive jobs jump ahead of batch work so scrubbing stays live
                self._queue.appendleft(job)
            else:
                self._queue.append(job)
            self._cond.notify_all()
        self._emit(QUEUED, job, None)
        return job

    # -- the worker ---------------------------------------------------------------------
    def _worker_loop(self) -> None:
        self._prepare_runtime()
        warmed = False
        while True:
            with self._cond:
                idle = not self._queue and not self._stopping
            if idle and not warmed:
                warmed = True  # first idle moment: the lazy imports, away from any job
                try:
                    importlib.import_module("studio.core.runtime").warm_up()
                    _collect_and_freeze()
                except Exception:  # only a head start: the imports happen on first use anyway
                    log.exception("the engine's warm-up imports failed")
                finally:
                    self.warmed_up.set()
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._queue.popleft()
                self._running = job
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()

    def _prepare_runtime(self) -> None:
        """Import torch on this thread and set its thread count, once."""
        if self._runtime_ready:
            return
        # by name, on this thread: see studio/core/runtime.py
        importlib.import_module("studio.core.runtime").set_threads(self.threads)
        _collect_and_freeze()
        self._runtime_ready = True

    def _run(self, job: Job) -> None:
        if job.cancel_event.is_set():
            self._finish(job, JobState.CANCELLED, CANCELLED)
            return
        if self.synchronous:
            self._prepare_runtime()
        job.state = JobState.RUNNING
        job.started_at = time.perf_counter()
        self._emit(STARTED, job, None)
        ctx = JobContext(
            job.cancel_event,
            on_progress=lambda fraction, message: self._emit(PROGRESS, job, (fraction, message)),
            on_preview=lambda images: self._emit(PREVIEW, job, images),
        )
        try:
            if job.request is not None:
                job.result = self._run_request(job.request, ctx, job.submitted_at)
            else:
                assert job.task is not None
                job.value = job.task(ctx, self.cache)
        except Cancelled:
            self._finish(job, JobState.CANCELLED, CANCELLED)
            return
        except Exception as exc:  # a fault in a job fails only that job
            job.error = _describe(exc)
            job.detail = traceback.format_exc()
            job.unexpected = not isinstance(exc, EXPECTED_ERRORS)
            if job.unexpected:
                log.error("job %s failed: %s", job.label, job.error, exc_info=True)
            else:
                log.warning("job %s failed: %s", job.label, job.error)
            self._finish(job, JobState.FAILED, FAILED)
            return
        if job.cancel_event.is_set() and job.request is None:
            self._finish(job, JobState.CANCELLED, CANCELLED)
            return
        with self._cond:
            newest = self._delivered_seq.get(job.lane, 0)
            stale = job.id < newest
            if not stale:
                self._delivered_seq[job.lane] = job.id
        if stale:  # an older result must not overwrite a newer one on screen
            job.superseded = True
            self._finish(job, JobState.CANCELLED, DROPPED)
            return
        self._finish(job, JobState.DONE, FINISHED)

    def _run_request(self, request: Request, ctx: JobContext, submitted_at: float) -> Result:
        started = time.perf_counter()
        model = self.cache.get(request.model_id)
        loaded = time.perf_counter()
        try:
            out: Output = model.run(request.op, request.params, request.inputs, ctx)
        finally:
            done = time.perf_counter()
            # what the run kept (a diffusion timeline) counts against the budget too
            settle = getattr(self.cache, "settle", None)
            if settle is not None:
                settle(request.model_id)
        images = np.ascontiguousarray(out.images)
        assert images.dtype == np.uint8 and images.ndim == 4, (images.dtype, images.shape)
        return Result(
            request=request, images=images, latents=out.latents, labels=tuple(out.labels),
            columns=out.columns, extras=dict(out.extras), device=str(model.device),
            rendered_on=self._rendered_on(str(model.device)),
            timings={"queued": started - submitted_at, "load": loaded - started,
                     "run": done - loaded, "per_image": (done - loaded) / max(1, len(images))},
        )

    def _rendered_on(self, device: str) -> dict[str, Any]:
        runtime = importlib.import_module("studio.core.runtime")
        return dict(runtime.rendered_on(device))

    def _finish(self, job: Job, state: JobState, event: str) -> None:
        job.state = state
        job.finished_at = time.perf_counter()
        self._emit(event, job, job.result if state is JobState.DONE else job.error)
        settle(job)

    def _emit(self, event: str, job: Job, payload: Any) -> None:
        emit_to(self._listeners, event, job, payload)


def _collect_and_freeze() -> None:
    """Imports made most of the long-lived objects; keep them out of later full GCs, which
    otherwise stall the GUI thread for ~100 ms (DESIGN.md). With automatic collection off,
    the window collects on its own thread (studio/ui/gui_gc.py): a cycle holding a Qt
    object must not be destroyed on this one, so it is only frozen here."""
    if gc.isenabled():
        gc.collect()
    gc.freeze()


def emit_to(listeners: list[Listener], event: str, job: Job, payload: Any) -> None:
    """Tell every listener of an engine (this one, or the remote one) about `job`."""
    for listener in list(listeners):
        try:
            listener(event, job, payload)
        except Exception:  # a broken listener must not kill the worker
            log.exception("engine listener raised on %s", event)


def settle(job: Job) -> None:
    """A job has ended: run its on_done callback, then release whoever waits on it."""
    callback = job.callbacks.get("done")
    if callback is not None:
        try:
            callback(job)
        except Exception:
            log.exception("on_done callback of job %s raised", job.label)
    job._done.set()


def cache_status(cache: Any) -> dict[str, Any]:
    """The device, the loaded model ids and the memory they take; on the worker thread."""
    return {"device": cache.device, "loaded": cache.loaded_ids(), "memory": cache.memory_in_use()}


def _describe(exc: BaseException) -> str:
    """A one-line message for the user: the exception's own words, typed if vague."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    # a ModelLoadError names the file and the problem: its type adds nothing for the user
    if isinstance(exc, (ParamError, ValueError, KeyError, FileNotFoundError, ModelLoadError)) and text:
        return text.strip("'\"")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def validator_for(registry: Any, library: Any) -> Callable[[Request], dict[str, Any]]:
    """Check a request against its family's op spec (no torch: runs on the caller)."""

    def validate(request: Request) -> dict[str, Any]:
        entry = library.get(request.model_id)
        try:
            op = registry.get(entry.card.family).op(request.op)
        except KeyError as exc:
            raise ParamError(str(exc).strip("'\"")) from None
        return op.validate(request.params, request.inputs)

    return validate


def run_sync(engine: Engine, request: Request, **kwargs: Mapping[str, Any]) -> Result:
    """Submit and wait; raise on failure. For the CLI and tests."""
    job = engine.submit(request, **kwargs)  # type: ignore[arg-type]
    job.wait()
    if job.state is JobState.FAILED:
        raise RuntimeError(job.error)
    if job.state is not JobState.DONE or job.result is None:
        raise Cancelled()
    return job.result
