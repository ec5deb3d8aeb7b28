"""Submits work for the widgets and hands each job's outcome back to whoever asked.

Widgets never call a model: they build a `Request` (from the session) and give it to
`JobRouter.submit` with a callback. The router keeps job id → callbacks and calls them
from the bridge's signals, on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.params import ParamError
from studio.core.requests import Request
from studio.ui.bridge import EngineBridge

OnResult = Callable[[Any, Any], None]  # (job, result or value)
OnError = Callable[[Any, str], None]  # (job, message)


@dataclass
class _Route:
    on_result: OnResult | None
    on_error: OnError | None
    on_cancel: Callable[[Any], None] | None = None  # cancelled or dropped before its end


class JobRouter(QObject):
    error_raised = Signal(str)  # a request was refused or a job failed

    def __init__(self, engine: Any, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._routes: dict[int, _Route] = {}
        bridge.job_finished.connect(self._on_bridge_job_finished)
        bridge.job_failed.connect(self._on_bridge_job_failed)
        bridge.job_cancelled.connect(self._on_bridge_job_ended)
        bridge.job_dropped.connect(self._on_bridge_job_ended)

    def submit(self, request: Request, *, lane: str = "default", latest_wins: bool = False,
               label: str = "", on_result: OnResult | None = None,
               on_error: OnError | None = None) -> Any:
        """Queue a model run; returns the Job, or None when the request was refused
        (the reason goes to `error_raised`)."""
        try:
            job = self.engine.submit(request, lane=lane, latest_wins=latest_wins, label=label)
        except (ParamError, KeyError) as exc:
            self.error_raised.emit(str(exc).strip("'\""))
            return None
        return self._route(job, _Route(on_result, on_error))

    def call(self, task: Callable[[Any, Any], Any], *, label: str, lane: str = "calls",
             on_result: OnResult | None = None, on_error: OnError | None = None) -> Any:
        """Queue a plain call `task(ctx, cache)` on the engine's thread (load, unload...)."""
        job = self.engine.submit_call(task, label=label, lane=lane)
        return self._route(job, _Route(on_result, on_error))

    def command(self, job: Any, *, on_result: OnResult | None = None,
                on_error: OnError | None = None,
                on_cancel: Callable[[Any], None] | None = None) -> Any:
        """Route the answer of an engine command (`engine.load(id)`, `unload`,
        `set_device`, `status`) back to the GUI thread; `on_cancel`: Esc stopped it."""
        return self._route(job, _Route(on_result, on_error, on_cancel))

    def _route(self, job: Any, route: _Route) -> Any:
        if getattr(self.engine, "synchronous", False):  # it has run already
            self._deliver(job, route)
        else:
            self._routes[job.id] = route
        return job

    def _deliver(self, job: Any, route: _Route) -> None:
        state = job.state.value
        if state == "done" and route.on_result is not None:
            route.on_result(job, job.result if job.request is not None else job.value)
        elif state == "failed":
            if route.on_error is not None:
                route.on_error(job, job.error)
            else:
                self.error_raised.emit(job.error)

    def cancel(self, job: Any) -> None:
        """Cancel one job: dropped if queued, stopped at its next step if running."""
        self.engine.cancel(job)

    def pending(self) -> int:
        return len(self._routes)

    def _on_bridge_job_finished(self, job: Any, result: Any) -> None:
        route = self._routes.pop(job.id, None)
        if route is not None:
            self._deliver(job, route)

    def _on_bridge_job_failed(self, job: Any, message: str) -> None:
        route = self._routes.pop(job.id, None)
        if route is not None:
            self._deliver(job, route)

    def _on_bridge_job_ended(self, job: Any) -> None:
        route = self._routes.pop(job.id, None)
        if route is not None and route.on_cancel is not None:
            route.on_cancel(job)
