"""The diffusion explorer's views: Generate (the grid, with a step counter while the
steps run), Inpaint & img2img (the source with its mask, and the results), Timeline
(a step's frame, the filmstrip with its scrub slider, and forks side by side).

Views only show and report: the explorer turns what they report into requests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QButtonGroup,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.requests import Result
from studio.ui import images as imgs
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import button, caption, counter_label
from studio.ui.flow_layout import FlowLayout
from studio.ui.views.live_runs import LiveSamplesView
from studio.ui.views.mask_canvas import MaskPaintView

MAX_STRIP = 60
FORK_TIP = ("Run the branch (Fork group in Parameters: branch seed, guidance, class or prompt) "
            "from the shown step (Ctrl+Enter: from the panel's Fork at step)")  # filmstrip columns at most; longer runs show every few steps


STEP_TIP = "The denoising step the running job has reached (Esc cancels it)"


def step_label() -> QLabel:
    return counter_label(STEP_TIP)


# -- Generate -------------------------------------------------------------------------------------
class GenerateView(LiveSamplesView):
    """The sample grid; the predicted x0 of every image grows in it as the steps run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, placeholder="Press Generate (Ctrl+Enter) to sample: the "
                                             "predicted image appears step by step",
                         hint="Click an image to pick it: it becomes the Inpaint & img2img "
                              "source and the Timeline's subject · Esc stops a run")
        self.interpolate_button.hide()  # seed interpolation takes its seeds from the panel
        self.paint_button = button("Inpaint / img2img…", "Paint a mask on the picked image "
                                   "(Inpaint & img2img tab)")
        self.timeline_button = button("Timeline…", "Scrub through the picked image's steps "
                                      "and fork from one (Timeline tab)")
        self.add_actions((self.paint_button, self.timeline_button), STEP_TIP)


# -- Inpaint & img2img ----------------------------------------------------------------------------
class PaintView(MaskPaintView):
    """The source with its mask (left) and the results of inpaint / img2img (right)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            parent,
            then="Generate runs Inpaint or Image to image (choose it in Parameters)",
            picked_in="Generate",
            results_placeholder="Inpaint or img2img results appear here",
            use_result_tip="Take the picked result (or the first) as the new source, keeping "
                           "the mask: inpaint again",
            counter_tip=STEP_TIP)


# -- Timeline --------------------------------------------------------------------------------------
class TimelineView(QWidget):
    """Step k of the subject (its predicted x0 or x_t) big, the filmstrip of all its steps
    under it with the scrub slider, and the forks beside it: original, branch 1, 2, …"""

    branch_clicked = Signal(int)  # a cell of the comparison: show its steps
    step_chosen = Signal(int)  # the slider moved to step k (1 … n): show it, no model call
    fork_requested = Signal(int)  # fork from step k
    export_requested = Signal()  # the branches as a contact sheet
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = Canvas(placeholder="Generate a sample first: its steps appear here to "
                                         "scrub through and fork from")
        self.branches = Canvas(placeholder="Fork from a step to compare branches here: "
                                           "the original, then each branch")
        self.strip = Canvas()
        self.strip.setMinimumHeight(110)
        self.strip.setMaximumHeight(170)
        self.strip.make_strip()
        self.strip.cell_clicked.connect(self._on_strip_cell_clicked)
        self.branches.cell_clicked.connect(lambda index, _mods: self.branch_clicked.emit(index))
        self.caption = caption("Scrub the steps of the picked sample (no model runs); "
                               "fork from the shown step with the branch settings of the "
                               "Fork group in Parameters; click a branch to see its steps")
        self.subject_label = QLabel("")
        self.subject_label.setToolTip("The image whose steps are shown (pick another in Generate)")
        self.show_x0 = QRadioButton("Predicted x0")
        self.show_x0.setToolTip("Show the clean image the model predicts at this step")
        self.show_xt = QRadioButton("x_t")
        self.show_xt.setToolTip("Show the noisy image x_t the sampler holds after this step")
        self.show_x0.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.show_x0)
        group.addButton(self.show_xt)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, 1)
        self.slider.setEnabled(False)
        self.slider.setPageStep(5)
        self.slider.setToolTip("Scrub through the steps (←/→ one step, PgUp/PgDn five)")
        self.step_text = QLabel("step –")
        self.step_text.setMinimumWidth(80)
        self.step_text.setToolTip("The step shown: k of n denoising steps done")
        self.fork_button = button("Fork from step –", FORK_TIP)
        self.fork_button.setEnabled(False)
        self.export_button = button("Export branches…", "Save the original and its branches "
                                    "side by side as a contact sheet, with the recipe")
        self.export_button.setEnabled(False)
        self.clear_button = button("Clear branches", "Forget the branches compared so far")
        self.clear_button.setEnabled(False)
        self.step = step_label()

        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.subject_label)
        top.addWidget(self.step)
        self.branch_names = caption("")
        self.branch_names.setToolTip("What each image of the comparison is, left to right")
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.branches, 1)
        side_layout.addWidget(self.branch_names)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.canvas)
        split.addWidget(side)
        split.setSizes([400, 600])
        controls = QHBoxLayout()
        controls.addWidget(self.show_x0)
        controls.addWidget(self.show_xt)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.step_text)
        # the branch buttons on a line of their own that wraps: beside the slider they
        # held the window wider than a 1024-px screen
        branching = FlowLayout(spacing=6)
        for widget in (self.fork_button, self.export_button, self.clear_button):
            branching.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.strip)
        layout.addLayout(controls)
        layout.addLayout(branching)

        self.x0: np.ndarray | None = None  # (n, H, W, C) frames of the subject
        self.xt: np.ndarray | None = None
        self.steps = 0
        self.columns: list[int] = []  # filmstrip column → frame index
        self.result: Result | None = None  # the comparison (original + branches)
        self.selection: list[int] = []
        self._marker = QGraphicsRectItem()
        pen = QPen(QColor("#ff9f43"), 2.5)
        pen.setCosmetic(True)
        self._marker.setPen(pen)
        self._marker.setZValue(3)
        self._marker.hide()
        self.strip.scene().addItem(self._marker)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.show_x0.toggled.connect(lambda _on: self.show_step(self.slider.value()))
        self.fork_button.clicked.connect(lambda: self.fork_requested.emit(self.slider.value()))
        self.export_button.clicked.connect(self.export_requested)
        self.clear_button.clicked.connect(self.clear_requested)

    # -- the subject's frames ------------------------------------------------------------
    def set_frames(self, timeline: dict[str, Any] | None, subject: str, can_fork: bool,
                   why_not: str = "") -> None:
        """Show a timeline's frames; `why_not` says why Fork is off (when it is)."""
        x0 = None if timeline is None else np.asarray(timeline.get("x0"))
        if x0 is None or x0.ndim != 4 or not len(x0):
            self.x0 = self.xt = None
            self.steps = 0
            self.columns = []
            self.strip.clear()
            self.canvas.clear()
            self._marker.hide()
            self.slider.setEnabled(False)
            self.fork_button.setEnabled(False)
            self.fork_button.setText("Fork from step –")  # no step of another model's run
            self.step_text.setText("step –")
            self.step.setText("")  # nor its run's counter
            self.subject_label.setText(subject)
            return
        xt = np.asarray(timeline.get("xt"))
        self.x0, self.xt = x0, xt if xt.shape == x0.shape else x0
        self.steps = int(timeline.get("steps") or len(x0))
        # img2img runs only its last steps: frame i is step steps - len(x0) + i + 1
        stride = max(1, -(-len(x0) // MAX_STRIP))
        self.columns = list(range(0, len(x0), stride))
        if self.columns[-1] != len(x0) - 1:
            self.columns.append(len(x0) - 1)
        strip = np.concatenate([self.xt[self.columns], self.x0[self.columns]])
        self.strip.set_images(strip, len(self.columns))
        self.strip.set_row_labels(["x_t", "x0"])
        self.subject_label.setText(subject)
        first = self.steps - len(x0) + 1
        self.slider.blockSignals(True)
        self.slider.setRange(first, self.steps)
        self.slider.setValue(self.steps)
        self.slider.blockSignals(False)
        self.slider.setEnabled(True)
        self.fork_button.setEnabled(can_fork)
        self.fork_button.setToolTip(FORK_TIP if can_fork else why_not or FORK_TIP)
        self.show_step(self.steps)

    def frame(self, k: int) -> np.ndarray | None:
        """The frame after step k (1 … n) in the chosen row."""
        if self.x0 is None:
            return None
        index = k - (self.steps - len(self.x0)) - 1
        if not 0 <= index < len(self.x0):
            return None
        return (self.x0 if self.show_x0.isChecked() else self.xt)[index]

    def show_step(self, k: int) -> None:
        image = self.frame(k)
        if image is None:
            return
        self.canvas.set_image(image)
        self.step_text.setText(f"step {k}/{self.steps}")
        self.fork_button.setText(f"Fork from step {k}")
        self._mark(k - (self.steps - len(self.x0)) - 1)

    def _mark(self, index: int) -> None:
        column = min(range(len(self.columns)), key=lambda c: abs(self.columns[c] - index))
        cell = imgs.cell_rect(column, 2 * len(self.columns), len(self.columns), self.strip._cell)
        x, y, w, h = cell
        gap = imgs.GRID_GAP
        self._marker.setRect(QRectF(x - 1, y - 1, w + 2, 2 * h + gap + 2))
        self._marker.show()
        self.strip.keep_in_view(self._marker.rect())  # the strip scrolls to the step

    def _on_slider_value_changed(self, k: int) -> None:
        self.show_step(k)
        self.step_chosen.emit(k)

    def _on_strip_cell_clicked(self, cell: int, _modifiers: Any) -> None:
        if not self.columns:
            return
        index = self.columns[cell % len(self.columns)]
        self.slider.setValue(index + (self.steps - len(self.x0)) + 1)

    # -- branches --------------------------------------------------------------------------
    def show_branches(self, result: Result | None) -> None:
        self.result = result
        self.selection = []
        if result is None:
            self.branches.clear()
            self.branch_names.setText("")
        else:
            self.branches.set_images(result.images, result.columns, result.labels)
            self.branch_names.setText("  ·  ".join(f"{i + 1}. {label}"
                                                  for i, label in enumerate(result.labels)))
        self.export_button.setEnabled(result is not None)
        self.clear_button.setEnabled(result is not None)

    def show_result(self, result: Result) -> None:  # the explorer composes the comparison
        self.show_branches(result)

    def show_previews(self, images: np.ndarray) -> None:
        shown = [] if self.result is None else list(self.result.images)
        preview = np.asarray(images)[:1]
        if shown and shown[0].shape != preview[0].shape:
            shown = []
        self.branches.set_images(imgs.pad_grid(np.stack(shown + [preview[0]]), len(shown) + 1)
                                 if shown else preview, len(shown) + 1)

    def restore(self) -> None:
        self.show_branches(self.result)

    def clear(self) -> None:
        self.set_frames(None, "", False)
        self.show_branches(None)
