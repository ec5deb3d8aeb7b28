"""Python's cyclic garbage collector, run on the GUI thread only.

Automatic collection runs on whichever thread happens to allocate past a threshold: the
engine's worker building a model, say. A cycle that holds a widget or dialog that Python
owns (a closed window, a message box and the lambda connected to it) is then destroyed
on that thread, and Qt objects destroyed off the GUI thread crash the process (seen: a
segfault on the engine's worker, "Garbage-collecting" inside a UNet's constructor).

`GuiThreadCollector` turns automatic collection off and applies the same thresholds from
a timer on the GUI thread. The timer also caps how often it runs: a full collection,
the one that can take tens of milliseconds, comes at most every hundred checks.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_MS = 500


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject, interval_ms: int = CHECK_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> int | None:
        """Collect the oldest generation whose count passed its threshold, as Python's
        own rule does; the generation collected, or None."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if counts[0] <= thresholds[0]:  # not enough new objects yet
            return None
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return generation
        return None

    def uninstall(self) -> None:
        """Automatic collection as it was (a test, or main() returning to its caller)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
