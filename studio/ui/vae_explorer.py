"""The VAE explorer: the Samples, Interpolate, Traverse and Map views as tabs.

The explorer reads and writes the session (selection → interpolation endpoints and centre) and
submit their interactive decodes through the JobRouter on latest-wins lanes; the
latent for each decode is computed here in numpy (cheap) so scrubbing stays live.
Full renders (Generate) are run by the window, which hands results to `show_result`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QStyle, QWidget

from studio.core import latent as latent_math
from studio.core.requests import Request, Result
from studio.core.session import Session
from studio.ui.canvas import Canvas
from studio.ui.explorer import Explorer
from studio.ui.jobs import JobRouter
from studio.ui.vae_views import InterpolateView, MapView, SamplesView, TraverseView

VIEWS = ("samples", "interpolate", "traverse", "map")
VIEW_LABELS = {"samples": "Samples", "interpolate": "Interpolate", "traverse": "Traverse",
               "map": "Map"}
OPS_OF_VIEW = {"samples": ("sample", "encode", "reconstruct", "decode"),
               "interpolate": ("interpolate",), "traverse": ("traverse",), "map": ("map",)}
VIEW_OF_OP = {op: view for view, ops in OPS_OF_VIEW.items() for op in ops}


class VAEExplorer(Explorer):
    VIEWS = VIEWS
    VIEW_LABELS = VIEW_LABELS
    OPS_OF_VIEW = OPS_OF_VIEW
    animation_hint = "Render an interpolation first (Interpolate tab, then Generate)."

    def __init__(self, session: Session, jobs: JobRouter, parent: QWidget | None = None) -> None:
        super().__init__(session, jobs, parent)
        self.interpolate = InterpolateView()
        self.traverse = TraverseView()
        self.map = MapView()
        icons = QStyle.StandardPixmap
        self._add_view("samples", SamplesView(), icons.SP_FileDialogListView)
        self._add_view("interpolate", self.interpolate, icons.SP_MediaSeekForward)
        self._add_view("traverse", self.traverse, icons.SP_FileDialogDetailedView)
        self._add_view("map", self.map, icons.SP_FileDialogContentsView)

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

    # -- views and results ------------------------------------------------------------
    def show_result(self, result: Result) -> None:
        super().show_result(result)
        view = self.view_of(result.request)
        if view == "map":  # a point of the old map means nothing on the new one
            self.map_point_result = None
        elif view == "interpolate":
            self.scrub_result = None

    def current_image(self) -> np.ndarray | None:
        """The image the user is looking at: a picked cell, a scrubbed frame, a point."""
        view = self.current_view()
        if view == "interpolate" and self.scrub_result is not None:
            return self.scrub_result.images[0]
        if view == "map" and self.map_point_result is not None:
            return self.map_point_result.images[0]
        return super().current_image()

    def animation_result(self) -> Result | None:
        return self.result("interpolate")

    def canvas(self) -> Canvas:
        """The main canvas of the current view (zoom and fit act on it)."""
        view = self.current_view()
        return self.interpolate.preview if view == "interpolate" else self.views[view].canvas

    def canvases(self) -> list[Canvas]:
        return [self.samples.canvas, self.interpolate.strip, self.interpolate.preview,
                self.traverse.canvas, self.map.canvas, self.map.preview]

    def clear(self) -> None:
        """A new model: latents of the old one mean nothing."""
        super().clear()
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
