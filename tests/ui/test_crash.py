"""Unhandled exceptions reach a dialog (copyable details, open the log folder) and the
log; the app stays up."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QPushButton

from studio.ui.crash import CrashReporter
from tests.fakes import FakeModel
from tests.ui.conftest import generate


@pytest.fixture
def reporter(qtbot, tmp_path):
    opened = []
    made = CrashReporter(tmp_path / "logs", opener=opened.append)
    made.opened = opened
    made.install()
    yield made
    made.uninstall()
    if made.dialog is not None:
        made.dialog.close()


def wait_for_dialog(qtbot, reporter):
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())
    return reporter.dialog


def test_install_routes_both_hooks_and_uninstall_restores_them(tmp_path):
    before = (sys.excepthook, threading.excepthook)
    made = CrashReporter(tmp_path)
    made.install()
    assert sys.excepthook == made._on_sys_exception
    assert threading.excepthook == made._on_thread_exception
    made.uninstall()
    assert (sys.excepthook, threading.excepthook) == before


def test_a_slot_that_raises_on_the_gui_thread_shows_the_dialog(qtbot, reporter, caplog):
    button = QPushButton("boom")
    qtbot.addWidget(button)

    def broken_slot():
        raise RuntimeError("the slot broke")

    button.clicked.connect(broken_slot)
    with caplog.at_level(logging.ERROR, logger="studio.crash"):
        # from the event loop, as a real click arrives; PySide6 hands the exception to
        # sys.excepthook and the loop goes on
        QTimer.singleShot(0, button.click)
        dialog = wait_for_dialog(qtbot, reporter)
    assert "RuntimeError: the slot broke" in dialog.headline.text()
    details = dialog.details.toPlainText()
    assert "broken_slot" in details and "Traceback" in details
    assert "the slot broke" in caplog.text  # and in the log
    # the app is still up: the same button works (and fails) again
    QTimer.singleShot(0, button.click)
    qtbot.waitUntil(lambda: dialog.reports == 2)


def test_another_thread_that_raises_shows_the_dialog(qtbot, reporter, caplog):
    def work():
        raise ValueError("the thread broke")

    with caplog.at_level(logging.ERROR, logger="studio.crash"):
        thread = threading.Thread(target=work, name="background-writer")
        thread.start()
        thread.join()
        dialog = wait_for_dialog(qtbot, reporter)
    assert "ValueError: the thread broke" in dialog.headline.text()
    assert "thread 'background-writer'" in dialog.details.toPlainText()
    assert "the thread broke" in caplog.text


def test_details_copy_and_the_log_folder_opens(qtbot, reporter, tmp_path):
    reporter.report("Boom: one", "details one")
    dialog = wait_for_dialog(qtbot, reporter)
    dialog.copy_button.click()
    assert "details one" in QApplication.clipboard().text()
    dialog.open_log_button.click()
    assert reporter.opened == [tmp_path / "logs"]


def test_repeated_faults_share_one_dialog(qtbot, reporter):
    reporter.report("Boom: one", "details one")
    dialog = wait_for_dialog(qtbot, reporter)
    reporter.report("Boom: two", "details two")
    qtbot.waitUntil(lambda: dialog.reports == 2)
    assert reporter.dialog is dialog
    text = dialog.details.toPlainText()
    assert "details one" in text and "details two" in text
    assert "2 errors" in dialog.headline.text()
    dialog.close()
    qtbot.waitUntil(lambda: reporter.dialog is None)


def test_a_family_that_raises_on_the_worker_thread_shows_the_dialog_and_the_app_goes_on(
        qtbot, reporter, window):
    reporter.watch(window.bridge)
    FakeModel.fail_with = IndexError("index 7 is out of bounds in the fake family")
    window.generate()
    dialog = wait_for_dialog(qtbot, reporter)
    assert "IndexError" in dialog.headline.text()
    details = dialog.details.toPlainText()
    assert "fakes.py" in details and "out of bounds" in details  # the worker's traceback
    assert "out of bounds" in window.message_bar.text()
    qtbot.waitUntil(lambda: not window.busy())
    FakeModel.fail_with = None
    assert generate(qtbot, window).count == 16  # the next generation succeeds


def test_a_bad_input_fault_is_a_message_not_a_crash_report(qtbot, reporter, window):
    reporter.watch(window.bridge)
    FakeModel.fail_with = ValueError("the image is too small")
    window.generate()
    qtbot.waitUntil(lambda: "too small" in window.message_bar.text())
    qtbot.waitUntil(lambda: not window.busy())
    assert reporter.dialog is None


def test_the_log_folder_opens_with_the_users_library_path_in_a_frozen_app(monkeypatch, tmp_path):
    import os

    from studio.ui import crash

    seen = {}

    def open_url(url):
        seen["url"], seen["env"] = url.toLocalFile(), os.environ.get("LD_LIBRARY_PATH")
        return True

    monkeypatch.setattr(crash.QDesktopServices, "openUrl", open_url)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/bundle/_internal")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/usr/local/lib")
    assert crash.open_folder(tmp_path)
    assert seen == {"url": str(tmp_path), "env": "/usr/local/lib"}
    assert os.environ["LD_LIBRARY_PATH"] == "/bundle/_internal"  # the app's own is kept
    monkeypatch.delenv("LD_LIBRARY_PATH_ORIG")
    crash.open_folder(tmp_path)
    assert seen["env"] is None
