"""An imported StyleGAN in the window: it opens in the GAN explorer, and a truncation drag
shows low-resolution previews while the slider moves, then the full frame once it rests
(StyleGAN2); a StyleGAN3 keeps its last full frame with a busy mark instead."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from studio.core.cache import ModelCache
from studio.core.cards import ModelCard
from studio.core.engine import Engine, validator_for
from studio.core.family import JobContext
from studio.core.history import History
from studio.core.registry import Registry
from studio.families.stylegan.family import StyleGANFamily
from studio.families.stylegan.importer import import_network_pickle
from studio.families.stylegan.spec import STYLEGAN
from tests.fakes import FakeLibrary
from tests.families.stylegan_pickles import network_pickle, tiny_generator
from tests.ui.conftest import cell_center, generate, make_window


class StyleGANServices:
    def __init__(self, tmp_path, folder) -> None:
        card = ModelCard.read(folder)
        self.library = FakeLibrary(card)
        self.library.get(card.id).folder = folder
        self.registry = Registry()
        self.registry.register(STYLEGAN)
        self.cache = ModelCache(self.library, self.registry, device="cpu")
        self.engine = Engine(self.cache, threads=1, validate=validator_for(self.registry, self.library))
        self.history = History(tmp_path / "home")


def imported(tmp_path, architecture: str, live_drag: str, preview: int):
    """A tiny imported model whose card asks for `live_drag` (a tiny model would not need
    it: the budget is for real sizes, so the test sets it)."""
    G, kwargs = tiny_generator(architecture)
    path = tmp_path / f"{architecture}.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    folder = import_network_pickle(path, tmp_path / "models", pca_samples=1000)
    card = json.loads((folder / "card.json").read_text())
    card["config"].update(live_drag=live_drag, preview_resolution=preview)
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.fixture
def sg_window(qtbot, tmp_path, settings, request):
    architecture, live_drag, preview = request.param
    folder = imported(tmp_path, architecture, live_drag, preview)
    services = StyleGANServices(tmp_path, folder)
    window = make_window(qtbot, services, settings, model_id=services.library.entries()[0].id)
    window.model_folder = folder
    yield window
    window.close()
    services.engine.shutdown()


def open_edit(window, qtbot):
    generate(qtbot, window)
    QTest.mouseClick(window.explorer.seeds.canvas.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, cell_center(window.explorer.seeds.canvas, 0))
    QTest.mouseClick(window.explorer.seeds.edit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.explorer.edit.result is not None and window.engine.idle(), timeout=20000)


def drag_truncation(slider, after_first=None) -> None:
    """Press, move in six steps, release. `after_first()` runs after the first move (to
    wait for the worker on a loaded machine)."""
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    start = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                          QStyle.SubControl.SC_SliderHandle, slider).center()
    QTest.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 7):
        QTest.mouseMove(slider, start + QPoint(10 * step, 0))
        if step == 1 and after_first is not None:
            after_first()
        QTest.qWait(5)
    QTest.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=start + QPoint(60, 0))


@pytest.mark.parametrize("sg_window", [("stylegan2", "progressive", 8)], indirect=True)
def test_stylegan2_drag_shows_previews_then_the_full_frame(sg_window, qtbot):
    window = sg_window
    assert type(window.explorer).__name__ == "GANExplorer"  # opens in the GAN explorer
    open_edit(window, qtbot)
    edit = window.explorer.edit
    shown = []
    original = edit.show_result

    def record(result):
        shown.append((bool(result.extras.get("preview")), result.request.params.get("preview_resolution"),
                      result.request.params["truncation"]))
        original(result)

    edit.show_result = record
    # the first preview on screen before the slider moves on (so that, however slow the
    # machine, the drag is not all superseded before the worker takes one)
    drag_truncation(edit.truncation_slider, lambda: qtbot.waitUntil(lambda: bool(shown), timeout=20000))
    psi = edit.truncation()
    # the previews while it moves, then (once it rests) the full frame at the final ψ
    qtbot.waitUntil(lambda: shown and not shown[-1][0] and shown[-1][2] == pytest.approx(psi)
                    and window.engine.idle(), timeout=10000)
    assert any(p for p, _, _ in shown), shown  # at least one preview was on screen
    assert all(res == 8 for p, res, _ in shown if p)
    assert not edit.busy_label.isVisible()
    final = edit.result
    assert final.images.shape[1:3] == (16, 16)
    # the full frame is the model's own full render at that ψ
    model = StyleGANFamily.load(window.model_folder, ModelCard.read(window.model_folder), "cpu")
    want = model.run("sample", {**final.request.params, "preview_resolution": 0}, {}, JobContext())
    np.testing.assert_array_equal(final.images, want.images)


@pytest.mark.parametrize("sg_window", [("stylegan3-t", "abandon", 0)], indirect=True)
def test_stylegan3_drag_keeps_the_last_frame_with_a_busy_mark(sg_window, qtbot):
    window = sg_window
    open_edit(window, qtbot)
    edit = window.explorer.edit
    before = edit.result
    busy_seen = []
    edit.truncation_slider.valueChanged.connect(lambda _v: busy_seen.append(not edit.busy_label.isHidden()))
    drag_truncation(edit.truncation_slider)
    psi = edit.truncation()
    qtbot.waitUntil(lambda: edit.result is not before and window.engine.idle()
                    and edit.result.request.params["truncation"] == pytest.approx(psi), timeout=10000)
    assert any(busy_seen)
    assert not edit.busy_label.isVisible()
    assert not edit.result.extras.get("preview")


# -- Model › Import Model File… -------------------------------------------------------------


@pytest.fixture
def real_window(qtbot, tmp_path, settings):
    from studio.wiring import build_services

    (tmp_path / "builtin").mkdir()
    services = build_services(home=tmp_path / "home", device="cpu", builtin_dir=tmp_path / "builtin",
                              threads=1)
    window = make_window(qtbot, services, settings, start=False)
    window.services = services
    yield window
    window.close()
    services.close()


def test_import_model_file_converts_on_the_engine_and_opens_in_the_gan_explorer(real_window, qtbot, tmp_path):
    window = real_window
    G, kwargs = tiny_generator("stylegan2")
    path = tmp_path / "my faces.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    progress = []
    window.bridge.job_progressed.connect(lambda _job, fraction, message: progress.append(message))
    window.import_model_file(str(path))
    library = window.services.library
    qtbot.waitUntil(lambda: "my-faces" in library and window.engine.idle(), timeout=20000)
    assert any("directions" in m for m in progress)  # the PCA reported its progress
    window.select_model("my-faces")
    assert type(window.explorer).__name__ == "GANExplorer"
    assert window.models.current_id() == "my-faces"


def test_import_model_file_can_be_cancelled_and_leaves_nothing(real_window, qtbot, tmp_path, monkeypatch):
    import threading
    import time

    from studio.families.stylegan import importer

    window = real_window
    gate, waiting = threading.Event(), threading.Event()
    real_pca = importer.pca_directions

    def slow_pca(G, count, progress=None, cancelled=None, samples=0, seed=0):
        waiting.set()
        while not gate.is_set():
            cancelled()  # raises once the user cancelled
            time.sleep(0.005)
        return real_pca(G, count, progress, cancelled, 1000, seed)

    monkeypatch.setattr(importer, "pca_directions", slow_pca)
    G, kwargs = tiny_generator("stylegan3-t")
    path = tmp_path / "cancel me.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    job = window.import_model_file(str(path))
    qtbot.waitUntil(waiting.is_set, timeout=20000)
    window.cancel()  # Esc
    qtbot.waitUntil(lambda: job.state.finished and not window.busy(), timeout=20000)
    gate.set()
    assert job.state.value == "cancelled"
    assert "cancel-me" not in window.services.library
    assert not (tmp_path / "home" / "models" / "cancel-me").exists()


def test_a_file_no_family_converts_is_refused_in_one_line(real_window, qtbot, tmp_path):
    errors = []
    real_window.message_bar.show_error = errors.append
    assert real_window.import_model_file(str(tmp_path / "weights.ckpt")) is None
    assert len(errors) == 1 and "weights.ckpt" in errors[0]


def test_a_dropped_pkl_is_imported_not_opened_as_an_image(real_window, qtbot, tmp_path):
    G, kwargs = tiny_generator("stylegan2")
    path = tmp_path / "dropped.pkl"
    path.write_bytes(network_pickle(G, kwargs))
    errors = []
    real_window.message_bar.show_error = errors.append
    real_window.open_files([str(path)])  # what a drop on the canvas calls
    qtbot.waitUntil(lambda: "dropped" in real_window.services.library and real_window.engine.idle(),
                    timeout=20000)
    assert errors == []
