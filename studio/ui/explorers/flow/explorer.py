"""The flow explorer: Samples, Likelihood, Interpolate and Round trip as tabs.

For normalizing flows (FamilyInfo.explorer == "flow"). What the family gives it:

- `sample` at a temperature (a live parameter: dragging it re-renders the grid), with
  the latents z of every image;
- `likelihood`: the input, a bits-per-pixel heatmap and one map per scale, with
  extras bits_per_dim, bits_per_level, pixel_bits, class_posterior, most_likely_class;
- `encode` / `decode` (exact), `interpolate` between two latents or images, and
  `reconstruct` (image → z → image) with extras max_abs_error.

What it does with them: a pick in Samples (click A, shift+click B) becomes the
interpolation's ends and the image the Likelihood and Round trip tabs read; an image
file dropped on (or opened in) those two tabs is read at once; dropped on the
interpolation's ends it is encoded there. The Interpolate slider decodes z live on a
latest-wins lane, as the VAE's does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtWidgets import QStyle, QWidget

from studio.core.session import Session
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import SAMPLES, SamplesView, button
from studio.ui.jobs import JobRouter
from studio.ui.views.latent_walk import INTERPOLATE, LatentWalkExplorer
from studio.ui.views.likelihood_views import ReadoutView, flow_likelihood, flow_round_trip
from studio.ui.views.vae_views import InterpolateView

LIKELIHOOD, ROUND_TRIP = "likelihood", "round_trip"
VIEWS = (SAMPLES, LIKELIHOOD, INTERPOLATE, ROUND_TRIP)
VIEW_LABELS = {SAMPLES: "Samples", LIKELIHOOD: "Likelihood", INTERPOLATE: "Interpolate",
               ROUND_TRIP: "Round trip"}
OPS_OF_VIEW = {SAMPLES: ("sample", "encode", "decode"), LIKELIHOOD: ("likelihood",),
               INTERPOLATE: ("interpolate",), ROUND_TRIP: ("reconstruct",)}
OP_OF_VIEW = {LIKELIHOOD: "likelihood", ROUND_TRIP: "reconstruct"}  # views that read one image


class FlowExplorer(LatentWalkExplorer):
    VIEWS = VIEWS
    VIEW_LABELS = VIEW_LABELS
    OPS_OF_VIEW = OPS_OF_VIEW
    SCRUB_FALLBACK_METHOD = "lerp"

    def __init__(self, session: Session, jobs: JobRouter, run: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        """`run(request)` queues a user-visible run (the window's `run_request`)."""
        super().__init__(session, jobs, parent)
        self.run = run
        self.sample_view = SamplesView(
            placeholder="Press Generate (Ctrl+Enter) to sample at the panel's temperature,\n"
                        "or drop images here to encode them",
            hint="Click an image to pick A · Shift+click to pick B · drag Temperature to "
                 "re-sample live · drop image files to encode them")
        self.likelihood_button = button("Likelihood", "Read the exact likelihood of the picked "
                                        "image (Likelihood tab)")
        self.round_trip_button = button("Round trip", "Encode the picked image to z and decode "
                                        "it back (Round trip tab)")
        for index, widget in enumerate((self.likelihood_button, self.round_trip_button)):
            widget.setEnabled(False)
            self.sample_view.buttons.insertWidget(index, widget)
        self.likelihood = ReadoutView(
            flow_likelihood,
            hint="The image's exact likelihood and where its bits are spent: per pixel "
                 "(all scales) and per scale of the flow. Drop an image file here to read it.",
            placeholder="Drop an image file here to read its likelihood,\nor pick a sample "
                        "and press Use picked sample",
            drop_text="Drop to read its likelihood",
            use_picked_tip="Read the likelihood of the image picked in Samples")
        self.interpolate = InterpolateView()
        self.round_trip = ReadoutView(
            flow_round_trip,
            hint="Encode the image to z and decode z back: a flow is invertible, so the image "
                 "returns. Drop an image file here to try one.",
            placeholder="Drop an image file here, or pick a sample and press Use picked "
                        "sample, to round-trip it",
            drop_text="Drop to round-trip it",
            use_picked_tip="Round-trip the image picked in Samples")
        icons = QStyle.StandardPixmap
        self._add_view(SAMPLES, self.sample_view, icons.SP_FileDialogListView,
                       "Sample at a temperature; pick images for the other tabs (Ctrl+1)")
        self._add_view(LIKELIHOOD, self.likelihood, icons.SP_FileDialogInfoView,
                       "Exact bits per dimension of an image, and where they are spent (Ctrl+2)")
        self._add_view(INTERPOLATE, self.interpolate, icons.SP_MediaSeekForward,
                       "Walk in z between two images or samples; every frame is exact (Ctrl+3)")
        self._add_view(ROUND_TRIP, self.round_trip, icons.SP_BrowserReload,
                       "Image → z → image: the flow decodes exactly (Ctrl+4)")

        self.sample_view.canvas.files_dropped.connect(lambda files: self._emit_drop(files, SAMPLES))
        self.likelihood.canvas.files_dropped.connect(lambda files: self._emit_drop(files, LIKELIHOOD))
        self.round_trip.canvas.files_dropped.connect(lambda files: self._emit_drop(files, ROUND_TRIP))
        for canvas in (self.interpolate.preview, self.interpolate.strip):
            canvas.files_dropped.connect(lambda files: self._emit_drop(files, INTERPOLATE, "ab"))
        self.interpolate.endpoint_files_dropped.connect(
            lambda files, side: self._emit_drop(files, INTERPOLATE, side))
        self._connect_walk()
        self.likelihood_button.clicked.connect(lambda: self.read_picked(LIKELIHOOD))
        self.round_trip_button.clicked.connect(lambda: self.read_picked(ROUND_TRIP))
        self.likelihood.use_picked_requested.connect(lambda: self.read_picked(LIKELIHOOD))
        self.round_trip.use_picked_requested.connect(lambda: self.read_picked(ROUND_TRIP))

    # -- results --------------------------------------------------------------------------
    def set_model(self, card: Any) -> None:
        super().set_model(card)
        self.likelihood.classes = getattr(card, "classes", None)

    def canvases(self) -> list[Canvas]:
        return [self.sample_view.canvas, self.likelihood.canvas, self.interpolate.strip,
                self.interpolate.preview, self.round_trip.canvas]

    def clear(self) -> None:
        super().clear()
        self.likelihood_button.setEnabled(False)
        self.round_trip_button.setEnabled(False)

    # -- images in: picks, drops, File ▸ Open ------------------------------------------------
    def take_image(self, image: np.ndarray, path: str) -> bool:
        """An image dropped on (or opened in) Likelihood or Round trip is read there at
        once; elsewhere the window encodes it (a pick in Samples, or an end of the path)."""
        view = self._drop_target or self.current_view()
        if view not in OP_OF_VIEW:
            return False
        self._read(view, image)
        return True

    def read_picked(self, view: str) -> None:
        item = self.sample_view.picked_item(0)
        if item is None:
            self.message_raised.emit("Pick an image in Samples first (click it), or drop an "
                                     "image file on the canvas.")
            return
        self._read(view, item[0])

    def _read(self, view: str, image: np.ndarray) -> None:
        """Show `image` in a one-image view and run its op there now."""
        target: ReadoutView = self.views[view]
        target.set_source(image)
        self.set_view(view)
        if self.session.model_id is not None:
            self.run(self.session.request(OP_OF_VIEW[view], image=np.asarray(image)))

    def take_generate(self) -> bool:
        view = self.current_view()
        if view not in OP_OF_VIEW:
            return False
        source = self.views[view].source
        if source is None:
            self.message_raised.emit("Drop an image file on the canvas first, or pick a sample "
                                     "in Samples and press Use picked sample.")
            return True
        self.session.set_input("image", source)
        return False

    # -- picks -----------------------------------------------------------------------------
    def _on_samples_picked(self) -> None:
        super()._on_samples_picked()
        first = self.sample_view.picked_item(0)
        self.likelihood_button.setEnabled(first is not None)
        self.round_trip_button.setEnabled(first is not None)
