"""The VAE explorer: the Samples, Interpolate, Traverse and Map views as tabs.

The explorer reads and writes the session (selection → interpolation endpoints and centre) and
submit their interactive decodes through the JobRouter on latest-wins lanes; the
latent for each decode is computed here in numpy (cheap) so scrubbing stays live.
Full renders (Generate) are run by the window, which hands results to `show_result`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QStyle,
    QTabWidget,
    QToolButton,
    QWidget,
)

from studio.core import latent as latent_math
from studio.core.requests import Request, Result
from studio.core.session import Session
from studio.ui import images as imgs
from studio.ui.canvas import Canvas
from studio.ui.jobs import JobRouter
from studio.ui.vae_views import InterpolateView, MapView, SamplesView, TraverseView

VIEWS = ("samples", "interpolate", "traverse", "map")
VIEW_LABELS = {"samples": "Samples", "interpolate": "Interpolate", "traverse": "Traverse",
               "map": "Map"}
VIEW_OF_OP = {"sample": "samples", "encode": "samples", "reconstruct": "samples",
              "decode": "samples", "interpolate": "interpolate", "traverse": "traverse",
              "map": "map"}


class VAEExplorer(QTabWidget):
    view_changed = Signal(str)
    # paths, target: "samples" (picked as A, B), "a" / "b" (an endpoint), "ab" (both ends)
    files_dropped = Signal(list, str)
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

        for canvas in (self.samples.canvas, self.traverse.canvas, self.map.canvas, self.map.preview):
            canvas.files_dropped.connect(lambda files: self.files_dropped.emit(files, "samples"))
        # images dropped on the interpolation become its ends, and the view stays
        for canvas in (self.interpolate.preview, self.interpolate.strip):
            canvas.files_dropped.connect(lambda files: self.files_dropped.emit(files, "ab"))
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
