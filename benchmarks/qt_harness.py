"""Qt plumbing for the GUI benchmarks: the real window over real services, a stall
probe on the GUI thread, and waiting without sleeping the event loop away."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from benchmarks.common import percentile
from studio.ui.gui_gc import GuiThreadCollector

_collector: GuiThreadCollector | None = None


def app() -> QApplication:
    """The application, collecting garbage on the GUI thread as the app does."""
    global _collector
    made = QApplication.instance() or QApplication([])
    if _collector is None:
        _collector = GuiThreadCollector(made)
    return made


def process_until(condition: Callable[[], bool], timeout: float = 600.0) -> bool:
    """Run a real Qt event loop (as `app.exec()` does, sleeping in the OS between
    events) until `condition()` holds; it is checked by a 10 ms timer."""
    if condition():
        return True
    loop = QEventLoop()
    deadline = time.perf_counter() + timeout
    checker = QTimer()
    checker.setInterval(10)
    checker.timeout.connect(lambda: loop.quit() if condition() or time.perf_counter() > deadline else None)
    checker.start()
    loop.exec()
    checker.stop()
    return condition()


def process_for(seconds: float) -> None:
    end = time.perf_counter() + seconds
    process_until(lambda: time.perf_counter() >= end, seconds + 1)


class StallProbe:
    """A 5 ms QTimer on the GUI thread; the gaps between its ticks are the stalls a
    user feels (a 60 Hz frame is 16.7 ms)."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.interval_ms = interval_ms
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer_timeout)

    def _on_timer_timeout(self) -> None:
        self.ticks.append(time.perf_counter())

    def start(self) -> None:
        self.ticks.clear()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def gaps_ms(self) -> list[float]:
        return [(b - a) * 1000 for a, b in zip(self.ticks, self.ticks[1:])]

    def summary(self) -> dict[str, float]:
        gaps = self.gaps_ms
        return {"ticks": len(self.ticks), "max_ms": max(gaps, default=0.0),
                "p99_ms": percentile(gaps, 99), "median_ms": percentile(gaps, 50)}


def drag_slider(slider, values, interval: float, engine, before_each=None) -> float:
    """Move `slider` through `values`, one event every `interval` seconds with the event
    loop running in between, as a user's drag would; then wait for the engine and the
    last queued signals. `before_each()` runs just before each move. Returns the start."""
    slider.setSliderDown(True)  # as while the user holds the handle
    start = time.perf_counter()
    for i, value in enumerate(values):
        process_until(lambda i=i: time.perf_counter() >= start + i * interval, timeout=5)
        if before_each is not None:
            before_each()
        slider.setValue(int(value))
    slider.setSliderDown(False)
    process_until(lambda: engine.idle(), timeout=60)
    process_until(lambda: False, timeout=0.1)  # deliver the last queued signals
    return start
