"""The Compare view: the built-in models of every family trained on the shared dataset,
side by side. One column per model: its sample grid, the evaluator's figures from its
card (the best of each row in bold), the time per image measured now, and what its
architecture is good and bad at.

The table itself (which models, which figures, formatting, the best of a row) comes from
studio.core.compare, the same code that prints `studio compare`. The sample runs go
through the engine like any other request (a lane of their own), so the window stays
live; each column fills in as its model finishes, with a progress bar and a Cancel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core import compare
from studio.ui import images as imgs
from studio.ui.canvas import Canvas

LANE = "compare"
# pixels per side of each model's sample grid: a 3 × 3 grid of 32-px images at 2× (the
# canvas zooms by whole numbers and keeps a 12-px margin)
GRID_SIZE = 222
COLUMN_WIDTH = GRID_SIZE
GOOD, BAD, FAILED = "#4aab4a", "#e0893a", "#e0605a"  # legible on the dark and light themes


def _muted_color() -> str:
    """Secondary text: the theme's text colour two thirds of the way to its background
    (the disabled-text colour is too faint on the light theme)."""
    palette = QApplication.palette()
    text = palette.color(QPalette.ColorRole.WindowText)
    back = palette.color(QPalette.ColorRole.Window)
    mix = [round(a * 0.62 + b * 0.38) for a, b in zip(text.getRgb()[:3], back.getRgb()[:3])]
    return QColor(*mix).name()


def _label(text: str = "", *, bold: bool = False, muted: bool = False, wrap: bool = False,
           tip: str = "") -> QLabel:
    label = QLabel(text)
    if bold:
        font = QFont(label.font())
        font.setBold(True)
        label.setFont(font)
    if muted:
        label.setProperty("muted", True)
        label.setStyleSheet(f"color: {_muted_color()};")
    if wrap:
        label.setWordWrap(True)
    if tip:
        label.setToolTip(tip)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ModelColumn:
    """The widgets of one model's column, placed in the dialog's grid."""

    def __init__(self, row: compare.ModelRow) -> None:
        self.row = row
        self.title = _label(row.name, bold=True, wrap=True, tip=row.model_id)
        self.subtitle = _label(f"{row.family_label} · {row.model_id}", muted=True, wrap=True)
        self.canvas = Canvas(placeholder="waiting…")
        self.canvas.setFixedSize(GRID_SIZE, GRID_SIZE)
        self.canvas.setAcceptDrops(False)
        self.figures = {f.key: _label(row.text(f.key)) for f in compare.FIGURES}
        self.time = _label(row.time_text)
        self.strengths = _label("\n".join(f"+ {s}" for s in row.strengths), wrap=True)
        self.strengths.setStyleSheet(f"color: {GOOD};")
        self.weaknesses = _label("\n".join(f"− {w}" for w in row.weaknesses), wrap=True)
        self.weaknesses.setStyleSheet(f"color: {BAD};")
        self.status = _label("", wrap=True)
        self.status.setStyleSheet(f"color: {FAILED};")
        self.status.hide()
        self.images: np.ndarray | None = None

    def widgets(self) -> list[QWidget]:
        return [self.title, self.subtitle, self.canvas, self.status, self.time,
                *self.figures.values(), self.strengths, self.weaknesses]

    def show_images(self, images: np.ndarray, count: int = 0) -> None:
        shown = imgs.pad_grid(images, count) if count > len(images) else images
        self.canvas.set_images(shown)
        if count <= len(images):
            self.images = np.asarray(images)

    def show_state(self, text: str) -> None:
        """Before a result: what the column is waiting for (in the empty canvas)."""
        if self.images is None:
            self.canvas.placeholder = text
            self.canvas.viewport().update()

    def show_error(self, message: str) -> None:
        self.canvas.clear()
        self.images = None
        self.canvas.placeholder = "could not run"
        self.status.setText(message)
        self.status.setToolTip(message)
        self.status.show()
        self.time.setText(self.row.time_text)

    def refresh_time(self) -> None:
        self.time.setText(self.row.time_text)
        if not self.row.error:
            self.status.hide()


class CompareDialog(QDialog):
    """View ▸ Compare Families…: a non-modal window over the main one."""

    measured = Signal()  # every column has its result, its error or was cancelled

    def __init__(self, jobs: Any, bridge: Any, library: Any, registry: Any, *,
                 dataset: str = compare.SHARED_DATASET, images: int = compare.DEFAULT_IMAGES,
                 dark: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.library, self.registry = jobs, library, registry
        self.dataset, self.image_count, self._dark = dataset, images, dark
        self.rows: list[compare.ModelRow] = []
        self.columns: dict[str, ModelColumn] = {}
        self._pending: dict[int, Any] = {}  # job id → job, for this dialog's runs
        self._model_of: dict[int, str] = {}  # job id → model id
        self._total = 0
        self._finished = 0
        self._generation = 0  # results of an earlier measure() are ignored
        self.setWindowTitle("Compare the families")
        self.setObjectName("compareDialog")
        self._fit_to_screen()

        self.heading = _label(bold=True)
        self.heading.setStyleSheet("font-size: 15px;")
        self.intro = _label(wrap=True, muted=True)
        self.measure_button = QPushButton("&Measure again")
        self.measure_button.setObjectName("primary")
        self.measure_button.setToolTip("Re-read the library, then sample every model again "
                                       "and time it")
        self.measure_button.clicked.connect(self.refresh)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the sample runs (the finished columns stay)")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.state_label = _label(muted=True)
        self.table = QWidget()
        self.table.setObjectName("compareTable")
        self.grid = QGridLayout(self.table)
        self.grid.setHorizontalSpacing(16)
        self.grid.setVerticalSpacing(6)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.table)
        self.notes = _label(wrap=True, muted=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        bar = QHBoxLayout()
        bar.addWidget(self.measure_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.state_label)
        bar.addStretch(0)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.intro)
        layout.addLayout(bar)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.notes)
        layout.addWidget(buttons)

        bridge.job_started.connect(self._on_bridge_job_started)
        bridge.job_progressed.connect(self._on_bridge_job_progressed)
        bridge.job_previewed.connect(self._on_bridge_job_previewed)
        bridge.job_cancelled.connect(self._on_bridge_job_ended)
        bridge.job_dropped.connect(self._on_bridge_job_ended)
        self.rebuild()
        self._set_busy(False)

    # -- the table ------------------------------------------------------------------------
    def rebuild(self) -> None:
        """One column per shared built-in model, as the library lists them now."""
        self.cancel()
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.rows = compare.build_rows(self.library, self.registry, self.dataset)
        self.columns = {row.model_id: ModelColumn(row) for row in self.rows}
        count = len(self.rows)
        self.heading.setText(f"{count} built-in model{'s' if count != 1 else ''} trained on "
                             f"“{self.dataset}”" if count else
                             f"No built-in models trained on “{self.dataset}”")
        self.intro.setText(
            f"Each column: {self.image_count} samples from seed {compare.SEED} at the "
            "family's default settings, the evaluator's figures from the model's card "
            "(the best of each row in bold) and the time per image, measured now on this "
            "machine through the engine, model load excluded.")
        labels = [("", ""), ("", ""), ("Samples", ""), ("", ""),
                  (compare.TIME_LABEL, compare.TIME_HELP),
                  *((f.label, f.help) for f in compare.FIGURES),
                  ("Strengths", "What the architecture is good at"),
                  ("Weaknesses", "What it pays for it")]
        for r, (text, tip) in enumerate(labels):
            if text:
                self.grid.addWidget(_label(text, bold=True, tip=tip), r, 0,
                                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        for c, column in enumerate(self.columns.values(), start=1):
            column.canvas.set_dark(self._dark)
            column.canvas.viewport().installEventFilter(self)  # the wheel scrolls the table
            for r, widget in enumerate(column.widgets()):
                if widget is not column.canvas:
                    widget.setFixedWidth(COLUMN_WIDTH)
                self.grid.addWidget(widget, r, c, Qt.AlignmentFlag.AlignTop)
            if column.row.error:  # e.g. a family this install does not know
                column.show_error(column.row.error)
        self.grid.setColumnStretch(len(self.columns) + 1, 1)
        self.grid.setRowStretch(len(labels), 1)
        self.grid.setRowMinimumHeight(2, GRID_SIZE)
        self._mark_best()
        self._show_notes()

    def _mark_best(self) -> None:
        for figure in compare.FIGURES:
            winners = compare.best(self.rows, figure.key)
            for model_id, column in self.columns.items():
                _set_bold(column.figures[figure.key], model_id in winners)
        fastest = compare.best(self.rows, "seconds_per_image")
        for model_id, column in self.columns.items():
            _set_bold(column.time, model_id in fastest)

    def _show_notes(self) -> None:
        higher = ", ".join(f.label for f in compare.FIGURES if f.better == "higher")
        lower = ", ".join(f.label for f in compare.FIGURES if f.better == "lower")
        lines = [f"Higher is better: {higher}. Lower is better: {lower}, time. "
                 f"{compare.MISSING} = the family has no such figure. "
                 "Hover a row's name for what it measures.",
                 *compare.reference_notes(self.rows)]
        skipped = [p for p in getattr(self.library, "problems", []) if p]
        if skipped:
            lines.append("Not in the comparison: " + "; ".join(skipped))
        self.notes.setText("\n".join(lines))

    def _fit_to_screen(self) -> None:
        """Wide enough for six models side by side where the screen allows; the table
        scrolls where it does not."""
        width, height = 180 + 6 * (COLUMN_WIDTH + 16), 800
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is not None and screen.width() > 0:
            width, height = min(width, screen.width() - 40), min(height, screen.height() - 40)
        self.resize(width, height)

    def set_dark(self, dark: bool) -> None:
        self._dark = dark
        color = _muted_color()
        for label in self.findChildren(QLabel):
            if label.property("muted"):
                label.setStyleSheet(f"color: {color};")
        for column in self.columns.values():
            column.canvas.set_dark(dark)

    # -- measuring ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the library (a model may have landed since), then measure."""
        refresh = getattr(self.library, "refresh", None)
        if callable(refresh):
            refresh()
        self.rebuild()
        self.measure()

    def measure(self) -> None:
        """Queue one sample batch per model on the engine; the columns fill in as they end."""
        self.cancel()
        self._pending.clear()  # their ends, when they come, are no longer counted
        self._model_of.clear()
        self._generation += 1
        generation = self._generation
        todo = [row for row in self.rows if row.family in self.registry]
        self._total, self._finished = len(todo), 0
        self._set_busy(bool(todo))
        for row in todo:
            column = self.columns[row.model_id]
            column.images = None
            column.show_state("queued…")
            request = compare.sample_request(row.model_id, self.image_count)
            refused: list[str] = []
            self.jobs.error_raised.connect(refused.append)
            try:
                job = self.jobs.submit(
                    request, lane=LANE, label=f"compare · {row.model_id}",
                    on_result=lambda j, result, m=row.model_id, g=generation:
                        self._on_measured(j, m, result, g),
                    on_error=lambda j, message, m=row.model_id, g=generation:
                        self._on_failed(j, m, message, g))
            finally:
                self.jobs.error_raised.disconnect(refused.append)
            if job is None:
                self._on_failed(None, row.model_id, refused[0] if refused else "refused",
                                generation)
            elif not job.state.finished:
                self._pending[job.id] = job
                self._model_of[job.id] = row.model_id
        self._update_progress(0.0)

    def cancel(self) -> None:
        """Stop this dialog's runs: queued ones never start, the running one stops at
        its next step."""
        for job in list(self._pending.values()):
            self.jobs.cancel(job)

    def busy(self) -> bool:
        return self._finished < self._total

    def _set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if not busy:
            self.state_label.setText(self._summary())

    def _summary(self) -> str:
        if not self._total:
            return ""
        failed = sum(1 for r in self.rows if r.error)
        timed = sum(1 for r in self.rows if r.seconds_per_image is not None)
        devices = sorted({r.device for r in self.rows if r.device})
        text = f"{timed} of {len(self.rows)} measured"
        if devices:
            text += f" on {', '.join(devices)}"
        return text + (f", {failed} failed" if failed else "")

    def _end_one(self, job: Any) -> None:
        if job is not None:
            self._pending.pop(job.id, None)
            self._model_of.pop(job.id, None)
        self._finished += 1
        self._mark_best()
        self._update_progress(0.0)
        if not self.busy():
            self._set_busy(False)
            self.measured.emit()

    def _update_progress(self, fraction: float) -> None:
        if self._total:
            self.progress.setValue(round(1000 * min(1.0, (self._finished + fraction) / self._total)))

    def _on_measured(self, job: Any, model_id: str, result: Any, generation: int) -> None:
        column = self.columns.get(model_id)
        if column is None or generation != self._generation:  # from an earlier measure
            return
        compare.record_timing(column.row, result)
        column.show_images(result.images)
        column.refresh_time()
        self._end_one(job)

    def _on_failed(self, job: Any, model_id: str, message: str, generation: int) -> None:
        column = self.columns.get(model_id)
        if column is None or generation != self._generation:
            return
        compare.record_error(column.row, message)
        column.show_error(column.row.error)
        self._end_one(job)

    def _on_bridge_job_started(self, job: Any) -> None:
        model_id = self._model_of.get(job.id)
        if model_id is not None:
            self.state_label.setText(f"Sampling {model_id}…")
            self.columns[model_id].show_state("sampling…")

    def _on_bridge_job_progressed(self, job: Any, fraction: float, _message: str) -> None:
        if job.id in self._model_of:
            self._update_progress(fraction)

    def _on_bridge_job_previewed(self, job: Any, images: Any) -> None:
        model_id = self._model_of.get(job.id)
        if model_id is not None and not job.state.finished and images is not None:
            self.columns[model_id].show_images(np.asarray(images), self.image_count)

    def _on_bridge_job_ended(self, job: Any) -> None:
        model_id = self._model_of.get(job.id)
        if model_id is None:
            return
        column = self.columns[model_id]
        column.images = None
        column.canvas.clear()
        column.show_state("cancelled")
        column.time.setText("cancelled")
        self._end_one(job)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A wheel over a grid scrolls the table (Ctrl+wheel still zooms the grid)."""
        if (event.type() == QEvent.Type.Wheel
                and not event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            QApplication.sendEvent(self.scroll.viewport(), event)
            return True
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel()
        super().closeEvent(event)

    def reject(self) -> None:  # Esc and Close
        self.cancel()
        super().reject()


def _set_bold(label: QLabel, bold: bool) -> None:
    font = QFont(label.font())
    font.setBold(bold)
    label.setFont(font)

