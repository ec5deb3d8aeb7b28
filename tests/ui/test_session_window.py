"""The window follows the session: one state per model, the panel and the explorer
re-drawn from it, nothing copied back by hand."""

from __future__ import annotations

from tests.ui.conftest import generate


def test_switching_models_switches_states_and_loses_nothing(window, qtbot):
    first = window.session.model_id
    window.params.set_value("temperature", 1.5)  # as the user would: the session takes it
    assert window.session.value("temperature") == 1.5
    made = generate(qtbot, window)
    window.models.select("fake-other")
    window.select_model("fake-other")
    assert window.session.model_id == "fake-other"
    assert window.params.value("temperature") == 0.8  # the other model's own settings
    window.models.select(first)
    window.select_model(first)
    assert window.params.value("temperature") == 1.5  # and back: nothing lost
    assert window.session.result("samples") is made  # the result and its request are kept
    assert made.request.params["temperature"] == 1.5


def test_an_edit_outside_the_panel_reaches_it_and_undo_reaches_both(window, qtbot):
    window.session.set_value("count", 4)  # an explorer's slider, say
    assert window.params.value("count") == 4
    window.undo()
    assert window.params.value("count") == 16 and window.session.value("count") == 16
    window.redo()
    assert window.params.value("count") == 4


def test_every_request_is_built_from_the_session(window, qtbot):
    window.session.set_value("seed", 7)
    window.session.seed_locked = True
    assert window.params.seed_lock.isChecked()  # the panel follows the lock too
    result = generate(qtbot, window)
    request = window.session.request()
    assert (result.request.model_id, result.request.op) == (request.model_id, request.op)
    assert result.request.params == request.params and result.request.inputs == request.inputs
