"""The Animator: keyframes on a timeline strip, a path through them, live playback and
export, for any model whose family renders given latents (studio.core.animate).

Keyframes come from a seed, or from whatever the explorer shows: a grid cell, a history
item (a click restores it), an encoded image, a projected photo, the current direction
edits — any result that carries latents. Drag them to reorder; each has a hold time.
Playback goes through a latest-wins lane: a frame the model cannot render in time is
skipped, never queued. Export is one engine call with progress, ETA and cancel; a
cancelled export leaves no file. No torch: frames arrive as numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core import animation as anim
from studio.core.animate import (
    Animation,
    export_task,
    fixed_settings,
    keyframe_condition,
    keyframe_latent,
    render_op_for,
)
from studio.core.export_scale import ExportScale
from studio.core.requests import Request, Result
from studio.core.video import DEFAULT_QUALITY, VideoError, check_encoder, video_kinds_available
from studio.ui import images as imgs
from studio.ui.canvas import Canvas
from studio.ui.wheel_guard import guard_wheel

LANE = "animator"  # latest-wins: playback and scrubbing
THUMB = 56


@dataclass
class Keyframe:
    latent: np.ndarray
    image: np.ndarray
    label: str
    hold: int = 0
    easing: str = "linear"  # of the segment that leaves this keyframe
    condition: np.ndarray | None = None  # its class mix (class-conditional diffusion)


class AnimatorPanel(QWidget):
    exported = Signal(str)  # the path, once written
    message_raised = Signal(str)

    def __init__(self, session: Any, jobs: Any, bridge: Any, registry: Any,
                 pick: Callable[[], tuple[Result, int | None] | None],
                 parent: QWidget | None = None) -> None:
        """`pick()` gives what the explorer shows: (result, picked index or None)."""
        super().__init__(parent)
        self.session, self.jobs, self.registry, self._pick = session, jobs, registry, pick
        self.frame_latents: np.ndarray | None = None
        self.frame_conditions: np.ndarray | None = None
        self.frame = 0
        self.shown_frame: int | None = None  # the frame the canvas shows
        self._export_job: Any = None
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._build()
        session.events.model_changed.connect(self._on_session_model_changed)
        bridge.job_progressed.connect(self._on_bridge_job_progressed)
        self._on_session_model_changed(session.model_id)

    # -- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        adders = QHBoxLayout()
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.seed_box.setToolTip("The seed of the next keyframe")
        self.add_seed_button = QPushButton("Add seed")
        self.add_seed_button.setToolTip("Add a keyframe: this seed's sample")
        self.add_seed_button.clicked.connect(lambda: self.add_seed(self.seed_box.value()))
        self.add_pick_button = QPushButton("Add shown")
        self.add_pick_button.setToolTip("Add a keyframe: the picked cell (or the first image) "
                                        "of what the canvas shows — a sample, an encoded or "
                                        "projected image, a history item, edited directions")
        self.add_pick_button.clicked.connect(self.add_shown)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        # two rows: in one, the four made the dock wider than it is at 1024×700 (the scroll
        # area never scrolls sideways, so the Cancel button and the row's end were cut off)
        for widget in (self.seed_box, self.add_seed_button):
            adders.addWidget(widget)
        layout.addLayout(adders)
        more = QHBoxLayout()
        for widget in (self.add_pick_button, self.remove_button):
            more.addWidget(widget)
        layout.addLayout(more)

        self.strip = QListWidget()  # the timeline strip: drag to reorder
        self.strip.setViewMode(QListWidget.ViewMode.IconMode)
        self.strip.setFlow(QListWidget.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(THUMB, THUMB))
        self.strip.setFixedHeight(THUMB + 40)
        self.strip.setMovement(QListWidget.Movement.Snap)
        self.strip.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.strip.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.strip.model().rowsMoved.connect(self._changed)
        self.strip.currentRowChanged.connect(self._on_strip_current_row_changed)
        self.strip.itemChanged.connect(self._on_strip_item_changed)
        layout.addWidget(self.strip)

        form = QFormLayout()
        self.hold_box = QSpinBox()
        self.hold_box.setRange(0, 240)
        self.hold_box.setToolTip("Extra frames the selected keyframe is held")
        self.hold_box.valueChanged.connect(self._on_hold_box_value_changed)
        form.addRow("Hold (frames)", self.hold_box)
        self.path_box = QComboBox()
        self.path_box.addItems(list(anim.PATHS))
        self.path_box.setToolTip("slerp keeps the radius of Gaussian latents; lerp: straight "
                                 "lines; spline: a smooth Catmull-Rom curve through the keyframes")
        self.easing_box = QComboBox()
        self.easing_box.addItems(list(anim.EASINGS))
        self.easing_box.setToolTip("Easing of the segment that leaves the selected keyframe")
        self.easing_box.currentTextChanged.connect(self._on_easing_box_current_text_changed)
        self.frames_box = QSpinBox()
        self.frames_box.setRange(1, 600)
        self.frames_box.setValue(24)
        self.fps_box = QSpinBox()
        self.fps_box.setRange(1, 120)
        self.fps_box.setValue(24)
        self.loop_box = QCheckBox("Perfect loop")
        self.loop_box.setChecked(True)
        self.speed_box = QCheckBox("Constant speed")
        self.speed_box.setToolTip("Equal time is equal change (in pixels when exported; in the "
                                  "latent while playing)")
        self.scale_box = QComboBox()
        self.scale_box.addItems([f"{f}×" for f in (1, 2, 4, 8)])
        self.scale_box.setCurrentIndex(2)
        self.scale_box.setToolTip("Nearest-neighbour for models of 64 px or less, Lanczos above")
        self.quality_box = QSpinBox()
        self.quality_box.setRange(0, 100)
        self.quality_box.setValue(DEFAULT_QUALITY)
        for label, widget in (("Path", self.path_box), ("Easing (selected)", self.easing_box),
                              ("Frames per keyframe", self.frames_box), ("FPS", self.fps_box),
                              ("", self.loop_box), ("", self.speed_box),
                              ("Export scale", self.scale_box), ("Quality", self.quality_box)):
            form.addRow(label, widget)
        for signal in (self.path_box.currentIndexChanged,
                       self.frames_box.valueChanged, self.loop_box.toggled, self.speed_box.toggled):
            signal.connect(self._changed)
        self.fps_box.valueChanged.connect(self._on_fps_box_value_changed)
        layout.addLayout(form)

        self.canvas = Canvas(placeholder="Add two keyframes, then play")
        self.canvas.setMinimumHeight(160)
        layout.addWidget(self.canvas, 1)
        playback = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.set_playing)
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.scrubber.valueChanged.connect(self._on_scrubber_value_changed)
        self.frame_label = QLabel("")
        self.frame_label.setMinimumWidth(70)
        for widget in (self.play_button, self.scrubber, self.frame_label):
            playback.addWidget(widget)
        layout.addLayout(playback)
        exports = QHBoxLayout()
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("MP4 (H.264), WebM (VP9), GIF, WebP, or a folder of PNGs")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_export)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.eta_label = QLabel("")
        for widget in (self.export_button, self.cancel_button, self.progress):
            exports.addWidget(widget)
        layout.addLayout(exports)
        layout.addWidget(self.eta_label)

        scroll = QScrollArea()  # scrolls vertically, never sideways, at 1024×700
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        guard_wheel(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    # -- the model -----------------------------------------------------------------------------
    def _render_spec(self) -> Any:
        family = self.session.family
        return None if family is None else render_op_for(self.registry.get(family))

    @property
    def render_op(self) -> str | None:
        op = self._render_spec()
        return None if op is None else op.name

    def _on_session_model_changed(self, _model_id: Any) -> None:
        self.set_playing(False)
        self.strip.clear()  # another model's latents mean nothing here
        usable = self.render_op is not None
        for widget in (self.add_seed_button, self.add_pick_button, self.export_button,
                       self.play_button):
            widget.setEnabled(usable)
        if self.session.model_id is None:
            self.status.setText("Choose a model to animate.")
        elif not usable:
            label = self.registry.get(self.session.family).label
            # PixelCNN has no latent; pixel and latent diffusion render no given latent yet
            self.status.setText(f"{label} models have no latent the Animator can render: "
                                "there is nothing to animate.")
        else:
            self.status.setText("Add keyframes: a seed, or the image the canvas shows.")
        self._changed()

    # -- keyframes -----------------------------------------------------------------------------
    def keyframes(self) -> list[Keyframe]:
        return [self.strip.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.strip.count())]

    def add_keyframe(self, latent: np.ndarray, image: np.ndarray, label: str,
                     condition: np.ndarray | None = None) -> None:
        key = Keyframe(np.asarray(latent, np.float32), np.asarray(image), label,
                       condition=None if condition is None else np.asarray(condition, np.float32))
        existing = self.keyframes()
        if existing and existing[0].latent.shape != key.latent.shape:
            self.message_raised.emit(f"{label}: its latent {key.latent.shape} is not this "
                                     f"model's {existing[0].latent.shape}")
            return
        item = QListWidgetItem(label)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setIcon(QIcon(imgs.to_pixmap(key.image)))
        item.setToolTip(f"{label} (double-click to rename; drag to reorder)")
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.strip.addItem(item)
        self._changed()

    def add_seed(self, seed: int) -> Any:
        model_id, op = self.session.model_id, self.render_op
        if model_id is None or op is None:
            return None
        # drawn with the panel's sampler and conditioning settings (its class, say)
        sample = self.registry.get(self.session.family).op("sample")
        settings = fixed_settings(sample, self.session.values())
        request = Request(model_id, "sample", {**settings, "seed": int(seed), "count": 1})

        def done(_job: Any, result: Result) -> None:
            spec = self._render_spec()
            latent = keyframe_latent(spec, result.latents, result.extras, 0)
            if latent is not None and self.session.model_id == model_id:
                condition = keyframe_condition(spec, result.extras, 0)
                label = f"seed {seed}"
                classes = result.extras.get("classes")
                if condition is not None and classes:
                    label += f" · class {classes[0]}"
                elif condition is not None and result.request.params.get("prompt"):
                    label += f" · {str(result.request.params['prompt'])[:32]}"
                self.add_keyframe(latent, result.images[0], label, condition)

        return self.jobs.submit(request, lane="animator-keys", label=f"keyframe · seed {seed}",
                                on_result=done)

    def add_shown(self) -> bool:
        picked = self._pick()
        spec = self._render_spec()
        result, index = picked if picked is not None else (None, None)
        index = 0 if index is None else index
        latent = None
        if result is not None and spec is not None and result.request.model_id == self.session.model_id:
            latent = keyframe_latent(spec, result.latents, result.extras, index)
        if latent is None or result is None:
            self.message_raised.emit("The canvas shows nothing with a latent to add: "
                                     "sample, encode or project first.")
            return False
        label = result.labels[index] if index < len(result.labels) else f"{result.request.op} {index + 1}"
        self.add_keyframe(latent, result.images[min(index, result.count - 1)], label,
                          keyframe_condition(spec, result.extras, index))
        return True

    def remove_selected(self) -> None:
        row = self.strip.currentRow()
        if row >= 0:
            self.strip.takeItem(row)
            self._changed()

    def _on_strip_current_row_changed(self, row: int) -> None:
        if row >= 0:
            key = self.keyframes()[row]
            for box in (self.hold_box, self.easing_box):
                box.blockSignals(True)
            self.hold_box.setValue(key.hold)
            self.easing_box.setCurrentText(key.easing)
            for box in (self.hold_box, self.easing_box):
                box.blockSignals(False)

    def _on_strip_item_changed(self, item: QListWidgetItem) -> None:
        key = item.data(Qt.ItemDataRole.UserRole)
        if key is not None and item.text() != key.label:  # renamed: the recipe's label too
            key.label = item.text()

    def _on_easing_box_current_text_changed(self, name: str) -> None:
        row = self.strip.currentRow()
        if row >= 0 and name in anim.EASINGS:
            self.keyframes()[row].easing = name
            self._changed()

    def _easings(self) -> tuple[str, ...]:
        """One easing per segment: each keyframe's outgoing one (a loop's last returns)."""
        keys = self.keyframes()
        segments = anim.segment_count(len(keys), self.loop_box.isChecked()) if len(keys) > 1 else 0
        names = tuple(k.easing for k in keys[:segments])
        return () if all(n == "linear" for n in names) else names

    def _on_hold_box_value_changed(self, value: int) -> None:
        row = self.strip.currentRow()
        if row >= 0:
            self.keyframes()[row].hold = int(value)
            self._changed()

    # -- the path ------------------------------------------------------------------------------
    def settings(self) -> anim.PathSettings:
        return anim.PathSettings(
            method=self.path_box.currentText(), frames_per_keyframe=self.frames_box.value(),
            loop=self.loop_box.isChecked(), constant_speed=self.speed_box.isChecked(),
            easing=self._easings(),
            holds=tuple(k.hold for k in self.keyframes()))

    def animation(self) -> Animation | None:
        keys = self.keyframes()
        op = self.render_op
        if len(keys) < 2 or op is None or self.session.model_id is None:
            return None
        conditions = None  # lerped only when every keyframe has one
        if all(k.condition is not None for k in keys):
            conditions = np.stack([k.condition for k in keys])
        return Animation(self.session.model_id, np.stack([k.latent for k in keys]),
                         self.settings(), render_op=op, render_params=self.render_params(),
                         fps=float(self.fps_box.value()), quality=self.quality_box.value(),
                         labels=tuple(k.label for k in keys), conditions=conditions)

    def render_params(self) -> dict[str, Any]:
        """The parameter panel's sampler and conditioning settings (steps, scheduler,
        guidance, …) as the render op takes them: fixed for every frame, kept in the recipe."""
        spec = self._render_spec()
        return {} if spec is None else fixed_settings(spec, self.session.values())

    def _changed(self, *_args: Any) -> None:
        made = self.animation()
        if made is None:
            self.frame_latents = self.frame_conditions = None
            self.scrubber.setRange(0, 0)
            self.frame_label.setText("")
            return
        # live: constant speed in the latent (the export measures rendered pixels)
        positions = anim.frame_positions(made.keyframes, made.settings)
        self.frame_latents = anim.frame_latents(made.keyframes, positions, made.settings)
        self.frame_conditions = None if made.conditions is None else \
            anim.frame_conditions(made.conditions, positions, made.settings)
        self.scrubber.setRange(0, len(self.frame_latents) - 1)
        self.frame = min(self.frame, len(self.frame_latents) - 1)
        self.show_frame(self.frame)

    # -- playback ------------------------------------------------------------------------------
    def set_playing(self, playing: bool) -> None:
        playing = playing and self.frame_latents is not None
        if self.play_button.isChecked() != playing:
            self.play_button.setChecked(playing)
        self.play_button.setText("Stop" if playing else "Play")
        if playing:
            self._timer.start(max(1, round(1000 / self.fps_box.value())))
        else:
            self._timer.stop()

    def _on_fps_box_value_changed(self, fps: int) -> None:
        if self._timer.isActive():
            self._timer.setInterval(max(1, round(1000 / fps)))

    def _on_timer_timeout(self) -> None:
        if self.frame_latents is None:
            self.set_playing(False)
            return
        last = len(self.frame_latents) - 1
        if self.frame >= last and not self.loop_box.isChecked():
            self.set_playing(False)
            return
        # the clock moves on whether or not the last frame was drawn: slow frames are skipped
        self.scrubber.setValue((self.frame + 1) % (last + 1))

    def _on_scrubber_value_changed(self, frame: int) -> None:
        self.show_frame(frame)

    def show_frame(self, frame: int) -> Any:
        """Render frame `frame` on the latest-wins lane; a newer one supersedes it."""
        if self.frame_latents is None or self.session.model_id is None or self.render_op is None:
            return None
        self.frame = frame
        total = len(self.frame_latents)
        self.frame_label.setText(f"{frame + 1}/{total}")
        inputs = {"latent": self.frame_latents[frame : frame + 1]}
        spec = self._render_spec()
        if self.frame_conditions is not None and spec is not None:
            inputs[spec.extra["keyframe_condition"]] = self.frame_conditions[frame : frame + 1]
        request = Request(self.session.model_id, self.render_op, self.render_params(), inputs)

        def done(_job: Any, result: Result) -> None:
            self.shown_frame = frame
            self.canvas.set_image(result.images[0])

        return self.jobs.submit(request, lane=LANE, latest_wins=True,
                                label=f"animator frame {frame + 1}", on_result=done)

    # -- export --------------------------------------------------------------------------------
    def _on_export_button_clicked(self) -> None:
        videos = video_kinds_available()  # none in the desktop bundle (README: Licences)
        filters = [name for kind, name in (("mp4", "MP4 video (*.mp4)"),
                                           ("webm", "WebM video (*.webm)")) if kind in videos]
        filters += ["GIF (*.gif)", "WebP (*.webp)", "PNG frames (folder name, no suffix) (*)"]
        default = f"animation.{videos[0] if videos else 'gif'}"
        path, _ = QFileDialog.getSaveFileName(self, "Export animation", default, ";;".join(filters))
        if path:
            self.export_to(path)

    def export_to(self, path: str | Path) -> Any:
        made = self.animation()
        if made is None:
            self.message_raised.emit("Add two keyframes or more to export an animation.")
            return None
        try:
            check_encoder(path)  # before any rendering: an FFmpeg without H.264, say
        except VideoError as exc:
            self.message_raised.emit(str(exc))
            return None
        info = self.registry.get(self.session.family)
        factor = (1, 2, 4, 8)[self.scale_box.currentIndex()]
        task = export_task(info, made, path, scale=ExportScale(factor))
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.export_button.setEnabled(False)
        self._export_job = self.jobs.call(task, label="export animation", lane="default",
                                          on_result=self._on_export_done,
                                          on_error=self._on_export_failed)
        if self._export_job is not None and self._export_job.state.finished:
            self._export_ended()  # a synchronous engine: it has run already
        return self._export_job

    def cancel_export(self) -> None:
        if self._export_job is not None:
            self.jobs.cancel(self._export_job)
            self.eta_label.setText("Cancelling…")
            # a cancelled call sends no result: end here once the engine says so
            QTimer.singleShot(0, self._poll_export)

    def _poll_export(self) -> None:
        job = self._export_job
        if job is None:
            return
        if job.state.finished:
            if job.state.value == "cancelled":
                self.eta_label.setText("Export cancelled: nothing was written.")
            self._export_ended()
        else:
            QTimer.singleShot(50, self._poll_export)

    def _on_bridge_job_progressed(self, job: Any, fraction: float, message: str) -> None:
        if job is self._export_job:
            self.progress.setValue(round(fraction * 1000))
            self.eta_label.setText(message)

    def _on_export_done(self, _job: Any, report: Any) -> None:
        height, width = report.size
        self.eta_label.setText(f"Wrote {report.path.name}: {report.frames} frames, "
                               f"{width}×{height}, {report.seconds:.1f} s")
        self._export_ended()
        self.exported.emit(str(report.path))

    def _on_export_failed(self, _job: Any, message: str) -> None:
        self.eta_label.setText(f"Export failed: {message}")
        self.message_raised.emit(f"Export failed: {message}")
        self._export_ended()

    def _export_ended(self) -> None:
        self._export_job = None if self._export_job is None or self._export_job.state.finished \
            else self._export_job
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.export_button.setEnabled(self.render_op is not None)


def install(window: Any) -> Any:
    """The Animator as a dock of `window`, tabbed with its Parameters."""
    panel = AnimatorPanel(
        window.session, window.jobs, window.bridge, window.registry,
        pick=lambda: (None if window.explorer.result() is None
                      else (window.explorer.result(), window.explorer.selected_index())))
    panel.message_raised.connect(window.show_info)
    dock = window._dock("Animator", "animator", panel, Qt.DockWidgetArea.RightDockWidgetArea)
    window.tabifyDockWidget(window.params_dock, dock)
    window.params_dock.raise_()
    window.animator = panel
    return dock
