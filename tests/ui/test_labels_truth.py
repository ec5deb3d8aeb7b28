"""Labels never lie (issue 13, point 3), through the real window: an error banner from a
failed run goes once a run succeeds; a banner about something else stays."""

from __future__ import annotations

import numpy as np
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
    from studio.ui.views.mask_canvas import BRUSH_HINT, NO_MASK, MaskPaintView
    from studio.wiring import explorer_table, family_registry

    class RealFamilies:
        engine, library, history = services.engine, services.library, services.history
        registry = family_registry()

    window = make_window(qtbot, RealFamilies(), settings, start=False)
    window.explorer_table = explorer_table()
    hints, tools, asked = [], [], []
    for kind in ("diffusion", "autoregressive"):
        window._use_explorer(kind)
        explorer = window.explorer
        name, paint = next((n, v) for n, v in explorer.views.items() if isinstance(v, MaskPaintView))
        hints.append(paint.caption.text())
        # every tool of the brush: the same text, tooltip and shortcut in both
        tools.append([(w.text(), w.toolTip()) for w in (
            paint.erase, paint.invert, paint.clear_button, paint.undo, paint.redo,
            paint.show_mask)] + [paint.brush.toolTip(), paint.brush_label.toolTip()])
        # what Generate says before an image, then before a mask, with the picked tab named
        messages = []
        explorer.message_raised.connect(messages.append)
        explorer.set_view(name)
        explorer.take_generate()
        paint.set_source(np.zeros((8, 8, 3), np.uint8))
        # no model is open here: the op the view runs is set on the session's state
        explorer.session.state.op_of_view[name] = "inpaint" if kind == "diffusion" else "complete"
        explorer.take_generate()
        asked.append((paint.mask_canvas.placeholder, paint.use_picked.toolTip(), *messages))
    assert all(hint.startswith(BRUSH_HINT) for hint in hints), hints
    assert tools[0] == tools[1]
    diffusion, pixelcnn = asked
    assert [text.replace("Generate", "Paint") for text in diffusion[:3]] == list(pixelcnn[:3])
    assert "paint the part to repaint" in pixelcnn[0] and "Erase" not in " ".join(pixelcnn)
    assert pixelcnn[3] == NO_MASK and diffusion[3].startswith(NO_MASK)
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
        window.explorer.set_view("timeline")
        other = window.explorer.timeline  # the other model's own timeline: nothing to fork
        assert "3" not in other.fork_button.text() and not other.fork_button.isEnabled()
        assert other.step.text() == "" and other.step_text.text() == "step –"
        window.models.select("one")  # and back: "one" kept its timeline where it was
        assert window.explorer.timeline is timeline and timeline.slider.value() == 3
        assert timeline.fork_button.text() == "Fork from step 3" and timeline.fork_button.isEnabled()
        window.close()
    finally:
        services.engine.shutdown()
