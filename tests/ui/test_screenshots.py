"""Screenshots of the main window, one per explorer view, into build/screenshots/
(git-ignored) so anyone can look; main.png is the one the README shows.

With the built-in VAE in resources/models the shots show real glyphs; without it (a
fresh checkout before training) they fall back to the fake family.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from studio.ui.main_window import MainWindow
from tests.ui.conftest import Services, cell_center

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
BUILTIN = "vae-glyphs"


def built_in_services(home: Path):
    """The real services with the built-in VAE, or None when it is not there."""
    from studio.wiring import build_services

    services = build_services(home=home, device="cpu", threads=1)
    if BUILTIN in [entry.id for entry in services.library.entries()]:
        return services
    services.close()
    return None


@pytest.fixture
def studio(qtbot, tmp_path):
    services = built_in_services(tmp_path / "home") or Services(tmp_path / "home")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    window.start(sample=True)
    qtbot.waitUntil(lambda: window.explorer.samples.result is not None and not window.busy(),
                    timeout=60000)
    yield window
    window.close()
    services.engine.shutdown()


def settle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.engine.idle() and not window.busy(), timeout=30000)
    qtbot.wait(50)  # let queued results paint


def shoot(window, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    assert window.grab().save(str(path)), path
    return path


def test_screenshots_of_every_view(studio, qtbot):
    window = studio
    explorer = window.explorer
    explorer.samples.pick(0)
    explorer.samples.pick(5, as_b=True)
    samples = shoot(window, "samples")

    explorer.set_view("interpolate")
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    explorer.interpolate.slider.setValue(400)
    settle(qtbot, window)
    shoot(window, "interpolate")

    explorer.set_view("traverse")
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    shoot(window, "traverse")

    explorer.set_view("map")
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    canvas = explorer.map.canvas
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=cell_center(canvas, 30))
    settle(qtbot, window)
    shoot(window, "map")

    window.set_theme("light")
    explorer.set_view("samples")
    shoot(window, "samples-light")
    window.set_theme("dark")

    shutil.copyfile(samples, SHOTS / "main.png")
    for name in ("samples", "interpolate", "traverse", "map", "samples-light", "main"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
