"""The diffusion explorer: Generate, Inpaint & img2img and Timeline as tabs.

For the built-in pixel and latent diffusion models and imported diffusers pipelines
(FamilyInfo.explorer == "diffusion"). What the families give it:

- every op reports ctx.progress(k, n, "step k/n") and previews the predicted x0 of its
  images each step (the bridge's job_previewed): the views show both while a run goes;
- results carry extras["timeline"] = {"steps": n, "x0": (m, H, W, C) uint8, "xt": same},
  the frames after each step of the first image (m = n, or fewer for img2img, which
  runs only the last steps).

What it does with them:

- a pick in Generate makes image i (seed s + i) the *subject*: the Inpaint & img2img
  source and the Timeline's subject. The timeline of image 0 came with the result; for
  another image a one-image sample (seed s + i, count 1) traces it on a lane of its own;
- the mask painted in Inpaint & img2img goes into the request as the `mask` input, the
  source as `image` (the window runs the request: status bar, Esc, History);
- scrubbing the Timeline only shows stored frames; Fork (or Generate there) runs the
  `fork` op for the subject alone (seed s + i, count 1, the sample's own settings) with
  fork_step = k and the Fork group's branch settings. The branches line up beside the
  original; File ▸ Export Contact Sheet (or Export branches…) saves them with the recipe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtWidgets import QStyle, QWidget

from studio.core import export
from studio.core.params import random_seed
from studio.core.requests import Request, Result
from studio.core.session import Session
from studio.ui import images as imgs
from studio.ui.bridge import EngineBridge
from studio.ui.canvas import Canvas
from studio.ui.explorers.base import SAMPLES
from studio.ui.explorers.diffusion.views import GenerateView, PaintView, TimelineView
from studio.ui.jobs import JobRouter
from studio.ui.views.live_runs import LiveRunExplorer

PAINT, TIMELINE = "paint", "timeline"
VIEWS = (SAMPLES, PAINT, TIMELINE)
VIEW_LABELS = {SAMPLES: "Generate", PAINT: "Inpaint & img2img", TIMELINE: "Timeline"}
OPS_OF_VIEW = {SAMPLES: ("sample", "interpolate"), PAINT: ("inpaint", "img2img"),
               TIMELINE: ("fork",)}
TRACE_LANE = "diffusion-trace"
# the sample settings a fork replays: everything of the fork op but the branch's own
FORK_OWN = ("fork_step", "fork_seed", "fork_guidance", "fork_class_index", "fork_prompt")


def _has_frames(timeline: Any) -> bool:
    frames = None if not isinstance(timeline, dict) else timeline.get("x0")
    return frames is not None and np.asarray(frames).ndim == 4 and len(frames) > 0


class DiffusionExplorer(LiveRunExplorer):
    VIEWS = VIEWS
    VIEW_LABELS = VIEW_LABELS
    OPS_OF_VIEW = OPS_OF_VIEW
    animation_hint = "Render a seed interpolation first (Generate tab, op Interpolate)."

    def __init__(self, session: Session, jobs: JobRouter, bridge: EngineBridge,
                 run: Callable[..., Any], parent: QWidget | None = None) -> None:
        """`run(request)` queues a user-visible run (the window's `run_request`)."""
        super().__init__(session, jobs, parent)
        self.bridge = bridge
        self.run = run
        self.generate = GenerateView()
        self.paint = PaintView()
        self.timeline = TimelineView()
        icons = QStyle.StandardPixmap
        self._add_view(SAMPLES, self.generate, icons.SP_FileDialogListView,
                       "Sample a grid and watch each image form, step by step (Ctrl+1)")
        self._add_view(PAINT, self.paint, icons.SP_DialogResetButton,
                       "Paint a mask on an image and inpaint it, or run image to image (Ctrl+2)")
        self._add_view(TIMELINE, self.timeline, icons.SP_MediaSeekForward,
                       "Scrub through a sample's steps and fork from one (Ctrl+3)")
        for canvas in (self.generate.canvas, self.paint.mask_canvas, self.paint.canvas):
            canvas.files_dropped.connect(lambda files: self.files_dropped.emit(files, SAMPLES))

        self.generate.picked.connect(self._on_generate_picked)
        self.generate.paint_button.clicked.connect(lambda: self.set_view(PAINT))
        self.generate.timeline_button.clicked.connect(lambda: self.set_view(TIMELINE))
        self.paint.use_picked_requested.connect(self._on_paint_use_picked_requested)
        self.paint.use_result_requested.connect(self.paint.take_picked_result)
        self.timeline.step_chosen.connect(self._on_timeline_step_chosen)
        self.timeline.fork_requested.connect(self.fork)
        self.timeline.export_requested.connect(self.export_sheet_requested)
        self.timeline.clear_requested.connect(lambda: self._set_branches([]))
        self.timeline.branch_clicked.connect(self._on_timeline_branch_clicked)
        self._connect_live(bridge)

        # the subject: (the sample result, index of the image) whose steps the timeline shows
        self.subject: tuple[Result, int] | None = None
        self.subject_timeline: dict[str, Any] | None = None
        self.branches: list[tuple[np.ndarray, str, Result | None]] = []  # (image, label, fork)
        self.compared: list[tuple[np.ndarray, str, Result | None]] = []  # shown: + the original
        self.interpolation: Result | None = None

    # -- results -------------------------------------------------------------------------------
    def show_result(self, result: Result) -> None:
        op = result.request.op
        if op == "fork":
            self._add_branch(result)
            return
        super().show_result(result)
        if op == "interpolate":
            self.interpolation = result
        elif op == "sample":
            self._set_subject(result, 0)
        elif op in ("img2img", "inpaint"):
            self._show_inputs(result.request)

    def _show_inputs(self, request: Request) -> None:
        self.paint.show_inputs(request.inputs.get("image"), request.inputs.get("mask"))

    def current_image(self) -> np.ndarray | None:
        if self.current_view() == TIMELINE and self.timeline.result is None:
            return self.timeline.frame(self.timeline.slider.value())
        return super().current_image()

    def animation_result(self) -> Result | None:
        return self.interpolation

    def canvas(self) -> Canvas:
        view = self.current_view()
        return self.paint.mask_canvas if view == PAINT else self.views[view].canvas

    def canvases(self) -> list[Canvas]:
        return [self.generate.canvas, self.paint.mask_canvas, self.paint.canvas,
                self.timeline.canvas, self.timeline.branches, self.timeline.strip]

    def clear(self) -> None:
        super().clear()
        self.subject = self.subject_timeline = self.interpolation = None
        self.branches = []
        self.generate.paint_button.setEnabled(False)
        self.generate.timeline_button.setEnabled(False)

    # -- the subject ---------------------------------------------------------------------------
    def _on_generate_picked(self) -> None:
        item = self.generate.picked_item(0)
        result = self.generate.result
        if item is None or result is None:
            return
        self.generate.paint_button.setEnabled(True)
        self.generate.timeline_button.setEnabled(result.request.op == "sample")
        self.paint.set_source(item[0], keep_mask=True)
        if result.request.op == "sample":
            self._set_subject(result, self.generate.selection[0])

    def _set_subject(self, result: Result, index: int) -> None:
        if self.subject is not None and self.subject[0] is result and self.subject[1] == index:
            return
        self.subject = (result, index)
        self.branches = []
        self._draw_fork_seed()  # a new subject's first branch differs from it
        self.timeline.show_branches(None)
        self.generate.timeline_button.setEnabled(True)
        seed = result.request.seed
        name = f"seed {seed + index}" if seed is not None else f"image {index + 1}"
        if index == 0:
            self.subject_timeline = result.extras.get("timeline")
            if not _has_frames(self.subject_timeline):
                self.subject_timeline = None
                name += ": no steps kept (Keep the step timeline is off)"
            self.timeline.set_frames(self.subject_timeline, name, can_fork=True)
        else:  # only the first image's frames came with the result: trace this one
            self.subject_timeline = None
            self.timeline.set_frames(None, f"{name}: tracing its steps…", can_fork=False)
            request = self.session.request("sample", params=self._subject_params())
            self.jobs.submit(request, lane=TRACE_LANE, latest_wins=True,
                             label=f"trace {name}", on_result=self._on_traced)
        if self.current_view() == TIMELINE:
            self._write_fork_settings()

    def _on_traced(self, _job: Any, traced: Result) -> None:
        if self.subject is None or traced.request.params != self._subject_params():
            return  # another subject since
        self.subject_timeline = traced.extras.get("timeline")
        if not _has_frames(self.subject_timeline):
            self.subject_timeline = None
        seed = traced.request.seed
        self.timeline.set_frames(self.subject_timeline, f"seed {seed}", can_fork=True)

    def _subject_params(self) -> dict[str, Any]:
        """The subject's sample settings, for itself alone: seed s + i, count 1."""
        assert self.subject is not None
        result, index = self.subject
        params = dict(result.request.params)
        if "seed" in params:
            params["seed"] = int(params["seed"]) + index
        if "count" in params:
            params["count"] = 1
        return params

    def _write_fork_settings(self) -> None:
        """The fork op's sample settings in the panel are the subject's own."""
        if self.subject is None or self.session.family is None:
            return
        try:
            spec = self.session.op_spec("fork")
        except KeyError:
            return  # a family without fork
        own = {p.name for p in spec.scalar_params}
        values = {k: v for k, v in self._subject_params().items() if k in own and k not in FORK_OWN}
        if self.timeline.steps:
            values["fork_step"] = self.timeline.slider.value()
        self.session.set_values(values, "fork")  # the panel follows the session

    def _on_tabs_current_changed(self, index: int) -> None:
        if self.current_view() == TIMELINE:  # before the window shows the fork's panel
            self._write_fork_settings()
        super()._on_tabs_current_changed(index)

    # -- paint --------------------------------------------------------------------------------
    def _on_paint_use_picked_requested(self) -> None:
        item = self.generate.picked_item(0)
        if item is None:
            self.message_raised.emit("Pick a sample in Generate first (click it), or drop an "
                                      "image on the canvas.")
            return
        self.paint.set_source(item[0], keep_mask=True)

    def take_image(self, image: np.ndarray, path: str) -> bool:
        """An image dropped or opened: the Inpaint & img2img source."""
        self.paint.set_source(image, keep_mask=True)
        self.set_view(PAINT)
        return True

    # -- generate ----------------------------------------------------------------------------
    def take_generate(self) -> bool:
        view = self.current_view()
        if view == TIMELINE:  # the panel's "Fork at step" (the slider writes it too)
            k = int(self.session.value("fork_step", "fork"))
            if self.timeline.steps:
                self.timeline.slider.setValue(k)
            self.fork(k)
            return True
        if view == PAINT:
            inpaint = self.session.op == "inpaint"
            missing = self.paint.missing(need_mask=inpaint)
            if missing:  # the brush's words, as in the PixelCNN's Complete
                self.message_raised.emit(missing + (" Or choose Image to image." if inpaint and
                                                    self.paint.mask_canvas.source is not None else ""))
                return True
            self.session.set_input("image", self.paint.mask_canvas.source)
            if inpaint:
                self.session.set_input("mask", self.paint.mask_canvas.mask())
        return False

    def fork(self, k: int) -> Any:
        """Run the fork op for the subject from step k with the panel's branch settings."""
        if self.subject is None:
            self.message_raised.emit("Generate a sample first: forks branch from one of its steps.")
            return None
        if self.subject_timeline is None:
            self.message_raised.emit("This sample's steps are not here (yet): wait for its trace, "
                                      "or turn on Keep the step timeline and generate again.")
            return None
        if self.session.model_id != self.subject[0].request.model_id:
            return None
        self._write_fork_settings()
        self.session.set_value("fork_step", int(k), "fork")
        job = self.run(self.session.request("fork"))  # the branch seed the panel shows
        self._draw_fork_seed()
        return job

    def _draw_fork_seed(self) -> None:
        """A new branch each time, drawn in advance like Generate's seed (unless locked):
        the panel shows the seed the next fork uses."""
        if self.session.seed_locked:
            return
        try:
            spec = self.session.op_spec("fork")
        except (AssertionError, KeyError):
            return  # no model, or a family without fork
        if any(p.name == "fork_seed" for p in spec.scalar_params):
            self.session.set_value("fork_seed", random_seed(), "fork")

    def _base(self, params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if k not in FORK_OWN}

    def _add_branch(self, result: Result) -> None:
        params = result.request.params
        if self.subject is None or self._base(params) != self._base(self._subject_params()):
            self.branches = []  # a fork of something else (a History entry): no original
        k = result.extras.get("fork_step", params.get("fork_step"))
        parts = [f"from step {k}"]
        for name, text in (("fork_seed", "seed {}"), ("fork_guidance", "guidance {}"),
                           ("fork_class_index", "class {}"), ("fork_prompt", "“{}”")):
            if params.get(name) not in (None, "", -1):
                parts.append(text.format(params[name]))
        if params.get("fork_class_index") == -1 and result.labels:
            parts.append(f"class {result.labels[0]} (drawn from the seed)")
        number = sum(1 for *_, fork in self.branches if fork is not None) + 1
        self.branches.append((result.images[0], f"branch {number}: " + ", ".join(parts), result))
        self._set_branches(self.branches)
        self.set_view(TIMELINE)
        # the branch's own steps stay scrubbable through the timeline of its result

    def _set_branches(self, branches: list[tuple[np.ndarray, str, Result | None]]) -> None:
        self.branches = list(branches)
        self.compared = []
        if not self.branches:
            self.timeline.show_branches(None)
            return
        entries = list(self.branches)
        if self.subject is not None and entries[0][2] is not None and \
                self._base(entries[0][2].request.params) == self._base(self._subject_params()):
            result, index = self.subject
            seed = result.request.seed
            entries.insert(0, (result.images[index], f"original (seed {seed + index})"
                               if seed is not None else "original", None))
            recipes = [export.recipe_of(result, index)]
        else:
            recipes = []
        shapes = {e[0].shape for e in entries}
        if len(shapes) > 1:
            entries = [e for e in entries if e[2] is not None]
            recipes = []
        recipes += [export.recipe_of(e[2], 0) for e in entries if e[2] is not None]
        last = next(e[2] for e in reversed(entries) if e[2] is not None)
        self.compared = entries
        comparison = Result(request=last.request, images=np.stack([e[0] for e in entries]),
                            labels=tuple(e[1] for e in entries), columns=len(entries),
                            extras={"recipes": recipes}, device=last.device)
        self.timeline.show_branches(comparison)

    def _on_timeline_branch_clicked(self, index: int) -> None:
        """The original's steps (forkable) or a branch's (its first k are the original's)."""
        if not 0 <= index < len(self.compared):
            return
        _image, label, fork = self.compared[index]
        self.timeline.selection = [index]
        self.timeline.branches.set_selection([index])
        if fork is None:
            self.timeline.set_frames(self.subject_timeline, label, can_fork=True)
        else:
            self.timeline.set_frames(fork.extras.get("timeline"), label.split(":")[0], can_fork=False,
                                     why_not="Forks branch from the original: click it (the "
                                             "first image) to fork again")
            step = fork.extras.get("fork_step")
            if step and self.timeline.steps:
                self.timeline.slider.setValue(int(step))

    # -- scrubbing ------------------------------------------------------------------------------
    def _on_timeline_step_chosen(self, k: int) -> None:
        if self.session.family is None:
            return
        try:
            self.session.op_spec("fork")
        except KeyError:
            return
        self.session.set_value("fork_step", int(k), "fork")  # the panel follows

    def session_changed(self) -> None:
        """Undo, restore or reset: the slider follows the fork step."""
        if self.timeline.steps and self.session.family is not None and self.session.op == "fork":
            self.timeline.slider.blockSignals(True)
            self.timeline.slider.setValue(int(self.session.value("fork_step", "fork")))
            self.timeline.slider.blockSignals(False)
            self.timeline.show_step(self.timeline.slider.value())

    # -- step counters and live previews ----------------------------------------------------
    def _view_of_job(self, job: Any) -> str | None:
        request = getattr(job, "request", None)
        if request is None or job.lane not in ("default", TRACE_LANE):
            return None
        if job.lane == TRACE_LANE:
            return TIMELINE
        if request.model_id != self.session.model_id:
            return None
        return self.view_of(request)

    def _counter(self, view: str) -> Any:
        return {SAMPLES: self.generate.step, PAINT: self.paint.step,
                TIMELINE: self.timeline.step}[view]

    def _start_text(self, job: Any) -> str:
        steps = job.request.params.get("steps")
        return f"step 0/{steps}" if steps else "starting…"

    def _on_bridge_job_previewed(self, job: Any, images: Any) -> None:
        view = self._view_of_job(job)
        if view is None or job.state.finished or job.lane != "default":
            return
        count = int(job.request.params.get("count", len(images)))
        if view == PAINT:
            self.paint.show_previews(np.asarray(images), count)
        elif view == TIMELINE:
            self.timeline.show_previews(np.asarray(images))
        elif job.request.op != "sample":  # the window grows sample grids itself
            self.generate.canvas.set_images(imgs.pad_grid(np.asarray(images), count))

    def _restore_stopped(self, job: Any, view: str) -> None:
        if view == PAINT:
            self.paint.restore()
        elif view == TIMELINE:
            self.timeline.restore()
            if job.lane == TRACE_LANE and self.subject_timeline is None:
                self.timeline.subject_label.setText("tracing stopped: pick the image again")
        elif self.generate.result is not None:
            self.generate.show_result(self.generate.result)
