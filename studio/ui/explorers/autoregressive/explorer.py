"""The autoregressive explorer: Paint, Complete and Likelihood as tabs.

For the PixelCNN (FamilyInfo.explorer == "autoregressive"). What the family gives it:

- `sample` and `complete` draw pixel by pixel in raster order, report
  ctx.progress(row, rows, "row k of n") after every row and send rate-limited previews
  in which the pixels not drawn yet are grey (level 64): the views show both while a
  run goes, and Esc (the window's Cancel) stops it at the next row;
- `complete` takes the image and a mask (white = repaint) and returns the kept pixels
  with the hole in grey, then the variations, most likely first, labelled in bits/dim;
- `likelihood`: the input and its per-pixel heatmap, with extras bits_per_dim,
  pixel_bits, class_posterior, most_likely_class, max_pixel_bits.

What it does with them: a pick in Paint becomes the Complete tab's source and the
image the Likelihood tab reads; an image file dropped on the Complete canvas becomes
its source, dropped anywhere else (or opened) its likelihood is read at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtWidgets import QStyle, QWidget

from studio.core.requests import Request, Result
from studio.core.session import Session
from studio.ui import images as imgs
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import SAMPLES, button, caption
from studio.ui.jobs import JobRouter
from studio.ui.views.likelihood_views import ReadoutView, pixelcnn_likelihood
from studio.ui.views.live_runs import LiveRunExplorer, LiveSamplesView
from studio.ui.views.mask_canvas import MaskPaintView

COMPLETE, LIKELIHOOD = "complete", "likelihood"
VIEWS = (SAMPLES, COMPLETE, LIKELIHOOD)
VIEW_LABELS = {SAMPLES: "Paint", COMPLETE: "Complete", LIKELIHOOD: "Likelihood"}
OPS_OF_VIEW = {SAMPLES: ("sample",), COMPLETE: ("complete",), LIKELIHOOD: ("likelihood",)}
ROW_TIP = "The row the PixelCNN is drawing (Esc cancels the run)"


class PaintView(LiveSamplesView):
    """The sample grid; the images grow row by row while the PixelCNN draws them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, placeholder="Press Generate (Ctrl+Enter) and watch the "
                                             "PixelCNN paint, pixel by pixel",
                         hint="Pixels not drawn yet are grey · Esc stops a run · click an "
                              "image to pick it for Complete and Likelihood")
        self.interpolate_button.hide()  # a PixelCNN has no latent to walk
        self.complete_button = button("Complete…", "Mark part of the picked image and let "
                                      "the model repaint it (Complete tab)")
        self.likelihood_button = button("Likelihood", "Read the exact likelihood of the "
                                        "picked image (Likelihood tab)")
        self.add_actions((self.complete_button, self.likelihood_button), ROW_TIP)

    def pick(self, index: int, as_b: bool = False) -> None:
        super().pick(index)  # one pick: nothing here takes a second image

    def seed_label(self, seed: int, index: int) -> str:
        # one seed draws the whole batch (classes, then a uniform per pixel of each image)
        return f"seed {seed} · image {index + 1}"


class CompleteView(MaskPaintView):
    """The source with the part to repaint marked over it (left) and the completions,
    side by side, with their bits/dim listed under them (right)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            parent,
            then="Generate repaints it in several ways, the most likely first",
            picked_in="Paint",
            results_placeholder="The completions appear here, the most likely first",
            use_result_tip="Take the picked completion (or the most likely) as the new "
                           "source, keeping the mask: complete again",
            counter_tip=ROW_TIP)
        self.names = caption("")
        self.names.setToolTip("What each image is, left to right")
        self.layout().addWidget(self.names)

    def show_result(self, result: Result) -> None:
        super().show_result(result)
        self.names.setText("  ·  ".join(f"{i + 1}. {label}" for i, label in enumerate(result.labels)))

    def picked_result(self) -> np.ndarray | None:
        if self.result is None:
            return None
        index = self.selection[0] if self.selection else min(1, len(self.result.images) - 1)
        return self.result.images[index]  # the first completion, not the kept pixels

    def clear(self) -> None:
        super().clear()
        self.names.setText("")


class AutoregressiveExplorer(LiveRunExplorer):
    VIEWS = VIEWS
    VIEW_LABELS = VIEW_LABELS
    OPS_OF_VIEW = OPS_OF_VIEW
    COUNTER_UNIT = "row"

    def __init__(self, session: Session, jobs: JobRouter, bridge: Any, run: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        """`run(request)` queues a user-visible run (the window's `run_request`)."""
        super().__init__(session, jobs, parent)
        self.run = run
        self.paint = PaintView()
        self.complete = CompleteView()
        self.likelihood = ReadoutView(
            pixelcnn_likelihood,
            hint="The image's exact negative log-likelihood, and the bits each pixel costs "
                 "given the pixels before it. Drop an image file here to read it.",
            placeholder="Drop an image file here to read its likelihood,\nor pick an image "
                        "in Paint and press Use picked sample",
            drop_text="Drop to read its likelihood",
            use_picked_tip="Read the likelihood of the image picked in Paint")
        icons = QStyle.StandardPixmap
        self._add_view(SAMPLES, self.paint, icons.SP_FileDialogListView,
                       "Watch the PixelCNN paint new images pixel by pixel (Ctrl+1)")
        self._add_view(COMPLETE, self.complete, icons.SP_DialogResetButton,
                       "Mark part of an image and have it repainted several ways (Ctrl+2)")
        self._add_view(LIKELIHOOD, self.likelihood, icons.SP_FileDialogInfoView,
                       "Exact bits per dimension of an image, pixel by pixel (Ctrl+3)")

        self.paint.canvas.files_dropped.connect(lambda files: self._emit_drop(files, SAMPLES))
        for canvas in (self.complete.mask_canvas, self.complete.canvas):
            canvas.files_dropped.connect(lambda files: self._emit_drop(files, COMPLETE))
            canvas.drop_text = "Drop to complete it"
        self.paint.canvas.drop_text = "Drop to read its likelihood"
        self.likelihood.canvas.files_dropped.connect(lambda files: self._emit_drop(files, LIKELIHOOD))
        self.paint.picked.connect(self._on_paint_picked)
        self.paint.complete_button.clicked.connect(lambda: self.set_view(COMPLETE))
        self.paint.likelihood_button.clicked.connect(self.read_picked)
        self.likelihood.use_picked_requested.connect(self.read_picked)
        self.complete.use_picked_requested.connect(self._on_complete_use_picked_requested)
        self.complete.use_result_requested.connect(self.complete.take_picked_result)
        self._connect_live(bridge)

    # -- results ----------------------------------------------------------------------------
    def set_model(self, card: Any) -> None:
        super().set_model(card)
        self.likelihood.classes = getattr(card, "classes", None)

    def show_result(self, result: Result) -> None:
        super().show_result(result)
        if result.request.op == "complete":
            self.complete.show_inputs(result.request.inputs.get("image"),
                                      result.request.inputs.get("mask"))

    def canvas(self) -> Canvas:
        view = self.current_view()
        return self.complete.mask_canvas if view == COMPLETE else self.views[view].canvas

    def canvases(self) -> list[Canvas]:
        return [self.paint.canvas, self.complete.mask_canvas, self.complete.canvas,
                self.likelihood.canvas]

    def clear(self) -> None:
        super().clear()
        self.paint.complete_button.setEnabled(False)
        self.paint.likelihood_button.setEnabled(False)
        for view in (self.paint, self.complete):
            view.step.setText("")

    # -- images in: picks, drops, File ▸ Open ------------------------------------------------
    def take_image(self, image: np.ndarray, path: str) -> bool:
        """Dropped on Complete: the image to repaint part of. Anywhere else: its
        likelihood is read at once (and it waits in Complete too)."""
        view = self._drop_target or self.current_view()
        self.complete.set_source(image, keep_mask=True)
        if view == COMPLETE:
            self.set_view(COMPLETE)
        else:
            self._read(image)
        return True

    def _on_paint_picked(self) -> None:
        item = self.paint.picked_item(0)
        if item is None:
            return
        self.complete.set_source(item[0], keep_mask=True)
        self.session.set_input("image", item[0])
        self.paint.complete_button.setEnabled(True)
        self.paint.likelihood_button.setEnabled(True)

    def _picked_image(self) -> np.ndarray | None:
        """The image picked in Paint; None, after saying how to pick one, if none is."""
        item = self.paint.picked_item(0)
        if item is None:
            self.message_raised.emit("Pick an image in Paint first (click it), or drop an "
                                     "image file on the canvas.")
            return None
        return item[0]

    def read_picked(self) -> None:
        image = self._picked_image()
        if image is not None:
            self._read(image)

    def _read(self, image: np.ndarray) -> None:
        self.likelihood.set_source(image)
        self.set_view(LIKELIHOOD)
        if self.session.model_id is not None:
            self.run(self.session.request("likelihood", image=np.asarray(image)))

    def _on_complete_use_picked_requested(self) -> None:
        image = self._picked_image()
        if image is not None:
            self.complete.set_source(image, keep_mask=True)

    # -- generate --------------------------------------------------------------------------------
    def take_generate(self) -> bool:
        view = self.current_view()
        if view == COMPLETE:
            canvas = self.complete.mask_canvas
            missing = self.complete.missing()
            if missing:
                self.message_raised.emit(missing)
                return True
            self.session.set_input("image", canvas.source)
            self.session.set_input("mask", canvas.mask())
        elif view == LIKELIHOOD:
            if self.likelihood.source is None:
                self.message_raised.emit("Drop an image file on the canvas first, or pick an "
                                         "image in Paint and press Use picked sample.")
                return True
            self.session.set_input("image", self.likelihood.source)
        return False

    # -- row counters and live previews -----------------------------------------------------------
    def _view_of_job(self, job: Any) -> str | None:
        request: Request | None = getattr(job, "request", None)
        if request is None or job.lane != "default" or request.model_id != self.session.model_id:
            return None
        view = self.view_of(request)
        return view if view in (SAMPLES, COMPLETE) and request.op in ("sample", "complete") else None

    def _counter(self, view: str) -> Any:
        return self.paint.step if view == SAMPLES else self.complete.step

    def _on_bridge_job_previewed(self, job: Any, images: Any) -> None:
        # the window grows the Paint grid itself; the completions grow here
        if self._view_of_job(job) == COMPLETE and not job.state.finished:
            count = int(job.request.params.get("variations", len(images)))
            self.complete.canvas.set_images(imgs.pad_grid(np.asarray(images), count))

    def _restore_stopped(self, job: Any, view: str) -> None:
        if view == COMPLETE:
            self.complete.restore()
        elif self.paint.result is None:
            self.paint.canvas.clear()  # a partial painting is not a result
