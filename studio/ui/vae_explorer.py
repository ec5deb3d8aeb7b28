"""The VAE explorer: Samples, Interpolate, Traverse and Map views in the centre.

Views read and write the session (selection → interpolation endpoints and centre) and
submit their interactive decodes through the JobRouter on latest-wins lanes; the
latent for each decode is computed here in numpy (cheap) so scrubbing stays live.
Full renders (Generate) are run by the window, which hands results to `show_result`.
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
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core import latent as latent_math
from studio.core.requests import Request, Result
from studio.core.session import Session
from studio.ui import images as imgs
from studio.ui.canvas import SELECTION_COLORS, Canvas, local_files
from studio.ui.jobs import JobRouter

VIEWS = ("samples", "interpolate", "traverse", "map")
VIEW_LABELS = {"samples": "Samples", "interpolate": "Interpolate", "traverse": "Traverse",
               "map": "Map"}
VIEW_OF_OP = {"sample": "samples", "encode": "samples", "reconstruct": "samples",
              "decode": "samples", "interpolate": "interpolate", "traverse": "traverse",
              "map": "map"}
SCRUB_STEPS = 1000  # slider resolution


def _caption(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("caption")
    label.setWordWrap(True)
    return label


# -- samples -----------------------------------------------------------------------------
class SamplesView(QWidget):
    """A grid of samples (or encoded images). Click picks A, shift-click picks B."""

    picked = Signal()  # the A/B selection changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = Canvas(placeholder="Press Generate (Ctrl+Enter) to sample,\n"
                                         "or drop images here to encode them")
        self.canvas.cell_clicked.connect(self._on_canvas_cell_clicked)
        self.caption = _caption("Click an image to pick A · Shift+click to pick B · "
                                "drop image files to encode them")
        self.interpolate_button = QPushButton("Interpolate A → B")
        self.interpolate_button.setToolTip("Open the Interpolate view between the picked images")
        self.interpolate_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.interpolate_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        self.result: Result | None = None
        self.images: np.ndarray | None = None  # (N, H, W, C) shown
        self.latents: np.ndarray | None = None  # (N, ...) matching, when known
        self.appending = False  # encoded images collect into one grid
        self.selection: list[int] = []

    def show_result(self, result: Result) -> None:
        latents = result.latents
        if result.request.op == "reconstruct":  # (input, reconstruction): one latent
            latents = np.repeat(latents, result.count, axis=0) if latents is not None else None
        if result.request.op == "encode" and self.appending and self.images is not None \
                and self.images.shape[1:] == result.images.shape[1:] and latents is not None \
                and self.latents is not None:
            self.images = np.concatenate([self.images, result.images])
            self.latents = np.concatenate([self.latents, latents])
        else:
            self.images, self.latents = result.images, latents
            self.selection = []
        self.appending = result.request.op == "encode"
        self.result = result
        columns = result.columns if not self.appending else 0
        labels = result.labels if len(result.labels) == len(self.images) else ()
        self.canvas.set_images(self.images, columns, labels)
        self.canvas.set_selection(self.selection)

    def clear(self) -> None:
        self.result = self.images = self.latents = None
        self.selection = []
        self.canvas.clear()

    def pick(self, index: int, as_b: bool = False) -> None:
        if self.images is None or not 0 <= index < len(self.images):
            return
        if as_b and self.selection:
            self.selection = [self.selection[0], index]
        else:
            self.selection = [index]
        self.canvas.set_selection(self.selection)
        self.picked.emit()

    def picked_item(self, slot: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(image, latent) picked as A (slot 0) or B (slot 1)."""
        if self.images is None or slot >= len(self.selection):
            return None
        index = self.selection[slot]
        latent = None if self.latents is None else self.latents[index]
        return self.images[index], latent

    def _on_canvas_cell_clicked(self, index: int, modifiers: Any) -> None:
        self.pick(index, as_b=bool(modifiers & Qt.KeyboardModifier.ShiftModifier))


# -- interpolate ---------------------------------------------------------------------------
class EndpointWell(QLabel):
    """A small preview of an interpolation endpoint; image files can be dropped on it."""

    files_dropped = Signal(list)

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
    endpoint_files_dropped = Signal(list, str)  # paths, "a" | "b"
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
        directions = result.extras.get("directions")
        if directions:
            self.caption.setText(f"Rows: principal directions {directions[0]}–{directions[-1]} · "
                                 f"columns: −{result.extras.get('extent', 0):g}σ … "
                                 f"+{result.extras.get('extent', 0):g}σ")

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
        self.preview.setMinimumWidth(180)
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
        side_box.setFixedWidth(230)
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


# -- the explorer ----------------------------------------------------------------------------
class VAEExplorer(QTabWidget):
    view_changed = Signal(str)
    files_dropped = Signal(list, str)  # paths, target: "samples" | "a" | "b"
    generate_requested = Signal()  # the explorer wants the current view rendered
    message_raised = Signal(str)

    def __init__(self, session: Session, jobs: JobRouter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.samples = SamplesView()
        self.interpolate = InterpolateView()
        self.traverse = TraverseView()
        self.map = MapView()
        self.views = {"samples": self.samples, "interpolate": self.interpolate,
                      "traverse": self.traverse, "map": self.map}
        icons = {"samples": QStyle.StandardPixmap.SP_FileDialogListView,
                 "interpolate": QStyle.StandardPixmap.SP_MediaSeekForward,
                 "traverse": QStyle.StandardPixmap.SP_FileDialogDetailedView,
                 "map": QStyle.StandardPixmap.SP_FileDialogContentsView}
        for name, view in self.views.items():
            self.addTab(view, self.style().standardIcon(icons[name]), VIEW_LABELS[name])
        self.setDocumentMode(True)
        self.setCornerWidget(self._zoom_buttons(), Qt.Corner.TopRightCorner)
        self.currentChanged.connect(self._on_tabs_current_changed)

        for canvas in (self.samples.canvas, self.traverse.canvas, self.map.canvas,
                       self.interpolate.preview, self.map.preview):
            canvas.files_dropped.connect(lambda files: self.files_dropped.emit(files, "samples"))
        self.samples.picked.connect(self._on_samples_picked)
        self.samples.interpolate_button.clicked.connect(self._on_samples_interpolate_clicked)
        self.interpolate.scrub_moved.connect(self._on_interpolate_scrub_moved)
        self.interpolate.endpoint_files_dropped.connect(
            lambda files, side: self.files_dropped.emit(files, side))
        self.interpolate.use_picked_requested.connect(self._on_interpolate_use_picked_requested)
        self.map.point_moved.connect(self._on_map_point_moved)
        self.scrub_result: Result | None = None
        self.map_point_result: Result | None = None

    def _zoom_buttons(self) -> QWidget:
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(2)
        for text, tip, slot in (("−", "Zoom out (Ctrl+-, wheel)", lambda: self.canvas().zoom_out()),
                                ("Fit", "Fit to view (F on the canvas, Ctrl+0)", lambda: self.canvas().fit()),
                                ("+", "Zoom in (Ctrl+=, wheel)", lambda: self.canvas().zoom_in())):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(slot)
            layout.addWidget(button)
        return box

    # -- views and results ------------------------------------------------------------
    def current_view(self) -> str:
        return VIEWS[self.currentIndex()]

    def set_view(self, view: str) -> None:
        self.setCurrentIndex(VIEWS.index(view))

    def show_result(self, result: Result) -> None:
        view = VIEW_OF_OP.get(result.request.op, "samples")
        self.views[view].show_result(result)
        if view == "map":  # a point of the old map means nothing on the new one
            self.map_point_result = None
        elif view == "interpolate":
            self.scrub_result = None

    def result(self, view: str | None = None) -> Result | None:
        return self.views[view or self.current_view()].result

    def selected_index(self) -> int | None:
        """The picked cell of the current view (for export and copy), if any."""
        view = self.views[self.current_view()]
        selection = getattr(view, "selection", [])
        return selection[0] if selection else None

    def current_image(self) -> np.ndarray | None:
        """The image the user is looking at: a picked cell, a scrubbed frame, a point."""
        view = self.current_view()
        if view == "interpolate" and self.scrub_result is not None:
            return self.scrub_result.images[0]
        if view == "map" and self.map_point_result is not None:
            return self.map_point_result.images[0]
        result, index = self.result(), self.selected_index()
        if result is None:
            return None
        if index is not None:
            return result.images[index]
        return imgs.grid_image(result.images, result.columns)

    def canvas(self) -> Canvas:
        """The main canvas of the current view (zoom and fit act on it)."""
        view = self.current_view()
        return self.interpolate.preview if view == "interpolate" else self.views[view].canvas

    def canvases(self) -> list[Canvas]:
        return [self.samples.canvas, self.interpolate.strip, self.interpolate.preview,
                self.traverse.canvas, self.map.canvas, self.map.preview]

    def clear(self) -> None:
        """A new model: latents of the old one mean nothing."""
        for view in self.views.values():
            view.clear()
        self.scrub_result = self.map_point_result = None
        self.interpolate.slider.setEnabled(False)

    # -- endpoints ---------------------------------------------------------------------------
    def set_endpoint(self, side: str, image: np.ndarray, latent: np.ndarray | None) -> None:
        self.interpolate.wells[side].set_image(image)
        self.session.set_input(f"latent_{side}", latent)
        self.session.set_input(f"image_{side}", None if latent is not None else image)
        if self.endpoints() is not None:
            self.interpolate.slider.setEnabled(True)

    def endpoints(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The latents the scrub slider moves between: the session's A and B, else the
        ends of the rendered strip."""
        a, b = self.session.inputs.get("latent_a"), self.session.inputs.get("latent_b")
        strip = self.interpolate.result
        if strip is not None and strip.latents is not None:
            a = strip.latents[0] if a is None else a
            b = strip.latents[-1] if b is None else b
        if a is None or b is None:
            return None
        return np.asarray(a, np.float32), np.asarray(b, np.float32)

    def _on_samples_picked(self) -> None:
        for slot, side in enumerate("ab"):
            item = self.samples.picked_item(slot)
            if item is not None:
                self.set_endpoint(side, *item)
        first = self.samples.picked_item(0)
        # traversals and maps centre on the picked image; encode, reconstruct and
        # decode act on it
        self.session.set_input("center", None if first is None else first[1])
        self.session.set_input("latent", None if first is None else first[1])
        self.session.set_input("image", None if first is None else first[0])
        self.samples.interpolate_button.setEnabled(len(self.samples.selection) == 2)

    def _on_samples_interpolate_clicked(self) -> None:
        self.set_view("interpolate")
        self.generate_requested.emit()

    def _on_interpolate_use_picked_requested(self, side: str) -> None:
        item = self.samples.picked_item(0 if side == "a" else 1)
        if item is None:
            self.message_raised.emit(f"Pick an image in Samples first (click for A, "
                                     f"shift+click for B) to use it as {side.upper()}.")
            return
        self.set_endpoint(side, *item)

    # -- live decodes ----------------------------------------------------------------------
    def scrub_latent(self, t: float) -> np.ndarray | None:
        ends = self.endpoints()
        if ends is None:
            return None
        try:
            method = self.session.value("method", "interpolate")
        except (AssertionError, KeyError):  # no model yet, or a family without the op
            method = "slerp"
        return latent_math.interpolate(ends[0], ends[1], t, method)

    def _on_interpolate_scrub_moved(self, t: float) -> None:
        latent = self.scrub_latent(t)
        if latent is None or self.session.model_id is None:
            return
        self._decode(latent, "scrub", self._on_scrub_decoded)

    def _on_scrub_decoded(self, _job: Any, result: Result) -> None:
        self.scrub_result = result
        self.interpolate.preview.set_image(result.images[0])

    def _on_map_point_moved(self, u: float, v: float) -> None:
        if self.session.model_id is None:
            return
        self._decode(self.map.latent_at(u, v), "map", self._on_map_decoded)

    def _on_map_decoded(self, _job: Any, result: Result) -> None:
        self.map_point_result = result
        self.map.preview.set_image(result.images[0])

    def _decode(self, latent: np.ndarray, lane: str, on_result: Any) -> None:
        request = Request(self.session.model_id or "", "decode", {}, {"latent": latent})
        self.jobs.submit(request, lane=lane, latest_wins=True, label="decode",
                         on_result=on_result)

    def _on_tabs_current_changed(self, index: int) -> None:
        self.view_changed.emit(VIEWS[index])


__all__ = ["VAEExplorer", "SamplesView", "InterpolateView", "TraverseView", "MapView",
           "EndpointWell"]
