"""Screenshots of the main window, one per explorer view, into build/screenshots/
(git-ignored) so anyone can look; main.png is the one the README shows.

With the built-in VAE (and GAN) in resources/models the shots show real glyphs; without
them (a fresh checkout before training) they fall back to the fake families.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from studio.ui.main_window import MainWindow
from tests.fakes import (
    FakeDiffusionModel,
    FakeGANModel,
    fake_card,
    fake_diffusion_card,
    fake_gan_card,
)
from tests.ui.conftest import Services, cell_center, write_png

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
BUILTIN = "vae-glyphs"


def built_in_services(home: Path, family: str = "vae"):
    """The real services and a built-in model of `family`, or None when there is none."""
    from studio.wiring import build_services

    services = build_services(home=home, device="cpu", threads=1)
    ids = [e.id for e in services.library.entries() if e.card.family == family]
    if family == "vae" and BUILTIN in ids:
        return services, BUILTIN
    if family != "vae" and ids and family in services.registry:
        return services, ids[0]
    services.close()
    return None


@pytest.fixture
def studio(qtbot, tmp_path):
    found = built_in_services(tmp_path / "home")
    services = found[0] if found else Services(tmp_path / "home")
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


@pytest.fixture
def gan_studio(qtbot, tmp_path):
    found = built_in_services(tmp_path / "home", family="gan")
    services, model_id = found or (Services(tmp_path / "home", cards=(
        fake_gan_card("fake-gan", name="Fake GAN"), fake_card("fake-model"))), "fake-gan")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    window.start(model_id, sample=True)
    qtbot.waitUntil(lambda: window.explorer.samples.result is not None and not window.busy(),
                    timeout=60000)
    yield window
    window.close()
    services.engine.shutdown()
    FakeGANModel.step_delay, FakeGANModel.gate = 0.0, None


def test_screenshots_of_the_gan_explorer(gan_studio, qtbot, tmp_path, monkeypatch):
    window = gan_studio
    explorer = window.explorer
    explorer.samples.pick(0)
    explorer.samples.pick(5, as_b=True)
    shoot(window, "gan-seeds")

    explorer.set_view("edit")
    settle(qtbot, window)
    rows = explorer.edit.rows
    if rows:
        rows[0].slider.setValue(15)
    if len(rows) > 1:
        rows[1].slider.setValue(-10)
    settle(qtbot, window)
    shoot(window, "gan-edit")

    explorer.set_view("walk")
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    explorer.walk.stop()
    explorer.walk.frame_slider.setValue(explorer.walk.result.count // 3)
    shoot(window, "gan-walk")

    explorer.set_view("mix")
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    shoot(window, "gan-mix")

    dialog = explorer.open_projection()
    target = write_png(tmp_path / "mine.png", size=32, rgb=True)
    # chosen as a user does; the image is read on the loader's thread
    monkeypatch.setattr(explorer, "_ask_open_path", lambda *a: str(target))
    QTest.mouseClick(dialog.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.target.has_content, timeout=20_000)
    qtbot.waitExposed(dialog)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / "gan-project.png"))
    dialog.close()
    for name in ("gan-seeds", "gan-edit", "gan-walk", "gan-mix"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
    assert (SHOTS / "gan-project.png").stat().st_size > 3_000


@pytest.fixture
def diffusion_studio(qtbot, tmp_path):
    found = built_in_services(tmp_path / "home", family="latent_diffusion")
    services, model_id = found or (Services(tmp_path / "home", cards=(
        fake_diffusion_card("fake-diffusion", name="Fake diffusion"), fake_card("fake-model"))),
        "fake-diffusion")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    window.start(model_id, sample=True)
    qtbot.waitUntil(lambda: window.explorer.samples.result is not None and not window.busy(),
                    timeout=120000)
    yield window
    window.close()
    services.engine.shutdown()


def test_screenshots_of_the_diffusion_explorer(diffusion_studio, qtbot):
    from PySide6.QtCore import QPointF

    window = diffusion_studio
    explorer = window.explorer
    grid = explorer.samples
    QTest.mouseClick(grid.canvas.viewport(), Qt.MouseButton.LeftButton, pos=cell_center(grid.canvas, 0))
    shoot(window, "diffusion-generate")

    # mid-run: the predicted images forming, the step counter; then Esc
    steps = window.params.value("steps")
    window.params.set_value("steps", 200)
    FakeDiffusionModel.step_delay = 0.02  # the fake runs at the real one's pace
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: explorer.generate.step.text().startswith("step ")
                    and explorer.generate.step.text().endswith("/200")
                    and int(explorer.generate.step.text()[5:].split("/")[0]) >= 12, timeout=60000)
    shoot(window, "diffusion-generate-live")
    QTest.keyClick(window, Qt.Key.Key_Escape)
    settle(qtbot, window)
    assert explorer.generate.step.text().startswith("Cancelled at step")
    window.params.set_value("steps", steps)
    FakeDiffusionModel.step_delay = 0.0

    explorer.set_view("paint")
    canvas = explorer.paint.mask_canvas
    h, w = canvas.source.shape[:2]
    points = [canvas.mapFromScene(QPointF(w * x, h * y)) for x, y in
              ((0.3, 0.25), (0.5, 0.45), (0.7, 0.6))]
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        QTest.mouseMove(canvas.viewport(), point)
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=points[-1])
    assert canvas.has_mask()
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    assert explorer.paint.result is not None
    shoot(window, "diffusion-inpaint")

    explorer.set_view("timeline")
    timeline = explorer.timeline
    for step in (timeline.steps // 3, timeline.steps // 2):
        timeline.slider.setValue(step)
        QTest.mouseClick(timeline.fork_button, Qt.MouseButton.LeftButton)
        settle(qtbot, window)
    timeline.slider.setValue(timeline.steps // 3)
    assert timeline.result is not None and timeline.result.count == 3
    shoot(window, "diffusion-timeline")
    for name in ("diffusion-generate", "diffusion-generate-live", "diffusion-inpaint",
                 "diffusion-timeline"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
