"""The issue's acceptance checks, through the real window over the shipped VAE:
recipes round-trip to identical pixels, unusual images are converted and encoded, and
bad files and bad model folders give clear messages while everything else survives."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file, save_file

from studio.core import media
from studio.core.export import open_recipe
from studio.core.paths import builtin_models_dir
from studio.wiring import build_services
from tests.ui.conftest import drop_files, generate, make_window

MODEL = "vae-glyphs"


@pytest.fixture
def studio(qtbot, tmp_path, settings):
    services = build_services(home=tmp_path / "home", device="cpu", threads=1)
    window = make_window(qtbot, services, settings, start=False)
    window.start(MODEL, sample=False)
    qtbot.waitUntil(lambda: window.models.is_loaded(MODEL), timeout=60000)
    yield window, services
    window.close()
    services.close()


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def wait_result(qtbot, window, before):
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy(), timeout=20000)
    return window.last_result


def test_exported_png_restores_the_recipe_and_the_same_pixels(qtbot, studio, tmp_path, monkeypatch):
    window, services = studio
    window.session.set_values({"count": 9, "temperature": 0.7})
    first = generate(qtbot, window)
    out = tmp_path / "export.png"
    monkeypatch.setattr(window, "_ask_save_path", lambda *a: str(out))
    window.explorer.samples.pick(4)
    assert window.export_png() == out
    recipe = open_recipe(out)
    assert (recipe.model_id, recipe.op, recipe.seed) == (MODEL, "sample", first.request.seed)

    # change everything, then open the PNG: model, op, parameters and seed come back
    window.session.set_value("temperature", 1.5)
    window.session.set_value("seed", 1)
    before = window.last_result
    window.open_files([str(out)])
    again = wait_result(qtbot, window, before)
    assert again.request.params == first.request.params
    assert window.session.value("temperature") == pytest.approx(0.7)
    assert np.array_equal(again.images, first.images)
    assert np.array_equal(media.load_image(out)[..., :1], again.images[4])


def test_cmyk_jpeg_and_16_bit_png_are_converted_and_encoded(qtbot, studio, tmp_path):
    window, services = studio
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 40), (0, 0, 0, 255)).save(cmyk)
    sixteen = tmp_path / "deep.png"
    ramp = (np.linspace(0, 65535, 48 * 48).reshape(48, 48)).astype(np.uint16)
    Image.fromarray(ramp).save(sixteen)
    for path in (cmyk, sixteen):
        before = window.last_result
        drop_files(window.explorer.samples.canvas, [path])
        result = wait_result(qtbot, window, before)
        assert result.request.op == "encode"
        assert result.latents.shape == (1, 4, 8, 8)
        assert result.request.inputs["image"].shape == (32, 32, 1)
    assert window.message_bar.isHidden() or "error" not in window.message_bar.text().lower()


def _message(window) -> str:
    return window.message_bar.text()


def test_truncated_and_oversized_images_are_refused_and_nothing_changes(qtbot, studio, tmp_path):
    window, services = studio
    generate(qtbot, window)
    history_before = [e.id for e in services.history.entries()]
    shown_before = window.explorer.samples.result

    truncated = tmp_path / "cut.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-40])
    drop_files(window.explorer.samples.canvas, [truncated])
    assert "cut.png" in _message(window)

    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 6000)).save(huge)  # 48 MP > the 40 MP limit; zeros compress small
    drop_files(window.explorer.samples.canvas, [huge])
    assert "huge.png" in _message(window) and "pixel" in _message(window).lower()

    assert [e.id for e in services.history.entries()] == history_before
    assert window.explorer.samples.result is shown_before
    assert generate(qtbot, window) is not None  # the studio still works


def _copy_builtin(tmp_path, name):
    folder = tmp_path / name
    shutil.copytree(builtin_models_dir() / MODEL, folder)
    card = json.loads((folder / "card.json").read_text())
    card["id"], card["name"], card["weights_sha256"] = name, name, ""
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def test_corrupt_safetensors_is_refused_at_import(qtbot, studio, tmp_path):
    window, services = studio
    folder = _copy_builtin(tmp_path, "corrupt-vae")
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    assert window.import_folder(str(folder)) is None
    assert "model.safetensors" in _message(window)
    assert "corrupt-vae" not in services.library and MODEL in services.library


def test_wrong_shaped_tensor_fails_to_load_with_a_message_and_the_app_goes_on(qtbot, studio, tmp_path):
    window, services = studio
    folder = _copy_builtin(tmp_path, "bent-vae")
    tensors = load_file(folder / "model.safetensors")
    name = next(k for k in tensors if k.endswith("weight") and tensors[k].ndim == 4)
    tensors[name] = np.zeros((3, 3, 3, 3), tensors[name].dtype)
    save_file(tensors, folder / "model.safetensors")
    assert window.import_folder(str(folder)) == "bent-vae"  # the header is valid
    window.models.select("bent-vae")
    window.select_model("bent-vae")
    window.load_model("bent-vae")
    qtbot.waitUntil(lambda: "model.safetensors" in _message(window), timeout=20000)
    assert name in _message(window) or "shape" in _message(window)
    # the built-in model still generates
    window.models.select(MODEL)
    window.select_model(MODEL)
    assert generate(qtbot, window).request.model_id == MODEL
