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

from studio.core.requests import Result
from studio.core.session import Session
from studio.ui.canvas import Canvas
from studio.ui.jobs import JobRouter
from studio.ui.views.live_decodes import LiveDecodesExplorer
from studio.ui.views.vae_views import InterpolateView, MapView, SamplesView, TraverseView

VIEWS = ("samples", "interpolate", "traverse", "map")
VIEW_LABELS = {"samples": "Samples", "interpolate": "Interpolate", "traverse": "Traverse",
               "map": "Map"}
OPS_OF_VIEW = {"samples": ("sample", "encode", "reconstruct", "decode"),
               "interpolate": ("interpolate",), "traverse": ("traverse",), "map": ("map",)}
VIEW_OF_OP = {op: view for view, ops in OPS_OF_VIEW.items() for op in ops}


class VAEExplorer(LiveDecodesExplorer):
    VIEWS = VIEWS
    VIEW_LABELS = VIEW_LABELS
    OPS_OF_VIEW = OPS_OF_VIEW

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
        self._connect_walk()
        self.interpolate.endpoint_files_dropped.connect(
            lambda files, side: self.files_dropped.emit(files, side))
        self.map.point_moved.connect(self._on_map_point_moved)
        self.map_point_result: Result | None = None

    # -- views and results ------------------------------------------------------------
    def show_result(self, result: Result) -> None:
        super().show_result(result)
        if self.view_of(result.request) == "map":
            self.map_point_result = None  # a point of the old map means nothing on the new one

    def current_image(self) -> np.ndarray | None:
        """The image the user is looking at: a picked cell, a scrubbed frame, a point."""
        if self.current_view() == "map" and self.map_point_result is not None:
            return self.map_point_result.images[0]
        return super().current_image()

    def canvases(self) -> list[Canvas]:
        return [self.samples.canvas, self.interpolate.strip, self.interpolate.preview,
                self.traverse.canvas, self.map.canvas, self.map.preview]

    def clear(self) -> None:
        """A new model: latents of the old one mean nothing."""
        super().clear()
        self.map_point_result = None

    def _on_samples_picked(self) -> None:
        super()._on_samples_picked()
        first = self.samples.picked_item(0)
        # traversals and maps centre on the picked image
        self.session.set_input("center", None if first is None else first[1])

    # -- live decodes ----------------------------------------------------------------------
    def _on_map_point_moved(self, u: float, v: float) -> None:
        if self.session.model_id is None:
            return
        self._decode(self.map.latent_at(u, v), "map", self._on_map_decoded)

    def _on_map_decoded(self, _job: Any, result: Result) -> None:
        self.map_point_result = result
        self.map.preview.set_image(result.images[0])
