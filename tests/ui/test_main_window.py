"""The main window, driven like a user: pick a model, Generate, shortcuts, export,
re-open a recipe, history, errors, settings."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDoubleSpinBox

from studio.core import export
from studio.core.history import History
from studio.core.library import LibraryError
from studio.core.requests import Request
from tests.fakes import FakeModel
from tests.ui.conftest import drop_files, generate, make_window, write_png


def press(window, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window, key, modifiers)


def test_window_opens_with_a_model_picked(window):
    assert "Latent Studio" in window.windowTitle()
    assert window.session.model_id == "fake-model"
    assert window.models.current_id() == "fake-model"
    assert window.models.is_loaded("fake-model")
    assert "cpu" in window.device_label.text()
    assert window.params.op_combo.currentData() == "sample"
    assert window.params.generate_button.isEnabled()
    assert [window.explorer.tabText(i) for i in range(4)] == ["Samples", "Interpolate", "Traverse", "Map"]


def test_generate_click_shows_a_grid_and_records_history(window, qtbot):
    result = generate(qtbot, window)
    assert result.request.op == "sample" and result.count == 16
    assert window.explorer.samples.canvas.count == 16
    assert window.history_strip.count() == 1 and len(window.history) == 1
    assert "ms/image" in window.time_label.text()
    # an unlocked seed is drawn in advance: the field shows the seed the next run uses
    shown = window.session.value("seed")
    assert shown != result.request.seed and window.params.value("seed") == shown
    assert generate(qtbot, window).request.seed == shown


def test_ctrl_return_generates_with_a_locked_seed(window, qtbot):
    window.params.set_value("seed", 1234)
    QTest.mouseClick(window.params.seed_lock, Qt.MouseButton.LeftButton)
    before = window.last_result
    press(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy())
    assert window.last_result.request.seed == 1234


def test_ctrl_return_works_while_a_parameter_has_focus(window, qtbot):
    spin = window.params.editor("temperature").findChild(QDoubleSpinBox)
    spin.setFocus()
    before = window.last_result
    QTest.keyClick(spin, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy())
    assert window.last_result.request.op == "sample"


def test_escape_cancels_a_running_job(window, qtbot):
    FakeModel.gate = threading.Event()
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.engine.running_job is not None)
    assert window.busy() and not window.params.generate_button.isEnabled()
    assert window.cancel_button.isEnabled()
    press(window, Qt.Key.Key_Escape)
    FakeModel.gate.set()
    qtbot.waitUntil(lambda: not window.busy())
    assert window.job_label.text() == "Cancelled"
    assert len(window.history) == 0 and window.params.generate_button.isEnabled()


def test_ctrl_e_exports_a_png_carrying_its_recipe(window, qtbot, tmp_path, monkeypatch):
    result = generate(qtbot, window)
    target = tmp_path / "out.png"
    monkeypatch.setattr(window, "_ask_save_path", lambda *args: str(target))
    press(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert target.exists()
    assert export.open_recipe(target).same_recipe(result.request)
    assert window.settings.value("last_export_dir") == str(tmp_path)


def test_export_animation_and_contact_sheet(window, qtbot, tmp_path, monkeypatch):
    generate(qtbot, window, view="interpolate")
    paths = iter([str(tmp_path / "walk.gif"), str(tmp_path / "sheet.png")])
    monkeypatch.setattr(window, "_ask_save_path", lambda *args: next(paths))
    press(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert (tmp_path / "walk.gif").stat().st_size > 0
    window.export_sheet_action.trigger()
    assert (tmp_path / "sheet.png").stat().st_size > 0


def test_a_dropped_exported_png_restores_settings_and_the_same_pixels(window, qtbot, tmp_path,
                                                                      monkeypatch):
    window.explorer.set_view("traverse")
    window.params.set_value("extent", 1.5)
    first = generate(qtbot, window)
    target = tmp_path / "traverse.png"
    monkeypatch.setattr(window, "_ask_save_path", lambda *args: str(target))
    window.export_png_action.trigger()
    # wander off: other view, other settings
    window.explorer.set_view("samples")
    window.params.set_value("count", 4)
    history_before = len(window.history)
    drop_files(window.explorer.samples.canvas, [target])
    qtbot.waitUntil(lambda: window.last_result is not first and not window.busy())
    again = window.last_result
    assert window.explorer.current_view() == "traverse"
    assert window.params.value("extent") == 1.5 and window.params.value("seed") == first.request.seed
    assert window.session.seed_locked
    assert np.array_equal(again.images, first.images)
    assert len(window.history) == history_before  # a restore makes nothing new


def test_file_open_restores_a_recipe(window, qtbot, tmp_path, monkeypatch):
    result = generate(qtbot, window)
    path = export.export_png(tmp_path / "one.png", result, index=2)
    monkeypatch.setattr(window, "_ask_open_path", lambda *args: str(path))
    window.params.set_value("count", 3)
    press(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_result is not result and not window.busy())
    assert window.params.value("count") == 16
    assert np.array_equal(window.last_result.images, result.images)


def test_history_click_restores_parameters(window, qtbot):
    window.params.set_value("seed", 11)
    QTest.mouseClick(window.params.seed_lock, Qt.MouseButton.LeftButton)
    first = generate(qtbot, window)
    window.params.set_value("seed", 22)
    window.params.set_value("count", 4)
    generate(qtbot, window)
    strip = window.history_strip
    assert strip.count() == 2
    rect = strip.list.visualItemRect(strip.list.item(0))
    QTest.mouseClick(strip.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.params.value("seed") == 11)
    assert window.params.value("count") == 16
    qtbot.waitUntil(lambda: not window.busy() and window.last_result.request.seed == 11)
    assert np.array_equal(window.last_result.images, first.images)
    assert strip.count() == 2


def test_history_survives_a_restart(window, qtbot, services, settings):
    generate(qtbot, window)
    window.close()
    services.history = History(services.history.folder.parent)
    reopened = make_window(qtbot, services, settings, start=False)
    assert reopened.history_strip.count() == 1
    reopened.close()


def test_a_corrupt_file_shows_an_error_and_changes_nothing(window, qtbot, tmp_path):
    bad = tmp_path / "broken.png"
    good = write_png(tmp_path / "good.png").read_bytes()
    bad.write_bytes(good[: len(good) // 2])  # truncated
    drop_files(window.explorer.samples.canvas, [bad])
    assert window.message_bar.level() == "error" and "broken.png" in window.message_bar.text()
    assert len(window.history) == 0 and window.history_strip.count() == 0
    assert window.engine.idle()


def test_a_failed_background_history_write_is_shown(window, qtbot):
    import threading

    # History(background=True) reports from its writer thread; the message must reach
    # the window's message bar on the GUI thread
    writer = threading.Thread(target=window.history.on_problem,
                              args=("Could not save 0001.png to the history: disk full",))
    writer.start()
    writer.join()
    qtbot.waitUntil(lambda: "0001.png" in window.message_bar.text())
    assert window.message_bar.level() == "error"


def test_a_failing_job_shows_a_message_and_the_app_goes_on(window, qtbot):
    FakeModel.fail_with = RuntimeError("the model broke")
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "the model broke" in window.message_bar.text())
    qtbot.waitUntil(lambda: not window.busy())
    FakeModel.fail_with = None
    assert generate(qtbot, window).count == 16


def test_undo_and_redo_parameter_edits(window, qtbot):
    window.params.set_value("count", 4)
    window.params.set_value("temperature", 1.5)
    press(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.params.value("temperature") == 0.8 and window.params.value("count") == 4
    window.redo_action.trigger()
    assert window.params.value("temperature") == 1.5


def test_live_parameter_rerenders_on_the_latest_wins_lane(window, qtbot):
    first = generate(qtbot, window)
    window.params.set_value("temperature", 0.3)
    qtbot.waitUntil(lambda: window.explorer.samples.result is not first)
    assert window.explorer.samples.result.request.params["temperature"] == 0.3
    assert len(window.history) == 1  # live previews stay out of the history


def test_load_unload_and_switching_models(window, qtbot):
    window.models.select("fake-other")
    assert window.session.model_id == "fake-other" and "Fake other" in window.windowTitle()
    window.load_action.trigger()
    qtbot.waitUntil(lambda: window.models.is_loaded("fake-other"))
    window.unload_action.trigger()
    qtbot.waitUntil(lambda: not window.models.is_loaded("fake-other"))


def test_import_model_folder(window, qtbot, monkeypatch, tmp_path):
    def refuse(path):
        raise LibraryError(f"{path}: no model card (card.json) in this folder")

    monkeypatch.setattr(window.library, "import_folder", refuse, raising=False)
    assert window.import_folder(str(tmp_path)) is None
    assert "card.json" in window.message_bar.text()


def test_recipe_for_a_missing_model_is_refused_clearly(window):
    window.restore_request(Request("nowhere", "sample", {"seed": 1}))
    assert "nowhere" in window.message_bar.text() and window.session.model_id == "fake-model"


def test_settings_persist_theme_geometry_and_last_model(window, qtbot, services, settings):
    window.set_theme("light")
    window.models.select("fake-other")
    window.resize(790, 590)  # inside the offscreen screen (800 × 600)
    window.close()
    reopened = make_window(qtbot, services, settings, start=False)
    try:
        assert reopened.theme_actions["light"].isChecked()
        assert (reopened.size().width(), reopened.size().height()) == (790, 590)
        assert settings.value("last_model") == "fake-other"
        reopened.start(sample=False)
        assert reopened.session.model_id == "fake-other"
    finally:
        reopened.set_theme("dark")
        reopened.close()


def test_ctrl_c_copies_the_picked_image(window, qtbot):
    from PySide6.QtWidgets import QApplication

    result = generate(qtbot, window)
    window.explorer.samples.pick(3)
    press(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (8, 8)
    assert copied.pixelColor(0, 0).red() == result.images[3][0, 0, 0]


def test_a_damaged_recipe_is_refused_and_changes_nothing(window):
    window.params.set_value("count", 5)
    window.restore_request(Request("fake-model", "sample", {"count": 5000}))
    assert "count" in window.message_bar.text() and window.params.value("count") == 5
    window.restore_request(Request("fake-model", "paint", {}))
    assert "paint" in window.message_bar.text() and window.session.op == "sample"


def test_history_entries_can_be_removed_and_cleared(window, qtbot, monkeypatch):
    generate(qtbot, window)
    generate(qtbot, window)
    strip = window.history_strip
    first = strip.entry(0)
    strip.remove(0)
    assert strip.count() == 1 and len(window.history) == 1 and not first.image_path.exists()
    monkeypatch.setattr(strip, "_confirm_clear", lambda: True)
    QTest.mouseClick(strip.clear_button, Qt.MouseButton.LeftButton)
    assert strip.count() == 0 and len(window.history) == 0
