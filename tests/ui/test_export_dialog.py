"""File ▸ Export PNG through the real window: the whole grid or the picked image, at 1×,
2×, 4×, 8× or a pixel size, named after the seed of what it shows (issue 13, point 8)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog

from studio.core import export, media
from studio.core.export_scale import ExportScale
from studio.ui.export_options import ExportOptions
from tests.ui.conftest import generate, make_window
from tests.ui.test_gan_explorer import click_cell


def answer(options: ExportOptions, path, picked=None, scale=None, names=None):
    """The user's answer in the save dialog: what, how big, where (the suggested name
    as the dialog showed it is kept in `names`)."""
    options.select(picked=picked, scale=scale)
    if names is not None:
        names.append(options.file_name())
    return str(path)


def test_the_whole_grid_at_4x_with_a_pick_present(qtbot, services, settings, tmp_path, monkeypatch):
    window = make_window(qtbot, services, settings)
    window.session.set_value("count", 16)
    result = generate(qtbot, window)
    window.explorer.samples.pick(5)
    seen = []

    def ask(caption, file_filter, suggested, options):
        seen.append(suggested)
        return answer(options, tmp_path / "grid.png", picked=False, scale="4x", names=seen)

    monkeypatch.setattr(window, "_ask_save_path", ask)
    QTest.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    seed = result.request.seed
    # offered first: the pick, named after it; then the grid, named after its seeds
    assert seen[0] == f"fake-model-sample-seed{seed}-image6.png"
    assert seen[1] == f"fake-model-sample-seed{seed}-{seed + 15}.png"
    pixels = media.read_png_pixels(tmp_path / "grid.png")
    expected = export.result_grid(result, None, ExportScale(factor=4))
    assert pixels.shape[:2] == expected.shape[:2] == export.export_size(result, None, ExportScale(4))
    assert np.array_equal(pixels[..., 0], expected[..., 0])
    assert export.recipe_scale(tmp_path / "grid.png")[0] == ExportScale(factor=4)
    assert window.settings.value("export/scale") == "4x"  # offered again next time
    window.close()


def test_the_picked_gan_cell_at_a_pixel_size_named_after_its_seed(qtbot, gan_services, settings,
                                                                   tmp_path, monkeypatch):
    window = make_window(qtbot, gan_services, settings, model_id="fake-gan")
    result = generate(qtbot, window)
    click_cell(window.explorer.seeds.canvas, 3)
    names = []
    monkeypatch.setattr(window, "_ask_save_path", lambda c, f, suggested, options: answer(
        options, tmp_path / "one.png", scale="96px", names=names))
    window.export_png_action.trigger()
    assert names == [f"fake-gan-sample-seed{result.request.seed + 3}.png"]
    pixels = media.read_png_pixels(tmp_path / "one.png")
    assert max(pixels.shape[:2]) == 96
    assert export.recipe_index(tmp_path / "one.png") == 3
    window.close()


def test_the_real_save_dialog_holds_the_options_and_follows_the_choice(qtbot, services, settings,
                                                                        tmp_path):
    window = make_window(qtbot, services, settings)
    window.session.set_value("count", 4)
    result = generate(qtbot, window)
    window.explorer.samples.pick(1)
    window.settings.setValue("last_export_dir", str(tmp_path))
    target = tmp_path / "chosen.png"
    shown = {}

    def fill_in():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(10, fill_in)
            return
        options = dialog.findChild(ExportOptions)
        shown["picked"] = options.index()
        options.scale_box.setCurrentText("2×")  # as a user picks from the list
        options.grid_button.click()
        shown["name"] = dialog.selectedFiles()[0]
        shown["size"] = options.size_label.text()
        dialog.selectFile(str(target))
        dialog.accept()

    QTimer.singleShot(0, fill_in)
    out = window.export_png()
    assert out == target and shown["picked"] == 1
    seed = result.request.seed
    assert shown["name"].endswith(f"fake-model-sample-seed{seed}-{seed + 3}.png")
    height, width = export.export_size(result, None, ExportScale(factor=2))
    assert shown["size"].startswith(f"→ {width} × {height} px")
    assert media.read_png_pixels(target).shape[:2] == (height, width)
    window.close()
