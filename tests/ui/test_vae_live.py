"""Your own VAE in the VAE explorer, with real services (library, cache, engine thread):
drop two photos on the interpolation, scrub between them, and see the linear preview at
once, then the real decode; a grid shows the preview of every cell before its decodes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from studio.core import autoencoder
from studio.core import latent as latent_math
from studio.ui import images as imgs
from studio.ui.main_window import MainWindow
from studio.wiring import build_services
from tests.ui.conftest import drop_files

SIZE = 64


@pytest.fixture
def studio(tmp_path):
    services = build_services(home=tmp_path / "home", builtin_dir=tmp_path / "no-builtins",
                              threads=1, device="cpu")
    yield services
    services.close()


def save_tiny_vae(folder):
    from diffusers import AutoencoderKL

    torch.manual_seed(5)
    AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3,
                  down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                  up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
                  latent_channels=4, norm_num_groups=4, sample_size=SIZE
                  ).save_pretrained(folder, safe_serialization=True)
    return folder


def write_photo(path, seed: int, size=(90, 60)):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size, Image.Resampling.BILINEAR).save(path)
    return path


def shows(canvas, image) -> bool:
    return canvas.pixmap().toImage() == imgs.to_pixmap(image).toImage()


def test_drop_two_photos_scrub_and_see_the_preview_then_the_decode(qtbot, studio, tmp_path):
    folder = save_tiny_vae(tmp_path / "My VAE")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(studio.engine, studio.library, studio.registry, studio.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.start(sample=False)  # an empty library
    assert window.import_folder(str(folder)) == "my-vae"
    assert window.session.family == "diffusers_vae"
    for op in ("encode", "interpolate"):
        window.session.set_values({"working_size": SIZE}, op)
    explorer = window.explorer
    explorer.set_view("interpolate")
    shown: list[tuple[str, str]] = []
    explorer.live_shown.connect(lambda what, kind: shown.append((what, kind)))

    paths = [write_photo(tmp_path / "a.png", 1), write_photo(tmp_path / "b.png", 2, (60, 90))]
    drop_files(explorer.interpolate.preview, paths)
    qtbot.waitUntil(lambda: len(window.history) == 2 and not window.busy(), timeout=20000)
    a, b = (np.asarray(window.session.inputs[f"latent_{s}"]) for s in "ab")
    assert a.shape == b.shape == (4, SIZE // 2, SIZE // 2)  # both photos at the working size
    view = explorer.interpolate
    assert view.slider.isEnabled()

    view.slider.setFocus()
    QTest.keyClick(view.slider, Qt.Key.Key_PageUp)
    # the preview is on screen before the engine has done anything
    latent = latent_math.interpolate(a, b, view.t(), "slerp")
    assert shown == [("scrub", "preview")]
    assert shows(view.preview, autoencoder.preview(latent, explorer.preview_map())[0])
    qtbot.waitUntil(lambda: ("scrub", "decode") in shown, timeout=20000)
    decoded = explorer.scrub_result
    np.testing.assert_allclose(decoded.request.inputs["latent"], latent, atol=1e-6)
    assert decoded.images.shape == (1, SIZE, SIZE, 3)
    assert shows(view.preview, decoded.images[0])
    assert not shows(view.preview, autoencoder.preview(latent, explorer.preview_map())[0])

    # the strip: every frame previewed at once, then decoded one by one, then the result
    window.session.set_values({"frames": 3}, "interpolate")
    previews: list = []
    window.bridge.job_previewed.connect(lambda job, images: previews.append(images))
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None and not window.busy(), timeout=20000)
    strip = view.result
    assert strip.count == 3 and ("interpolate", "preview") in shown
    assert len(previews) >= 2  # the preview, then decodes (the bridge may merge some)
    np.testing.assert_array_equal(
        previews[0], autoencoder.preview(strip.latents, explorer.preview_map()))
    np.testing.assert_array_equal(previews[-1], strip.images)
    window.close()


def test_a_pipelines_vae_is_listed_under_it_and_opens_in_the_vae_explorer(qtbot, studio, tmp_path):
    from tests.families.diffusers_tiny import make_pipeline_folder

    folder = make_pipeline_folder("sd", tmp_path / "Tiny SD")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(studio.engine, studio.library, studio.registry, studio.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.start(sample=False)
    assert window.import_folder(str(folder)) == "tiny-sd"
    items = window.models._items
    assert items["tiny-sd-vae"].parent() is items["tiny-sd"]
    window.models.select("tiny-sd-vae")
    qtbot.waitUntil(lambda: window.session.model_id == "tiny-sd-vae")
    assert window.explorer.has_view("map") and window.explorer.has_view("interpolate")
    window.close()


def test_a_map_shows_its_previews_and_moving_on_cancels_the_rest(qtbot, studio, tmp_path,
                                                                 monkeypatch):
    import threading

    from studio.families.diffusers_vae.model import LoadedDiffusersVAE

    folder = save_tiny_vae(tmp_path / "My VAE")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(studio.engine, studio.library, studio.registry, studio.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.start(sample=False)
    assert window.import_folder(str(folder)) == "my-vae"
    for op in ("encode", "map"):
        window.session.set_values({"working_size": SIZE}, op)
    for seed in (1, 2, 3):
        window.session.set_input("image", np.array(Image.open(write_photo(tmp_path / f"{seed}.png", seed))))
        window.run_request(window.session.request("encode"))
        qtbot.waitUntil(lambda: not window.busy(), timeout=20000)
    kept = len(window.history)

    # every decode after the first waits for the gate: the map is still filling in
    gate, decodes = threading.Event(), []
    decode = LoadedDiffusersVAE._decode_tensor

    def gated(self, z):
        decodes.append(z)
        if len(decodes) > 1:
            gate.wait(20)
        return decode(self, z)

    monkeypatch.setattr(LoadedDiffusersVAE, "_decode_tensor", gated)
    explorer = window.explorer
    shown: list[tuple[str, str]] = []
    explorer.live_shown.connect(lambda what, kind: shown.append((what, kind)))
    explorer.set_view("map")
    window.session.set_values({"size": 3}, "map")
    QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(decodes) >= 2 and shown.count(("map", "preview")) >= 2,
                    timeout=20000)
    assert explorer.map.canvas.count == 9  # the whole map at once: previews, a decoded cell
    running = studio.engine.running_job
    assert running is not None and running.request.op == "map"

    explorer.set_view("interpolate")  # moving on
    gate.set()
    qtbot.waitUntil(lambda: not window.busy(), timeout=20000)
    assert running.state.value == "cancelled" and len(decodes) == 2
    assert explorer.map.result is None and explorer.map.canvas.count == 0  # nothing half-made
    assert len(window.history) == kept
    window.close()


def test_a_newer_scrub_cancels_the_decode_still_running_for_an_older_one(qtbot, studio, tmp_path,
                                                                         monkeypatch):
    import threading

    from studio.families.diffusers_vae.model import LoadedDiffusersVAE

    folder = save_tiny_vae(tmp_path / "My VAE")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(studio.engine, studio.library, studio.registry, studio.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.start(sample=False)
    assert window.import_folder(str(folder)) == "my-vae"
    window.session.set_values({"working_size": SIZE}, "encode")
    explorer = window.explorer
    explorer.set_view("interpolate")
    for side, seed in (("a", 1), ("b", 2)):
        window.session.set_input("image", np.array(Image.open(write_photo(tmp_path / f"{seed}.png", seed))))
        window.run_request(window.session.request("encode"), endpoint=side)
        qtbot.waitUntil(lambda: not window.busy(), timeout=20000)

    gate, started = threading.Event(), threading.Event()
    decode = LoadedDiffusersVAE._decode_tensor

    def gated(self, z):
        started.set()
        gate.wait(20)
        return decode(self, z)

    monkeypatch.setattr(LoadedDiffusersVAE, "_decode_tensor", gated)
    shown: list[tuple[str, str]] = []
    explorer.live_shown.connect(lambda what, kind: shown.append((what, kind)))
    slider = explorer.interpolate.slider
    slider.setValue(250)
    first = explorer._lane_jobs["scrub"]
    qtbot.waitUntil(started.is_set, timeout=20000)  # the first decode is running
    slider.setValue(750)
    second = explorer._lane_jobs["scrub"]
    assert second is not first and first.cancel_event.is_set()
    assert shown == [("scrub", "preview"), ("scrub", "preview")]
    gate.set()
    qtbot.waitUntil(lambda: ("scrub", "decode") in shown and studio.engine.idle(), timeout=20000)
    assert first.state.value == "cancelled" and second.state.value == "done"
    assert shown.count(("scrub", "decode")) == 1
    latent = latent_math.interpolate(*(np.asarray(window.session.inputs[f"latent_{s}"])
                                       for s in "ab"), 0.75, "slerp")
    np.testing.assert_allclose(explorer.scrub_result.request.inputs["latent"], latent, atol=1e-6)
    window.close()
