"""Screenshots of every explorer's every view at 1024×700 and at 1600×1000, into
build/screenshots/sizes/ (git-ignored), with the built-in models: one window per model,
a first small grid, then each view at both sizes (issue 13: it fits the screen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from studio.ui.main_window import MainWindow

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "sizes"
SIZES = ((1024, 700), (1600, 1000))
FIRST_COUNT = 4  # a small first grid: the shots are of the layout, not of the model


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    from studio.wiring import build_services

    made = build_services(home=tmp_path_factory.mktemp("home"), device="cpu", threads=1)
    yield made
    made.close()


FAMILIES = ("vae", "gan", "diffusion", "latent_diffusion", "flow", "autoregressive")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_view_at_both_sizes(qtbot, services, tmp_path, family):
    model_id = next((e.id for e in services.library.entries()
                     if e.family == family and e.builtin), None)
    assert model_id is not None, f"no built-in {family} model in resources/models"
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(*SIZES[0])
    window.show()
    qtbot.waitExposed(window)
    window.start(model_id, sample=False)
    qtbot.waitUntil(lambda: window.models.is_loaded(model_id), timeout=60000)
    if "count" in window.session.values():
        window.session.set_value("count", FIRST_COUNT)
    window.explorer.set_view(window.explorer.VIEWS[0])
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.explorer.samples.result is not None and not window.busy(),
                    timeout=120000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        for width, height in SIZES:
            window.resize(width, height)
            qtbot.waitUntil(lambda w=width: window.width() == w)
            for view in window.explorer.views:
                window.explorer.set_view(view)
                qtbot.wait(20)  # let the view lay out and paint
                # the window is the size asked for, and no explorer holds it wider
                assert (window.width(), window.height()) == (width, height)
                path = SHOTS / f"{family}-{view}-{width}x{height}.png"
                assert window.grab().save(str(path)), path
                assert path.stat().st_size > 5_000
    finally:
        window.close()
