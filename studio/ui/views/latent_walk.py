"""The base of the explorers with an Interpolate tab over an encoder's latents (the VAE's
and the flow's): A and B picked in Samples, or encoded from dropped images, are the
walk's ends, and its slider decodes the latent between them live on a latest-wins lane.

One class, so that the two explorers cannot drift apart in how ends are picked, kept
and walked; each adds its own tabs and views around it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.core import latent as latent_math
from studio.core.requests import Result
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import Explorer
from studio.ui.views.vae_views import InterpolateView

INTERPOLATE = "interpolate"
ENDPOINT_INPUTS = ("image_a", "image_b", "latent_a", "latent_b")


class LatentWalkExplorer(Explorer):
    """Subclasses set `self.interpolate` (an InterpolateView, added as INTERPOLATE) and
    call `_connect_walk` once their Samples view is added."""

    animation_hint = "Render an interpolation first (Interpolate tab, then Generate)."
    # the scrub's method when the session has no interpolate op to read it from (no
    # model yet): the family's own default
    SCRUB_FALLBACK_METHOD = "slerp"

    interpolate: InterpolateView
    scrub_result: Result | None = None  # the frame the slider decoded last

    def _connect_walk(self) -> None:
        self.samples.picked.connect(self._on_samples_picked)
        self.samples.interpolate_button.clicked.connect(self._on_samples_interpolate_clicked)
        self.interpolate.scrub_moved.connect(self._on_interpolate_scrub_moved)
        self.interpolate.use_picked_requested.connect(self._on_interpolate_use_picked_requested)

    # -- results -----------------------------------------------------------------------------
    def show_result(self, result: Result) -> None:
        super().show_result(result)
        if self.view_of(result.request) == INTERPOLATE:
            self.scrub_result = None  # a frame of the old strip is not on the new one

    def current_image(self) -> np.ndarray | None:
        if self.current_view() == INTERPOLATE and self.scrub_result is not None:
            return self.scrub_result.images[0]
        return super().current_image()

    def animation_result(self) -> Result | None:
        return self.result(INTERPOLATE)

    def canvas(self) -> Canvas:
        view = self.current_view()
        return self.interpolate.preview if view == INTERPOLATE else self.views[view].canvas

    def clear(self) -> None:
        super().clear()
        self.scrub_result = None
        self.interpolate.slider.setEnabled(False)

    # -- endpoints: the session's image_a/b and latent_a/b, the wells follow ---------------
    def attach(self, ctx: Any) -> None:
        super().attach(ctx)
        ctx.session.events.inputs_changed.connect(self._on_session_inputs_changed)

    def set_endpoint(self, side: str, image: np.ndarray, latent: np.ndarray | None) -> None:
        self.session.set_endpoint(side, image, latent)

    def _on_session_inputs_changed(self, name: str) -> None:
        if name not in ENDPOINT_INPUTS or not self.ctx.is_current(self):
            return
        side = name[-1]
        image = self.session.inputs.get(f"image_{side}")
        if image is not None:
            self.interpolate.wells[side].set_image(image)
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
        """A and B become the walk's ends; A is the image and latent the other ops read."""
        for slot, side in enumerate("ab"):
            item = self.samples.picked_item(slot)
            if item is not None:
                self.set_endpoint(side, *item)
        first = self.samples.picked_item(0)
        self.session.set_input("image", None if first is None else first[0])
        self.session.set_input("latent", None if first is None else first[1])
        self.samples.interpolate_button.setEnabled(len(self.samples.selection) == 2)

    def _on_samples_interpolate_clicked(self) -> None:
        self.set_view(INTERPOLATE)
        self.generate_requested.emit()

    def _on_interpolate_use_picked_requested(self, side: str) -> None:
        item = self.samples.picked_item(0 if side == "a" else 1)
        if item is None:
            self.message_raised.emit(f"Pick an image in Samples first (click for A, "
                                     f"shift+click for B) to use it as {side.upper()}.")
            return
        self.set_endpoint(side, *item)

    # -- the live scrub ----------------------------------------------------------------------
    def scrub_latent(self, t: float) -> np.ndarray | None:
        ends = self.endpoints()
        if ends is None:
            return None
        try:
            method = self.session.value("method", "interpolate")
        except (AssertionError, KeyError):  # no model yet, or a family without the op
            method = self.SCRUB_FALLBACK_METHOD
        return latent_math.interpolate(ends[0], ends[1], t, method)

    def _on_interpolate_scrub_moved(self, t: float) -> None:
        latent = self.scrub_latent(t)
        if latent is None or self.session.model_id is None:
            return
        self._decode(latent, "scrub", self._on_scrub_decoded)

    def _on_scrub_decoded(self, _job: Any, result: Result) -> None:
        self.scrub_result = result
        self.interpolate.preview.set_image(result.images[0])

    def _decode(self, latent: np.ndarray, lane: str, on_result: Any) -> None:
        """Decode one latent on `lane`, newest only: a drag outruns the model."""
        request = self.session.request("decode", latent=latent)
        self.jobs.submit(request, lane=lane, latest_wins=True, label="decode",
                         on_result=on_result)
