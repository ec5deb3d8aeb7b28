"""The main window's actions and menus (File, Edit, View, Model, Help) and its help.

A mixin of MainWindow: the actions call the window's own methods.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMessageBox, QStyle

APP_TITLE = "Latent Studio"
DEVICES = ("auto", "cpu", "cuda", "mps")
SHORTCUTS = (
    ("Ctrl+Enter", "Generate"),
    ("Esc", "Cancel the running job"),
    ("Ctrl+O", "Open an image or a recipe"),
    ("Ctrl+E", "Export PNG (with its recipe)"),
    ("Ctrl+Shift+E", "Export the interpolation as GIF / WebP"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo a parameter edit"),
    ("Ctrl+C", "Copy the image"),
    ("Ctrl+= / Ctrl+-", "Zoom in / out"),
    ("Ctrl+0, F on the canvas", "Fit to view"),
    ("Wheel · middle-drag · Space+drag", "Zoom · pan · pan"),
    ("Click / Shift+click", "Pick sample A / B"),
    ("Ctrl+L", "Load the selected model"),
    ("Ctrl+Shift+C", "Compare the families (the built-in models side by side)"),
)
QUIT_SHORTCUT = ("Ctrl+Q", "Quit")


def shortcut_rows(explorers: Any) -> list[tuple[str, str]]:
    """Help ▸ Keyboard Shortcuts: the window's keys, then the registered explorers' tabs
    and their own keys (studio.ui.explorers), so a new explorer shows up by itself."""
    return [*SHORTCUTS, explorers.tabs_help(), *explorers.own_shortcuts(), QUIT_SHORTCUT]


MAX_VIEW_ACTIONS = 6


class ActionsMixin:
    """Builds the actions (with their shortcuts) and the menu bar."""

    def _update_view_actions(self) -> None:
        """Ctrl+1 … show the current explorer's tabs; the View menu names them."""
        for index, action in enumerate(getattr(self, "view_actions", [])):
            visible = index < self.explorer.count()
            action.setVisible(visible)
            action.setEnabled(visible)
            if visible:
                action.setText(self.explorer.tabText(index))  # "&&" already escaped

    def _show_tab(self, index: int) -> None:
        if index < self.explorer.count():
            self.explorer.setCurrentIndex(index)

    def _action(self, text: str, slot: Any, shortcut: Any = None, icon: Any = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.open_action = self._action("&Open Image or Recipe…", self.open_file_dialog,
                                        QKeySequence.StandardKey.Open, sp.SP_DialogOpenButton)
        self.import_action = self._action("&Import Model Folder…", self.import_model_dialog,
                                          None, sp.SP_DirOpenIcon)
        self.import_file_action = self._action(
            "Import Model &File…", self.import_model_file_dialog, None, sp.SP_FileIcon,
            "Convert a StyleGAN2/StyleGAN3 network pickle (.pkl, read without running its code)")
        self.export_png_action = self._action("&Export PNG…", self.export_png, "Ctrl+E",
                                              sp.SP_DialogSaveButton,
                                              "Save the image with its full recipe")
        self.export_anim_action = self._action("Export &Animation…", self.export_animation,
                                               "Ctrl+Shift+E", None,
                                               "Save the interpolation as GIF or WebP")
        self.export_sheet_action = self._action("Export &Contact Sheet…", self.export_contact_sheet)
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.generate_action = self._action("&Generate", self.generate, ["Ctrl+Return", "Ctrl+Enter"],
                                            sp.SP_MediaPlay)
        self.cancel_action = self._action("&Cancel", self.cancel, "Escape", sp.SP_BrowserStop)
        self.undo_action = self._action("&Undo Parameter Edit", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo Parameter Edit", self.redo, QKeySequence.StandardKey.Redo)
        self.copy_action = self._action("&Copy Image", self.copy_image, QKeySequence.StandardKey.Copy)
        self.zoom_in_action = self._action("Zoom &In", lambda: self.explorer.canvas().zoom_in(),
                                           ["Ctrl+=", "Ctrl++"])
        self.zoom_out_action = self._action("Zoom &Out", lambda: self.explorer.canvas().zoom_out(),
                                            "Ctrl+-")
        self.fit_action = self._action("&Fit to View", lambda: self.explorer.canvas().fit(), "Ctrl+0")
        self.load_action = self._action("&Load", self._on_load_action_triggered, "Ctrl+L",
                                        sp.SP_MediaPlay)
        self.unload_action = self._action("&Unload", self._on_unload_action_triggered, None,
                                          sp.SP_MediaStop)
        self.shortcuts_action = self._action("&Keyboard Shortcuts", self.show_shortcuts, "F1")
        self.about_action = self._action("&About Latent Studio", self.show_about)
        self.welcome_action = self._action("&Welcome", self.show_welcome)
        self.train_action = self._action("&Train New Model…", self.show_train, None, None,
                                         "Train a model on a folder of your own images")
        self.compare_action = self._action(
            "&Compare Families…", self.show_compare, "Ctrl+Shift+C", None,
            "The built-in models of every family side by side: samples, figures, speed")
        self.view_actions = [  # named after the current explorer's tabs
            self._action(f"View {index + 1}", lambda _=False, i=index: self._show_tab(i),
                         f"Ctrl+{index + 1}")
            for index in range(MAX_VIEW_ACTIONS)]
        self._update_view_actions()
        self.theme_group = QActionGroup(self)
        self.theme_actions = {}
        for theme in ("dark", "light"):
            action = QAction(theme.capitalize(), self, checkable=True)
            action.triggered.connect(lambda _=False, t=theme: self.set_theme(t))
            self.theme_group.addAction(action)
            self.theme_actions[theme] = action
        self.device_group = QActionGroup(self)
        self.device_actions = {}
        for device in DEVICES:
            action = QAction(device.upper() if device != "auto" else "Auto (best available)",
                             self, checkable=True)
            action.triggered.connect(lambda _=False, d=device: self.set_device(d))
            self.device_group.addAction(action)
            self.device_actions[device] = action
        self.device_actions["auto"].setChecked(True)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addActions([self.open_action, self.import_action, self.import_file_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_png_action, self.export_anim_action, self.export_sheet_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit = menu.addMenu("&Edit")
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        edit.addAction(self.copy_action)
        edit.addSeparator()
        edit.addActions([self.generate_action, self.cancel_action])
        view = menu.addMenu("&View")
        for dock in (self.models_dock, self.params_dock, self.history_dock):
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        view.addActions(self.view_actions)
        view.addSeparator()
        view.addAction(self.compare_action)
        view.addSeparator()
        view.addActions([self.zoom_in_action, self.zoom_out_action, self.fit_action])
        view.addSeparator()
        themes = view.addMenu("&Theme")
        themes.addActions(list(self.theme_actions.values()))
        model = menu.addMenu("&Model")
        model.addActions([self.load_action, self.unload_action])
        model.addSeparator()
        model.addAction(self.import_action)
        model.addAction(self.import_file_action)
        model.addSeparator()
        model.addAction(self.train_action)
        devices = model.addMenu("&Device")
        devices.addActions(list(self.device_actions.values()))
        self._build_engine_menu(menu)
        help_menu = menu.addMenu("&Help")
        help_menu.addActions([self.welcome_action, self.shortcuts_action, self.about_action])

    def _build_engine_menu(self, menu: Any) -> None:
        """Engine ▸ Connect to Server… / Use This Machine (studio.ui.remote_link)."""
        from studio.ui.remote_link import RemoteLink

        self.remote_link = RemoteLink(self)
        engine = menu.addMenu("E&ngine")
        self.connect_server_action = self._action("&Connect to Server…", self.remote_link.ask,
                                                  tip="Run the models on a `studio serve`")
        self.local_engine_action = self._action("Use &This Machine",
                                                self.remote_link.disconnect,
                                                tip="Run the models here again")
        engine.addActions([self.connect_server_action, self.local_engine_action])

    def show_compare(self) -> None:
        """View ▸ Compare Families…: one window, made on first use; it measures when it
        opens (on the engine's thread) and again on its button."""
        from studio.ui.compare_view import CompareDialog

        dialog = getattr(self, "compare_dialog", None)
        if dialog is None:
            dialog = CompareDialog(self.jobs, self.bridge, self.library, self.registry,
                                   dark=self._dark, parent=self)
            self.compare_dialog = dialog
            dialog.show()
            dialog.measure()
        else:
            dialog.set_dark(self._dark)
            dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def show_train(self) -> Any:
        """Model ▸ Train New Model…: one Train view, made on first use. A model it lands
        opens in its explorer; quitting pauses a run at a checkpoint."""
        from PySide6.QtWidgets import QApplication

        from studio.ui.train_view import TrainDialog

        dialog = getattr(self, "train_dialog", None)
        if dialog is None:
            dialog = TrainDialog(parent=self)
            dialog.model_ready.connect(lambda _id, folder: self.import_folder(folder))
            QApplication.instance().aboutToQuit.connect(dialog.shutdown)
            self.train_dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td style='padding:2px 14px 2px 0'><b>{keys}</b></td><td>{what}</td></tr>"
                       for keys, what in shortcut_rows(self.explorer_table))
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", f"<table>{rows}</table>",
                          QMessageBox.StandardButton.Close, self)
        box.setStyleSheet("QLabel { min-width: 480px; }")  # one line per shortcut
        box.setModal(False)
        box.show()
        self.shortcuts_box = box
