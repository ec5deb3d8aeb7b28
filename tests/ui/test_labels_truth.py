"""Labels never lie (issue 13, point 3), through the real window: an error banner from a
failed run goes once a run succeeds; a banner about something else stays."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.fakes import FakeModel
from tests.ui.conftest import generate, make_window


def test_a_run_error_banner_goes_after_a_success(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    FakeModel.fail_with = RuntimeError("the model broke")
    try:
        QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "the model broke" in window.message_bar.text())
        qtbot.waitUntil(lambda: not window.busy())
    finally:
        FakeModel.fail_with = None
    assert window.message_bar.level() == "error"
    generate(qtbot, window)
    assert window.message_bar.text() == ""  # the failure no longer holds
    window.close()


def test_another_error_stays_after_a_success(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    window.show_error("history: could not write 0001.png")
    generate(qtbot, window)
    assert "0001.png" in window.message_bar.text()
    window.close()


def test_the_brush_says_the_same_thing_in_diffusion_and_pixelcnn(qtbot, services, settings):
    from studio.ui.views.mask_canvas import BRUSH_HINT, MaskPaintView
    from studio.wiring import explorer_table, family_registry

    class RealFamilies:
        engine, library, history = services.engine, services.library, services.history
        registry = family_registry()

    window = make_window(qtbot, RealFamilies(), settings, start=False)
    window.explorer_table = explorer_table()
    hints = []
    for kind in ("diffusion", "autoregressive"):
        window._use_explorer(kind)
        paint = next(v for v in window.explorer.views.values() if isinstance(v, MaskPaintView))
        hints.append(paint.caption.text())
    assert all(hint.startswith(BRUSH_HINT) for hint in hints), hints
    window.close()


def test_fork_from_step_k_does_not_carry_over_to_another_model(qtbot, tmp_path, settings):
    from tests.fakes import fake_diffusion_card
    from tests.ui.conftest import Services, sampling_window

    services = Services(tmp_path / "home", cards=(fake_diffusion_card("one", name="One"),
                                                  fake_diffusion_card("two", name="Two")))
    try:
        window = sampling_window(qtbot, services, settings, "one", steps=6, count=2)
        generate(qtbot, window)
        window.explorer.set_view("timeline")
        timeline = window.explorer.timeline
        timeline.slider.setValue(3)
        assert timeline.fork_button.text() == "Fork from step 3"
        window.models.select("two")
        assert window.session.model_id == "two"
        assert "3" not in timeline.fork_button.text() and not timeline.fork_button.isEnabled()
        assert timeline.step.text() == "" and timeline.step_text.text() == "step –"
        window.close()
    finally:
        services.engine.shutdown()
