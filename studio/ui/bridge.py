"""The engine → Qt bridge: one engine listener, re-emitted as Qt signals.

Engine listeners run on the worker thread. Each engine event crosses to the GUI thread
as one queued call (`_relay`), and the bridge re-emits it there as its public signal,
so every slot connected here runs on the GUI thread, called directly.

Why one hop and not a queued connection per receiver: a worker-thread emit of a public
signal posts one event per connected slot. The GUI thread wakes on the first and starts
running Python slots while the worker is still posting the rest; the worker then waits
for the GIL in the middle of the GUI's slots (up to Python's switch interval) before it
can return to the queue. With one post the worker is back before the GUI thread wakes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core import engine as events
from studio.ui.cross_thread import ThreadGate


class EngineBridge(QObject):
    job_queued = Signal(object)  # job
    job_started = Signal(object)  # job
    job_progressed = Signal(object, float, str)  # job, fraction, message
    job_previewed = Signal(object, object)  # job, uint8 images (N, H, W, C)
    job_finished = Signal(object, object)  # job, Result (None for a plain call)
    job_failed = Signal(object, str)  # job, message
    job_cancelled = Signal(object)  # job
    job_dropped = Signal(object)  # job: superseded in a latest-wins lane
    _relay = Signal(str, object, object)  # engine event, job, payload: the one cross-thread hop

    def __init__(self, engine: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        # the worker may be emitting while the window closes: see cross_thread
        self._gate = ThreadGate()
        self._relay.connect(self._on_relay)  # auto: queued from the worker, direct on the GUI thread
        engine.add_listener(self._on_engine_event)

    def detach(self) -> None:
        """Stop listening (before the bridge is deleted while the engine lives on): waits
        for an event the worker is relaying, and relays none after."""
        self._gate.close()
        self.engine.remove_listener(self._on_engine_event)

    def attach(self, engine: Any) -> None:
        """Listen to `engine` instead: the window moving to a remote engine and back."""
        self.detach()
        self.engine = engine
        self._gate.reopen()
        engine.add_listener(self._on_engine_event)

    def _on_engine_event(self, event: str, job: Any, payload: Any) -> None:
        # runs on the thread that raised the event: the worker's, or the GUI's on submit
        self._gate.emit(self._relay, event, job, payload)

    def _on_relay(self, event: str, job: Any, payload: Any) -> None:
        # runs on the GUI thread
        if event == events.QUEUED:
            self.job_queued.emit(job)
        elif event == events.STARTED:
            self.job_started.emit(job)
        elif event == events.PROGRESS:
            fraction, message = payload
            self.job_progressed.emit(job, float(fraction), str(message or ""))
        elif event == events.PREVIEW:
            self.job_previewed.emit(job, payload)
        elif event == events.FINISHED:
            self.job_finished.emit(job, job.result if job.result is not None else None)
        elif event == events.FAILED:
            self.job_failed.emit(job, str(payload or job.error))
        elif event == events.CANCELLED:
            self.job_cancelled.emit(job)
        elif event == events.DROPPED:
            self.job_dropped.emit(job)
