"""The main window's Help: the welcome view, About, and opening a model from either.

A mixin of MainWindow. Versions come from importlib.metadata (studio.core.versions):
asking for torch's version never imports torch on the GUI thread.
"""

from __future__ import annotations

import platform
from html import escape
from pathlib import Path
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QMessageBox

from studio import APP_NAME, __version__
from studio.core.logs import log_file
from studio.core.paths import studio_home
from studio.core.versions import package_version
from studio.ui.welcome import OFFLINE_NOTE, WelcomeDialog

WELCOME_SETTING = "welcome/shown"


def about_rows(device: str, home: Path) -> list[tuple[str, str]]:
    return [
        (APP_NAME, __version__),
        ("torch", package_version("torch")),
        ("diffusers", package_version("diffusers")),
        ("Qt", f"{qVersion()} (PySide6 {pyside_version})"),
        ("Python", platform.python_version()),
        ("Device in use", device or "not chosen yet (no model loaded)"),
        ("Library folder", str(home)),
        ("Log file", str(log_file(home))),
    ]


def about_text(device: str, home: Path) -> str:
    """The About box as plain text (also what Copy puts on the clipboard)."""
    return "\n".join(f"{name}: {value}" for name, value in about_rows(device, home))


class HelpMixin:
    """Help ▸ Welcome and Help ▸ About; `open_model` shows a model in its explorer."""

    welcome_dialog: WelcomeDialog | None = None
    about_box: QMessageBox | None = None
    device_in_use: str = ""

    def user_home(self) -> Path:
        return Path(getattr(self.library, "home", None) or studio_home())

    def show_welcome(self) -> WelcomeDialog:
        if self.welcome_dialog is None:
            self.welcome_dialog = WelcomeDialog(self.registry, self.library, self.user_home(), self)
            self.welcome_dialog.model_chosen.connect(self.open_model)
            self.welcome_dialog.import_requested.connect(
                lambda kind: (self.import_model_file_dialog if kind == "file"
                              else self.import_model_dialog)())
            self.welcome_dialog.finished.connect(self._on_welcome_dialog_finished)
        self.settings.setValue(WELCOME_SETTING, True)
        self.welcome_dialog.show()
        self.welcome_dialog.raise_()
        return self.welcome_dialog

    def show_welcome_on_first_run(self) -> bool:
        """The welcome view, once: on the first run (until it has been shown)."""
        if self.settings.value(WELCOME_SETTING, False, type=bool):
            return False
        self.show_welcome()
        return True

    def _on_welcome_dialog_finished(self, _result: int) -> None:
        if self.welcome_dialog is not None:
            self.welcome_dialog.deleteLater()
            self.welcome_dialog = None

    def open_model(self, model_id: str) -> None:
        """Select a model, show it in its family's explorer, load it and make a first grid."""
        self.models.select(model_id)
        self.select_model(model_id)
        self.load_model(model_id, then_sample=True)

    def family_names(self) -> str:
        """Every family the registry holds (plug-ins' too), as About names them."""
        return ", ".join(info.label for info in self.registry)

    def show_about(self) -> QMessageBox:
        rows = "".join(f"<tr><td style='padding:2px 14px 2px 0'><b>{escape(name)}</b></td>"
                       f"<td>{escape(value)}</td></tr>"
                       for name, value in about_rows(self.device_in_use, self.user_home())[1:])
        html = (f"<h3>{APP_NAME} {__version__}</h3>"
                "<p>A desktop studio for exploring generative image models: sample, encode, "
                "interpolate, traverse and map latent spaces; steer GANs with truncation, "
                "directions, walks and style mixing. Every exported PNG carries its full "
                "recipe.</p>"
                f"<p><b>Families:</b> {escape(self.family_names())}.</p>"
                f"<p>{OFFLINE_NOTE}</p><table>{rows}</table>")
        if self.about_box is None:
            self.about_box = QMessageBox(QMessageBox.Icon.NoIcon, f"About {APP_NAME}", "",
                                         QMessageBox.StandardButton.Close, self)
            self.about_box.setModal(False)
            self.about_box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            icon = self.windowIcon()
            if not icon.isNull():
                self.about_box.setIconPixmap(icon.pixmap(64, 64))
        self.about_box.setText(html)
        self.about_box.show()
        self.about_box.raise_()
        return self.about_box

    def _note_device(self, state: dict[str, Any]) -> None:
        self.device_in_use = str(state.get("device", ""))
