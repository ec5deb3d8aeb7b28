"""Model ▸ Train New Model…: train a model on a folder of your own images, and watch it learn.

Data (a folder: its contact sheet, the count, what was skipped and why; resolution, grey
or colour, subfolders as classes, held-out fraction, flips), a family and a size preset
(each size's parameter count and time per step measured here, in a spawned process, as
soon as the data and family are chosen, so the estimate is there before the run), the VAE
latent diffusion works in (picked from the library's VAEs that fit the data), and Advanced
(steps, batch, learning rate, seed, threads). The recipe is the one `studio train --data`
writes (studio.core.train_runs.make_recipe).

Training runs in a spawned process (train_runs.TrainProcess), never in the window: a
QTimer drains its messages, so the window and its engine stay live and a crash in
training is a message, not a crash. Loss curves per term (pyqtgraph) with the held-out
figures dashed beside them (bits/dim for the flow and PixelCNN, the loss for the VAE), a
sample grid from fixed seeds every N steps, steps per second and ETA stream back; a
resumed run's curves are read back from its log. Pause checkpoints and
ends the process; Resume starts it again from that checkpoint (bit for bit); Cancel
checkpoints too, so the next start offers to resume. When the run ends the model is in
the library and `model_ready` opens it in its explorer.
"""

from __future__ import annotations

import html
import json
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.train_data import (
    BUILTIN_GLYPHS,
    FolderSettings,
    PreparedFolder,
    contact_sheet,
    prepare_folder,
)
from studio.core.train_runs import (
    SIZES,
    RunSettings,
    TrainProcess,
    estimate_key,
    has_checkpoint,
    make_recipe,
    presets,
    read_log,
    unfinished_runs,
    write_recipe,
)
from studio.ui.cross_thread import ThreadGate
from studio.ui.images import to_pixmap
from studio.ui.wheel_guard import guard_wheel

POLL_MS = 100  # how often the window drains the training process's messages
PREVIEW_SCALE = 3  # small sample grids are shown enlarged, nearest neighbour
MEASURE_DELAY_MS = 400  # settle time after a change before measuring (a burst of edits measures once)
MEASURE_STEPS = 3
# how the curves are named; held-out figures are drawn dashed beside their training term
CURVE_NAMES = {"bpd": "bits/dim", "held_out_bpd": "held-out bits/dim", "held_out_loss": "held-out loss"}
NOT_PLOTTED = ("steps_per_s", "beta", "lr", "grad")  # rates and diagnostics on other scales


def _fmt_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"


class TrainDialog(QDialog):
    """The Train view. `model_ready(model_id, folder)` when a run has landed its model."""

    model_ready = Signal(str, str)
    # idle, running, pausing, paused, cancelling, cancelled, saving, done, failed
    state_changed = Signal(str)
    samples_shown = Signal(int)  # the step of the sample grid now shown
    estimate_shown = Signal(dict)
    _prepared = Signal(object, str)  # from the scanning thread: (PreparedFolder | None, error)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train New Model")
        self.resize(980, 680)
        self._presets = presets()
        # measured figures by estimate_key (family, size, model config, batch, threads)
        self.estimates: dict[str, dict[str, float]] = {}
        self._measuring: dict[str, str] = {}  # estimate_key -> size, while the estimator runs
        self._recipes: dict[str, dict[str, Any]] = {}  # recipe_for's memory
        self._ending: list[TrainProcess] = []  # children done with, not yet exited
        self.prepared: PreparedFolder | None = None
        self.process: TrainProcess | None = None
        self.estimator: TrainProcess | None = None
        self.recipe: dict[str, Any] | None = None
        self.state = "idle"
        self._stopping_for = ""  # "pause" or "cancel" while the child winds down
        self.curves: dict[str, Any] = {}
        self.losses: dict[str, list[tuple[int, float]]] = {}
        self.last_step = 0
        self._rate_mark: tuple[float, int] | None = None
        self.steps_per_s = 0.0
        self._eta_per_step = 0.0  # the measured seconds per step, until the run has a rate
        self.eta_seconds = 0.0
        self.metrics: dict[str, float] = {}
        # closed while the view is closed (it may be deleted): a scan finishing then is
        # read again when the view shows
        self._scan_gate = ThreadGate()
        self._scan_dropped = False
        self._prepared.connect(self._on_scan_finished)
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    # -- layout --------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        left = QWidget()
        form_col = QVBoxLayout(left)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(left)
        scroll.setMinimumWidth(340)
        outer.addWidget(scroll, 0)

        data = QGroupBox("Data")
        f = QFormLayout(data)
        row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder of your images")
        self.folder_edit.editingFinished.connect(self.scan)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        glyphs = QPushButton("Glyphs")
        glyphs.setToolTip("The built-in glyph digits (32 px grey, 10 classes)")
        glyphs.clicked.connect(self.use_builtin_glyphs)
        # the buttons under the path: beside it the row was wider than the column at
        # 1024×700, which scrolls vertically only and cut them off
        row.addWidget(browse)
        row.addWidget(glyphs)
        row.addStretch(1)
        f.addRow("Folder", self.folder_edit)
        f.addRow("", row)
        self.resolution_combo = QComboBox()
        self.grey_check = QCheckBox("Grey (otherwise colour)")
        self.classes_check = QCheckBox("Subfolders are classes")
        self.flip_check = QCheckBox("Horizontal flips")
        self.held_spin = QDoubleSpinBox()
        self.held_spin.setRange(0.01, 0.5)
        self.held_spin.setSingleStep(0.05)
        self.held_spin.setValue(0.1)
        f.addRow("Resolution", self.resolution_combo)
        f.addRow("", self.grey_check)
        f.addRow("", self.classes_check)
        f.addRow("", self.flip_check)
        f.addRow("Held out", self.held_spin)
        self.count_label = QLabel("No folder yet.")
        self.count_label.setWordWrap(True)
        f.addRow(self.count_label)
        self.sheet_label = QLabel()
        self.sheet_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        f.addRow(self.sheet_label)
        self.skipped_text = QPlainTextEdit()
        self.skipped_text.setReadOnly(True)
        self.skipped_text.setMaximumHeight(70)
        self.skipped_text.setPlaceholderText("Skipped files, with the reason, show here.")
        f.addRow(self.skipped_text)
        form_col.addWidget(data)

        model = QGroupBox("Model")
        m = QFormLayout(model)
        self.family_combo = QComboBox()
        for name, preset in self._presets.items():
            self.family_combo.addItem(preset["name"], name)
        self.size_combo = QComboBox()
        self.size_combo.addItems(list(SIZES))
        self.size_combo.setCurrentText("small")
        self.vae_combo = QComboBox()
        self.vae_combo.setToolTip("Latent diffusion works in this VAE's latent space: a VAE "
                                  "trained here or imported, at the data's resolution and channels")
        m.addRow("Family", self.family_combo)
        m.addRow("Size", self.size_combo)
        m.addRow("VAE", self.vae_combo)
        self.estimate_label = QLabel("Choose a folder: each size is measured on it here.")
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setTextFormat(Qt.TextFormat.RichText)
        m.addRow(self.estimate_label)
        form_col.addWidget(model)

        adv = QGroupBox("Advanced")
        a = QFormLayout(adv)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 10_000_000)
        self.steps_spin.setValue(2000)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(0, 4096)
        self.batch_spin.setSpecialValueText("preset")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.0, 1.0)
        self.lr_spin.setSingleStep(0.0001)
        self.lr_spin.setSpecialValueText("preset")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.sample_spin = QSpinBox()
        self.sample_spin.setRange(0, 1_000_000)
        self.sample_spin.setValue(100)
        self.sample_count_spin = QSpinBox()
        self.sample_count_spin.setRange(1, 64)
        self.sample_count_spin.setValue(16)
        self.sample_count_spin.setToolTip("Images in each sample grid (PixelCNN and diffusion "
                                          "samples cost more than a training step: fewer is quicker)")
        self.checkpoint_spin = QSpinBox()
        self.checkpoint_spin.setRange(1, 1_000_000)
        self.checkpoint_spin.setValue(200)
        self.threads_spin = QSpinBox()
        self.threads_spin.setRange(1, max(1, os.cpu_count() or 1))
        # leave the window a core, as the engine does
        self.threads_spin.setValue(max(1, (os.cpu_count() or 2) - 1))
        a.addRow("Steps", self.steps_spin)
        a.addRow("Batch", self.batch_spin)
        a.addRow("Learning rate", self.lr_spin)
        a.addRow("Seed", self.seed_spin)
        a.addRow("Samples every", self.sample_spin)
        a.addRow("Samples per grid", self.sample_count_spin)
        a.addRow("Checkpoint every", self.checkpoint_spin)
        a.addRow("Threads", self.threads_spin)
        form_col.addWidget(adv)
        form_col.addStretch(1)

        right = QVBoxLayout()
        buttons = QHBoxLayout()
        self.resume_check = QCheckBox("Resume from its checkpoint")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save as model")
        self.save_button.setToolTip("Evaluate the last checkpoint and add it to the library")
        self.save_button.clicked.connect(self.save_checkpoint_as_model)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel)
        for w in (self.start_button, self.resume_check, self.pause_button, self.resume_button,
                  self.cancel_button, self.save_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        right.addLayout(buttons)
        # a run that stopped before its end (paused, cancelled, the app quit): offered again
        self.unfinished_row = QWidget()
        unfinished = QHBoxLayout(self.unfinished_row)
        unfinished.setContentsMargins(0, 0, 0, 0)
        self.unfinished_combo = QComboBox()
        self.continue_button = QPushButton("Resume this run")
        self.continue_button.clicked.connect(self.continue_unfinished)
        unfinished.addWidget(QLabel("Unfinished:"))
        unfinished.addWidget(self.unfinished_combo, 1)
        unfinished.addWidget(self.continue_button)
        right.addWidget(self.unfinished_row)
        self.status_label = QLabel("Choose a folder of images.")
        right.addWidget(self.status_label)
        import pyqtgraph as pg  # here, not at import: the window starts without it

        self.plot = pg.PlotWidget()
        self.plot.addLegend()
        self.plot.setLabel("bottom", "step")
        self.plot.setMinimumHeight(200)
        right.addWidget(self.plot, 1)
        self.samples_label = QLabel("Samples appear here as it trains.")
        self.samples_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples_label.setMinimumHeight(200)
        right.addWidget(self.samples_label, 1)
        self.metrics_label = QLabel("")
        self.metrics_label.setWordWrap(True)
        right.addWidget(self.metrics_label)
        outer.addLayout(right, 1)

        self.family_combo.currentIndexChanged.connect(self._on_family_changed)
        for w in (self.size_combo, self.resolution_combo):
            w.currentIndexChanged.connect(self._refresh_resume)
        for w in (self.grey_check, self.classes_check, self.flip_check):
            w.toggled.connect(self.scan)
        # measure the sizes again once the settings that shape a step settle
        self._measure_timer = QTimer(self)
        self._measure_timer.setSingleShot(True)
        self._measure_timer.setInterval(MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(self.measure)
        for combo in (self.family_combo, self.size_combo, self.resolution_combo, self.vae_combo):
            combo.currentIndexChanged.connect(self._schedule_measure)
        for spin in (self.batch_spin, self.threads_spin):
            spin.valueChanged.connect(self._schedule_measure)
        self.steps_spin.valueChanged.connect(self._show_estimates)
        for w in (self.resolution_combo,):
            w.currentIndexChanged.connect(self.refresh_vaes)
        self.grey_check.toggled.connect(self.refresh_vaes)
        guard_wheel(left)  # the settings column scrolls
        for combo in left.findChildren(QComboBox):  # a long entry widens the list, not the column
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self._on_family_changed()
        self._set_state("idle")
        self.refresh_unfinished()

    # -- data ----------------------------------------------------------------------
    def folder_settings(self) -> FolderSettings:
        return FolderSettings(self.folder_edit.text().strip(),
                              size=int(self.resolution_combo.currentData() or 32),
                              channels=1 if self.grey_check.isChecked() else 3,
                              classes=self.classes_check.isChecked(),
                              held_out_fraction=round(self.held_spin.value(), 4),
                              flip=self.flip_check.isChecked(), seed=self.seed_spin.value())

    def set_folder(self, path: str) -> None:
        self.folder_edit.setText(path)
        self.scan()

    def use_builtin_glyphs(self) -> None:
        """The built-in dataset: its evaluator's figures land in the card too."""
        self.resolution_combo.setCurrentIndex(max(0, self.resolution_combo.findData(32)))
        self.grey_check.setChecked(True)
        self.set_folder(BUILTIN_GLYPHS)

    def _on_browse_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A folder of your images", str(Path.home()))
        if path:
            self.set_folder(path)

    def scan(self) -> None:
        """Prepare the folder on a thread (numpy + Pillow; cached by content)."""
        if not self.folder_edit.text().strip():
            return
        settings = self.folder_settings()
        self.count_label.setText("Reading the folder…")

        def work() -> None:
            try:
                found: tuple[PreparedFolder | None, str] = (prepare_folder(settings), "")
            except (ValueError, OSError) as exc:
                found = (None, str(exc))
            if not self._scan_gate.emit(self._prepared, *found):
                self._scan_dropped = True

        threading.Thread(target=work, name="studio-train-scan", daemon=True).start()

    def _on_scan_finished(self, prepared: PreparedFolder | None, error: str) -> None:
        self.prepared = prepared
        self._recipes.clear()
        if prepared is None:
            self.count_label.setText(error)
            self.sheet_label.clear()
            self.skipped_text.setPlainText("")
            self._refresh_resume()
            return
        held = len(prepared.splits["held_out"])
        classes = f", {len(prepared.class_names)} classes" if prepared.class_names else ""
        self.count_label.setText(f"{prepared.count} images ({prepared.count - held} for training, "
                                 f"{held} held out{classes}); {len(prepared.skipped)} skipped")
        sheet = contact_sheet(prepared, 48)
        scale = max(1, 320 // max(1, sheet.shape[1]))
        self.sheet_label.setPixmap(to_pixmap(np.ascontiguousarray(
            sheet.repeat(scale, 0).repeat(scale, 1))))
        self.skipped_text.setPlainText("\n".join(f"{p}: {why}" for p, why in prepared.skipped))
        self._refresh_resume()
        self._schedule_measure()

    def _on_family_changed(self) -> None:
        preset = self._presets[self.family_combo.currentData()]
        current = self.resolution_combo.currentData()
        self.resolution_combo.blockSignals(True)
        self.resolution_combo.clear()
        for r in preset["resolutions"]:
            self.resolution_combo.addItem(f"{r} px", r)
        index = self.resolution_combo.findData(current)
        self.resolution_combo.setCurrentIndex(max(0, index))
        self.resolution_combo.blockSignals(False)
        grey_only = preset.get("channels", [1, 3]) == [1]
        if grey_only:
            self.grey_check.setChecked(True)
        self.grey_check.setEnabled(not grey_only)
        self.vae_combo.setEnabled(bool(preset.get("needs_vae")))
        self.refresh_vaes()
        self._refresh_resume()
        self._show_estimates()

    def refresh_vaes(self) -> None:
        """The VAEs at the data's resolution and channels, for latent diffusion: read from
        this machine's built-in models and user library, where the training process looks
        for them (the window's library may be a server's)."""
        if not hasattr(self, "vae_combo"):
            return
        from studio.core.library import Library

        current = self.vae_combo.currentData()
        size = int(self.resolution_combo.currentData() or 32)
        channels = 1 if self.grey_check.isChecked() else 3
        fits = [e for e in Library().entries() if e.family == "vae"
                and e.card.resolution == size and e.card.channels == channels]
        self.vae_combo.blockSignals(True)
        self.vae_combo.clear()
        for entry in fits:
            self.vae_combo.addItem(f"{entry.card.name} ({entry.id})", entry.id)
        if not fits:
            kind = "grey" if channels == 1 else "colour"
            self.vae_combo.addItem(f"No VAE at {size} px {kind}: train one here (family VAE)", None)
        self.vae_combo.setCurrentIndex(max(0, self.vae_combo.findData(current)))
        self.vae_combo.blockSignals(False)

    # -- the recipe ----------------------------------------------------------------
    def run_settings(self) -> RunSettings:
        return RunSettings(self.folder_settings(), family=self.family_combo.currentData(),
                           size=self.size_combo.currentText(), steps=self.steps_spin.value(),
                           batch_size=self.batch_spin.value() or None,
                           lr=self.lr_spin.value() or None, seed=self.seed_spin.value(),
                           vae=self.vae_combo.currentData() if self.vae_combo.isEnabled() else None,
                           sample_every=self.sample_spin.value(),
                           sample_count=self.sample_count_spin.value(),
                           checkpoint_every=self.checkpoint_spin.value())

    def recipe_for(self, settings: RunSettings) -> dict[str, Any]:
        """make_recipe, remembered until the next scan: with class subfolders it reads the
        prepared folder, which the window should not do again for every field it redraws."""
        key = json.dumps(asdict(settings), sort_keys=True, default=str)
        if key not in self._recipes:
            self._recipes[key] = make_recipe(settings)  # ValueError: not remembered
        return json.loads(json.dumps(self._recipes[key]))  # a copy: callers may change theirs

    def _make_recipe(self) -> dict[str, Any] | None:
        if self.prepared is None:
            self.status_label.setText("Choose a folder with at least 2 readable images first.")
            return None
        try:
            return self.recipe_for(self.run_settings())
        except ValueError as exc:
            self.status_label.setText(str(exc))
            return None

    def _refresh_resume(self) -> None:
        step = 0
        if self.prepared is not None:
            try:
                step = has_checkpoint(self.recipe_for(self.run_settings())["id"])
            except ValueError:
                step = 0
        self.resume_check.setEnabled(step > 0 and self.state in ("idle", "cancelled", "done", "failed"))
        self.resume_check.setChecked(step > 0)
        self.resume_check.setText(f"Resume from step {step}" if step else "Resume from its checkpoint")

    def _schedule_measure(self) -> None:
        if self.prepared is not None and self.state not in (
                "running", "pausing", "cancelling", "saving", "paused"):
            self._measure_timer.start()
        self._show_estimates()

    def _size_recipes(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(size, estimate_key, recipe) of each size of the chosen family, the chosen size
        first; those that the settings do not allow are left out."""
        sizes = [self.size_combo.currentText()] + [s for s in SIZES if s != self.size_combo.currentText()]
        out = []
        for size in sizes:
            settings = self.run_settings()
            settings.size = size
            try:
                recipe = self.recipe_for(settings)
            except ValueError:
                continue
            out.append((size, estimate_key(recipe, self.threads_spin.value()), recipe))
        return out

    def measure(self) -> None:
        """Parameters and time per step of every size of the chosen family, measured for a
        few steps each in one spawned process (the window never imports torch, and never
        waits on it); sizes measured before with the same settings are not measured again."""
        self._measure_timer.stop()
        if self.prepared is None or self.state in ("running", "pausing", "cancelling", "saving", "paused"):
            return
        todo = [(size, key, recipe) for size, key, recipe in self._size_recipes()
                if key not in self.estimates]
        if self.estimator is not None:
            if {key for _, key, _ in todo} <= set(self._measuring):
                return  # already measuring exactly these
            self._stop_estimator()
        if not todo:
            self._show_estimates()
            return
        self._measuring = {key: size for size, key, _ in todo}
        self.estimator = TrainProcess("estimate", recipes=[(key, r) for _, key, r in todo],
                                      steps=MEASURE_STEPS, threads=self.threads_spin.value())
        self.estimator.start()
        self._timer.start()
        self._show_estimates()

    def _stop_estimator(self) -> None:
        """A measurement is not worth finishing once the settings changed or a run starts:
        it would only take cores from what comes next."""
        if self.estimator is not None:
            self.estimator.kill(wait=False)
            self._ending.append(self.estimator)
            self.estimator = None
            self._timer.start()  # to reap it
        self._measuring = {}

    def measured(self) -> dict[str, float] | None:
        """The chosen size's measured figures, when measured with the current settings."""
        try:
            recipe = self.recipe_for(self.run_settings())
        except ValueError:
            return None
        return self.estimates.get(estimate_key(recipe, self.threads_spin.value()))

    def _show_estimates(self) -> None:
        if not hasattr(self, "estimate_label"):
            return
        if self.prepared is None:
            self.estimate_label.setText("Choose a folder: each size is measured on it here.")
            return
        steps = self.steps_spin.value()
        chosen = self.size_combo.currentText()
        lines = []
        for size, key, _ in sorted(self._size_recipes(), key=lambda t: SIZES.index(t[0])):
            figures = self.estimates.get(key)
            if figures is not None:
                per = figures["seconds_per_step"]
                text = (f"{size}: {int(figures['parameters']):,} parameters · {per * 1000:.0f} ms per "
                        f"step ({int(figures['threads'])} threads) · about {_fmt_seconds(per * steps)} "
                        f"for {steps} steps")
            elif key in self._measuring:
                text = f"{size}: measuring a few steps…"
            else:
                text = f"{size}: not measured"
            lines.append(f"<b>{text}</b>" if size == chosen else text)
        if not lines:  # no size fits these settings: say why (latent diffusion without a VAE, …)
            try:
                self.recipe_for(self.run_settings())
            except ValueError as exc:
                lines.append(html.escape(str(exc)))
        self.estimate_label.setText("<br>".join(lines))

    def _on_estimate(self, figures: dict[str, float], key: str) -> None:
        self.estimates[key] = dict(figures)
        self._measuring.pop(key, None)
        self._show_estimates()
        self.estimate_shown.emit(dict(figures))

    # -- the run -------------------------------------------------------------------
    def start(self) -> None:
        recipe = self._make_recipe()
        if recipe is None or self.process is not None:
            return
        self.recipe = recipe
        resume = self.resume_check.isChecked() and has_checkpoint(recipe["id"]) > 0
        self._clear_curves()
        if resume:
            self._replay_log()
        self._launch(resume)

    def _launch(self, resume: bool) -> None:
        assert self.recipe is not None
        self._measure_timer.stop()
        self._stop_estimator()  # the run gets the cores
        self._eta_per_step = (self.measured() or {}).get("seconds_per_step", 0.0)
        path = write_recipe(self.recipe)
        self.process = TrainProcess("run", recipe_path=str(path), resume=resume,
                                    threads=self.threads_spin.value())
        self.process.start()
        self._rate_mark = None
        self.steps_per_s = 0.0
        self._timer.start()
        self._set_state("running")
        self.status_label.setText(("Resuming " if resume else "Starting ") + self.recipe["id"] + "…")

    def save_checkpoint_as_model(self) -> None:
        """The model as it is at the last checkpoint, evaluated and in the library; the
        run can still be resumed from there."""
        if self.recipe is None or self.process is not None:
            return
        step = has_checkpoint(self.recipe["id"])
        if step <= 0:
            return
        path = write_recipe(self.recipe)
        self.process = TrainProcess("run", recipe_path=str(path), resume=True, max_steps=step,
                                    threads=self.threads_spin.value())
        self.process.start()
        self._timer.start()
        self._set_state("saving")
        self.status_label.setText(f"Evaluating the checkpoint at step {step}…")

    def refresh_unfinished(self) -> None:
        self.unfinished_combo.clear()
        for run_id, step, total, path in unfinished_runs():
            self.unfinished_combo.addItem(f"{run_id} (step {step} of {total})", str(path))
        self.unfinished_row.setVisible(self.unfinished_combo.count() > 0)
        self.continue_button.setEnabled(self.unfinished_combo.count() > 0 and self.state not in (
            "running", "pausing", "cancelling", "saving"))

    def continue_unfinished(self) -> None:
        """Resume the chosen unfinished run from its recipe, whatever the fields show."""
        path = self.unfinished_combo.currentData()
        if not path or self.process is not None:
            return
        try:
            self.recipe = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.status_label.setText(f"{path}: {exc}")
            return
        self._clear_curves()
        self._replay_log()
        self._launch(resume=True)

    def _replay_log(self) -> None:
        """A resumed run's curves up to its checkpoint, from the run's log."""
        assert self.recipe is not None
        step = has_checkpoint(self.recipe["id"])
        for record in read_log(self.recipe["id"]):
            if record["step"] <= step:
                self._plot(int(record["step"]), record)

    def pause(self) -> None:
        if self.process is not None and self.state == "running":
            self._stopping_for = "pause"
            self.process.stop()
            self._set_state("pausing")

    def resume(self) -> None:
        if self.state == "paused" and self.process is None:
            self._launch(resume=True)

    def cancel(self) -> None:
        if self.process is not None and self.state in ("running", "pausing"):
            self._stopping_for = "cancel"
            self.process.stop()
            self._set_state("cancelling")
        elif self.state == "paused":
            self._set_state("cancelled")
            self.status_label.setText(f"Cancelled at step {self.last_step}; the checkpoint is kept.")

    def _set_state(self, state: str) -> None:
        self.state = state
        running = state == "running"
        self.start_button.setEnabled(state in ("idle", "cancelled", "done", "failed"))
        self.pause_button.setEnabled(running)
        self.resume_button.setEnabled(state == "paused")
        self.cancel_button.setEnabled(state in ("running", "pausing", "paused"))
        self.save_button.setEnabled(state in ("paused", "cancelled") and self.recipe is not None)
        if hasattr(self, "unfinished_combo") and state not in ("running", "pausing", "cancelling", "saving"):
            self.refresh_unfinished()
        self._refresh_resume()
        self.state_changed.emit(state)

    def _on_timer_timeout(self) -> None:
        if self.estimator is not None:
            for message in self.estimator.poll():
                if message[0] == "estimate":
                    self._on_estimate(message[1], message[2] if len(message) > 2 else "")
                elif message[0] == "error":
                    self._measuring = {}
                    self._show_estimates()
                    self.estimate_label.setText(self.estimate_label.text()
                                                + f"<br>Measuring failed: {html.escape(message[1])}")
            if self.estimator is not None and (self.estimator.finished or not self.estimator.alive):
                self._ending.append(self.estimator)
                self.estimator = None
                self._measuring = {}
        if self.process is not None:
            for message in self.process.poll():
                self._on_message(message)
            if self.process is not None and self.process.finished:
                self._ending.append(self.process)
                self.process = None
        self._reap()
        if self.process is None and self.estimator is None and not self._ending:
            self._timer.stop()

    def _reap(self) -> None:
        """Join children that have said their last word once they have exited: a child
        tearing torch down can take a second, which the window must not wait out."""
        for proc in list(self._ending):
            if not proc.alive:
                proc.join(0)
                self._ending.remove(proc)

    def _on_message(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "log":
            self._on_log(int(message[1]), message[2])
        elif kind == "samples":
            self._show_samples(int(message[1]), message[2])
        elif kind == "checkpoint":
            self.last_step = max(self.last_step, int(message[1]))
        elif kind == "stopped":
            self.last_step = int(message[1])
            if self._stopping_for == "cancel":
                self._set_state("cancelled")
                self.status_label.setText(f"Cancelled at step {self.last_step}; "
                                          "the checkpoint is kept, Start offers to resume.")
            else:
                self._set_state("paused")
                self.status_label.setText(f"Paused at step {self.last_step} (checkpoint written).")
            self._stopping_for = ""
        elif kind == "done":
            result = message[1]
            self.metrics = dict(result["metrics"])
            self._set_state("done")
            self.status_label.setText(f"Done: {result['model_id']} is in the library.")
            self.metrics_label.setText(self._metrics_text(self.metrics))
            self.model_ready.emit(result["model_id"], result["folder"])
            self.refresh_vaes()  # a VAE trained here is offered to latent diffusion at once
        elif kind == "error":
            self._set_state("failed")
            self.status_label.setText(f"Training stopped: {message[1]}")

    @staticmethod
    def _metrics_text(metrics: dict[str, float]) -> str:
        parts = []
        if "nn_distance_samples" in metrics:
            parts.append(f"nearest training image: samples {metrics['nn_distance_samples']:.3f} "
                         f"vs held-out {metrics.get('nn_distance_held_out', float('nan')):.3f} "
                         "(samples far below held-out would mean copying)")
        for key, label in (("reconstruction_mse", "reconstruction MSE"),
                           ("bits_per_dim", "bits/dim (held out)")):
            if key in metrics:
                parts.append(f"{label} {metrics[key]:.4f}")
        return " · ".join(parts)

    def _on_log(self, step: int, logs: dict[str, float]) -> None:
        self.last_step = step
        now = time.monotonic()
        if self._rate_mark is None:
            self._rate_mark = (now, step)
        else:
            t0, s0 = self._rate_mark
            if now > t0 and step > s0:
                self.steps_per_s = (step - s0) / (now - t0)
        total = self.recipe["train"]["steps"] if self.recipe else step
        self.eta_seconds = self._eta(step, total)
        held = "".join(f" · {CURVE_NAMES[k]} {v:.4g}" for k, v in logs.items()
                       if k.startswith("held_out") and k in CURVE_NAMES)
        rate = f"{self.steps_per_s:.2f} steps/s" if self.steps_per_s > 0 else "measuring steps/s"
        self.status_label.setText(f"step {step}/{total} · {rate} · "
                                  f"ETA {_fmt_seconds(self.eta_seconds)}{held}")
        self._plot(step, logs)

    def _eta(self, step: int, total: int) -> float:
        """Seconds left: from this run's own rate once it has one, before that from the
        time per step measured before the run."""
        if self.steps_per_s > 0:
            return (total - step) / self.steps_per_s
        return (total - step) * self._eta_per_step

    def _plot(self, step: int, logs: dict[str, Any]) -> None:
        import pyqtgraph as pg

        for key, value in logs.items():
            if key in NOT_PLOTTED or key == "step" or not isinstance(value, (int, float)) \
                    or not np.isfinite(value):
                continue
            points = self.losses.setdefault(key, [])
            points.append((step, float(value)))
            curve = self.curves.get(key)
            if curve is None:
                base = key.removeprefix("held_out_")
                # a held-out figure: its training term's colour, dashed
                index = list(self.curves).index(base) if base in self.curves else len(self.curves)
                pen = pg.mkPen(pg.intColor(index, hues=9), width=1.5,
                               style=Qt.PenStyle.DashLine if key.startswith("held_out_") else
                               Qt.PenStyle.SolidLine)
                curve = self.curves[key] = self.plot.plot(name=CURVE_NAMES.get(key, key), pen=pen)
            xs, ys = zip(*points)
            curve.setData(np.asarray(xs, float), np.asarray(ys, float))

    def _clear_curves(self) -> None:
        self.plot.clear()
        self.curves.clear()
        self.losses.clear()
        self.last_step = 0

    def _show_samples(self, step: int, images: np.ndarray) -> None:
        from studio.ui.images import grid_image

        grid = grid_image(np.asarray(images), columns=4)
        grid = np.ascontiguousarray(grid.repeat(PREVIEW_SCALE, 0).repeat(PREVIEW_SCALE, 1))
        self.samples_label.setPixmap(to_pixmap(grid))
        self.samples_label.setToolTip(f"samples at step {step}")
        self.samples_shown.emit(step)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # closing the view pauses a run: the checkpoint keeps it for the next start
        if self.process is not None and self.state == "running":
            self.pause()
        self._scan_gate.close()
        super().closeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        self._scan_gate.reopen()
        if self._scan_dropped:  # it finished while the view was closed
            self._scan_dropped = False
            self.scan()
        super().showEvent(event)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop any child (checkpointing a run) and wait for it: the window is quitting."""
        for proc in (self.process, self.estimator, *self._ending):
            if proc is not None:
                proc.stop()
                proc.join(timeout)
                proc.kill()
        self.process = self.estimator = None
        self._ending = []
        self._timer.stop()
