"""The flow explorer, driven with real input over a tiny seeded (untrained) Glow: sample
at a temperature, drop an image to read its bits/dim and the per-scale maps, encode two
dropped images and walk between them, and the exact round trip."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QSlider

from studio.core import media
from studio.core.family import JobContext
from studio.ui.explorers.flow.explorer import FlowExplorer
from tests.ui.conftest import cell_center, click, drop_files, generate, sampling_window, write_png
from tests.ui.tiny_models import load_tiny, make_tiny_flow

RES = 8


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flow") / "tiny-flow"
    make_tiny_flow(folder, resolution=RES)
    return folder


@pytest.fixture
def window(qtbot, tiny_services, settings):
    made = sampling_window(qtbot, tiny_services, settings, "tiny-flow", count=4)
    yield made
    made.close()


@pytest.fixture
def model(tiny_folder):
    from studio.families.flow.model import FlowFamily

    return load_tiny(FlowFamily, tiny_folder)


def fitted(path) -> np.ndarray:
    return media.fit_image(media.load_image(path), RES, 1)


def test_the_window_opens_on_the_flow_explorer(window):
    explorer = window.explorer
    assert isinstance(explorer, FlowExplorer)
    assert [explorer.tabText(i) for i in range(explorer.count())] == [
        "Samples", "Likelihood", "Interpolate", "Round trip"]
    controls = [w for view in explorer.views.values() for kind in (QAbstractButton, QSlider)
                for w in view.findChildren(kind)]
    assert len(controls) >= 8
    assert [w.text() if hasattr(w, "text") else w for w in controls if not w.toolTip()] == []
    assert all(explorer.tabToolTip(i) for i in range(explorer.count()))
    explorer.set_view("likelihood")
    assert window.session.op == "likelihood"
    explorer.set_view("round_trip")
    assert window.session.op == "reconstruct"


def test_samples_follow_the_temperature(window, qtbot):
    window.session.seed_locked = True
    window.session.set_value("temperature", 0.7, "sample")
    warm = generate(qtbot, window)
    assert warm.request.params["temperature"] == 0.7 and warm.images.shape == (4, RES, RES, 1)
    window.session.set_value("temperature", 0.35, "sample")
    cool = generate(qtbot, window)
    assert cool.request.seed == warm.request.seed
    # the untrained priors are N(0, 1): the same noise, half the temperature, half the z
    assert np.allclose(np.linalg.norm(cool.latents, axis=1),
                       0.5 * np.linalg.norm(warm.latents, axis=1), rtol=1e-4)
    assert not np.array_equal(cool.images, warm.images)
    assert window.explorer.samples.canvas.count == 4


def test_drop_an_image_and_read_its_bits_per_dim(window, qtbot, tmp_path, model):
    explorer = window.explorer
    explorer.set_view("likelihood")
    path = write_png(tmp_path / "ramp.png", size=12)
    with qtbot.waitSignal(explorer.likelihood.canvas.content_updated):
        drop_files(explorer.likelihood.canvas, [path])
    qtbot.waitUntil(lambda: explorer.likelihood.result is not None and not window.busy(), timeout=10000)
    result = explorer.likelihood.result
    assert result.request.op == "likelihood"
    assert np.array_equal(result.request.inputs["image"], fitted(path))  # the dropped image, fitted
    expected = model.run("likelihood", {}, {"image": fitted(path)}, JobContext())
    bpd = expected.extras["bits_per_dim"]
    assert result.extras["bits_per_dim"] == pytest.approx(bpd)
    view = explorer.likelihood
    assert view.headline.text() == f"{bpd:.3f}" and view.unit.text() == "bits per dimension"
    details = view.details.text()
    assert f"Most likely class: <b style='font-size:13pt'>{expected.extras['most_likely_class']}</b>" in details
    for bits in expected.extras["bits_per_level"]:  # the bits of each scale
        assert f"{bits:+.3f}" in details
    assert "scale 2×2" in details and "scale 4×4" in details
    # the input, the all-scales map and one map per scale, side by side
    assert view.canvas.count == 4 and view.legend.isVisibleTo(view)
    assert "bits per pixel (all scales)" in view.names.text()
    assert len(window.history) == 1 and explorer.current_view() == "likelihood"
    # Generate reads the same image again, here under a class fixed in Parameters
    window.session.set_value("class_index", 3, "likelihood")
    fixed = generate(qtbot, window)
    assert np.array_equal(fixed.request.inputs["image"], fitted(path))
    under = model.run("likelihood", {"class_index": 3}, {"image": fitted(path)}, JobContext())
    assert view.headline.text() == f"{under.extras['bits_per_dim']:.3f}"
    assert "Read under class <b>D</b>" in view.details.text()
    assert "(bits per dimension, under class D)" in view.details.text()


def test_a_sample_picked_is_read_and_round_trips_exactly(window, qtbot):
    grid = generate(qtbot, window)
    explorer = window.explorer
    canvas = explorer.samples.canvas
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     cell_center(canvas, 2))
    assert explorer.round_trip_button.isEnabled()
    click(explorer.round_trip_button)
    qtbot.waitUntil(lambda: explorer.round_trip.result is not None and not window.busy())
    trip = explorer.round_trip.result
    assert explorer.current_view() == "round_trip" and trip.request.op == "reconstruct"
    assert np.array_equal(trip.request.inputs["image"], grid.images[2])
    assert np.array_equal(trip.images[0], trip.images[1])  # image → z → image
    assert trip.extras["max_abs_error"] < 1e-3
    assert explorer.round_trip.headline.text() == "exact"
    assert f"{RES * RES} of {RES * RES}" in explorer.round_trip.details.text()
    # the same pick, read in the Likelihood tab
    explorer.set_view("samples")
    click(explorer.likelihood_button)
    qtbot.waitUntil(lambda: explorer.likelihood.result is not None and not window.busy())
    assert np.array_equal(explorer.likelihood.result.request.inputs["image"], grid.images[2])
    # Generate there reads the same image again
    again = generate(qtbot, window)
    assert again.request.op == "likelihood"
    assert again.extras["bits_per_dim"] == explorer.likelihood.result.extras["bits_per_dim"]


def test_encode_two_dropped_images_and_walk_between_them(window, qtbot, tmp_path):
    explorer = window.explorer
    explorer.set_view("interpolate")
    view = explorer.interpolate
    a = write_png(tmp_path / "a.png", size=RES)
    b_image = (255 - fitted(a))[..., 0]
    from PIL import Image

    Image.fromarray(b_image).save(tmp_path / "b.png")
    drop_files(view.wells["a"], [a])
    qtbot.waitUntil(lambda: "latent_a" in window.session.inputs and not window.busy())
    drop_files(view.wells["b"], [tmp_path / "b.png"])
    qtbot.waitUntil(lambda: "latent_b" in window.session.inputs and not window.busy())
    assert explorer.current_view() == "interpolate"  # encoded in place, not in Samples
    assert view.wells["a"].has_image() and view.wells["b"].has_image()
    result = generate(qtbot, window)
    assert result.request.op == "interpolate" and result.count == 9
    # decoding is exact: the path starts and ends at the dropped images themselves
    assert np.array_equal(result.images[0], fitted(a))
    assert np.array_equal(result.images[-1], b_image[..., None])
    assert not np.array_equal(result.images[4], result.images[0])
    # the slider decodes z live; at its end it shows B
    view.slider.setFocus()
    QTest.keyClick(view.slider, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: explorer.scrub_result is not None and window.engine.idle())
    qtbot.waitUntil(lambda: np.array_equal(explorer.scrub_result.images[0], result.images[-1]))
    assert explorer.animation_result() is result
