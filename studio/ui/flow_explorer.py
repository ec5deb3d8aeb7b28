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

from studio.core import latent as latent_math
from studio.core.requests import Request, Result
from studio.core.session import Session
from studio.ui.canvas import Canvas
from studio.ui.explorer import SAMPLES, Explorer, SamplesView, button
from studio.ui.jobs import JobRouter
from studio.ui.likelihood_views import ReadoutView, flow_likelihood, flow_round_trip
from studio.ui.vae_views import InterpolateView

LIKELIHOOD, INTERPOLATE, ROUND_TRIP = "likelihood", "interpolate", "round_trip"
VIEWS = (SAMPLES, LIKELIHOOD, INTERPOLATE, ROUND_TRIP)
VIEW_LABELS = {SAMPLES: "Samples", LIKELIHOOD: "Likelihood", INTERPOLATE: "Interpolate",
               ROUND_TRIP: "Round trip"}
OPS_OF_VIEW = {SAMPLES: ("sample", "encode", "decode"), LIKELIHOOD: ("likelihood",),
               INTERPOLATE: ("interpolate",), ROUND_TRIP: ("reconstruct",)}
OP_OF_VIEW = {LIKELIHOOD: "likelihood", ROUND_TRIP: "reconstruct"}  # views that read one image


class FlowExplorer(Explorer):
    VIEWS = VIEWS
    VIEW_LABELS = VIEW_LABELS
    OPS_OF_VIEW = OPS_OF_VIEW
    animation_hint = "Render an interpolation first (Interpolate tab, then Generate)."

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

        self._drop_target: str | None = None  # the view an image file is being dropped on
        self.sample_view.canvas.files_dropped.connect(lambda files: self._emit_drop(files, SAMPLES))
        self.likelihood.canvas.files_dropped.connect(lambda files: self._emit_drop(files, LIKELIHOOD))
        self.round_trip.canvas.files_dropped.connect(lambda files: self._emit_drop(files, ROUND_TRIP))
        for canvas in (self.interpolate.preview, self.interpolate.strip):
            canvas.files_dropped.connect(lambda files: self._emit_drop(files, INTERPOLATE, "ab"))
        self.interpolate.endpoint_files_dropped.connect(
            lambda files, side: self._emit_drop(files, INTERPOLATE, side))
        self.sample_view.picked.connect(self._on_samples_picked)
        self.sample_view.interpolate_button.clicked.connect(self._on_samples_interpolate_clicked)
        self.likelihood_button.clicked.connect(lambda: self.read_picked(LIKELIHOOD))
        self.round_trip_button.clicked.connect(lambda: self.read_picked(ROUND_TRIP))
        self.likelihood.use_picked_requested.connect(lambda: self.read_picked(LIKELIHOOD))
        self.round_trip.use_picked_requested.connect(lambda: self.read_picked(ROUND_TRIP))
        self.interpolate.scrub_moved.connect(self._on_interpolate_scrub_moved)
        self.interpolate.use_picked_requested.connect(self._on_interpolate_use_picked_requested)
        self.scrub_result: Result | None = None

    # -- results --------------------------------------------------------------------------
    def set_model(self, card: Any) -> None:
        super().set_model(card)
        self.likelihood.classes = getattr(card, "classes", None)

    def show_result(self, result: Result) -> None:
        super().show_result(result)
        if self.view_of(result.request) == INTERPOLATE:
            self.scrub_result = None

    def current_image(self) -> np.ndarray | None:
        if self.current_view() == INTERPOLATE and self.scrub_result is not None:
            return self.scrub_result.images[0]
        return super().current_image()

    def animation_result(self) -> Result | None:
        return self.result(INTERPOLATE)

    def canvas(self) -> Canvas:
        view = self.current_view()
        return self.interpolate.preview if view == INTERPOLATE else self.views[view].canvas

    def canvases(self) -> list[Canvas]:
        return [self.sample_view.canvas, self.likelihood.canvas, self.interpolate.strip,
                self.interpolate.preview, self.round_trip.canvas]

    def clear(self) -> None:
        super().clear()
        self.scrub_result = None
        self.interpolate.slider.setEnabled(False)
        self.likelihood_button.setEnabled(False)
        self.round_trip_button.setEnabled(False)

    # -- images in: picks, drops, File ▸ Open ------------------------------------------------
    def _emit_drop(self, files: list, view: str, target: str = SAMPLES) -> None:
        """The window opens dropped files at once (and calls take_image): remember where
        they fell meanwhile."""
        self._drop_target = view
        try:
            self.files_dropped.emit(files, target)
        finally:
            self._drop_target = None

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

    # -- endpoints --------------------------------------------------------------------------
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
            item = self.sample_view.picked_item(slot)
            if item is not None:
                self.set_endpoint(side, *item)
        first = self.sample_view.picked_item(0)
        self.session.set_input("image", None if first is None else first[0])
        self.session.set_input("latent", None if first is None else first[1])
        self.sample_view.interpolate_button.setEnabled(len(self.sample_view.selection) == 2)
        self.likelihood_button.setEnabled(first is not None)
        self.round_trip_button.setEnabled(first is not None)

    def _on_samples_interpolate_clicked(self) -> None:
        self.set_view(INTERPOLATE)
        self.generate_requested.emit()

    def _on_interpolate_use_picked_requested(self, side: str) -> None:
        item = self.sample_view.picked_item(0 if side == "a" else 1)
        if item is None:
            self.message_raised.emit(f"Pick an image in Samples first (click for A, "
                                     f"shift+click for B) to use it as {side.upper()}.")
            return
        self.set_endpoint(side, *item)

    # -- the live scrub ------------------------------------------------------------------------
    def scrub_latent(self, t: float) -> np.ndarray | None:
        ends = self.endpoints()
        if ends is None:
            return None
        try:
            method = self.session.value("method", "interpolate")
        except (AssertionError, KeyError):
            method = "lerp"
        return latent_math.interpolate(ends[0], ends[1], t, method)

    def _on_interpolate_scrub_moved(self, t: float) -> None:
        latent = self.scrub_latent(t)
        if latent is None or self.session.model_id is None:
            return
        request = Request(self.session.model_id, "decode", {}, {"latent": latent})
        self.jobs.submit(request, lane="scrub", latest_wins=True, label="decode",
                         on_result=self._on_scrub_decoded)

    def _on_scrub_decoded(self, _job: Any, result: Result) -> None:
        self.scrub_result = result
        self.interpolate.preview.set_image(result.images[0])
