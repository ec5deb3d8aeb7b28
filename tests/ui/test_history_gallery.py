"""History as a gallery (issue 13, point 9), through the real window: captions with model,
op and seed; thumbnails in line; an identical re-run adds no duplicate; launching adds
nothing; a restored interpolation shows its endpoints."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.ui.history_strip import THUMB
from tests.ui.conftest import generate, make_window


def test_items_have_captions_and_line_up(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    made = [generate(qtbot, window), generate(qtbot, window, view="interpolate")]
    strip = window.history_strip
    assert strip.count() == 2
    for row, result in enumerate(made):
        text = strip.list.item(row).text()
        request = result.request
        assert request.model_id in text and request.op in text and f"seed {request.seed}" in text
    # a square grid and a wide frame strip: the same icon size, side by side on one line
    rects = [strip.list.visualItemRect(strip.list.item(row)) for row in range(2)]
    assert rects[0].top() == rects[1].top() and rects[0].size() == rects[1].size()
    for row in range(2):
        icon = strip.list.item(row).icon()
        assert icon.pixmap(THUMB, THUMB).size().width() == THUMB
        assert icon.pixmap(THUMB, THUMB).size().height() == THUMB
    window.close()


def test_an_identical_re_run_adds_no_duplicate(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    first = generate(qtbot, window)
    window.params.seed_lock.click()
    window.params.set_value("seed", first.request.seed)  # the same seed again
    assert window.session.seed_locked
    again = generate(qtbot, window)
    assert len(window.history) == 1 and window.history_strip.count() == 1
    assert window.history_strip.list.currentRow() == 0  # the entry it would have added
    window.session.set_value("count", 3)  # a different recipe is added
    generate(qtbot, window)
    assert len(window.history) == 2
    assert again.request.seed == window.last_result.request.seed
    window.close()


def test_launching_adds_nothing(qtbot, services, settings):
    window = make_window(qtbot, services, settings, start=False)
    window.start()  # loads the model and shows a first grid
    qtbot.waitUntil(lambda: window.last_result is not None and not window.busy(), timeout=10000)
    assert window.explorer.samples.result is window.last_result
    assert len(window.history) == 0 and window.history_strip.count() == 0
    window.close()


def test_a_restored_interpolation_shows_its_endpoints(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    made = generate(qtbot, window, view="interpolate")
    window.close()
    # a new session: nothing picked, the ends empty until the entry is restored
    again = make_window(qtbot, services, settings)
    wells = again.explorer.interpolate.wells
    assert not wells["a"].has_image() and not wells["b"].has_image()
    strip = again.history_strip
    rect = strip.list.visualItemRect(strip.list.item(0))
    before = again.last_result
    QTest.mouseClick(strip.list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())
    qtbot.waitUntil(lambda: again.last_result is not before and not again.busy(), timeout=10000)
    assert again.explorer.current_view() == "interpolate"
    assert again.last_result.request.same_recipe(made.request)
    assert wells["a"].has_image() and wells["b"].has_image()
    again.close()
