"""Labels never lie (issue 13, point 3), through the real window: the line under the
canvas says what the view shows from the request of the result on screen, not from the
panel; once the settings move on it says "changed: Generate to update", and a Generate
(or a live re-render) brings the two back together."""

from __future__ import annotations

from tests.ui.conftest import generate, make_window


def test_the_grid_says_what_made_it_and_marks_settings_that_moved_on(qtbot, gan_services, settings):
    window = make_window(qtbot, gan_services, settings, model_id="fake-gan")
    line = window.shown_line
    grid = generate(qtbot, window)
    qtbot.waitUntil(lambda: line.full_text() != "")
    assert f"seed {grid.request.seed} · images 16 · truncation ψ 0.7" in line.full_text()
    assert not line.changed.isVisible()
    # Images is not live: the grid still shows (and says) 16, marked changed
    window.params.set_value("count", 4)
    qtbot.waitUntil(lambda: line.changed.isVisible())
    assert "images 16" in line.full_text() and window.explorer.seeds.result is grid
    assert "changed: Generate to update" in line.changed.text()
    # an unlocked seed drawn in advance is not a change: only Images is named
    assert "Images" in line.changed.toolTip() and "Seed" not in line.changed.toolTip()
    again = generate(qtbot, window)
    qtbot.waitUntil(lambda: not line.changed.isVisible())
    assert again.count == 4 and "images 4" in line.full_text()
    window.close()


def test_a_live_slider_re_renders_the_shown_grid_with_its_own_seed(qtbot, gan_services, settings):
    window = make_window(qtbot, gan_services, settings, model_id="fake-gan")
    line = window.shown_line
    grid = generate(qtbot, window)
    assert window.session.value("seed") != grid.request.seed  # the next seed, drawn already
    window.params.set_value("truncation", 1.5)  # ψ is live: the grid re-renders now
    qtbot.waitUntil(lambda: window.explorer.seeds.result.request.params["truncation"] == 1.5)
    live = window.explorer.seeds.result
    assert live.request.seed == grid.request.seed  # the same images, at the new ψ
    qtbot.waitUntil(lambda: "truncation ψ 1.5" in line.full_text())
    assert not line.changed.isVisible()
    window.close()


def test_each_models_line_follows_its_own_result(qtbot, gan_services, settings):
    window = make_window(qtbot, gan_services, settings, model_id="fake-gan")
    generate(qtbot, window)
    qtbot.waitUntil(lambda: window.shown_line.full_text() != "")
    window.models.select("fake-model")  # nothing made here yet: the line says nothing
    qtbot.waitUntil(lambda: window.shown_line.full_text() == "")
    window.models.select("fake-gan")
    qtbot.waitUntil(lambda: "seed" in window.shown_line.full_text())
    window.close()
