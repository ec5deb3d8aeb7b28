"""Unhandled exceptions: written to the log and shown in a dialog; the app stays up.

`CrashReporter.install()` routes three kinds of fault here:
- the GUI thread's `sys.excepthook`, which is also where PySide6 sends an exception
  raised inside a Qt slot or a Python override of a Qt virtual (event handlers);
- `threading.excepthook`, for any other thread (the engine's worker, history writer);
- with `watch(bridge)`, a job that failed with a bug rather than bad input
  (`job.unexpected`): the engine already failed only that job, and the traceback is kept.

A report from another thread reaches the dialog through a queued signal. One dialog at a
time: later reports are appended to it, so a fault that repeats (a slider drag) does not
open a stack of windows.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from studio import APP_NAME, __version__

log = logging.getLogger("studio.crash")
MAX_REPORTS_SHOWN = 20  # past this, reports still go to the log but not to the dialog


def open_folder(folder: Path) -> bool:
    """Open a folder in the platform's file manager.

    A frozen Linux bundle may run with LD_LIBRARY_PATH pointing into the bundle; the file
    manager Qt starts must get the user's own (PyInstaller keeps it as *_ORIG)."""
    saved = os.environ.get("LD_LIBRARY_PATH")
    if getattr(sys, "frozen", False) and saved is not None:
        original = os.environ.get("LD_LIBRARY_PATH_ORIG")
        if original is None:
            del os.environ["LD_LIBRARY_PATH"]
        else:
            os.environ["LD_LIBRARY_PATH"] = original
    try:
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
    finally:
        if saved is not None:
            os.environ["LD_LIBRARY_PATH"] = saved


class CrashDialog(QDialog):
    """The details of one or more faults, copyable, with the way to the log."""

    def __init__(self, log_folder: Path, parent: QWidget | None = None,
                 opener: Callable[[Path], Any] = open_folder) -> None:
        super().__init__(parent)
        self.log_folder = Path(log_folder)
        self.opener = opener
        self.reports = 0
        self.setWindowTitle(f"{APP_NAME} — unexpected error")
        self.setModal(False)
        self.resize(720, 440)

        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
                       .pixmap(40, 40))
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        intro = QLabel(f"Something went wrong inside {APP_NAME}. The app is still running and "
                       "nothing you made is lost; you can go on working. The details below "
                       "are also in the log: copy them into a bug report.")
        intro.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        heading = QVBoxLayout()
        heading.addWidget(self.headline)
        heading.addWidget(intro)
        top.addLayout(heading, 1)

        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)  # still selectable and copyable
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log_label = QLabel(f"Log folder: {self.log_folder}")
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.copy_button = QPushButton("Copy Details")
        self.copy_button.clicked.connect(self.copy_details)
        self.open_log_button = QPushButton("Open Log Folder")
        self.open_log_button.clicked.connect(self.open_log_folder)
        self.close_button = QPushButton("Close")
        self.close_button.setDefault(True)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.open_log_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.log_label)
        layout.addLayout(buttons)

    def add_report(self, summary: str, details: str) -> None:
        self.reports += 1
        if self.reports == 1:
            self.headline.setText(f"<b>{_escape(summary)}</b>")
            self.details.setPlainText(details)
        else:
            self.headline.setText(f"<b>{self.reports} errors.</b> The latest: {_escape(summary)}")
            if self.reports <= MAX_REPORTS_SHOWN:
                self.details.appendPlainText("\n" + "-" * 72 + "\n" + details)
        self.details.verticalScrollBar().setValue(self.details.verticalScrollBar().maximum())

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())

    def open_log_folder(self) -> None:
        self.opener(self.log_folder)


class CrashReporter(QObject):
    """Routes unhandled exceptions to the log and to one CrashDialog."""

    reported = Signal(str, str)  # summary, details; from any thread, delivered on the GUI's

    def __init__(self, log_folder: Path, parent: QObject | None = None,
                 opener: Callable[[Path], Any] = open_folder) -> None:
        super().__init__(parent)
        self.log_folder = Path(log_folder)
        self.opener = opener
        self.dialog: CrashDialog | None = None
        self._previous: tuple[Any, Any] | None = None
        self._showing = False
        self.reported.connect(self._on_reported)  # queued when emitted off the GUI thread

    # -- hooks -----------------------------------------------------------------------------
    def install(self) -> None:
        if self._previous is None:
            self._previous = (sys.excepthook, threading.excepthook)
            sys.excepthook = self._on_sys_exception
            threading.excepthook = self._on_thread_exception

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    def watch(self, bridge: Any) -> None:
        """Report jobs that failed with a bug (the engine marks them `unexpected`)."""
        bridge.job_failed.connect(self._on_bridge_job_failed)

    def _on_sys_exception(self, exc_type: type[BaseException], exc: BaseException,
                          tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):  # Ctrl+C in the terminal: quit as asked
            sys.__excepthook__(exc_type, exc, tb)
            app = QApplication.instance()
            if app is not None:
                app.exit(130)
            return
        self.report_exception(exc_type, exc, tb, where="the main thread")

    def _on_thread_exception(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return  # a thread that ended itself
        name = args.thread.name if args.thread is not None else "a thread"
        self.report_exception(args.exc_type, args.exc_value or args.exc_type(),
                              args.exc_traceback, where=f"thread {name!r}")

    def _on_bridge_job_failed(self, job: Any, message: str) -> None:
        if getattr(job, "unexpected", False):
            self.report(message, f"The job {job.label!r} failed; only that job stopped.\n\n"
                        f"{job.detail or message}", logged=True)

    # -- reports ---------------------------------------------------------------------------
    def report_exception(self, exc_type: type[BaseException], exc: BaseException,
                         tb: TracebackType | None, where: str = "") -> None:
        """Log an exception and show it; safe to call from any thread."""
        log.error("Unhandled exception in %s", where or "the app", exc_info=(exc_type, exc, tb))
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        summary = f"{exc_type.__name__}: {text}" if text else exc_type.__name__
        details = (f"Unhandled exception in {where or 'the app'}\n\n"
                   + "".join(traceback.format_exception(exc_type, exc, tb)))
        self.report(summary, details, logged=True)

    def report(self, summary: str, details: str, *, logged: bool = False) -> None:
        if not logged:
            log.error("%s\n%s", summary, details)
        header = f"{APP_NAME} {__version__}, Python {sys.version.split()[0]}\n"
        self.reported.emit(summary, header + details)

    @Slot(str, str)
    def _on_reported(self, summary: str, details: str) -> None:
        if self._showing:  # a fault while showing a fault: the log has it, stop here
            return
        self._showing = True
        try:
            if self.dialog is None:
                parent = QApplication.activeWindow()
                self.dialog = CrashDialog(self.log_folder, parent, opener=self.opener)
                self.dialog.finished.connect(self._on_dialog_finished)
            self.dialog.add_report(summary, details)
            self.dialog.show()
            self.dialog.raise_()
        except Exception:  # never let the reporter itself take the app down
            log.exception("could not show the error dialog")
            print(details, file=sys.stderr)
        finally:
            self._showing = False

    def _on_dialog_finished(self, _result: int) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
