"""Canvas: grids, crisp scaling, cell clicks, zoom and fit, drops, the map's point."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from studio.ui import images as imgs
from studio.ui.canvas import Canvas
from tests.ui.conftest import cell_center, drop_files, write_png


@pytest.fixture
def canvas(qtbot):
    view = Canvas(placeholder="empty")
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    return view


def gray_grid(count: int = 6, size: int = 8) -> np.ndarray:
    return (np.arange(count * size * size * 1) % 256).astype(np.uint8).reshape(count, size, size, 1)


def test_images_convert_with_their_own_buffer():
    gray = np.full((4, 5, 1), 77, np.uint8)
    qimage = imgs.to_qimage(gray)
    gray[:] = 0  # the QImage owns a copy
    assert qimage.format() == QImage.Format.Format_Grayscale8
    assert (qimage.width(), qimage.height()) == (5, 4) and qimage.pixelColor(0, 0).red() == 77
    assert imgs.to_qimage(np.zeros((3, 3, 3), np.uint8)).format() == QImage.Format.Format_RGB888
    assert imgs.to_qimage(np.zeros((3, 3, 4), np.uint8)).format() == QImage.Format.Format_RGBA8888


def test_grid_image_lays_out_cells_with_one_pixel_gaps():
    grid = imgs.grid_image(gray_grid(6), columns=3)
    assert grid.shape == (8 * 2 + 1, 8 * 3 + 2, 4)
    assert grid[8, 0, 3] == 0 and grid[0, 8, 3] == 0  # gaps are transparent
    assert imgs.cell_at(9 + 2, 9 + 2, 6, 3, (8, 8)) == 4
    assert imgs.cell_at(8, 2, 6, 3, (8, 8)) == -1  # in a gap
    assert imgs.grid_columns(10) == 4


def test_shows_a_grid_crisply_and_reuses_its_item(canvas, qtbot):
    item = canvas._item
    with qtbot.waitSignal(canvas.content_updated):
        canvas.set_images(gray_grid(6), columns=3)
    assert canvas.count == 6 and canvas.pixmap().width() == 26
    assert item.transformationMode() == Qt.TransformationMode.FastTransformation
    assert not canvas.renderHints() & canvas.renderHints().SmoothPixmapTransform
    assert canvas.zoom() >= 1 and canvas.zoom() == int(canvas.zoom())  # whole-number fit
    canvas.set_image(np.zeros((8, 8, 1), np.uint8))
    assert canvas._item is item and canvas.count == 1


def test_clicking_a_cell_reports_index_and_modifiers(canvas, qtbot):
    canvas.set_images(gray_grid(6), columns=3)
    with qtbot.waitSignal(canvas.cell_clicked) as blocker:
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.ShiftModifier, cell_center(canvas, 4))
    index, modifiers = blocker.args
    assert index == 4 and modifiers & Qt.KeyboardModifier.ShiftModifier
    canvas.set_selection([4, 1])
    assert len(canvas._highlights) == 2


def test_zoom_with_keys_and_fit_with_f(canvas, qtbot):
    canvas.set_images(gray_grid(4), columns=2)
    fitted = canvas.zoom()
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Plus)
    assert canvas.zoom() == pytest.approx(fitted * 1.25)
    QTest.keyClick(canvas, Qt.Key.Key_Minus)
    QTest.keyClick(canvas, Qt.Key.Key_Minus)
    assert canvas.zoom() < fitted
    QTest.keyClick(canvas, Qt.Key.Key_F)
    assert canvas.zoom() == fitted


def test_dropped_files_are_reported(canvas, qtbot, tmp_path):
    path = write_png(tmp_path / "a.png")
    with qtbot.waitSignal(canvas.files_dropped) as blocker:
        drop_files(canvas, [path])
    assert blocker.args == [[str(path)]]
    assert not canvas.handle_drop(QMimeData())  # no files: nothing to do


def test_point_mode_reports_press_and_drag_and_shows_a_marker(canvas, qtbot):
    canvas.set_images(gray_grid(9), columns=3)
    canvas.set_point_mode(True)
    centre = cell_center(canvas, 4)
    with qtbot.waitSignal(canvas.point_pressed) as pressed:
        QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    x, y = pressed.args
    assert x == pytest.approx(0.5, abs=0.02) and y == pytest.approx(0.5, abs=0.02)
    assert canvas.grid_position(x, y) == pytest.approx((1.0, 1.0), abs=0.1)
    assert canvas.marker_visible()
    with qtbot.waitSignal(canvas.point_dragged):
        QTest.mouseMove(canvas.viewport(), centre + QPoint(20, 0))
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=centre + QPoint(20, 0))


def test_cells_carry_their_labels_as_tooltips(canvas):
    canvas.set_images(gray_grid(2), 2, ["PC0 −2σ", "PC0 +2σ"])
    assert canvas.cell_label(1) == "PC0 +2σ" and canvas.cell_label(5) == ""


def test_middle_drag_and_space_drag_pan(canvas, qtbot):
    canvas.set_images(gray_grid(4), columns=2)
    for _ in range(4):
        canvas.zoom_in()
    bar = canvas.horizontalScrollBar()
    start = bar.value()
    centre = canvas.viewport().rect().center()
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=centre)
    QTest.mouseMove(canvas.viewport(), centre + QPoint(40, 0))
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=centre + QPoint(40, 0))
    assert bar.value() == start - 40
    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    assert canvas.dragMode() == canvas.DragMode.ScrollHandDrag
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert canvas.dragMode() == canvas.DragMode.NoDrag


def test_a_partial_grid_keeps_its_final_layout():
    padded = imgs.pad_grid(gray_grid(3), 16)
    assert padded.shape == (16, 8, 8, 4)
    assert padded[2, 0, 0, 3] == 255 and padded[3, 0, 0, 3] == 0
    assert imgs.pad_grid(gray_grid(3), 2).shape == (3, 8, 8, 1)
