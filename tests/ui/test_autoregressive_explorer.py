"""The autoregressive explorer, driven with real input over a tiny seeded (untrained)
PixelCNN: the painting grows row by row with a row counter and Esc stops it midway,
a region erased with the brush is completed several ways while the kept pixels stay,
and a dropped image's bits/dim are read with a per-pixel map."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QSlider

from studio.core import media
from studio.core.family import JobContext
from studio.ui.explorers.autoregressive.explorer import AutoregressiveExplorer
from tests.ui.conftest import (
    cell_center,
    click,
    drop_files,
    generate,
    sampling_window,
    stroke,
    write_png,
)
from tests.ui.tiny_models import glyph, load_tiny, make_tiny_pixelcnn

RES = 16
UNDRAWN = 64


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pixelcnn") / "tiny-pixelcnn"
    make_tiny_pixelcnn(folder, resolution=RES)
    return folder


@pytest.fixture
def window(qtbot, tiny_services, settings):
    made = sampling_window(qtbot, tiny_services, settings, "tiny-pixelcnn", count=4)
    yield made
    made.close()


@pytest.fixture
def model(tiny_folder):
    from studio.families.autoregressive.model import AutoregressiveFamily

    return load_tiny(AutoregressiveFamily, tiny_folder)


def test_the_window_opens_on_the_autoregressive_explorer(window):
    explorer = window.explorer
    assert isinstance(explorer, AutoregressiveExplorer)
    assert [explorer.tabText(i) for i in range(explorer.count())] == ["Paint", "Complete", "Likelihood"]
    controls = [w for view in explorer.views.values() for kind in (QAbstractButton, QSlider)
                for w in view.findChildren(kind)]
    assert len(controls) >= 13
    assert [w.text() if hasattr(w, "text") else w for w in controls if not w.toolTip()] == []
    assert all(explorer.tabToolTip(i) for i in range(explorer.count()))
    assert window.session.op == "sample"
    explorer.set_view("complete")
    assert window.session.op == "complete"


def test_a_class_is_chosen_from_a_list_whose_first_entry_says_what_minus_one_does(window, qtbot):
    """Random where a class is drawn per image; what the op does without a class elsewhere
    (a likelihood over all classes, a completion in the class the kept pixels fit best)."""
    from PySide6.QtWidgets import QComboBox

    classes = list(window.library.get("tiny-pixelcnn").card.classes)
    firsts = {}
    for view in ("samples", "complete", "likelihood"):
        window.explorer.set_view(view)
        combo = window.params.editor("class_index")
        assert isinstance(combo, QComboBox)
        items = [combo.itemText(i) for i in range(combo.count())]
        assert items[1:] == classes
        firsts[window.session.op] = items[0]
    assert firsts == {"sample": "Random", "complete": "Best fit to the kept pixels",
                      "likelihood": "Any (all classes)"}
    window.explorer.set_view("samples")
    combo = window.params.editor("class_index")
    combo.setCurrentIndex(3)  # as a user picks the third class
    assert window.session.value("class_index") == 2
    assert generate(qtbot, window).request.params["class_index"] == 2


def test_the_painting_grows_row_by_row_and_esc_stops_it(window, qtbot, monkeypatch):
    from studio.families.autoregressive import model as ar

    first = generate(qtbot, window)  # a finished painting to come back to
    assert first.images.shape == (4, RES, RES, 1)
    assert window.explorer.paint.step.text() == f"row {RES} of {RES}"
    canvas = window.explorer.paint.canvas
    assert canvas.cell_label(2) == f"seed {first.request.seed} · image 3 · class {first.labels[2]}"
    held, release = threading.Event(), threading.Event()
    cached = ar.SAMPLERS["cached"]

    def slow(model, req, on_row=None):
        def hook(r: int) -> None:
            if r <= 3:
                time.sleep(0.06)  # past the rate limit: every row's preview goes out
            on_row(r)
            if r == 3:  # hold the run after its fourth row
                held.set()
                release.wait(10)
        return cached(model, req, hook)

    monkeypatch.setitem(ar.SAMPLERS, "cached", slow)
    previews = []
    window.bridge.job_previewed.connect(lambda job, images: previews.append(np.array(images)))
    click(window.params.generate_button)
    assert held.wait(10)
    counter = window.explorer.paint.step
    qtbot.waitUntil(lambda: counter.text() == f"row 4 of {RES}", timeout=5000)
    qtbot.waitUntil(lambda: previews and (previews[-1][:, :4] != UNDRAWN).any(), timeout=5000)
    shown = previews[-1]
    assert shown.shape == (4, RES, RES, 1)
    assert (shown[:, 4:] == UNDRAWN).all()  # the rows not drawn yet are grey
    qtbot.waitUntil(lambda: canvas.pixmap().toImage().pixelColor(0, RES - 1).red() == UNDRAWN)
    assert canvas.pixmap().toImage().pixelColor(0, 0).red() == shown[0, 0, 0, 0]
    assert canvas.count == 4
    with qtbot.waitSignal(window.bridge.job_cancelled, timeout=10000) as cancelled:
        QTest.keyClick(window, Qt.Key.Key_Escape)
        release.set()
    assert cancelled.args[0].state.value == "cancelled"
    qtbot.waitUntil(lambda: not window.busy())
    match = re.fullmatch(rf"Cancelled at row (\d+) of {RES}", counter.text())
    assert match and int(match.group(1)) < RES  # stopped midway
    assert len(window.history) == 1  # the first painting only
    assert window.explorer.paint.result is first  # shown again
    assert window.last_result is first


def test_erase_a_region_with_the_brush_and_complete_it(window, qtbot, tmp_path):
    explorer = window.explorer
    explorer.set_view("complete")
    view = explorer.complete
    from PIL import Image

    source = glyph(RES)
    Image.fromarray(source[..., 0]).save(tmp_path / "glyph.png")
    drop_files(view.mask_canvas, [tmp_path / "glyph.png"])
    canvas = view.mask_canvas
    assert np.array_equal(canvas.source, source) and explorer.current_view() == "complete"
    canvas.set_brush(3)
    assert view.brush.value() == 3
    stroke(canvas, [(4, 7), (6, 7), (9, 7), (11, 7)])
    mask = canvas.mask()
    assert mask[7, 4:12].tolist() == [255] * 8 and mask[0].sum() == 0 and mask[15].sum() == 0
    click(view.undo)
    assert not canvas.has_mask()
    click(view.redo)
    assert np.array_equal(canvas.mask(), mask)
    previews = []
    window.bridge.job_previewed.connect(lambda job, images: previews.append(np.array(images)))
    result = generate(qtbot, window)
    assert result.request.op == "complete"
    assert np.array_equal(result.request.inputs["mask"], mask)
    assert np.array_equal(result.request.inputs["image"], source)
    variations = window.session.value("variations", "complete")
    assert result.count == variations + 1 and view.canvas.count == variations + 1
    hole, keep = mask >= 128, mask < 128
    kept = result.images[0]
    assert (kept[hole] == UNDRAWN).all() and np.array_equal(kept[keep], source[keep])
    for image in result.images[1:]:
        assert np.array_equal(image[keep], source[keep])  # the kept pixels are unchanged
    # the first preview (after row 1) shows the whole hole still grey, the rest kept
    assert previews and previews[0].shape == (variations, RES, RES, 1)
    assert (previews[0][:, hole] == UNDRAWN).all() and (previews[0][:, keep] == source[keep]).all()
    holes = {result.images[i][hole].tobytes() for i in range(1, result.count)}
    assert len(holes) > 1  # different ways
    bits = [float(label.split()[0]) for label in result.labels[1:]]
    assert bits == sorted(bits)  # the most likely first
    assert view.names.text().startswith("1. kept pixels") and "bits/dim" in view.names.text()
    assert np.array_equal(canvas.mask(), mask)  # the mask stays for another go
    # a completion becomes the new source, keeping the mask
    click(view.use_result)
    assert np.array_equal(canvas.source, result.images[1]) and np.array_equal(canvas.mask(), mask)


def test_complete_needs_a_mask(window, qtbot):
    grid = generate(qtbot, window)
    explorer = window.explorer
    QTest.mouseClick(explorer.paint.canvas.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, cell_center(explorer.paint.canvas, 1))
    click(explorer.paint.complete_button)
    assert explorer.current_view() == "complete"
    assert np.array_equal(explorer.complete.mask_canvas.source, grid.images[1])
    click(window.params.generate_button)
    assert not window.busy() and window.last_result is grid
    assert "Paint the part to repaint first" in window.message_bar.text()


def test_drop_an_image_and_read_its_bits_per_dim(window, qtbot, tmp_path, model):
    explorer = window.explorer
    explorer.set_view("likelihood")
    path = write_png(tmp_path / "ramp.png", size=24)
    drop_files(explorer.likelihood.canvas, [path])
    qtbot.waitUntil(lambda: explorer.likelihood.result is not None and not window.busy(), timeout=10000)
    result = explorer.likelihood.result
    image = media.fit_image(media.load_image(path), RES, 1)
    assert result.request.op == "likelihood" and np.array_equal(result.request.inputs["image"], image)
    expected = model.run("likelihood", {}, {"image": image}, JobContext())
    bpd = expected.extras["bits_per_dim"]
    assert result.extras["bits_per_dim"] == pytest.approx(bpd)
    view = explorer.likelihood
    assert view.headline.text() == f"{bpd:.3f}" and view.unit.text() == "bits per dimension"
    details = view.details.text()
    assert f"<b style='font-size:13pt'>{expected.extras['most_likely_class']}</b>" in details
    assert f"{expected.extras['max_pixel_bits']:.1f}</b> bits" in details
    assert view.canvas.count == 2 and view.legend.isVisibleTo(view)
    assert view.legend.high.text() == f"{expected.extras['max_pixel_bits']:.1f}"
    # dropped on the Paint canvas, an image is read too (a PixelCNN has no encoder)
    explorer.set_view("samples")
    other = write_png(tmp_path / "rgb.png", size=RES, rgb=True)
    drop_files(explorer.paint.canvas, [other])
    qtbot.waitUntil(lambda: explorer.likelihood.result is not result and not window.busy(), timeout=10000)
    assert explorer.current_view() == "likelihood"
    read = explorer.likelihood.result
    assert read.request.inputs["image"].shape == (RES, RES, 1)
    assert read.extras["bits_per_dim"] != pytest.approx(bpd)
    assert np.array_equal(explorer.complete.mask_canvas.source, read.request.inputs["image"])


def test_a_completion_grows_in_its_view_and_esc_takes_it_back(window, qtbot, monkeypatch):
    from studio.families.autoregressive import model as ar

    explorer = window.explorer
    explorer.set_view("complete")
    view = explorer.complete
    source = glyph(RES)
    view.set_source(source)
    mask = np.zeros((RES, RES), np.uint8)
    mask[2:12, 3:13] = 255
    view.mask_canvas.set_mask(mask)
    done = generate(qtbot, window)
    held, release = threading.Event(), threading.Event()
    cached = ar.SAMPLERS["cached"]

    def slow(model, req, on_row=None):
        def hook(r: int) -> None:
            time.sleep(0.06)
            on_row(r)
            if r == 5:
                held.set()
                release.wait(10)
        return cached(model, req, hook)

    monkeypatch.setitem(ar.SAMPLERS, "cached", slow)
    click(window.params.generate_button)
    assert held.wait(10)
    qtbot.waitUntil(lambda: view.step.text() == f"row 6 of {RES}", timeout=5000)
    variations = window.session.value("variations", "complete")
    # the completions grow in the view: drawn rows filled, rows below the hole grey
    qtbot.waitUntil(lambda: view.canvas.count == variations)  # not the 1 + n of a result
    shown = view.canvas.pixmap().toImage()
    assert shown.pixelColor(4, 11).red() == UNDRAWN  # in the hole, not drawn yet
    assert shown.pixelColor(0, 11).red() == source[11, 0, 0]  # kept
    assert any(shown.pixelColor(x, 3).red() != UNDRAWN for x in range(3, 13))  # drawn
    with qtbot.waitSignal(window.bridge.job_cancelled, timeout=10000):
        QTest.keyClick(window, Qt.Key.Key_Escape)
        release.set()
    qtbot.waitUntil(lambda: not window.busy())
    assert re.fullmatch(rf"Cancelled at row \d+ of {RES}", view.step.text())
    assert view.result is done and view.canvas.count == done.count  # the last completions again
    assert len(window.history) == 1
