"""Esc while a model loads (or waits to): the loading bar goes and the status says so,
instead of "Cancelling…" over a bar that never ends (seen on a real X screen)."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.fakes import FakeModel
from tests.ui.conftest import make_window


def test_esc_while_a_model_loads_ends_the_loading_bar(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    FakeModel.gate = threading.Event()  # the worker is busy with a sample meanwhile
    try:
        QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: services.engine.running_job is not None)
        window.load_model("fake-other")  # queued behind the sample
        assert window.progress.isVisible() and window.progress.maximum() == 0  # loading
        QTest.keyClick(window, Qt.Key.Key_Escape)
        FakeModel.gate.set()
        qtbot.waitUntil(lambda: not window.busy() and not window.progress.isVisible(), timeout=5000)
        # whichever ended last says so (the sample or the load); never "Cancelling…"
        assert window.job_label.text() in ("Cancelled", "Loading fake-other cancelled")
        assert window.progress.maximum() == 1000  # out of the loading mode, for the next run
        assert not window.models.is_loaded("fake-other")
    finally:
        FakeModel.gate = None
    window.close()


def test_the_window_opens_no_bigger_than_its_screen(qtbot, services, settings):
    from studio.ui.main_window import TITLE_BAR_ROOM, MainWindow

    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)  # no saved geometry: the default size, fitted
    qtbot.addWidget(window)
    screen = window.screen().availableGeometry()
    assert window.width() <= max(screen.width(), window.minimumSizeHint().width())
    assert window.height() <= max(screen.height() - TITLE_BAR_ROOM, window.minimumSizeHint().height())
    window.resize(screen.width() + 900, screen.height() + 700)  # as a layout saved on a big monitor
    window._fit_to_screen()
    assert window.width() <= max(screen.width(), window.minimumSizeHint().width())
    assert window.height() <= max(screen.height() - TITLE_BAR_ROOM, window.minimumSizeHint().height())
    window.close()
