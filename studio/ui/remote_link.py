"""Engine ▸ Connect to Server…: the window's model runs go to a `studio serve`.

The window swaps its engine for a RemoteEngine (studio.server.remote) with the same
interface, so no widget knows the difference, and its model dock lists the server's
models (studio.server.remote_library). Plain calls (training, model imports, the
animator's export) stay on this machine's engine in protocol v1, and the message says so.
The status bar shows the server, and "reconnecting…" while the connection is lost (the
remote engine retries by itself and gets back the results that finished meanwhile).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from studio.ui.cross_thread import ThreadGate

DEFAULT_URL = "http://127.0.0.1:7860"
STAYS_LOCAL = "training, model imports and animation exports stay on this machine"


class ConnectDialog(QDialog):
    def __init__(self, url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to Server")
        self.url_edit = QLineEdit(url)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("none (a server on loopback or through an SSH tunnel)")
        form = QFormLayout(self)
        form.addRow(QLabel("A `studio serve` runs the models; " + STAYS_LOCAL + "."))
        form.addRow("Server:", self.url_edit)
        form.addRow("Token:", self.token_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class RemoteLink(QObject):
    """Connects the window to a server and back; shows the connection in the status bar."""

    connection_changed = Signal(str)  # "connected", "reconnecting: why": from any thread

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.local = window.engine  # the in-process engine: plain calls, and going back
        self.local_library = window.library
        self.remote: Any = None
        self.label = QLabel("")
        self.label.setObjectName("server_label")
        self.label.hide()
        window.statusBar().addPermanentWidget(self.label)
        self._gate = ThreadGate()  # the connection's reader thread tells; the window may close
        self.connection_changed.connect(self._on_connection_changed)  # queued off-thread

    def ask(self) -> None:
        settings = self.window.settings
        dialog = ConnectDialog(str(settings.value("server/url", DEFAULT_URL)), self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        url = dialog.url_edit.text().strip()
        if self.connect_to(url, dialog.token_edit.text().strip() or None):
            settings.setValue("server/url", url)

    def connect_to(self, url: str, token: str | None = None) -> bool:
        """Run model requests on the server at `url` from now on; False (and the reason
        shown) when it cannot be reached."""
        from studio.server.remote import RemoteEngine, RemoteError

        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            self.window.show_error(f"{url!r} is not a server address (http://host:port)")
            return False
        if self.remote is not None:
            self.disconnect()
        try:
            remote = RemoteEngine(url, token=token, local=self.local, timeout=5.0)
        except RemoteError as exc:
            self.window.show_error(str(exc))
            return False
        try:
            library = remote.library(self.local_library)  # the model dock lists the server's
        except (OSError, ValueError) as exc:
            remote.disconnect()
            self.window.show_error(f"{url}: cannot list its models ({exc})")
            return False
        self.remote = remote
        self._gate.reopen()
        remote.on_connection.append(self._gate.emitter(self.connection_changed))
        self.window.use_engine(remote, library)
        self._show(f"Server: {urlsplit(url).netloc}", f"Model runs go to {url}; {STAYS_LOCAL}.")
        self.window.show_info(f"Connected to {url}: model runs go to the server; {STAYS_LOCAL}.")
        return True

    def disconnect(self) -> None:
        """Back to this machine's engine; the server's unfinished jobs for us are dropped."""
        remote, self.remote = self.remote, None
        if remote is None:
            return
        self._gate.close()
        remote.on_connection.clear()
        remote.disconnect()  # ends our jobs (cancelled), so the window is not left busy
        self.window.use_engine(self.local, self.local_library)
        self.label.hide()

    def release(self) -> None:
        """The window is closing: the connection's news no longer comes here."""
        self._gate.close()

    @property
    def connected(self) -> bool:
        return self.remote is not None and self.remote.connected.is_set()

    def _on_connection_changed(self, state: str) -> None:
        if self.remote is None:
            return
        where = urlsplit(self.remote.url).netloc
        if state == "connected":
            self._show(f"Server: {where}", f"Model runs go to {self.remote.url}; {STAYS_LOCAL}.")
        else:
            self._show(f"Server: {where} — reconnecting…", state)

    def _show(self, text: str, tip: str) -> None:
        self.label.setText(text)
        self.label.setToolTip(tip)
        self.label.show()
