"""The main window: Models (left), the explorer (centre), Parameters (right), History
(bottom), a status bar with progress and Cancel, and the menus.

It owns the session and wires widgets to it; every model run goes session → Request →
JobRouter → engine, and results come back through the bridge. Collaborators are passed
in, so tests build it around a fake family.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QStackedWidget,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.params import ParamError
from studio.core.requests import Request, Result
from studio.core.session import Session
from studio.core.shown import changed_settings
from studio.ui.bridge import EngineBridge
from studio.ui.explorers import ExplorerContext, ExplorerTable, builtin_table
from studio.ui.explorers.base import Explorer
from studio.ui.file_loader import FileLoader
from studio.ui.history_strip import HistoryStrip
from studio.ui.jobs import JobRouter
from studio.ui.message_bar import MessageBar
from studio.ui.model_panel import ModelPanel, human_size
from studio.ui.params_panel import ParamsPanel
from studio.ui.shown_line import ShownLine
from studio.ui.theme import apply_theme
from studio.ui.window_actions import APP_TITLE, SHORTCUTS, ActionsMixin
from studio.ui.window_files import FilesMixin
from studio.ui.window_help import HelpMixin

__all__ = ["APP_TITLE", "SHORTCUTS", "MainWindow"]

PREFERRED_MODEL = "vae-glyphs"
MODELS_MIN_WIDTH, PARAMS_MIN_WIDTH = 180, 250  # px: names and values stay readable
TITLE_BAR_ROOM = 40  # px a window manager's title bar and frame take above a window


class MainWindow(ActionsMixin, FilesMixin, HelpMixin, QMainWindow):
    def __init__(self, engine: Any, library: Any, registry: Any, history: Any, *,
                 settings: QSettings | None = None, bridge: EngineBridge | None = None,
                 explorers: ExplorerTable | None = None, parent: QWidget | None = None) -> None:
        """`explorers`: the explorer table (default: the built-in explorers; the app
        passes the one studio.wiring filled, plug-ins included)."""
        super().__init__(parent)
        self.engine, self.library, self.registry, self.history = engine, library, registry, history
        self.settings = settings if settings is not None else QSettings()
        self.bridge = bridge or EngineBridge(engine, self)
        self.jobs = JobRouter(engine, self.bridge, self)
        self.session = Session(registry,
                               family_of=lambda model_id: self.library.get(model_id).card.family)
        self._active: set[int] = set()  # default-lane jobs not finished yet
        self.last_result: Result | None = None
        self.file_loader = FileLoader(self)  # reads opened and dropped files off the GUI thread
        self.file_loader.file_read.connect(self._on_file_loader_file_read)
        self.explorer_table = explorers if explorers is not None else builtin_table()
        # one explorer per model, made when the model is first opened and kept: going to
        # another model and back finds its grid, picks, endpoints, timeline and branches
        # as they were (the session keeps its values and results; the widgets their view)
        self._explorers: dict[tuple[str, str], Explorer] = {}
        self._rebuilding = False
        self._dark = True

        self.setWindowTitle(APP_TITLE)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._build_centre()
        self._build_docks()
        self._build_status_bar()
        self._build_actions()
        self._build_menus()
        self._connect()
        self._restore_settings()
        self._update_busy()

    # -- building -------------------------------------------------------------------------
    def _build_centre(self) -> None:
        self.message_bar = MessageBar()
        self.explorer_stack = QStackedWidget()
        self.explorer: Explorer = self._explorer_of("")
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(4)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.explorer_stack, 1)
        self.shown_line = ShownLine()  # what the view shows, from its result's own request
        layout.addWidget(self.shown_line)
        # re-read once the explorer has taken the change (it follows the same events)
        self._shown_timer = QTimer(self, singleShot=True, interval=0, timeout=self._update_shown_line)
        self.setCentralWidget(centre)

    def explorer_context(self) -> ExplorerContext:
        """What every explorer is built with (see studio.ui.explorers)."""
        return ExplorerContext(
            session=self.session, jobs=self.jobs, bridge=self.bridge, run=self.run_request,
            folder_of=lambda model_id: self.library.get(model_id).folder,
            is_current=lambda explorer: explorer is self.explorer,
            export=lambda what: (self.export_animation if what == "animation"
                                 else self.export_contact_sheet)())

    def _explorer_of(self, kind: str) -> Explorer:
        """The current model's explorer of a family's `explorer` kind, made on first use
        from the table."""
        kind = self.explorer_table.kind_of(kind)
        key = (kind, self.session.model_id or "")
        if key in self._explorers:
            return self._explorers[key]
        explorer: Explorer = self.explorer_table.get(kind).make(self.explorer_context())
        self._explorers[key] = explorer
        self.explorer_stack.addWidget(explorer)
        for canvas in explorer.canvases():
            canvas.set_dark(self._dark)
        explorer.view_changed.connect(self._on_explorer_view_changed)
        explorer.view_changed.connect(lambda _view: self._shown_timer.start())
        explorer.files_dropped.connect(self.open_files)
        explorer.generate_requested.connect(self.generate)
        explorer.message_raised.connect(self.show_info)
        explorer.error_raised.connect(self.show_error)
        explorer.export_animation_requested.connect(self.export_animation)
        explorer.export_sheet_requested.connect(self.export_contact_sheet)
        return explorer

    def _use_explorer(self, kind: str) -> None:
        explorer = self._explorer_of(kind)
        if explorer is not self.explorer:
            self.explorer = explorer
            self.explorer_stack.setCurrentWidget(explorer)
            self._update_view_actions()
        # the model's own tab (a model opened first shows its first tab), not the one the
        # explorer last showed for another model of its kind: latent diffusion opened on
        # pixel diffusion's Timeline, where Generate had nothing to work on
        explorer.set_view(self.session.view)
        self.session.set_view(explorer.current_view())

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState needs names
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.models = ModelPanel(self.library, self.registry)
        self.params = ParamsPanel()
        self.history_strip = HistoryStrip(self.history)
        self.models_dock = self._dock("Models", "models", self.models, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.params_dock = self._dock("Parameters", "parameters", self.params,
                                      Qt.DockWidgetArea.RightDockWidgetArea)
        self.history_dock = self._dock("History", "history", self.history_strip,
                                       Qt.DockWidgetArea.BottomDockWidgetArea)
        # readable widths no drag and no saved layout can go below (an old layout had
        # squeezed Parameters to ~200 px, cutting its values off); with the explorers'
        # own minimums the window still fits 1024 px
        self.models_dock.setMinimumWidth(MODELS_MIN_WIDTH)
        self.params_dock.setMinimumWidth(PARAMS_MIN_WIDTH)
        # the side docks run the full height; History sits under the canvas only
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.models_dock, self.params_dock], [260, 320], Qt.Orientation.Horizontal)
        self.resizeDocks([self.history_dock], [self.history_strip.minimumSizeHint().height() + 8],
                         Qt.Orientation.Vertical)
        from studio.ui.animator import install as install_animator  # issue 16

        self.animator_dock = install_animator(self)  # tabbed with Parameters

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.job_label = QLabel("Ready")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(180)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserStop))
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.cancel_button.setToolTip("Cancel the running job (Esc)")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.clicked.connect(self.cancel)
        self.time_label = QLabel("")
        self.time_label.setToolTip("Time per image of the last result")
        self.device_label = QLabel("Device: …")
        bar.addWidget(self.job_label, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(self.time_label)
        bar.addPermanentWidget(self.device_label)

    def _connect(self) -> None:
        self.models.model_selected.connect(self._on_models_model_selected)
        self.models.load_requested.connect(self.load_model)
        self.models.unload_requested.connect(self.unload_model)
        self.models.import_requested.connect(self.import_model_dialog)
        self.models.import_file_requested.connect(self.import_model_file_dialog)
        self.models.model_imported.connect(self._on_models_model_imported)
        self.models.error_raised.connect(self.show_error)
        self.params.value_changed.connect(self._on_params_value_changed)
        self.params.live_value_changed.connect(self._on_params_live_value_changed)
        self.params.values_reset.connect(self._on_params_values_reset)
        self.params.generate_requested.connect(self.generate)
        self.params.op_chosen.connect(self._on_params_op_chosen)
        self.params.seed_lock_toggled.connect(self._on_params_seed_lock_toggled)
        # the panel and the window follow the session; nothing is copied back by hand
        self.params.follow(self.session)
        events = self.session.events
        events.model_changed.connect(self._on_session_model_changed)
        events.view_changed.connect(self._on_session_view_changed)
        events.op_changed.connect(self._on_session_op_changed)
        for event in (events.model_changed, events.view_changed, events.values_changed,
                      events.result_added, events.seed_lock_changed, events.run_ended):
            event.connect(lambda *_args: self._shown_timer.start())
        self.history_strip.entry_activated.connect(self._on_history_entry_activated)
        self.history_strip.problem_raised.connect(self.show_error)
        self.jobs.error_raised.connect(self._on_jobs_error_raised)
        self.bridge.job_started.connect(self._on_bridge_job_started)
        self.bridge.job_progressed.connect(self._on_bridge_job_progressed)
        self.bridge.job_previewed.connect(self._on_bridge_job_previewed)
        self.bridge.job_finished.connect(self._on_bridge_job_finished)
        self.bridge.job_failed.connect(self._on_bridge_job_failed)
        self.bridge.job_cancelled.connect(self._on_bridge_job_cancelled)
        self.bridge.job_dropped.connect(self._on_bridge_job_cancelled)

    # -- settings and theme -------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        self._fit_to_screen()
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        theme = str(self.settings.value("theme", "dark"))
        self.theme_actions.get(theme, self.theme_actions["dark"]).setChecked(True)
        self._apply_theme(theme)
        device = str(self.settings.value("device", "auto"))
        if device in self.device_actions and device != "auto":
            self.device_actions[device].setChecked(True)
            self.jobs.command(self.engine.set_device(device, check=False, label="device"))

    def _fit_to_screen(self) -> None:
        """No bigger than the screen it opens on: the default 1280×800 (or a layout saved
        on a larger monitor) on a 1024×700 screen left Parameters off its right edge.
        Room is kept for the window manager's title bar."""
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is None or screen.width() <= 0 or screen.height() <= 0:
            return
        width = min(self.width(), screen.width())
        height = min(self.height(), screen.height() - TITLE_BAR_ROOM)
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
            self.move(screen.left() + (screen.width() - width) // 2, screen.top())

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        if self.session.model_id:
            self.settings.setValue("last_model", self.session.model_id)
        self.settings.sync()

    def set_theme(self, theme: str) -> None:
        self.settings.setValue("theme", theme)
        self.theme_actions[theme].setChecked(True)
        self._apply_theme(theme)

    def _apply_theme(self, theme: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self._dark = theme != "light"
        for explorer in self._explorers.values():
            for canvas in explorer.canvases():
                canvas.set_dark(self._dark)
        if self.params.seed_lock is not None:  # repaint the painted icons in the new colours
            self.params.set_seed_locked(self.params.seed_lock.isChecked())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        # nothing a worker thread emits reaches the window after this (see cross_thread)
        self.bridge.detach()
        self.file_loader.close()
        self.history_strip.release()
        if getattr(self, "remote_link", None) is not None:
            self.remote_link.release()
        if getattr(self, "train_dialog", None) is not None:
            self.train_dialog.close()  # pauses a run at a checkpoint, as quitting does
        super().closeEvent(event)

    # -- start-up and models ---------------------------------------------------------------
    def start(self, model_id: str | None = None, sample: bool = True) -> None:
        """Select the first model and load it on the engine's thread; the window is
        already up. With `sample`, the first grid is made as soon as it is loaded."""
        self.file_loader.warm_up()  # its decoders import now, while the model loads
        for problem in getattr(self.history, "problems", []):
            self.show_error(problem)
        ids = self.models.model_ids()
        if not ids:
            self.show_info("No models in the library yet: import a model folder "
                           "(Model ▸ Import Model Folder…).", sticky=True)
            self.refresh_cache_state()  # still show the device
            return
        last = str(self.settings.value("last_model", ""))
        choice = next((m for m in (model_id, last, PREFERRED_MODEL) if m and m in ids), ids[0])
        self.models.select(choice)
        self.select_model(choice)
        self.load_model(choice, then_sample=sample)

    def select_model(self, model_id: str) -> None:
        self.session.select_model(model_id)  # the window follows: _on_session_model_changed

    def _on_session_model_changed(self, model_id: str) -> None:
        self._use_explorer(self.registry.get(self.session.family).explorer)
        card = self.library.get(model_id).card
        if self.explorer.card is None:  # made just now for this model
            self.explorer.set_model(card)
        self.setWindowTitle(f"{card.name} — {APP_TITLE}")
        self.settings.setValue("last_model", model_id)
        self._rebuild_params()
        self._update_busy()

    def load_model(self, model_id: str, then_sample: bool = False) -> None:
        def loaded(_job: Any, state: dict[str, Any]) -> None:
            self._show_loading(False)
            self._show_cache_state(state)
            self.job_label.setText(f"Loaded {model_id}")
            if then_sample and self.explorer.samples.result is None and model_id == self.session.model_id:
                self.generate(to_history=False)  # a first look, not something the user made

        def failed(_job: Any, message: str) -> None:
            self._show_loading(False)
            self.job_label.setText(f"Could not load {model_id}")
            self.show_error(message)

        def cancelled(_job: Any) -> None:  # Esc while it loaded: it loads on the next run
            self._show_loading(False)
            self.job_label.setText(f"Loading {model_id} cancelled")

        self.job_label.setText(f"Loading {model_id}…")
        self._show_loading(True)
        self.jobs.command(self.engine.load(model_id), on_result=loaded, on_error=failed,
                          on_cancel=cancelled)

    def _show_loading(self, loading: bool) -> None:
        """An indeterminate bar while a model loads (the first load imports torch)."""
        if loading:
            self.progress.setRange(0, 0)
            self.progress.show()
        else:
            self.progress.setRange(0, 1000)
            self.progress.setVisible(self.busy())

    def unload_model(self, model_id: str) -> None:
        self.jobs.command(self.engine.unload(model_id),
                          on_result=lambda _j, s: self._show_cache_state(s))

    def use_engine(self, engine: Any, library: Any = None) -> None:
        """Run against `engine` from now on: this machine's, or a remote one with the same
        interface (Engine ▸ Connect to Server…), and list `library`'s models (the
        server's); no widget knows which."""
        self.bridge.attach(engine)
        self.engine = self.jobs.engine = engine
        if library is not None:
            self.library = self.models.library = library
            self.models.refresh()
        self.refresh_cache_state()

    def refresh_cache_state(self) -> None:
        self.jobs.command(self.engine.status(), on_result=lambda _j, s: self._show_cache_state(s))

    def _show_cache_state(self, state: dict[str, Any]) -> None:
        self._note_device(state)  # for Help ▸ About
        self.models.set_loaded(state["loaded"])
        self.models.set_device(state["device"], state["memory"])
        self.device_label.setText(f"Device: {state['device']}  ·  {human_size(state['memory'])}")

    def set_device(self, device: str) -> None:
        before = str(self.settings.value("device", "auto"))

        def failed(_job: Any, message: str) -> None:
            self.show_error(message)
            self.device_actions[before].setChecked(True)

        def changed(_job: Any, state: dict[str, Any]) -> None:
            self.settings.setValue("device", device)
            self._show_cache_state(state)

        job = self.engine.set_device(None if device == "auto" else device,
                                     fallback=None if before == "auto" else before,
                                     label=f"device {device}")  # keeps a working device
        self.jobs.command(job, on_result=changed, on_error=failed)

    def import_folder(self, path: str) -> str | None:
        return self.models.import_folder(path)

    def import_model_dialog(self) -> None:
        path = self._ask_folder("Import a model folder")
        if path:
            self.import_folder(path)

    def import_model_file_dialog(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        from studio.ui import model_files

        path, _ = QFileDialog.getOpenFileName(self, "Import a model file (a StyleGAN .pkl)",
                                              str(Path.home()), model_files.file_filter(self.registry))
        if path:
            self.import_model_file(path)

    def import_model_file(self, path: str) -> Any:
        """Convert a model file (a StyleGAN network .pkl, read as data only) on the
        engine's thread into a model folder in the user data folder, then import that;
        progress in the status bar, Esc cancels. Returns the job."""
        from studio.core.paths import studio_home
        from studio.ui import model_files

        if not model_files.convertible(self.registry, path):
            self.show_error(f"{path}: not a model file the studio converts "
                            "(import a model folder with Import Model Folder…)")
            return None
        home = getattr(self.library, "home", None) or studio_home()
        taken = {entry.id for entry in self.library.entries()}
        return self.run_call(model_files.conversion_task(self.registry, path, Path(home) / "models", taken),
                             label=f"import {Path(path).name}",
                             on_result=lambda _job, folder: self.import_folder(folder),
                             on_error=lambda _job, message: self.show_error(message))

    def _on_models_model_selected(self, model_id: str) -> None:
        self.select_model(model_id)

    def _on_models_model_imported(self, model_id: str) -> None:
        self.show_info(f"Imported {model_id}.")

    def _on_load_action_triggered(self) -> None:
        if self.models.current_id():
            self.load_model(self.models.current_id())

    def _on_unload_action_triggered(self) -> None:
        if self.models.current_id():
            self.unload_model(self.models.current_id())

    # -- parameters -----------------------------------------------------------------------
    def _ops_of_view(self) -> list[Any]:
        return self.explorer.ops_of_view(self.session.view, self.session.ops())

    def _rebuild_params(self) -> None:
        if self.session.family is None:
            return
        self._rebuilding = True  # one set_spec below, not one per op change
        try:
            ops = self._ops_of_view()
            if ops and self.session.op not in [op.name for op in ops]:
                self.session.set_op(ops[0].name)
        finally:
            self._rebuilding = False
        self.params.set_ops(ops, self.session.op)
        self.params.set_seed_locked(self.session.seed_locked)
        card = self.library.get(self.session.model_id).card if self.session.model_id else None
        self.params.set_class_names(getattr(card, "classes", None) or ())
        self.params.set_hidden(self.explorer.tab_params(self.session.view))  # the tab's own
        self.params.set_spec(self.session.op_spec(), self.session.values())

    def _on_session_view_changed(self, view: str) -> None:
        if self.explorer.current_view() != view and self.explorer.has_view(view):
            self.explorer.set_view(view)
        self._rebuild_params()

    def _on_session_op_changed(self, _op: str) -> None:
        if not self._rebuilding:
            self.params.set_spec(self.session.op_spec(), self.session.values())

    def _on_params_value_changed(self, name: str, value: Any) -> None:
        try:
            self.session.set_value(name, value, source=self.params)
        except ParamError as exc:
            self.show_error(str(exc))

    def _on_params_values_reset(self, values: dict) -> None:
        # the explorer follows (a "reset" re-reads the session)
        self.session.set_values(values, cause="reset", source=self.params)

    def _on_params_live_value_changed(self, name: str, _value: Any) -> None:
        if self.session.model_id is not None:
            self.session.live_edit(name)  # the explorer on screen re-renders

    def _on_params_op_chosen(self, op: str) -> None:
        if op == self.session.op:
            self.params.set_spec(self.session.op_spec(), self.session.values())
        self.session.set_op(op)  # the panel follows: _on_session_op_changed

    def _on_params_seed_lock_toggled(self, locked: bool) -> None:
        self.session.seed_locked = locked

    def _on_explorer_view_changed(self, view: str) -> None:
        if self.sender() is not self.explorer:
            return  # a hidden explorer (another family's) changed tab
        if view == self.session.view:
            self._rebuild_params()
        else:
            self.session.set_view(view)  # the panel follows: _on_session_view_changed

    def _update_shown_line(self) -> None:
        """Say what the view on screen shows, and whether the settings moved on since."""
        result = self.explorer.result() if self.session.model_id else None
        if result is None or result.request.model_id != self.session.model_id:
            self.shown_line.show_request(None, None, [])
            return
        try:
            spec = self.registry.get(self.session.family).op(result.request.op)
        except KeyError:
            self.shown_line.show_request(None, None, [])
            return
        changed = changed_settings(result.request, self.session.values(result.request.op), spec,
                                   seed_locked=self.session.seed_locked)
        self.shown_line.show_request(result.request, spec, changed)

    # the panel and the explorer follow the session's values_changed ("undo", "redo")
    def undo(self) -> None:
        self.session.undo()

    def redo(self) -> None:
        self.session.redo()

    # -- running ----------------------------------------------------------------------------
    def generate(self, *, to_history: bool = True) -> None:
        """Run the current op with the panel's settings (Ctrl+Enter). Keyword-only
        `to_history`: a QAction's `checked` must not land in it."""
        self.params.commit_editing()  # a number still being typed is part of this run
        if self.session.model_id is None:
            self.show_error("Pick a model first (Models dock on the left).")
            return
        if self._active:
            return  # one generation at a time; Esc cancels it
        if self.session.offer_generate():
            return  # a view runs it (an edit of the picked image, a dialog)
        spec = self.session.op_spec()
        request = self.session.request()
        missing = [p for p in spec.array_params if p.required and p.name not in request.inputs]
        if missing:
            self.show_info(f"{spec.label} needs {missing[0].label.lower()}: pick a sample "
                           "(click it) or drop an image file on the canvas first.")
            return
        self.run_request(request, to_history=to_history)  # the seed the field shows
        self.session.next_seed()  # unlocked: the field shows the next run's seed, drawn now

    def run_request(self, request: Request, *, to_history: bool = True, pick: str = "",
                    endpoint: str = "") -> Any:
        """Queue a user-visible run on the default lane; its result is shown (and kept in
        History). An encoded image can be picked in Samples as A or B (`pick`), or go
        straight to an interpolation endpoint (`endpoint`) without leaving the view."""
        job = self.jobs.submit(
            request, label=f"{request.op} · {request.model_id}",
            on_result=lambda j, result: self._on_result_ready(result, to_history, pick, endpoint))
        # a threaded engine always reports the end through the bridge, even for a job
        # that is already done here; a synchronous one has reported it already
        if job is not None and not getattr(self.engine, "synchronous", False):
            self._active.add(job.id)
            self._update_busy()
        return job

    def run_call(self, task: Any, *, label: str, on_result: Any = None, on_error: Any = None) -> Any:
        """Queue a user-visible plain call `task(ctx, cache)` (an import): progress and
        Cancel (Esc) as a run's, its value to `on_result`."""
        job = self.jobs.call(task, label=label, lane="default", on_result=on_result, on_error=on_error)
        if job is not None and not getattr(self.engine, "synchronous", False):
            self._active.add(job.id)
            self._update_busy()
        return job

    def _on_jobs_error_raised(self, text: str) -> None:
        self.show_error(text)
        self._run_error = text  # a later success takes this banner down: it no longer holds

    def _on_result_ready(self, result: Result, to_history: bool, pick: str, endpoint: str) -> None:
        self.last_result = result
        run_error = getattr(self, "_run_error", "")
        if run_error and self.message_bar.level() == "error" and self.message_bar.text() == run_error:
            self.message_bar.dismiss()  # an error banner never outlives a success
        self._run_error = ""
        view = self.explorer.view_of(result.request)
        self.session.add_result(result, view)  # the explorer on screen shows it
        samples = self.explorer.samples
        if result.request.op == "encode" and samples.images is not None:
            if endpoint:
                latent = None if result.latents is None else result.latents[0]
                self.session.set_endpoint(endpoint, result.images[0], latent)  # the walk follows
            elif pick:
                samples.pick(len(samples.images) - 1, as_b=(pick == "b" and bool(samples.selection)))
        if not endpoint and self.explorer.current_view() != view:
            self.explorer.set_view(view)
        per_image = result.timings.get("per_image")
        if per_image is not None:
            ms = per_image * 1000
            self.time_label.setText(f"{ms:.1f} ms/image" if ms < 10 else f"{ms:.0f} ms/image")
        same = self.history.find(result.request) if to_history else None
        if same is not None:  # an identical re-run: the entry it would add is there already
            self.history_strip.show_entry(same)
        elif to_history:
            try:
                self.history_strip.add(self.history.add(result, family=self.session.family or ""))
            except OSError as exc:
                self.show_error(f"Could not save to the history: {exc}")
        if not self.models.is_loaded(result.request.model_id):
            self.refresh_cache_state()

    def cancel(self) -> None:
        """Cancel everything queued or running (Esc)."""
        self.engine.cancel_all()
        self.job_label.setText("Cancelling…")

    def busy(self) -> bool:
        return bool(self._active)

    def _update_busy(self) -> None:
        busy = self.busy()
        self.params.set_busy(busy, ready=self.session.model_id is not None)
        self.generate_action.setEnabled(not busy and self.session.model_id is not None)
        self.cancel_button.setEnabled(busy)
        self.models.set_busy(busy)
        if not busy:
            self.progress.hide()

    def _on_bridge_job_started(self, job: Any) -> None:
        if job.lane in ("default", "calls") and job.label != "status":
            self.job_label.setText(f"{job.label}…")
            if job.id in self._active:
                self.progress.setValue(0)
                self.progress.show()

    def _on_bridge_job_progressed(self, job: Any, fraction: float, message: str) -> None:
        if job.id in self._active:
            self.progress.setValue(round(fraction * 1000))
            if message:
                self.job_label.setText(f"{job.label}: {message}")

    def _on_bridge_job_previewed(self, job: Any, images: Any) -> None:
        # a user-visible run in progress: the session announces it, the explorer draws it
        if job.id in self._active and not job.state.finished and job.request is not None:
            self.session.preview(job.request, images)

    def _on_bridge_job_finished(self, job: Any, _result: Any) -> None:
        self._end_job(job)

    def _on_bridge_job_failed(self, job: Any, _message: str) -> None:
        self._end_job(job)

    def _on_bridge_job_cancelled(self, job: Any) -> None:
        self._end_job(job)

    def _end_job(self, job: Any) -> None:
        state = job.state.value
        # a job another panel started (the Animator's export) showed "label…" when it
        # started, and that stayed on after it ended: the line says how it ended too
        if job.id in self._active or self.job_label.text() == f"{job.label}…":
            self.job_label.setText({"done": f"Done: {job.label}", "failed": f"Failed: {job.label}",
                                    "cancelled": "Cancelled"}.get(state, "Ready"))
        if job.id in self._active:
            self._active.discard(job.id)
            if job.request is not None:
                self.session.run_ended(job.request, state)  # a cancelled preview is taken back
            self._update_busy()

    # -- messages and help --------------------------------------------------------------------
    def show_error(self, text: str) -> None:
        self.message_bar.show_error(text)
        self.statusBar().showMessage(text.splitlines()[0] if text else "", 8000)

    def show_info(self, text: str, sticky: bool = False) -> None:
        self.message_bar.show_info(text, sticky=sticky)
