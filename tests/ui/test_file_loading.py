"""Opening and dropping files in the real window: read off the GUI thread, any file name
a file manager sends, and damaged recipes said out loud."""

from __future__ import annotations

import json
import os
import threading
from urllib.parse import quote_from_bytes

import numpy as np
from PySide6.QtCore import QUrl

from studio.core import export, media
from tests.ui.conftest import drop_files, generate, write_png


def _encoded(window, qtbot):
    qtbot.waitUntil(lambda: window.last_result is not None and not window.busy(), timeout=20000)
    return window.last_result


def test_a_dropped_image_is_decoded_off_the_gui_thread(window, qtbot, tmp_path, monkeypatch):
    """A 40-megapixel PNG took 1.3-2 s to decode: that must not happen on the GUI thread.
    (How long the GUI stalls is measured in benchmarks/bench_gui_stall.py.)"""
    threads = []
    real_decode = media._decode_upright  # where every image read decodes its pixels

    def recording_decode(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(media, "_decode_upright", recording_decode)
    path = write_png(tmp_path / "big.png", size=24, rgb=True)
    drop_files(window.explorer.samples.canvas, [path], wait=False)
    assert window.loading_files()  # the drop returned before the file was read
    result = _encoded(window, qtbot)
    assert threads and threading.main_thread() not in threads
    assert result.request.op == "encode"
    assert np.array_equal(result.request.inputs["image"],
                          media.fit_image(media.load_image(path), 8, 1))


def test_a_non_utf8_file_name_from_a_file_manager_opens(window, qtbot, tmp_path):
    name = b"caf\xe9-\xff.png"  # Latin-1 é and a byte no encoding decodes
    path = os.path.join(os.fsencode(tmp_path), name)
    write_png(os.fsdecode(path), size=24)
    url = QUrl.fromEncoded(b"file://" + quote_from_bytes(path).encode("ascii"))
    assert "%E9-%FF" in bytes(url.toEncoded()).decode()
    drop_files(window.explorer.samples.canvas, [url])
    assert window.message_bar.level() != "error", window.message_bar.text()
    result = _encoded(window, qtbot)
    assert result.request.op == "encode"


def test_a_recipe_with_a_bad_version_says_so(window, qtbot, tmp_path):
    result = generate(qtbot, window)
    recipe = export.recipe_of(result)
    recipe["version"] = "one"
    path = tmp_path / "bad-version.json"
    path.write_text(json.dumps(recipe))
    history = len(window.history)
    window.open_files([str(path)])
    qtbot.waitUntil(lambda: not window.loading_files(), timeout=20000)
    assert window.message_bar.level() == "error"
    assert "bad-version.json" in window.message_bar.text() and "version" in window.message_bar.text()
    assert window.last_result is result and len(window.history) == history


def test_a_png_whose_recipe_is_damaged_opens_as_an_image_and_says_why(window, qtbot, tmp_path):
    image = media.load_image(write_png(tmp_path / "plain.png", size=24, rgb=True))
    path = tmp_path / "damaged.png"
    media.save_png(path, image, {media.RECIPE_CHUNK: '{"format": "latent-studio-recipe", "vers'})
    drop_files(window.explorer.samples.canvas, [path])
    text = window.message_bar.text()
    assert "damaged.png: its recipe is unreadable:" in text and "opened as an image" in text
    result = _encoded(window, qtbot)
    assert result.request.op == "encode"


def test_a_png_whose_recipe_has_a_bad_version_opens_as_an_image(window, qtbot, tmp_path):
    result = generate(qtbot, window)
    recipe = export.recipe_of(result, 0)
    recipe["version"] = "x"
    path = tmp_path / "odd.png"
    media.save_png_with_recipe(path, result.images[0], recipe, "parameters")
    drop_files(window.explorer.samples.canvas, [path])
    assert "its recipe is unreadable" in window.message_bar.text()
    qtbot.waitUntil(lambda: window.last_result is not result and not window.busy(), timeout=20000)
    assert window.last_result.request.op == "encode"


def test_a_plain_image_opens_without_a_word(window, qtbot, tmp_path):
    drop_files(window.explorer.samples.canvas, [write_png(tmp_path / "plain.png", size=24)])
    assert window.message_bar.level() == ""
    assert _encoded(window, qtbot).request.op == "encode"
