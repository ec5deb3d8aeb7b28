"""Signals emitted from plain threads onto a QObject that the GUI thread may delete.

Qt allows emitting a signal from another thread only while the sender is not being
destroyed: a worker thread in the middle of `emit` while the GUI thread deletes the
window (a closed window, a test's teardown) reads freed memory and can take the process
down without a Python traceback. The engine's listeners are called from a snapshot of
the list, so even a listener removed at close may still be running.

A `ThreadGate` closes that gap: other threads emit through `gate.emit(signal, ...)`,
which holds the gate's lock for the emit (a queued post: microseconds), and the owner
calls `gate.close()` on the GUI thread before the object may go (in closeEvent), which
waits for an emit in flight and turns the later ones away. An emit on the GUI thread
itself runs directly, without the lock: its slots run at once and may wait for a worker
that is waiting for the lock.
"""

from __future__ import annotations

import threading
from typing import Any


class ThreadGate:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = True
        self._gui_thread = threading.get_ident()  # made with its QObject, on the GUI thread

    @property
    def is_open(self) -> bool:
        return self._open

    def emit(self, signal: Any, *args: Any) -> bool:
        """`signal.emit(*args)` unless the gate is closed; whether it was emitted."""
        if threading.get_ident() == self._gui_thread:
            if not self._open:
                return False
            signal.emit(*args)
            return True
        with self._lock:
            if not self._open:
                return False
            try:
                signal.emit(*args)
            except RuntimeError:  # deleted without close(): nothing more goes through
                self._open = False
                return False
            return True

    def emitter(self, signal: Any) -> Any:
        """A callable for another thread's callback list: emits `signal` through the gate."""
        return lambda *args: self.emit(signal, *args)

    def close(self) -> None:
        """On the GUI thread, before the QObject may be deleted: waits for an emit in
        flight; none after."""
        with self._lock:
            self._open = False

    def reopen(self) -> None:
        with self._lock:
            self._open = True
