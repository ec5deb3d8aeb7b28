"""What the explorers whose runs show themselves as they go (the diffusion's steps, the
PixelCNN's rows) share: a sample grid that previews grow in, with a counter of the
running job beside its buttons, and the explorer side that keeps those counters
from the bridge's job events and marks where a cancelled or failed run stopped.

One copy, so that both explorers count, cancel and keep a pick the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtWidgets import QLabel, QPushButton

from studio.core.requests import Result
from studio.ui.explorers.base import SAMPLES, Explorer, SamplesView, counter_label


class LiveSamplesView(SamplesView):
    """The sample grid of a live explorer; its subclass calls `add_actions`."""

    def add_actions(self, actions: Iterable[QPushButton], counter_tip: str) -> None:
        """The view's own buttons (off until an image is picked), then the counter."""
        for widget in actions:
            widget.setEnabled(False)
            self.buttons.addWidget(widget)
        self.step = counter_label(counter_tip)
        self.buttons.addWidget(self.step)

    def labels_of(self, result: Result) -> list[str]:
        """A sample's cells say which seed (and class, if any) drew them."""
        seed = result.request.seed
        if result.request.op != "sample" or seed is None:
            return list(super().labels_of(result))
        classes = list(result.labels) if len(result.labels) == len(result.images) else []
        return [self.seed_label(seed, i) + (f" · class {classes[i]}" if classes else "")
                for i in range(len(result.images))]

    def seed_label(self, seed: int, index: int) -> str:
        return f"seed {seed + index}"  # image i of a batch is drawn from seed + i

    def seed_of(self, index: int) -> int | None:
        """The seed that alone draws cell `index` (the export's file name says it)."""
        result = self.result
        if result is None or result.request.op != "sample" or result.request.seed is None:
            return None
        return result.request.seed + index

    def show_result(self, result: Result) -> None:
        keep = self.selection if result is self.result else []  # shown again after a cancel
        super().show_result(result)
        if keep:
            self.selection = keep
            self.canvas.set_selection(keep)


class LiveRunExplorer(Explorer):
    """Subclasses say which of their views a job belongs to (`_view_of_job`), where that
    view's counter is (`_counter`) and what a stopped run leaves (`_restore_stopped`),
    and call `_connect_live(bridge)`."""

    COUNTER_UNIT = "step"  # a running counter reads "<unit> k of n" (or "k/n")

    def _connect_live(self, bridge: Any) -> None:
        bridge.job_started.connect(self._on_bridge_job_started)
        bridge.job_progressed.connect(self._on_bridge_job_progressed)
        bridge.job_previewed.connect(self._on_bridge_job_previewed)
        bridge.job_cancelled.connect(self._on_bridge_job_cancelled)
        bridge.job_failed.connect(lambda job, _message: self._on_bridge_job_cancelled(job))

    def _view_of_job(self, job: Any) -> str | None:
        raise NotImplementedError

    def _counter(self, view: str) -> QLabel:
        raise NotImplementedError

    def _start_text(self, job: Any) -> str:
        return "starting…"

    def _restore_stopped(self, job: Any, view: str) -> None:
        """Take back what a cancelled or failed run left in `view`."""

    def _on_bridge_job_started(self, job: Any) -> None:
        view = self._view_of_job(job)
        if view is not None:
            self._counter(view).setText(self._start_text(job))
            if view == SAMPLES and job.lane == "default":
                self.samples.canvas.set_selection([])  # the pick's outline is not on a preview

    def _on_bridge_job_progressed(self, job: Any, fraction: float, message: str) -> None:
        view = self._view_of_job(job)
        if view is not None:
            self._counter(view).setText(message or f"{fraction:.0%}")

    def _on_bridge_job_previewed(self, job: Any, images: Any) -> None:
        """Previews the window does not show itself (it grows sample grids)."""

    def _on_bridge_job_cancelled(self, job: Any) -> None:
        view = self._view_of_job(job)
        if view is None:
            return
        label = self._counter(view)
        state = "Cancelled" if job.state.value == "cancelled" else "Failed"
        stopped_at = label.text().startswith(self.COUNTER_UNIT)
        label.setText(f"{state} at {label.text()}" if stopped_at else state)
        self._restore_stopped(job, view)
