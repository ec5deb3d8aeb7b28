"""The GAN explorer's views: Seeds (the grid; pick A and B), Truncation & directions
(sliders that re-render the picked image live), Walk (a frame player) and Style mix
(the mixing matrix).

Views show results and report what the user does; the explorer (gan_explorer.py) turns
that into session changes and requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.requests import Result
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import SamplesView, caption

TRUNCATION_STEP = 0.01  # slider resolution of ψ
AMOUNT_STEP = 0.1  # slider resolution of a direction, in σ
AMOUNT_MAX = 4.0  # direction sliders run from −AMOUNT_MAX σ to +AMOUNT_MAX σ
MAX_NAME = 60  # a direction's name, as long as its row shows
LAYER_RANGES = ("coarse", "middle", "fine")
LAYER_RANGE_HELP = {
    "coarse": "Coarse styles (the first layers): pose, shape, layout",
    "middle": "Middle styles: features, parts",
    "fine": "Fine styles (the last layers): stroke, colour, texture",
}


def _set_quietly(widget: Any, value: Any) -> None:
    blocked = widget.blockSignals(True)
    widget.setValue(value)
    widget.blockSignals(blocked)


# -- seeds ---------------------------------------------------------------------------------
class SeedsView(SamplesView):
    """The seed grid: one image per seed; click picks A, shift-click picks B."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent,
                         placeholder="Press Generate (Ctrl+Enter) for a grid of seeds,\n"
                                     "or drop an image here to project it",
                         hint="Click an image to pick A · Shift+click to pick B · hover for "
                              "its seed · drop an image to project it into the model")
        self.interpolate_button.setToolTip("Render the walk from seed A to seed B "
                                           "(Walk tab) and play it")
        self.edit_button = QPushButton("Edit A")
        self.edit_button.setToolTip("Open the picked image in Truncation & directions")
        self.edit_button.setEnabled(False)
        self.project_button = QPushButton("Project Image…")
        self.project_button.setToolTip("Find your own image in the model's latent space, "
                                       "then edit it with the directions")
        self.buttons.insertWidget(0, self.edit_button)
        self.buttons.addWidget(self.project_button)
        # the direction edits the grid carries (the panel does not show them)
        self.edits_note = caption("")
        self.edits_note.setToolTip("Direction edits are set with the sliders of the "
                                   "Truncation & directions tab")
        self.edits_note.hide()
        self.layout().insertWidget(1, self.edits_note)

    def seed_of(self, index: int) -> int | None:
        """The seed of cell `index`, when the grid is a plain sample by seeds."""
        result = self.result
        if (result is None or result.request.op != "sample" or "latent" in result.request.inputs
                or not 0 <= index < result.count):
            return None
        return int(result.request.params["seed"]) + index

    def labels_of(self, result: Result) -> Sequence[str]:
        labels = super().labels_of(result)  # the model's own ("seed 7 · A"), else seeds
        if not labels and result.request.op == "sample" and "latent" not in result.request.inputs:
            first = int(result.request.params["seed"])
            return [f"seed {first + i}" for i in range(result.count)]
        return labels


# -- truncation & directions -----------------------------------------------------------------
class NameEdit(QLineEdit):
    """A direction's name, renamed in place: double-click it, press F2 on it, or
    right-click ▸ Rename; Enter (or leaving the field) keeps the new name, Esc the old.
    Between renames it reads as a label."""

    renamed = Signal(str)
    reset_requested = Signal()

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._before = text
        self.setMaxLength(MAX_NAME)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.returnPressed.connect(self._on_return_pressed)
        self._show_editing(False)

    @property
    def editing(self) -> bool:
        return not self.isReadOnly()

    def start_rename(self) -> None:
        self._before = self.text()
        self._show_editing(True)
        self.setFocus(Qt.FocusReason.OtherFocusReason)
        self.selectAll()

    def set_name(self, name: str) -> None:
        """Show `name` (the explorer's, after a rename, a load or a reset)."""
        self._before = name
        self.setText(name)
        self.setCursorPosition(0)

    def _show_editing(self, editing: bool) -> None:
        self.setReadOnly(not editing)
        self.setFrame(editing)
        # between renames no field shows: the name reads as the row's heading
        self.setStyleSheet("" if editing else "QLineEdit { background: transparent; border: none; }")
        self.setCursor(Qt.CursorShape.IBeamCursor if editing else Qt.CursorShape.ArrowCursor)

    def _finish(self, keep: bool) -> None:
        if not self.editing:
            return
        self._show_editing(False)
        name = self.text().strip()
        if not keep or not name or name == self._before:
            self.setText(self._before)  # Esc, or nothing left to name it by
        else:
            self.renamed.emit(name)
        self.setCursorPosition(0)

    def _on_return_pressed(self) -> None:
        self._finish(keep=True)

    def focusOutEvent(self, event) -> None:
        self._finish(keep=True)  # clicking elsewhere keeps the name typed, as Enter does
        super().focusOutEvent(event)

    def event(self, event) -> bool:
        # while renaming, Esc and Enter are the field's (not the window's Cancel); F2 too
        if event.type() == QEvent.Type.ShortcutOverride and event.modifiers() in (
                Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier):
            keys = ((Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter) if self.editing
                    else (Qt.Key.Key_F2,))
            if event.key() in keys:
                event.accept()
                return True
        return super().event(event)

    def mouseDoubleClickEvent(self, event) -> None:
        if not self.editing and event.button() == Qt.MouseButton.LeftButton:
            self.start_rename()
            event.accept()
        else:
            super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:
        if not self.editing and event.key() == Qt.Key.Key_F2:
            self.start_rename()
        elif self.editing and event.key() == Qt.Key.Key_Escape:
            self._finish(keep=False)
        else:
            super().keyPressEvent(event)

    def context_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Rename", self.start_rename)
        menu.addAction("Reset Amount and Layers", self.reset_requested.emit)
        return menu

    def _on_context_menu_requested(self, pos: QPoint) -> None:
        self.context_menu().popup(self.mapToGlobal(pos))


class DirectionRow(QFrame):
    """One direction: its name, an amount slider (σ) and the layers it edits."""

    amount_changed = Signal(float)
    layers_changed = Signal(int, int)
    renamed = Signal(str)
    reset_requested = Signal()

    def __init__(self, name: str, layers: tuple[int, int], sigma: float, layer_count: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("directionRow")
        self.sigma = sigma
        self.name = NameEdit(name)
        self.name.renamed.connect(self._on_name_renamed)
        self.name.reset_requested.connect(self.reset_requested)
        font = self.name.font()
        font.setBold(True)
        self.name.setFont(font)
        ticks = round(AMOUNT_MAX / AMOUNT_STEP)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-ticks, ticks)
        self.slider.setPageStep(5)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(ticks)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(48)
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.first, self.last = QSpinBox(), QSpinBox()
        for spin, which in ((self.first, "first"), (self.last, "last")):
            spin.setRange(0, max(0, layer_count - 1))
            spin.setKeyboardTracking(False)
            spin.setToolTip(f"The {which} synthesis layer this direction edits "
                            f"(0 = coarsest, {layer_count - 1} = finest)")
            spin.valueChanged.connect(self._on_spin_value_changed)
        top = QHBoxLayout()
        top.setSpacing(4)
        top.addWidget(self.name, 1)
        top.addWidget(QLabel("layers"))
        top.addWidget(self.first)
        top.addWidget(QLabel("–"))
        top.addWidget(self.last)
        bottom = QHBoxLayout()
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.value_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.set_layers(*layers)
        self._show_amount(0.0)
        self._update_tips()

    # -- values --------------------------------------------------------------------------------
    def amount(self) -> float:
        return round(self.slider.value() * AMOUNT_STEP, 6)

    def set_amount(self, amount: float) -> None:
        """Show `amount` without emitting."""
        _set_quietly(self.slider, round(amount / AMOUNT_STEP))
        self._show_amount(self.amount())

    def layers(self) -> tuple[int, int]:
        return self.first.value(), self.last.value()

    def set_layers(self, first: int, last: int) -> None:
        _set_quietly(self.first, first)
        _set_quietly(self.last, max(first, last))
        self._update_tips()

    def set_name(self, name: str) -> None:
        self.name.set_name(name)
        self._update_tips()

    def _on_name_renamed(self, name: str) -> None:
        self._update_tips()
        self.renamed.emit(name)

    def _show_amount(self, amount: float) -> None:
        self.value_label.setText(f"{amount:+.1f}σ")

    def _update_tips(self) -> None:
        first, last = self.layers()
        tip = (f"{self.name.text()}: layers {first}–{last} · σ = {self.sigma:g} · "
               "double-click the name (or F2) to rename it in place")
        self.name.setToolTip(tip)
        self.slider.setToolTip(f"Move along {self.name.text()} (−{AMOUNT_MAX:g}σ … "
                               f"+{AMOUNT_MAX:g}σ); the image re-renders as you drag")

    def _on_slider_value_changed(self, _value: int) -> None:
        self._show_amount(self.amount())
        self.amount_changed.emit(self.amount())

    def _on_spin_value_changed(self, _value: int) -> None:
        first, last = self.first.value(), self.last.value()
        if first > last:  # keep first ≤ last: the other end follows
            if self.sender() is self.first:
                _set_quietly(self.last, first)
            else:
                _set_quietly(self.first, last)
        self._update_tips()
        self.layers_changed.emit(*self.layers())


class EditView(QWidget):
    """The picked image (or the whole grid) with truncation and direction sliders."""

    truncation_moved = Signal(float)
    scope_changed = Signal(bool)  # True: the whole grid
    direction_moved = Signal(int, float)  # index, amount in σ
    layers_changed = Signal(int, int, int)  # index, first, last
    direction_renamed = Signal(int, str)  # index, the new name
    direction_reset_requested = Signal(int)
    reset_requested = Signal()
    save_requested = Signal()
    load_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.subject_label = caption("Generate a grid in Seeds, then pick an image to edit it")
        self.canvas = Canvas(placeholder="Pick an image in Seeds (or project one of yours)\n"
                                         "and move the sliders")
        # the busy mark of a live drag on a big model: a preview, or the last full frame
        # while the next one renders (the view never shows a stale frame as current)
        self.busy_label = caption("")
        self.busy_label.hide()
        left = QVBoxLayout()
        left.addWidget(self.subject_label)
        left.addWidget(self.busy_label)
        left.addWidget(self.canvas, 1)

        self._truncation_low, self._truncation_high = 0.0, 1.5
        self.truncation_slider = QSlider(Qt.Orientation.Horizontal)
        self.truncation_slider.setToolTip(
            "Truncation ψ: pulls every style towards the mean w. 0 gives the average "
            "image for every seed, 1 the full variety, above 1 exaggerates. Re-renders live.")
        self.truncation_slider.valueChanged.connect(self._on_truncation_slider_value_changed)
        self.truncation_label = QLabel("ψ 0.70")
        self.truncation_label.setMinimumWidth(52)
        self.whole_grid = QCheckBox("Whole grid")
        self.whole_grid.setToolTip("Re-render every seed of the grid, not just the picked one")
        self.whole_grid.toggled.connect(self.scope_changed)

        self.reset_button = QToolButton()
        self.reset_button.setText("Reset")
        self.reset_button.setToolTip("Every direction back to 0 and to its layers from the model card")
        self.reset_button.clicked.connect(self.reset_requested)
        self.save_button = QToolButton()
        self.save_button.setText("Save…")
        self.save_button.setToolTip("Save the directions' names and layer ranges to a file")
        self.save_button.clicked.connect(self.save_requested)
        self.load_button = QToolButton()
        self.load_button.setText("Load…")
        self.load_button.setToolTip("Load names and layer ranges saved for this model")
        self.load_button.clicked.connect(self.load_requested)
        # one action button, the panel's Generate: here it keeps the edit on screen
        self.keep_hint = caption("The sliders re-render at once; Generate (Ctrl+Enter) adds "
                                 "this edit to the History, with its recipe.")

        self.rows: list[DirectionRow] = []
        self._rows_box = QWidget()
        self._rows_layout = QVBoxLayout(self._rows_box)
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(0)
        self.no_directions = caption("This model's card lists no latent directions.")
        self.no_directions.hide()

        panel = QWidget()
        grid = QGridLayout(panel)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.addWidget(_heading("Truncation"), 0, 0, 1, 3)
        grid.addWidget(self.truncation_slider, 1, 0, 1, 2)
        grid.addWidget(self.truncation_label, 1, 2)
        grid.addWidget(self.whole_grid, 2, 0, 1, 3)
        header = QHBoxLayout()
        header.addWidget(_heading("Directions"), 1)
        for button in (self.reset_button, self.load_button, self.save_button):
            header.addWidget(button)
        grid.addLayout(header, 3, 0, 1, 3)
        grid.addWidget(self.no_directions, 4, 0, 1, 3)
        grid.addWidget(self._rows_box, 5, 0, 1, 3)
        grid.setRowStretch(6, 1)
        grid.addWidget(self.keep_hint, 7, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(320)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(left, 1)
        layout.addWidget(scroll)
        self.result: Result | None = None
        self.set_truncation_range(0.0, 1.5)

    # -- directions ---------------------------------------------------------------------------
    def set_directions(self, directions: Sequence[tuple[str, tuple[int, int], float]],
                       layer_count: int) -> None:
        """(name, (first, last), sigma) per direction; amounts start at 0."""
        same = (layer_count == getattr(self, "_layer_count", None)
                and [(r.name.text(), r.sigma) for r in self.rows]
                == [(name, sigma) for name, _layers, sigma in directions])
        self._layer_count = layer_count
        if same:  # back to a model shown before: reuse its rows (a rebuild took ~20 ms)
            for row, (_name, layers, _sigma) in zip(self.rows, directions):
                row.set_amount(0.0)
                row.set_layers(*layers)
            return
        for row in self.rows:
            row.hide()
            row.deleteLater()
        self.rows = []
        for index, (name, layers, sigma) in enumerate(directions):
            row = DirectionRow(name, layers, sigma, layer_count)
            row.amount_changed.connect(lambda amount, i=index: self.direction_moved.emit(i, amount))
            row.layers_changed.connect(lambda f, last, i=index: self.layers_changed.emit(i, f, last))
            row.renamed.connect(lambda name, i=index: self.direction_renamed.emit(i, name))
            row.reset_requested.connect(lambda i=index: self.direction_reset_requested.emit(i))
            self._rows_layout.addWidget(row)
            self.rows.append(row)
        self.no_directions.setVisible(not self.rows)
        for button in (self.reset_button, self.save_button, self.load_button):
            button.setEnabled(bool(self.rows))

    # -- truncation ---------------------------------------------------------------------------
    def set_truncation_range(self, low: float, high: float) -> None:
        self._truncation_low, self._truncation_high = low, high
        blocked = self.truncation_slider.blockSignals(True)
        self.truncation_slider.setRange(0, round((high - low) / TRUNCATION_STEP))
        self.truncation_slider.setPageStep(10)
        self.truncation_slider.blockSignals(blocked)

    def set_truncation_enabled(self, enabled: bool) -> None:
        """Off for a given w+ code (a projection): truncation only acts on seeds."""
        self.truncation_slider.setEnabled(enabled)
        self.truncation_label.setEnabled(enabled)

    def truncation(self) -> float:
        return round(self._truncation_low + self.truncation_slider.value() * TRUNCATION_STEP, 6)

    def set_truncation(self, psi: float) -> None:
        """Show ψ without emitting."""
        _set_quietly(self.truncation_slider, round((psi - self._truncation_low) / TRUNCATION_STEP))
        self.truncation_label.setText(f"ψ {self.truncation():.2f}")

    def _on_truncation_slider_value_changed(self, _value: int) -> None:
        self.truncation_label.setText(f"ψ {self.truncation():.2f}")
        self.truncation_moved.emit(self.truncation())

    # -- results -------------------------------------------------------------------------------
    def show_result(self, result: Result) -> None:
        self.result = result
        if result.request.op == "project":  # only the projection, not the target beside it
            self.canvas.set_images(result.images[-1:])
        else:
            self.canvas.set_images(result.images, result.columns, result.labels)

    def set_busy(self, busy: bool) -> None:
        """Mark the canvas as not yet the full frame of the sliders' values."""
        preview = self.result is not None and bool(self.result.extras.get("preview"))
        if busy:
            res = self.result.request.params.get("preview_resolution") if preview else None
            self.busy_label.setText(f"⏳ preview at {res} px, upscaled · the full frame follows "
                                    "when the slider rests" if preview
                                    else "⏳ rendering the full frame… (the last one is shown)")
        self.busy_label.setVisible(busy)

    def clear(self) -> None:
        self.result = None
        self.canvas.clear()


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


# -- walk ---------------------------------------------------------------------------------------
class WalkView(QWidget):
    """Plays a walk's (or an interpolation's) frames on a timer: play/stop, speed, repeat."""

    export_requested = Signal()
    frame_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption("Generate renders a looping walk through random seeds; Space "
                               "plays or stops it. Export it as GIF or WebP with its recipe.")
        self.canvas = Canvas(placeholder="Press Generate (Ctrl+Enter) to render a walk")
        self.play_button = QToolButton()
        self.play_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.play_button.clicked.connect(self.toggle)
        self.frame_slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_slider.setToolTip("Scrub through the frames (stops playback)")
        self.frame_slider.setEnabled(False)
        self.frame_slider.valueChanged.connect(self._on_frame_slider_value_changed)
        self.frame_label = QLabel("0 / 0")
        self.frame_label.setMinimumWidth(64)
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(12)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Playback speed, in frames per second (also the exported animation's)")
        self.fps.valueChanged.connect(self._on_fps_value_changed)
        self.repeat = QCheckBox("Repeat")
        self.repeat.setChecked(True)
        self.repeat.setToolTip("Start again at the first frame after the last")
        self.export_button = QPushButton("Export…")
        self.export_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton))
        self.export_button.setToolTip("Save the frames as GIF or WebP, with a JSON sidecar "
                                      "holding the recipe (Ctrl+Shift+E)")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_requested)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.frame_slider, 1)
        controls.addWidget(self.frame_label)
        controls.addWidget(self.fps)
        controls.addWidget(self.repeat)
        controls.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(controls)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        self.space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.space.activated.connect(self.toggle)
        self.result: Result | None = None
        self.frame = 0
        self._update_play_button()
        self.play_button.setEnabled(False)

    @property
    def selection(self) -> list[int]:
        """The frame shown: what Export PNG and Copy take."""
        return [self.frame] if self.result is not None else []

    def show_result(self, result: Result) -> None:
        self.result = result
        self.frame_slider.setEnabled(True)
        _set_quietly(self.frame_slider, 0)
        self.frame_slider.setRange(0, result.count - 1)
        self.play_button.setEnabled(True)
        self.export_button.setEnabled(True)
        what = "A walk" if result.request.op == "walk" else "An interpolation"
        self.caption.setText(f"{what} of {result.count} frames · Space plays or stops it · "
                             "drag the slider to scrub · Export writes GIF or WebP with its recipe")
        self.show_frame(0)
        self.play()

    def clear(self) -> None:
        self.stop()
        self.result = None
        self.frame = 0
        self.canvas.clear()
        self.frame_slider.setEnabled(False)
        self.play_button.setEnabled(False)
        self.export_button.setEnabled(False)
        self.frame_label.setText("0 / 0")

    def show_frame(self, index: int) -> None:
        if self.result is None:
            return
        self.frame = index % self.result.count
        self.canvas.set_image(self.result.images[self.frame])
        _set_quietly(self.frame_slider, self.frame)
        self.frame_label.setText(f"{self.frame + 1} / {self.result.count}")
        self.frame_changed.emit(self.frame)

    # -- playback ----------------------------------------------------------------------------
    def is_playing(self) -> bool:
        return self.timer.isActive()

    def play(self) -> None:
        if self.result is None or self.result.count < 2:
            return
        if not self.repeat.isChecked() and self.frame == self.result.count - 1:
            self.show_frame(0)  # at the end of a one-shot play: from the start again
        self.timer.start(round(1000 / self.fps.value()))
        self._update_play_button()

    def stop(self) -> None:
        self.timer.stop()
        self._update_play_button()

    def toggle(self) -> None:
        if self.is_playing():
            self.stop()
        else:
            self.play()

    def _update_play_button(self) -> None:
        playing = self.is_playing()
        icon = QStyle.StandardPixmap.SP_MediaStop if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Stop" if playing else "Play")
        self.play_button.setToolTip("Stop the walk (Space)" if playing else "Play the walk (Space)")

    def _on_timer_timeout(self) -> None:
        if self.result is None:
            self.stop()
            return
        last = self.frame + 1 >= self.result.count
        if last and not self.repeat.isChecked():
            self.stop()
            return
        self.show_frame(self.frame + 1)

    def _on_fps_value_changed(self, fps: int) -> None:
        if self.is_playing():
            self.timer.setInterval(round(1000 / fps))

    def _on_frame_slider_value_changed(self, value: int) -> None:
        self.stop()
        self.show_frame(value)


# -- style mix --------------------------------------------------------------------------------
class MixView(QWidget):
    """The style-mixing matrix: the first row shows the column seeds, the first column
    the row seeds; each cell keeps its row's styles and takes its column's chosen layers."""

    seeds_edited = Signal(str, str)  # row seeds, column seeds
    layers_chosen = Signal(str)  # coarse | middle | fine

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption("Rows keep their seed's styles; each column gives its seed's "
                               "chosen layers. Press Generate (Ctrl+Enter) for the matrix.")
        self.rows_edit = QLineEdit()
        self.rows_edit.setToolTip("Row seeds, comma-separated: each row keeps this seed's styles")
        self.columns_edit = QLineEdit()
        self.columns_edit.setToolTip("Column seeds, comma-separated: each column gives this "
                                     "seed's chosen layers")
        for edit in (self.rows_edit, self.columns_edit):
            edit.editingFinished.connect(self._on_seeds_editing_finished)
        self.layer_buttons: dict[str, QToolButton] = {}
        self.layer_group = QButtonGroup(self)
        self.layer_group.setExclusive(True)
        for name in LAYER_RANGES:
            button = QToolButton()
            button.setText(name.capitalize())
            button.setCheckable(True)
            button.setObjectName("segment")
            button.setToolTip(f"Take the column seed's {LAYER_RANGE_HELP[name].lower()}")
            button.clicked.connect(lambda _=False, n=name: self.layers_chosen.emit(n))
            self.layer_group.addButton(button)
            self.layer_buttons[name] = button
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Rows"))
        controls.addWidget(self.rows_edit, 1)
        controls.addWidget(QLabel("Columns"))
        controls.addWidget(self.columns_edit, 1)
        controls.addSpacing(8)
        controls.addWidget(QLabel("Styles taken"))
        for button in self.layer_buttons.values():
            controls.addWidget(button)
        self.canvas = Canvas(placeholder="Press Generate (Ctrl+Enter) for the style-mixing matrix")
        self.canvas.cell_clicked.connect(self._on_canvas_cell_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)
        self.result: Result | None = None
        self.selection: list[int] = []

    def set_layer_ranges(self, ranges: dict[str, Any]) -> None:
        """The card's coarse / middle / fine ranges ([first, last]) for the tooltips."""
        for name, button in self.layer_buttons.items():
            span = ranges.get(name)
            where = f" (layers {span[0]}–{span[1]})" if span else ""
            button.setToolTip(f"Take the column seed's {LAYER_RANGE_HELP[name].lower()}{where}")

    def set_values(self, row_seeds: str, column_seeds: str, layers: str) -> None:
        """Show the session's values without emitting."""
        self.rows_edit.setText(row_seeds)
        self.columns_edit.setText(column_seeds)
        if layers in self.layer_buttons:
            self.layer_buttons[layers].setChecked(True)

    def show_result(self, result: Result) -> None:
        self.result = result
        self.selection = []
        self.canvas.set_images(result.images, result.columns, result.labels)
        params = result.request.params
        rows = [s.strip() for s in str(params.get("row_seeds", "")).split(",") if s.strip()]
        self.canvas.set_row_labels(["", *rows] if result.count > len(rows) else rows)
        layers = result.extras.get("layers")
        span = f" (layers {layers[0]}–{layers[1]})" if layers is not None else ""
        self.caption.setText(f"First row: the column seeds · first column: the row seeds · "
                             f"each cell takes its column's {params.get('layers', '')} styles"
                             f"{span}. Hover a cell for its seeds.")

    def clear(self) -> None:
        self.result = None
        self.selection = []
        self.canvas.clear()

    def _on_seeds_editing_finished(self) -> None:
        self.seeds_edited.emit(self.rows_edit.text(), self.columns_edit.text())

    def _on_canvas_cell_clicked(self, index: int, _modifiers: Any) -> None:
        self.selection = [index]
        self.canvas.set_selection(self.selection)

