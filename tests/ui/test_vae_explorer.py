"""The VAE explorer, driven with real input: pick samples, scrub the interpolation,
click and drag on the latent map, drop images to encode them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from studio.core import latent as latent_math
from tests.ui.conftest import cell_center, drop_files, generate, write_png


def click_cell(canvas, index, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, modifiers,
                     cell_center(canvas, index))


def pick_two(window, qtbot):
    result = generate(qtbot, window)
    canvas = window.explorer.samples.canvas
    click_cell(canvas, 0)
    click_cell(canvas, 3, Qt.KeyboardModifier.ShiftModifier)
    return result


def test_click_and_shift_click_pick_the_endpoints(window, qtbot):
    result = pick_two(window, qtbot)
    inputs = window.session.inputs
    assert np.array_equal(inputs["latent_a"], result.latents[0])
    assert np.array_equal(inputs["latent_b"], result.latents[3])
    assert np.array_equal(inputs["center"], result.latents[0])  # maps centre on A
    assert window.explorer.interpolate.wells["a"].has_image()
    assert window.explorer.interpolate.wells["b"].has_image()
    assert window.explorer.samples.interpolate_button.isEnabled()


def test_the_interpolation_slider_decodes_live(window, qtbot):
    result = pick_two(window, qtbot)
    QTest.mouseClick(window.explorer.samples.interpolate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.explorer.interpolate.result is not None and not window.busy())
    view = window.explorer.interpolate
    strip = view.result
    assert strip.request.op == "interpolate" and strip.count == 9
    assert np.array_equal(strip.latents[0], result.latents[0])
    slider = view.slider
    assert slider.isEnabled()
    slider.setFocus()
    # keyboard drag: each step decodes on the latest-wins lane
    for _ in range(3):
        QTest.keyClick(slider, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: window.explorer.scrub_result is not None
                    and window.explorer.scrub_result.request.inputs["latent"] is not None)
    qtbot.waitUntil(lambda: window.engine.idle())
    t = view.t()
    expected = latent_math.slerp(result.latents[0], result.latents[3], t)
    qtbot.waitUntil(lambda: np.allclose(window.explorer.scrub_result.request.inputs["latent"],
                                        expected, atol=1e-5))
    # a mouse drag to the far end shows B
    groove = slider.rect()
    QTest.mousePress(slider, Qt.MouseButton.LeftButton, pos=QPoint(5, groove.center().y()))
    QTest.mouseMove(slider, QPoint(groove.width() - 2, groove.center().y()))
    QTest.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(groove.width() - 2, groove.center().y()))
    QTest.keyClick(slider, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: view.t() == 1.0 and window.engine.idle())
    qtbot.waitUntil(lambda: np.array_equal(view.preview.pixmap().toImage().pixelColor(0, 0).red(),
                                           strip.images[-1][0, 0, 0]))
    assert np.array_equal(window.explorer.scrub_result.images[0], strip.images[-1])


def test_clicking_the_latent_map_decodes_that_point(window, qtbot):
    result = generate(qtbot, window, view="map")
    view = window.explorer.map
    assert result.count == 81 and view.canvas.count == 81
    assert "direction 0" in view.caption.text() and "±2.5σ" in view.caption.text()
    QTest.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=cell_center(view.canvas, 0))
    qtbot.waitUntil(lambda: window.explorer.map_point_result is not None)
    # the centre of the top-left cell is (−extent, +extent): the map's first image
    u, v = view.point
    assert abs(u + 2.5) < 0.1 and abs(v - 2.5) < 0.1
    assert view.canvas.marker_visible() and view.preview.has_content()
    first = window.explorer.map_point_result
    # dragging scrubs across the map
    start = cell_center(view.canvas, 40)
    QTest.mousePress(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    QTest.mouseMove(view.canvas.viewport(), start + QPoint(15, 10))
    QTest.mouseRelease(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(15, 10))
    qtbot.waitUntil(lambda: window.explorer.map_point_result is not first and window.engine.idle())
    u2, v2 = view.point
    assert u2 > 0 and v2 < 0  # right of and below the centre
    assert len(window.history) == 1  # live decodes stay out of the history


def test_map_click_on_a_cell_centre_gives_that_cells_pixels(window, qtbot):
    result = generate(qtbot, window, view="map")
    canvas = window.explorer.map.canvas
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=cell_center(canvas, 40))
    qtbot.waitUntil(lambda: window.explorer.map_point_result is not None and window.engine.idle())
    decoded = window.explorer.map_point_result.images[0]
    assert np.abs(decoded.astype(int) - result.images[40].astype(int)).max() <= 3


def test_dropping_an_image_encodes_it(window, qtbot, tmp_path):
    path = write_png(tmp_path / "mine.png", size=24, rgb=True)
    drop_files(window.explorer.samples.canvas, [path])
    qtbot.waitUntil(lambda: window.last_result is not None and not window.busy())
    result = window.last_result
    assert result.request.op == "encode"
    assert result.request.inputs["image"].shape == (8, 8, 1)  # fitted to the model
    assert window.explorer.samples.canvas.count == 1
    assert len(window.history) == 1
    assert np.array_equal(window.session.inputs["latent_a"], result.latents[0])


def test_two_dropped_images_become_a_and_b(window, qtbot, tmp_path):
    paths = [write_png(tmp_path / "one.png"), write_png(tmp_path / "two.png", rgb=True)]
    drop_files(window.explorer.samples.canvas, paths)
    qtbot.waitUntil(lambda: len(window.history) == 2 and not window.busy())
    assert window.explorer.samples.canvas.count == 2
    assert window.explorer.samples.selection == [0, 1]
    assert "latent_a" in window.session.inputs and "latent_b" in window.session.inputs


def test_dropping_on_an_endpoint_well_sets_that_endpoint(window, qtbot, tmp_path):
    window.explorer.set_view("interpolate")
    path = write_png(tmp_path / "b.png")
    drop_files(window.explorer.interpolate.wells["b"], [path])
    qtbot.waitUntil(lambda: "latent_b" in window.session.inputs and not window.busy())
    assert window.explorer.current_view() == "interpolate"
    assert window.explorer.interpolate.wells["b"].has_image()
    assert "latent_a" not in window.session.inputs


def test_a_corrupt_drop_on_the_map_changes_nothing(window, qtbot, tmp_path):
    generate(qtbot, window, view="map")
    bad = tmp_path / "noise.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    drop_files(window.explorer.map.canvas, [bad])
    assert window.message_bar.level() == "error" and "noise.jpg" in window.message_bar.text()
    assert len(window.history) == 1 and window.explorer.current_view() == "map"


def test_traverse_grid_rows_are_directions(window, qtbot):
    window.explorer.set_view("traverse")
    window.params.set_value("directions", 3)
    window.params.set_value("steps", 5)
    result = generate(qtbot, window)
    assert result.count == 15 and window.explorer.traverse.canvas.count == 15
    assert window.explorer.traverse.canvas._columns == 5
    assert "principal directions 0–2" in window.explorer.traverse.caption.text()
    assert len(window.explorer.traverse.canvas._row_labels) == 3


def test_use_picked_without_a_pick_explains_what_to_do(window, qtbot):
    window.explorer.set_view("interpolate")
    QTest.mouseClick(window.explorer.interpolate.use_buttons["a"], Qt.MouseButton.LeftButton)
    assert "Pick an image" in window.message_bar.text()


def test_reconstruct_acts_on_the_picked_sample(window, qtbot):
    result = generate(qtbot, window)
    window.explorer.samples.pick(2)
    window.params.op_combo.setCurrentIndex(window.params.op_combo.findData("reconstruct"))
    window.params.op_combo.activated.emit(window.params.op_combo.currentIndex())
    assert window.session.op == "reconstruct"
    again = generate(qtbot, window)
    assert again.request.op == "reconstruct" and again.count == 2
    assert np.array_equal(again.request.inputs["image"], result.images[2])


def test_an_op_without_its_input_explains_what_it_needs(window, qtbot):
    window.params.op_combo.activated.emit(window.params.op_combo.findData("encode"))
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    assert "Encode needs image" in window.message_bar.text()
    assert window.engine.idle() and len(window.history) == 0


def test_two_images_dropped_on_the_interpolation_become_its_ends(window, qtbot, tmp_path):
    window.explorer.set_view("interpolate")
    paths = [write_png(tmp_path / "from.png"), write_png(tmp_path / "to.png", rgb=True)]
    drop_files(window.explorer.interpolate.preview, paths)
    qtbot.waitUntil(lambda: len(window.history) == 2 and not window.busy())
    assert window.explorer.current_view() == "interpolate"
    assert all(window.explorer.interpolate.wells[side].has_image() for side in "ab")
    assert window.explorer.interpolate.slider.isEnabled()
    QTest.keyClick(window.explorer.interpolate.slider, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: window.explorer.scrub_result is not None and window.engine.idle())
