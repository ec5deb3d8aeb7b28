"""Nothing you made is thrown away (issue 13, point 2), through the real window: each
model keeps its own explorer, so going to another model and back finds the grid, the
picks, the endpoints and the interpolation as they were, and an action that cannot
apply (Interpolate A → B with nothing picked) is disabled on the other model."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import cell_center, generate, sampling_window


def _pick(qtbot, canvas, index: int, as_b: bool = False) -> None:
    modifier = Qt.KeyboardModifier.ShiftModifier if as_b else Qt.KeyboardModifier.NoModifier
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, modifier, cell_center(canvas, index))


def test_going_to_another_model_and_back_finds_everything_as_it_was(qtbot, services, settings):
    window = sampling_window(qtbot, services, settings, "fake-model", count=4)
    grid = generate(qtbot, window)
    vae = window.explorer
    _pick(qtbot, vae.samples.canvas, 0)
    _pick(qtbot, vae.samples.canvas, 2, as_b=True)
    assert vae.samples.selection == [0, 2] and vae.samples.interpolate_button.isEnabled()
    before = window.last_result
    QTest.mouseClick(vae.samples.interpolate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy(), timeout=10000)
    strip = vae.result("interpolate")
    assert strip is not None and strip.request.op == "interpolate"

    window.models.select("fake-other")
    other = window.explorer
    assert other is not vae and window.session.model_id == "fake-other"
    assert other.samples.result is None and other.result("interpolate") is None
    assert not other.samples.interpolate_button.isEnabled()  # nothing picked here
    assert not other.interpolate.wells["a"].has_image()

    window.models.select("fake-model")
    assert window.explorer is vae
    assert vae.current_view() == "interpolate"  # the tab the user left it on
    assert vae.samples.result is grid and vae.samples.selection == [0, 2]
    assert vae.samples.interpolate_button.isEnabled()
    assert vae.result("interpolate") is strip
    assert all(vae.interpolate.wells[side].has_image() for side in "ab")
    # the session kept the model's own settings and results too
    assert window.session.result("samples") is grid and window.session.value("count", "sample") == 4
    window.close()
