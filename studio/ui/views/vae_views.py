"""The VAE explorer's views: Samples (pick A and B), Interpolate (endpoints, the frame
strip and the scrub slider), Traverse (the direction grid) and Map (the latent map).

Views only show results and report what the user does; the explorer (vae_explorer.py)
turns that into session changes and requests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.core import latent as latent_math
from studio.core.requests import Result
from studio.ui import images as imgs
from studio.ui.canvas import SELECTION_COLORS, Canvas, local_files
from studio.ui.explorers.base import SamplesView, caption

__all__ = ["InterpolateView", "MapView", "SamplesView", "TraverseView"]

SCRUB_STEPS = 1000  # slider resolution


_caption = caption  # the views below call it by its old name


# -- interpolate ---------------------------------------------------------------------------
class EndpointWell(QLabel):
    """A small preview of an interpolation endpoint; image files can be dropped on it."""

    files_dropped = Signal(object)  # [path, ...]

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setObjectName("endpoint")
        self.setFixedSize(QSize(96, 96))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAcceptDrops(True)
        self.setToolTip(f"Endpoint {name}: drop an image file here, or pick a sample")
        self.clear_image()

    def set_image(self, image: np.ndarray) -> None:
        pixmap = imgs.to_pixmap(image).scaled(
            90, 90, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
        self.setPixmap(pixmap)

    def clear_image(self) -> None:
        self.setPixmap(QPixmap())
        self.setText(f"{self.name}\n(seed)")

    def has_image(self) -> bool:
        return not self.pixmap().isNull()

    def dragEnterEvent(self, event) -> None:
        if local_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = local_files(event.mimeData())
        if files:
            self.files_dropped.emit(files[:1])
            event.acceptProposedAction()


class InterpolateView(QWidget):
    scrub_moved = Signal(float)  # t in 0..1
    endpoint_files_dropped = Signal(object, str)  # paths, "a" | "b"
    use_picked_requested = Signal(str)  # "a" | "b"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wells = {side: EndpointWell(side.upper()) for side in "ab"}
        self.use_buttons = {}
        ends = {}
        for side, well in self.wells.items():
            well.files_dropped.connect(lambda files, s=side: self.endpoint_files_dropped.emit(files, s))
            button = QPushButton("Use picked")
            button.setToolTip(f"Use the image picked as {side.upper()} in Samples "
                              "(click, shift+click)")
            button.clicked.connect(lambda _=False, s=side: self.use_picked_requested.emit(s))
            self.use_buttons[side] = button
            column = QVBoxLayout()
            tag = QLabel(f"<b style='color:{SELECTION_COLORS['ab'.index(side)].name()}'>"
                         f"{side.upper()}</b>")
            tag.setAlignment(Qt.AlignmentFlag.AlignCenter)
            column.addWidget(tag)
            column.addWidget(well, 0, Qt.AlignmentFlag.AlignCenter)
            column.addWidget(button)
            ends[side] = column
        self.strip = Canvas(placeholder="Generate to render the frames from A to B")
        self.strip.setFixedHeight(120)
        self.strip.make_strip()
        self.strip.setToolTip("The frames of the interpolation; click one to jump to it")
        self.strip.cell_clicked.connect(self._on_strip_cell_clicked)
        top = QHBoxLayout()
        top.addLayout(ends["a"])
        top.addWidget(self.strip, 1)
        top.addLayout(ends["b"])

        self.preview = Canvas(placeholder="Pick A and B (or use the seed's two samples),\n"
                                          "then drag the slider to scrub")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SCRUB_STEPS)
        self.slider.setPageStep(SCRUB_STEPS // 8)
        self.slider.setSingleStep(SCRUB_STEPS // 50)
        self.slider.setToolTip("Scrub from A to B: every position decodes live")
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.t_label = QLabel("t = 0.00")
        self.t_label.setMinimumWidth(64)
        scrub = QHBoxLayout()
        scrub.addWidget(QLabel("A"))
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(QLabel("B"))
        scrub.addWidget(self.t_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.preview, 1)
        layout.addLayout(scrub)
        self.result: Result | None = None

    def t(self) -> float:
        return self.slider.value() / SCRUB_STEPS

    def show_result(self, result: Result) -> None:
        self.result = result
        self.strip.set_images(result.images, result.count)
        self.slider.setEnabled(True)
        self._show_nearest_frame()
        # a restored interpolation (history, a recipe) shows its ends: its first and last
        # frames are A and B decoded; ends the user set are kept
        if result.count >= 2:
            for side, index in (("a", 0), ("b", result.count - 1)):
                if not self.wells[side].has_image():
                    self.wells[side].set_image(result.images[index])

    def _show_nearest_frame(self) -> None:
        if self.result is not None:
            index = round(self.t() * (self.result.count - 1))
            self.preview.set_image(self.result.images[index])
            self.strip.set_selection([index])

    def clear(self) -> None:
        self.result = None
        self.strip.clear()
        self.preview.clear()
        for well in self.wells.values():
            well.clear_image()

    def _on_slider_value_changed(self, value: int) -> None:
        self.t_label.setText(f"t = {value / SCRUB_STEPS:.2f}")
        self.scrub_moved.emit(value / SCRUB_STEPS)

    def _on_strip_cell_clicked(self, index: int, _modifiers: Any) -> None:
        if self.result is not None and self.result.count > 1:
            self.slider.setValue(round(index / (self.result.count - 1) * SCRUB_STEPS))


# -- traverse and map ------------------------------------------------------------------------
class TraverseView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = _caption("Rows: principal directions · columns: −extent … +extent. "
                                "Centred on the picked sample A, else on the seed's first sample.")
        self.canvas = Canvas(placeholder="Generate to walk the principal directions")
        self.canvas.cell_clicked.connect(self._on_canvas_cell_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)
        self.result: Result | None = None
        self.selection: list[int] = []

    def show_result(self, result: Result) -> None:
        self.result = result
        self.selection = []
        self.canvas.set_images(result.images, result.columns, result.labels)
        params = result.request.params
        rows = result.count // max(1, result.columns or 1)
        first = int(params.get("first_direction", 0))
        directions = list(result.extras.get("directions") or range(first, first + rows))[:rows]
        self.canvas.set_row_labels([f"PC {d}" for d in directions])
        extent = float(result.extras.get("extent", params.get("extent", 0)))
        if directions:
            self.caption.setText(f"Rows: principal directions {directions[0]}–{directions[-1]} · "
                                 f"columns: −{extent:g}σ … +{extent:g}σ. Hover a cell for its value.")

    def clear(self) -> None:
        self.result = None
        self.canvas.clear()

    def _on_canvas_cell_clicked(self, index: int, _modifiers: Any) -> None:
        self.selection = [index]
        self.canvas.set_selection(self.selection)


class MapView(QWidget):
    point_moved = Signal(float, float)  # u, v in σ

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = Canvas(placeholder="Generate to map two principal directions,\n"
                                         "then click or drag on the map")
        self.canvas.set_point_mode(True)
        self.canvas.setToolTip("Click to decode a point; drag to scrub across the map")
        self.canvas.point_pressed.connect(self._on_canvas_point_pressed)
        self.canvas.point_dragged.connect(self._on_canvas_point_pressed)
        self.preview = Canvas(placeholder="Click the map")
        self.preview.setMinimumWidth(170)
        self.point_label = _caption("")
        self.preview.setFixedHeight(220)
        side = QVBoxLayout()
        side.setContentsMargins(6, 0, 0, 0)
        side.addWidget(_caption("Decoded point"))
        side.addWidget(self.preview)
        side.addWidget(self.point_label)
        side.addStretch(1)
        side_box = QWidget()
        side_box.setLayout(side)
        side_box.setFixedWidth(190)  # narrow enough that the window fits 1024 px with its docks
        self.caption = caption = _caption("Click a point to decode it; drag to scrub across "
                                          "the map. x and y are principal directions, in σ.")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(caption, 0, 0, 1, 2)
        layout.addWidget(self.canvas, 1, 0)
        layout.addWidget(side_box, 1, 1)
        layout.setColumnStretch(0, 1)
        layout.setRowStretch(1, 1)
        self.result: Result | None = None
        self.point: tuple[float, float] | None = None

    def show_result(self, result: Result) -> None:
        self.result = result
        self.canvas.set_images(result.images, result.columns)
        self.canvas.clear_marker()
        self.preview.clear()
        self.point_label.setText("")
        params = result.request.params
        if "direction_x" in params:
            extent = result.extras.get("extent", params.get("extent", 0))
            self.caption.setText(
                f"x → principal direction {params['direction_x']} · y ↑ direction "
                f"{params['direction_y']} · ±{extent:g}σ. Click to decode a point; drag to scrub.")

    def clear(self) -> None:
        self.result = None
        self.canvas.clear()
        self.preview.clear()

    def uv_at(self, x_frac: float, y_frac: float) -> tuple[float, float]:
        """Map coordinates (σ) of a point of the map image: column 0 is −extent on x,
        row 0 (top) is +extent on y, cell centres fall on the grid's values."""
        assert self.result is not None
        size = int(self.result.extras.get("size", self.result.columns))
        extent = float(self.result.extras["extent"])
        col, row = self.canvas.grid_position(x_frac, y_frac)
        col = min(size - 0.5, max(-0.5, col))
        row = min(size - 0.5, max(-0.5, row))
        step = 2 * extent / max(1, size - 1)
        return -extent + col * step, extent - row * step

    def latent_at(self, u: float, v: float) -> np.ndarray:
        assert self.result is not None
        extras = self.result.extras
        return latent_math.grid_point(extras["center"], extras["axis_x"], extras["axis_y"], u, v)

    def _on_canvas_point_pressed(self, x_frac: float, y_frac: float) -> None:
        if self.result is None or "center" not in self.result.extras:
            return
        u, v = self.uv_at(x_frac, y_frac)
        self.point = (u, v)
        self.point_label.setText(f"x {u:+.2f}σ · y {v:+.2f}σ")
        self.point_moved.emit(u, v)
