"""Live though the decoder is slow: previews first, real decodes after (the VAE explorer's base).

A real autoencoder (a Stable Diffusion VAE) takes seconds to decode one image on a CPU.
Its results carry a linear latent → RGB map (extras["preview_map"], fitted when the model
loads), so here:
- a scrub of the interpolation, or a point of the map, shows that map's preview of the
  latent at once (numpy, about a millisecond), then the decode replaces it; a newer
  scrub cancels the decode still running for an older one, and a decode that lands after
  a newer preview is not shown;
- a grid being rendered (interpolation strip, traverse, map) shows the previews the
  model sends as it goes: the whole grid through the map, then each decoded cell;
- moving on (another tab, a scrub) cancels a grid still decoding; a cancelled grid goes
  back to what the view showed before, so no view shows a half-made result as done.

Models without a map (the built-in VAE, which decodes in a millisecond) behave as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Signal

from studio.core import autoencoder
from studio.core.requests import Request, Result
from studio.ui.views.latent_walk import LatentWalkExplorer

GRID_OPS = ("interpolate", "traverse", "map")


class LiveDecodesExplorer(LatentWalkExplorer):
    live_shown = Signal(str, str)  # what ("scrub", "map", or a grid op), "preview" | "decode"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._preview_maps: dict[str, Any] = {}  # model id → its preview map
        self._lane_jobs: dict[str, Any] = {}  # lane → the newest decode submitted
        self.currentChanged.connect(self._on_live_tabs_current_changed)

    def preview_map(self) -> Any:
        return self._preview_maps.get(self.session.model_id or "")

    def _learn(self, result: Result) -> None:
        found = result.extras.get("preview_map") if result.extras else None
        if found is not None:
            self._preview_maps[result.request.model_id] = found

    def show_result(self, result: Result) -> None:
        self._learn(result)
        super().show_result(result)

    # -- scrub and map points: the preview now, the decode when it lands -----------------------
    def _decode(self, latent: np.ndarray, lane: str, on_result: Any) -> None:
        found = self.preview_map()
        if found is not None and np.ndim(latent) == 3 and latent.shape[0] == len(found["weights"]):
            canvas = self.interpolate.preview if lane == "scrub" else self.views["map"].preview
            canvas.set_image(autoencoder.preview(latent, found)[0])
            self.live_shown.emit(lane, "preview")
            self._cancel_running_grid()  # moving on: the decode must not wait behind a grid
        old = self._lane_jobs.pop(lane, None)
        if found is not None and old is not None and not old.state.finished:
            self.jobs.cancel(old)  # seconds of decoding nobody will look at
        request = self.session.request("decode", latent=latent)
        job = self.jobs.submit(request, lane=lane, latest_wins=True, label="decode",
                               on_result=lambda j, r: self._on_live_decoded(lane, on_result, j, r))
        # with a preview on screen, only the newest decode may replace it; without one
        # (the built-in VAE, a millisecond per decode) every decode that lands is shown
        if found is not None and job is not None and not job.state.finished:
            self._lane_jobs[lane] = job

    def _on_live_decoded(self, lane: str, on_result: Any, job: Any, result: Result) -> None:
        newest = self._lane_jobs.get(lane)
        if newest is not None and newest is not job:
            return  # a newer preview is on screen: an older decode must not cover it
        self._lane_jobs.pop(lane, None)
        self._learn(result)
        on_result(job, result)
        self.live_shown.emit(lane, "decode")

    # -- grids: the model's previews as they come ----------------------------------------------
    def _grid_canvas(self, op: str) -> Any:
        if op == "interpolate":
            return self.interpolate.strip
        view = self.views.get(op)
        return getattr(view, "canvas", None)

    def _on_session_previewed(self, request: Request, images: np.ndarray) -> None:
        super()._on_session_previewed(request, images)
        if not self.ctx.is_current(self) or request.op not in GRID_OPS:
            return
        canvas = self._grid_canvas(request.op)
        if canvas is None:
            return
        columns = {"interpolate": len(images), "traverse": int(request.params.get("steps", 0)),
                   "map": int(request.params.get("size", 0))}[request.op]
        canvas.set_images(images, columns)
        self.live_shown.emit(request.op, "preview")

    def _on_session_run_ended(self, request: Request, state: str) -> None:
        super()._on_session_run_ended(request, state)
        if state != "cancelled" or request.op not in GRID_OPS or not self.ctx.is_current(self):
            return
        view = self.views.get(self.view_of(request))
        if view is None:
            return
        if getattr(view, "result", None) is not None:  # take back the partial grid
            view.show_result(view.result)
        else:
            canvas = self._grid_canvas(request.op)
            if canvas is not None:
                canvas.clear()

    def _cancel_running_grid(self, keep_view: str | None = None) -> None:
        running = getattr(self.jobs.engine, "running_job", None)  # a property of the engine
        request = getattr(running, "request", None)
        if (request is not None and request.op in GRID_OPS
                and request.model_id == self.session.model_id
                and self.view_of(request) != keep_view):
            self.jobs.cancel(running)

    def _on_live_tabs_current_changed(self, _index: int) -> None:
        if self.preview_map() is not None:
            self._cancel_running_grid(keep_view=self.current_view())
