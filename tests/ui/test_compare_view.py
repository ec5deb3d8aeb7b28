"""The Compare view (View ▸ Compare Families…): one column per built-in model of the
shared dataset, sampled and timed through a real engine thread with fake families."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.core import compare
from studio.core.cache import ModelCache
from studio.core.engine import Engine, validator_for
from studio.families.vae.spec import VAE
from studio.ui.bridge import EngineBridge
from studio.ui.compare_view import CompareDialog
from studio.ui.jobs import JobRouter
from tests.fakes import FakeLibrary, FakeModel, fake_card, fake_gan_card, fake_registry
from tests.ui.conftest import Services, make_window

VAE_METRICS = {"recognisability": 0.869, "nn_distance_samples": 0.1065,
               "nn_distance_held_out": 0.10478, "reconstruction_mse": 0.00201,
               "dataset_ceiling": 0.99381}
GAN_METRICS = {"recognisability": 0.91034, "class_accuracy": 0.976,
               "nn_distance_samples": 0.10838}
BROKEN = replace(VAE, name="broken", label="Broken", loader="tests.ui.test_compare_view:BrokenFamily",
                 _cache={})


class BrokenFamily:
    @classmethod
    def load(cls, folder, card, device):
        raise OSError(f"{folder}: weights truncated")


class Engineered:
    """A fake library with three shared models (one broken) and one of another dataset."""

    def __init__(self) -> None:
        self.library = FakeLibrary(
            fake_card("vae-glyphs", name="Glyph VAE", dataset="glyphs", metrics=VAE_METRICS),
            fake_gan_card("gan-glyphs", name="Glyph GAN", dataset="glyphs", metrics=GAN_METRICS),
            fake_card("broken-glyphs", name="Broken glyphs", family="broken", dataset="glyphs",
                      metrics={"recognisability": 0.5}),
            fake_card("vae-emoji", name="Emoji VAE", dataset="emoji"),
        )
        self.registry = fake_registry()
        self.registry.register(BROKEN)
        self.engine = Engine(ModelCache(self.library, self.registry, device="cpu"), threads=1,
                             validate=validator_for(self.registry, self.library))
        self.bridge = EngineBridge(self.engine)
        self.jobs = JobRouter(self.engine, self.bridge)


@pytest.fixture
def setup():
    made = Engineered()
    yield made
    made.engine.shutdown()
    FakeModel.step_delay, FakeModel.gate = 0.0, None


@pytest.fixture
def dialog(qtbot, setup):
    made = CompareDialog(setup.jobs, setup.bridge, setup.library, setup.registry, images=4)
    qtbot.addWidget(made)
    made.resize(1000, 700)
    made.show()
    qtbot.waitExposed(made)
    return made


def test_every_shared_model_gets_a_column_with_its_grid_figures_and_time(qtbot, dialog):
    assert list(dialog.columns) == ["vae-glyphs", "gan-glyphs", "broken-glyphs"]
    with qtbot.waitSignal(dialog.measured, timeout=20000):
        dialog.measure()
    vae, gan, broken = dialog.columns.values()
    for column in (vae, gan):
        assert column.canvas.count == 4 and column.images.shape[0] == 4
        assert column.row.seconds_per_image > 0 and column.time.text().endswith(("µs", "ms"))
        assert column.status.isHidden()
    # figures from the cards; a figure the family does not have shows a dash
    assert vae.figures["recognisability"].text() == "0.869"
    assert vae.figures["class_accuracy"].text() == "—"
    assert vae.figures["reconstruction_mse"].text() == "0.0020"
    assert gan.figures["class_accuracy"].text() == "0.976"
    assert gan.figures["bits_per_dim"].text() == "—"
    # the best of a row is bold, the others not
    assert gan.figures["recognisability"].font().bold()
    assert not vae.figures["recognisability"].font().bold()
    assert vae.strengths.text().startswith("+ one forward pass")
    assert "no likelihood" in gan.weaknesses.text()
    # the model that cannot load shows why, and the others are unharmed
    assert not broken.status.isHidden() and "weights truncated" in broken.status.text()
    assert broken.time.text() == "failed" and broken.canvas.count == 0
    assert not dialog.busy() and dialog.progress.value() == 1000
    assert dialog.state_label.text() == "2 of 3 measured on cpu, 1 failed"
    assert "0.994 recognisability" in dialog.notes.text()


def test_the_wheel_over_a_grid_scrolls_the_table_instead_of_zooming(qtbot, dialog):
    with qtbot.waitSignal(dialog.measured, timeout=20000):
        dialog.measure()
    dialog.resize(500, 300)  # the table overflows: there is something to scroll
    qtbot.waitUntil(lambda: dialog.scroll.verticalScrollBar().maximum() > 0)
    canvas = dialog.columns["vae-glyphs"].canvas
    zoom = canvas.zoom()
    centre = canvas.viewport().rect().center().toPointF()
    wheel = QWheelEvent(centre, canvas.viewport().mapToGlobal(centre), QPoint(), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas.viewport(), wheel)
    assert canvas.zoom() == zoom
    assert dialog.scroll.verticalScrollBar().value() > 0


def test_cancel_stops_the_runs_and_the_view_stays_usable(qtbot, dialog):
    FakeModel.gate = threading.Event()  # the first sample blocks the worker
    dialog.measure()
    assert dialog.busy() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.state_label.text().startswith("Sampling vae-glyphs"),
                    timeout=10000)
    with qtbot.waitSignal(dialog.measured, timeout=10000):
        QTest.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        FakeModel.gate.set()
    texts = {m: c.time.text() for m, c in dialog.columns.items()}
    assert texts["vae-glyphs"] == "cancelled" and texts["gan-glyphs"] == "cancelled"
    assert not dialog.cancel_button.isEnabled()
    FakeModel.gate = None
    with qtbot.waitSignal(dialog.measured, timeout=20000):  # and it measures again
        QTest.mouseClick(dialog.measure_button, Qt.MouseButton.LeftButton)
    assert dialog.columns["gan-glyphs"].canvas.count == 4


def test_view_menu_opens_the_compare_window_on_the_window_engine(qtbot, tmp_path, settings):
    services = Services(tmp_path / "home", cards=(
        fake_card("fake-model", name="Fake glyphs", dataset="glyphs", metrics=VAE_METRICS),
        fake_gan_card("fake-gan", name="Fake faces", dataset="glyphs", metrics=GAN_METRICS)))
    window = make_window(qtbot, services, settings)
    try:
        view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
        assert window.compare_action in view_menu.actions()
        shortcut = window.compare_action.shortcut()
        assert shortcut.toString() == "Ctrl+Shift+C"
        others = [a for a in window.findChildren(type(window.compare_action))
                  if a is not window.compare_action and shortcut in a.shortcuts()]
        assert others == []  # the shortcut is its own
        window.compare_action.trigger()
        dialog = window.compare_dialog
        qtbot.waitUntil(lambda: not dialog.busy(), timeout=20000)
        assert dialog.isVisible() and set(dialog.columns) == {"fake-model", "fake-gan"}
        assert all(c.canvas.count == compare.DEFAULT_IMAGES for c in dialog.columns.values())
        window.compare_action.trigger()  # a second time: the same window, raised
        assert window.compare_dialog is dialog
    finally:
        window.close()
        services.engine.shutdown()
