"""The diffusion explorer, driven with real input over the fake diffusion model: live
previews with a step counter and Esc midway, mask strokes with undo/redo, invert and
clear, inpaint with the painted mask, the timeline scrubbed without a model call and a
fork from step k, its branches side by side."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QSlider

from studio.core import media
from tests.fakes import FakeDiffusionModel, fake_card, fake_diffusion_card
from tests.ui.conftest import Services, cell_center, click, generate, sampling_window, stroke

STEPS = 6


@pytest.fixture
def diffusion_services(tmp_path):
    made = Services(tmp_path / "home", cards=(fake_diffusion_card("fake-diffusion", name="Fake glyph diffusion"),
                                              fake_card("fake-model", name="Fake glyphs")))
    FakeDiffusionModel.requests = []
    yield made
    made.engine.shutdown()
    FakeDiffusionModel.step_delay, FakeDiffusionModel.gate = 0.0, None


@pytest.fixture
def window(qtbot, diffusion_services, settings):
    made = sampling_window(qtbot, diffusion_services, settings, "fake-diffusion",
                           steps=STEPS, count=4)
    yield made
    made.close()


@pytest.fixture
def model():
    return FakeDiffusionModel(fake_diffusion_card(), "cpu")


def test_the_window_opens_on_the_diffusion_explorer(window):
    explorer = window.explorer
    assert [explorer.tabText(i) for i in range(explorer.count())] == [
        "Generate", "Inpaint && img2img", "Timeline"]
    assert window.session.op == "sample"
    controls = [w for view in explorer.views.values() for kind in (QAbstractButton, QSlider)
                for w in view.findChildren(kind)]
    assert len(controls) >= 18
    assert [getattr(w, "text", w.objectName)() for w in controls if not w.toolTip()] == []  # a tooltip on every control
    assert all(explorer.tabToolTip(i) for i in range(explorer.count()))


def test_generate_shows_previews_with_a_step_counter_and_esc_cancels(window, qtbot):
    grid = generate(qtbot, window)
    canvas = window.explorer.generate.canvas
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     cell_center(canvas, 1))
    qtbot.waitUntil(lambda: window.explorer.subject_timeline is not None)  # image 1 traced
    FakeDiffusionModel.gate = gate = threading.Event()  # holds the run at its first step
    previews = []
    window.bridge.job_previewed.connect(lambda job, images: previews.append(np.array(images)))
    click(window.params.generate_button)
    qtbot.waitUntil(window.busy)
    FakeDiffusionModel.step_delay = 0.3  # then one step each 0.3 s
    FakeDiffusionModel.gate = None
    gate.set()
    qtbot.waitUntil(lambda: window.explorer.generate.step.text() == f"step 2/{STEPS}", timeout=5000)
    assert previews and previews[-1].shape == (4, 8, 8, 3)  # x0 of every image
    assert canvas.count == 4  # the grid grows from the previews
    assert canvas.pixmap().toImage().pixelColor(0, 0).getRgb()[:3] == tuple(previews[-1][0][0, 0])
    assert window.job_label.text().endswith(f"step 2/{STEPS}")
    assert not window.explorer.generate.canvas._highlights  # no pick outline on a preview
    with qtbot.waitSignal(window.bridge.job_cancelled, timeout=5000) as cancelled:
        QTest.keyClick(window, Qt.Key.Key_Escape)
    assert cancelled.args[0].state.value == "cancelled"
    qtbot.waitUntil(lambda: not window.busy())
    counter = window.explorer.generate.step.text()
    assert counter.startswith("Cancelled at step")
    assert int(counter.split("step ")[1].split("/")[0]) < STEPS  # stopped midway
    assert len(window.history) == 1 and window.history_strip.count() == 1  # the first grid only
    assert window.explorer.generate.result is grid  # shown again, still picked
    assert window.explorer.generate.selection == [1] and canvas._highlights
    assert window.explorer.subject[1] == 1


def test_a_finished_sample_counts_all_steps_and_goes_to_the_history(window, qtbot, model):
    grid = generate(qtbot, window)
    assert grid.request.op == "sample" and grid.images.shape == (4, 8, 8, 3)
    assert window.explorer.generate.step.text() == f"step {STEPS}/{STEPS}"
    assert grid.extras["timeline"]["x0"].shape == (STEPS, 8, 8, 3)
    seed, guidance = grid.request.seed, grid.request.params["guidance"]
    expected = [model.to_uint8(model.final(seed + i, model.label(-1, seed + i), guidance))
                for i in range(4)]
    assert np.array_equal(grid.images, np.stack(expected))
    assert window.explorer.generate.canvas.count == 4
    assert len(window.history) == 1 and window.history_strip.count() == 1
    # the timeline shows the first image's last step straight away
    timeline = window.explorer.timeline
    assert timeline.slider.maximum() == STEPS and timeline.slider.value() == STEPS
    assert np.array_equal(timeline.frame(STEPS), grid.images[0])


def open_paint(window, qtbot, pick: int = 1):
    grid = generate(qtbot, window)
    QTest.mouseClick(window.explorer.generate.canvas.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, cell_center(window.explorer.generate.canvas, pick))
    click(window.explorer.generate.paint_button)
    assert window.explorer.current_view() == "paint"
    canvas = window.explorer.paint.mask_canvas
    assert np.array_equal(canvas.source, grid.images[pick])
    return grid, canvas


def test_mask_strokes_undo_redo_invert_and_clear(window, qtbot):
    _grid, canvas = open_paint(window, qtbot)
    paint = window.explorer.paint
    canvas.set_brush(1)
    assert paint.brush.value() == 1
    stroke(canvas, [(1, 1), (1, 2), (1, 3), (1, 4)])
    first = canvas.mask()
    assert first[1:5, 1].tolist() == [255] * 4 and first.sum() == 4 * 255
    stroke(canvas, [(5, 6), (6, 6)])
    assert canvas.mask()[6, 5] == 255 and canvas.mask()[6, 6] == 255
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(canvas.mask(), first)  # the first stroke alone
    assert window.session.can_redo() is False  # parameter undo untouched
    QTest.keyClick(canvas, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert canvas.mask()[6, 5] == 255
    click(paint.undo)
    assert np.array_equal(canvas.mask(), first)
    # Ctrl+Z / Ctrl+Shift+Z act on strokes anywhere in the tab, not on parameters
    window.session.set_value("steps", 9)
    paint.invert.setFocus()
    QTest.keyClick(paint.invert, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert canvas.mask()[6, 5] == 255
    QTest.keyClick(paint.invert, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(canvas.mask(), first)
    assert window.session.value("steps") == 9
    # the right button erases
    stroke(canvas, [(1, 1)], Qt.MouseButton.RightButton)
    assert canvas.mask()[1, 1] == 0 and canvas.mask()[2, 1] == 255
    # the Erase toggle makes the left button erase
    click(paint.erase)
    stroke(canvas, [(1, 2)])
    assert canvas.mask()[2, 1] == 0
    click(paint.erase)
    # brush keys
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush == 3 and paint.brush.value() == 3
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush == 2
    before = canvas.mask()
    click(paint.invert)
    assert np.array_equal(canvas.mask(), 255 - before)
    click(paint.clear_button)
    assert not canvas.mask().any() and not paint.clear_button.isEnabled()
    click(paint.undo)
    assert np.array_equal(canvas.mask(), 255 - before)


def test_inpaint_sends_the_painted_mask_and_keeps_the_unmasked_pixels(window, qtbot):
    grid, canvas = open_paint(window, qtbot, pick=2)
    assert window.session.op == "inpaint"
    canvas.set_brush(2)
    stroke(canvas, [(1, 1), (1, 6)])
    mask = canvas.mask()
    result = generate(qtbot, window)
    assert result.request.op == "inpaint"
    assert np.array_equal(result.request.inputs["mask"], mask)
    assert np.array_equal(result.request.inputs["image"], grid.images[2])
    keep = mask < 128
    for image in result.images:
        assert np.array_equal(image[keep], grid.images[2][keep])
        assert not np.array_equal(image[~keep], grid.images[2][~keep])
    assert np.array_equal(window.explorer.paint.result.images, result.images)
    assert window.explorer.current_view() == "paint"
    # the History entry brings back the source and the mask it was made with
    click(window.explorer.paint.clear_button)
    window.explorer.set_view("samples")
    strip = window.history_strip
    rect = strip.list.visualItemRect(strip.list.item(1))
    QTest.mouseClick(strip.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not window.busy() and window.last_result is not result)
    assert window.explorer.current_view() == "paint"
    assert np.array_equal(canvas.mask(), mask) and np.array_equal(canvas.source, grid.images[2])
    assert np.array_equal(window.last_result.images, result.images)


def test_img2img_from_a_dropped_image(window, qtbot, tmp_path):
    from tests.ui.conftest import drop_files, write_png

    window.explorer.set_view("paint")
    drop_files(window.explorer.paint.mask_canvas, [write_png(tmp_path / "in.png", rgb=True)])
    canvas = window.explorer.paint.mask_canvas
    assert canvas.source is not None and canvas.source.shape == (8, 8, 3)
    combo = window.params.op_combo
    combo.setCurrentIndex(next(i for i in range(combo.count()) if "image" in combo.itemText(i).lower()))
    combo.activated.emit(combo.currentIndex())
    assert window.session.op == "img2img"
    result = generate(qtbot, window)
    assert result.request.op == "img2img" and "mask" not in result.request.inputs
    assert np.array_equal(result.request.inputs["image"], canvas.source)


def test_scrub_the_timeline_and_fork_from_step_k(window, qtbot, tmp_path):
    grid = generate(qtbot, window)
    window.explorer.set_view("timeline")
    timeline = window.explorer.timeline
    frames = grid.extras["timeline"]
    queued = []
    window.bridge.job_queued.connect(lambda job: queued.append(job))
    QTest.keyClick(timeline.slider, Qt.Key.Key_Home)
    assert timeline.slider.value() == 1
    assert timeline.canvas.pixmap().toImage().pixelColor(0, 0).getRgb()[:3] == tuple(frames["x0"][0][0, 0])
    QTest.keyClick(timeline.slider, Qt.Key.Key_Right)
    QTest.keyClick(timeline.slider, Qt.Key.Key_Right)
    assert timeline.slider.value() == 3 and timeline.step_text.text() == f"step 3/{STEPS}"
    shown = timeline.canvas.pixmap().toImage()
    assert shown.pixelColor(2, 5).getRgb()[:3] == tuple(frames["x0"][2][5, 2])
    click(timeline.show_xt)
    shown = timeline.canvas.pixmap().toImage()
    assert shown.pixelColor(2, 5).getRgb()[:3] == tuple(frames["xt"][2][5, 2])
    assert frames["xt"][2][5, 2].tolist() != frames["x0"][2][5, 2].tolist()
    assert queued == []  # scrubbing ran nothing
    assert window.params.value("fork_step") == 3
    # fork from step 3
    FakeDiffusionModel.requests = []
    with qtbot.waitSignal(window.bridge.job_finished, timeout=5000):
        click(timeline.fork_button)
    qtbot.waitUntil(lambda: not window.busy())
    (op, params), = FakeDiffusionModel.requests
    assert op == "fork" and params["fork_step"] == 3
    assert params["seed"] == grid.request.seed and params["count"] == 1
    assert params["steps"] == STEPS and params["fork_seed"] != grid.request.seed
    comparison = timeline.result
    assert comparison.images.shape == (2, 8, 8, 3)  # original, branch 1
    assert np.array_equal(comparison.images[0], grid.images[0])
    assert comparison.labels[1].startswith("branch 1: from step 3")
    assert comparison.labels[1].endswith(f"class {window.last_result.labels[0]} (drawn from the seed)")
    assert timeline.branch_names.text().startswith(f"1. original (seed {grid.request.seed})  ·  2. branch 1")
    assert not np.array_equal(comparison.images[1], grid.images[0])
    # a second fork lines up beside the first
    QTest.keyClick(timeline.slider, Qt.Key.Key_End)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=5000):
        click(timeline.fork_button)
    qtbot.waitUntil(lambda: not window.busy() and timeline.result.count == 3)
    assert FakeDiffusionModel.requests[-1][1]["fork_step"] == STEPS
    # Generate (Ctrl+Enter) on the Timeline forks from the panel's "Fork at step"
    spin = window.params.editor("fork_step")
    assert isinstance(spin, QAbstractSpinBox)
    spin.selectAll()
    QTest.keyClicks(spin, "2")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert window.session.value("fork_step", "fork") == 2
    with qtbot.waitSignal(window.bridge.job_finished, timeout=5000):
        QTest.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.busy() and timeline.result.count == 4)
    assert FakeDiffusionModel.requests[-1][1]["fork_step"] == 2 and timeline.slider.value() == 2
    # a click on a branch shows its steps (the first k are the original's); on the original, its own
    branch = window.last_result
    QTest.mouseClick(timeline.branches.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, cell_center(timeline.branches, 3))
    assert np.array_equal(timeline.x0, branch.extras["timeline"]["x0"])
    assert timeline.slider.value() == 2 and not timeline.fork_button.isEnabled()
    assert np.array_equal(timeline.x0[:2], frames["x0"][:2])
    QTest.mouseClick(timeline.branches.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, cell_center(timeline.branches, 0))
    assert np.array_equal(timeline.x0, frames["x0"]) and timeline.fork_button.isEnabled()
    # the branches export as a contact sheet with the fork's recipe
    path = tmp_path / "branches.png"
    window._ask_save_path = lambda *args: str(path)
    click(timeline.export_button)
    sheet = media.load_image(path)
    assert sheet.shape[1] > 3 * 8
    with Image.open(path) as png:
        recipes = json.loads(png.text[media.RECIPE_CHUNK + "_sheet"])
    assert [r["op"] for r in recipes] == ["sample", "fork", "fork", "fork"]
    assert recipes[0]["index"] == 0 and recipes[0]["params"]["seed"] == grid.request.seed
    assert [r["params"]["fork_step"] for r in recipes[1:]] == [3, STEPS, 2]


def test_fork_with_identical_settings_reproduces_the_original(window, qtbot):
    grid = generate(qtbot, window)
    window.explorer.set_view("timeline")
    click(window.params.seed_lock)
    assert window.session.seed_locked
    window.session.set_value("fork_seed", grid.request.seed, "fork")
    window.session.set_value("fork_guidance", grid.request.params["guidance"], "fork")
    with qtbot.waitSignal(window.bridge.job_finished, timeout=5000):
        click(window.explorer.timeline.fork_button)
    qtbot.waitUntil(lambda: not window.busy())
    comparison = window.explorer.timeline.result
    assert np.array_equal(comparison.images[1], comparison.images[0])


def test_picking_another_image_traces_its_steps(window, qtbot):
    grid = generate(qtbot, window)
    canvas = window.explorer.generate.canvas
    with qtbot.waitSignal(window.bridge.job_finished, timeout=5000):
        QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, cell_center(canvas, 3))
    qtbot.waitUntil(lambda: window.explorer.subject_timeline is not None)
    frames = window.explorer.subject_timeline["x0"]
    assert frames.shape == (STEPS, 8, 8, 3)
    assert np.array_equal(frames[-1], grid.images[3])
    assert window.explorer.timeline.subject_label.text() == f"seed {grid.request.seed + 3}"
    assert len(window.history) == 1  # the trace is not a History entry


def test_seed_interpolation_plays_in_generate_and_is_the_animation(window, qtbot):
    combo = window.params.op_combo
    combo.setCurrentIndex(next(i for i in range(combo.count()) if combo.itemText(i) == "Interpolate"))
    combo.activated.emit(combo.currentIndex())
    assert window.session.op == "interpolate"
    result = generate(qtbot, window)
    frames = result.request.params["frames"]
    assert result.images.shape == (frames, 8, 8, 3)
    assert window.explorer.current_view() == "samples"
    assert window.explorer.generate.canvas.count == frames
    assert window.explorer.animation_result() is result
    assert window.explorer.subject is None  # only samples can be forked
