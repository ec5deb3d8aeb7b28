"""UI fixtures: a MainWindow around the fake family, a real engine thread, a temporary
History and a temporary QSettings file."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtTest import QTest

from studio.core.cache import ModelCache
from studio.core.engine import Engine, validator_for
from studio.core.history import History
from studio.ui.main_window import MainWindow
from tests.fakes import (
    FakeGANModel,
    FakeLibrary,
    FakeModel,
    fake_card,
    fake_gan_card,
    fake_registry,
)


class Services:
    def __init__(self, home, cards=None) -> None:
        self.library = FakeLibrary(*(cards or (fake_card("fake-model", name="Fake glyphs"),
                                               fake_card("fake-other", name="Fake other"))))
        self.registry = fake_registry()
        self.cache = ModelCache(self.library, self.registry, device="cpu")
        self.engine = Engine(self.cache, threads=1,
                             validate=validator_for(self.registry, self.library))
        self.history = History(home)


@pytest.fixture
def services(tmp_path):
    made = Services(tmp_path / "home")
    yield made
    made.engine.shutdown()
    FakeModel.step_delay, FakeModel.fail_with, FakeModel.gate = 0.0, None, None
    FakeGANModel.step_delay, FakeGANModel.gate = 0.0, None


@pytest.fixture
def gan_services(tmp_path):
    """A library with the fake GAN (and the fake VAE-like model, to switch families)."""
    made = Services(tmp_path / "home", cards=(fake_gan_card("fake-gan", name="Fake faces"),
                                              fake_card("fake-model", name="Fake glyphs")))
    yield made
    made.engine.shutdown()
    FakeGANModel.step_delay, FakeGANModel.gate = 0.0, None


@pytest.fixture
def tiny_services(tmp_path, tiny_folder):
    """Services around the tiny real model that the test module writes to its
    (module-scoped) `tiny_folder` fixture."""
    from tests.ui.tiny_models import TinyServices

    made = TinyServices.of_folder(tmp_path, tiny_folder)
    yield made
    made.engine.shutdown()


@pytest.fixture
def settings(tmp_path):
    # a file of our own: tests never read or write the user's settings
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def make_window(qtbot, services, settings, start: bool = True,
                model_id: str | None = None) -> MainWindow:
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    qtbot.addWidget(window)
    if not settings.contains("window/geometry"):  # else the window restored its own
        window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    if start:
        window.start(model_id, sample=False)
        qtbot.waitUntil(lambda: window.models.is_loaded(window.session.model_id), timeout=20000)
    return window


@pytest.fixture
def window(qtbot, services, settings):
    made = make_window(qtbot, services, settings)
    yield made
    made.close()


def sampling_window(qtbot, services, settings, model_id: str, **values) -> MainWindow:
    """A started window on `model_id` whose sample op has `values` (count, steps…),
    the panel showing them."""
    made = make_window(qtbot, services, settings, model_id=model_id)
    made.session.set_values(values, "sample")
    made.params.set_values(made.session.values())
    return made


def generate(qtbot, window, view: str | None = None):
    """Click Generate and wait for the result to be shown; returns it."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    if view:
        window.explorer.set_view(view)
    before = window.last_result
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy(), timeout=10000)
    return window.last_result


def cell_center(canvas, index: int):
    """Viewport coordinates of the centre of grid cell `index` of a canvas."""
    from PySide6.QtCore import QPointF

    from studio.ui import images as imgs

    x, y, w, h = imgs.cell_rect(index, canvas.count, canvas._columns, canvas._cell)
    return canvas.mapFromScene(QPointF(x + w / 2, y + h / 2))


def drop_files(widget, paths, wait: bool = True) -> None:
    """Drop local files on a widget the way a file manager does: a real QMimeData with
    file URLs, delivered as drag-enter, drag-move and drop events (Qt only delivers a
    drop to the widget that accepted the drag). A QUrl is dropped as it is.

    With `wait`, return once the window's file loader has read them (it reads on its own
    thread and hands each file to the GUI thread with a queued signal)."""
    from PySide6.QtCore import QEventLoop, QMimeData, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([p if isinstance(p, QUrl) else QUrl.fromLocalFile(str(p)) for p in paths])
    target = widget.viewport() if hasattr(widget, "viewport") else widget
    centre = target.rect().center().toPointF()
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(centre, *args)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted(), "the widget refused the drag"
    QApplication.sendEvent(target, QDragMoveEvent(centre, *args))
    QApplication.sendEvent(target, QDropEvent(centre, *args))
    loader = getattr(target.window(), "file_loader", None)
    if wait and loader is not None and loader.busy():
        loop = QEventLoop()
        loader.settled.connect(loop.quit)
        QTimer.singleShot(30_000, loop.quit)  # a guard: the assertion below says what failed
        loop.exec()
        loader.settled.disconnect(loop.quit)
        assert not loader.busy(), "the dropped files were not read within 30 s"


def write_png(path, size: int = 16, rgb: bool = False):
    import numpy as np
    from PIL import Image

    ramp = np.linspace(0, 255, size * size).reshape(size, size).astype(np.uint8)
    image = np.stack([ramp, ramp[::-1], ramp.T], axis=-1) if rgb else ramp
    Image.fromarray(image).save(path)
    return path


def click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def view_point(canvas, x: float, y: float) -> QPoint:
    """Viewport coordinates of image pixel (x, y) (its centre at x + 0.5, y + 0.5)."""
    return canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))


def stroke(canvas, points, button=Qt.MouseButton.LeftButton) -> None:
    """A mouse drag through image pixels `points`."""
    viewport = canvas.viewport()
    QTest.mousePress(viewport, button, Qt.KeyboardModifier.NoModifier, view_point(canvas, *points[0]))
    for point in points[1:]:
        QTest.mouseMove(viewport, view_point(canvas, *point))
    QTest.mouseRelease(viewport, button, Qt.KeyboardModifier.NoModifier, view_point(canvas, *points[-1]))
