"""The projection dialog: pick (or drop) an image, run the GAN's `project` op with a
progress bar and intermediate images, cancel it midway if you like.

The dialog only shows and asks; the GAN explorer submits the job (through the window, so
it is a normal user-visible job: the status bar follows it, Esc cancels it, the History
keeps the result) and hands it to `track`. The dialog then follows that job's events
from the bridge.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from studio.ui.bridge import EngineBridge
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import caption


class ProjectionDialog(QDialog):
    choose_requested = Signal()  # the user wants to pick an image file
    files_dropped = Signal(object)  # [path, ...]
    start_requested = Signal(int)  # steps
    cancel_requested = Signal()

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Project an Image")
        self.setModal(False)
        self.job: Any = None
        self.state = "idle"  # idle → running → done | cancelled | failed
        self.target = Canvas(placeholder="Drop an image here\nor Choose Image…")
        self.target.setFixedSize(200, 200)
        self.target.setToolTip("The image to find in the model: drop a file here")
        self.target.files_dropped.connect(self.files_dropped)
        self.preview = Canvas(placeholder="The projection appears here\nas it improves")
        self.preview.setFixedSize(200, 200)
        self.preview.setToolTip("The model's closest image so far")
        self.choose_button = QPushButton("Choose Image…")
        self.choose_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton))
        self.choose_button.setToolTip("Pick an image file to project")
        self.choose_button.clicked.connect(self.choose_requested)
        self.steps = QSpinBox()
        self.steps.setRange(10, 2000)
        self.steps.setSingleStep(10)
        self.steps.setSuffix(" steps")
        self.steps.setToolTip("Optimisation steps: more is closer and slower")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setToolTip("How far the optimisation is")
        self.status = caption("Pick an image, then press Project.")
        self.start_button = QPushButton("Project")
        self.start_button.setObjectName("primary")
        self.start_button.setToolTip("Find the w+ code whose image is closest to yours")
        self.start_button.setEnabled(False)
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the projection; nothing is kept (Esc)")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)

        images = QGridLayout()
        for column, (title, canvas) in enumerate((("Your image", self.target),
                                                  ("Projection", self.preview))):
            label = QLabel(f"<b>{title}</b>")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            images.addWidget(label, 0, column)
            images.addWidget(canvas, 1, column)
        options = QHBoxLayout()
        options.addWidget(self.choose_button)
        options.addStretch(1)
        options.addWidget(QLabel("Optimise for"))
        options.addWidget(self.steps)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.start_button)
        layout = QVBoxLayout(self)
        layout.addLayout(images)
        layout.addLayout(options)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        bridge.job_progressed.connect(self._on_bridge_job_progressed)
        bridge.job_previewed.connect(self._on_bridge_job_previewed)
        bridge.job_finished.connect(self._on_bridge_job_finished)
        bridge.job_failed.connect(self._on_bridge_job_failed)
        bridge.job_cancelled.connect(self._on_bridge_job_cancelled)
        self.image: np.ndarray | None = None
        self._update_buttons()

    # -- what the explorer tells it -----------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        self.image = image
        self.target.set_image(image)
        self.preview.clear()
        self.progress.setValue(0)
        self.start_button.setEnabled(self.state != "running")
        if self.state != "running":
            self.status.setText("Press Project to find this image in the model.")

    def reset(self) -> None:
        """No image, nothing running (another model was picked)."""
        self.image = None
        self.job = None
        self.state = "idle"
        self.target.clear()
        self.preview.clear()
        self.progress.setValue(0)
        self.status.setText("Pick an image, then press Project.")
        self._update_buttons()

    def track(self, job: Any) -> None:
        """Follow the job that runs the projection."""
        self.job = job
        self.state = "running"
        self.progress.setValue(0)
        self.status.setText("Projecting…")
        self._update_buttons()

    def show_error(self, text: str) -> None:
        self.status.setText(text)

    def running(self) -> bool:
        return self.state == "running"

    # -- the user ------------------------------------------------------------------------------
    def _on_start_button_clicked(self) -> None:
        if self.image is not None and not self.running():
            self.start_requested.emit(self.steps.value())

    def _on_cancel_button_clicked(self) -> None:
        if self.running():
            self.status.setText("Cancelling…")
            self.cancel_requested.emit()
        else:
            self.reject()

    def reject(self) -> None:
        """Esc or the window's close button: a running projection is cancelled first."""
        if self.running():
            self.cancel_requested.emit()
        super().reject()

    def _update_buttons(self) -> None:
        running = self.running()
        self.start_button.setEnabled(not running and self.image is not None)
        self.choose_button.setEnabled(not running)
        self.steps.setEnabled(not running)
        self.cancel_button.setText("Cancel" if running else "Close")
        self.cancel_button.setToolTip("Stop the projection; nothing is kept (Esc)" if running
                                      else "Close this dialog")

    # -- the job's events -----------------------------------------------------------------------
    def _mine(self, job: Any) -> bool:
        return self.job is not None and job.id == self.job.id

    def _on_bridge_job_progressed(self, job: Any, fraction: float, message: str) -> None:
        if self._mine(job) and self.running():
            self.progress.setValue(round(fraction * 1000))
            if message:
                self.status.setText(f"Projecting… {message}")

    def _on_bridge_job_previewed(self, job: Any, images: Any) -> None:
        if self._mine(job) and self.running():
            self.preview.set_image(np.asarray(images)[-1])

    def _on_bridge_job_finished(self, job: Any, result: Any) -> None:
        if not self._mine(job):
            return
        self.state = "done"
        self.progress.setValue(1000)
        self.preview.set_image(result.images[-1])
        loss = result.extras.get("loss")
        self.status.setText("Done" + (f": loss {loss:.4f}" if loss is not None else "")
                            + ". It is now the image in Truncation & directions.")
        self._update_buttons()
        self.accept()

    def _on_bridge_job_failed(self, job: Any, message: str) -> None:
        if self._mine(job):
            self.state = "failed"
            self.status.setText(f"Projection failed: {message}")
            self._update_buttons()

    def _on_bridge_job_cancelled(self, job: Any) -> None:
        if self._mine(job):
            self.state = "cancelled"
            self.status.setText("Cancelled: nothing was kept. Press Project to start again.")
            self._update_buttons()
