"""The Animator dock: keyframes from a seed and from the canvas, reorder, a three-keyframe
loop played live and exported (with progress) to MP4, then decoded; a cancelled export
leaves nothing; a family without a latent says so."""

from __future__ import annotations

import json
import threading

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.core import video
from tests.ui.conftest import generate, make_window


def wait_keys(qtbot, panel, count: int) -> None:
    qtbot.waitUntil(lambda: len(panel.keyframes()) == count, timeout=10000)


def test_build_a_three_keyframe_loop_play_it_and_export_it(qtbot, services, settings, tmp_path):
    window = make_window(qtbot, services, settings)
    panel = window.animator
    assert panel.render_op == "decode" and panel.add_seed_button.isEnabled()
    # two keyframes from seeds (the button, then the seed box)
    panel.seed_box.setValue(3)
    QTest.mouseClick(panel.add_seed_button, Qt.MouseButton.LeftButton)
    wait_keys(qtbot, panel, 1)
    panel.add_seed(8)
    wait_keys(qtbot, panel, 2)
    # the third from the canvas: a sampled grid's picked cell
    result = generate(qtbot, window)
    window.explorer.samples.pick(2)
    QTest.mouseClick(panel.add_pick_button, Qt.MouseButton.LeftButton)
    wait_keys(qtbot, panel, 3)
    assert np.array_equal(panel.keyframes()[2].latent, result.latents[2])
    labels = [k.label for k in panel.keyframes()]
    assert labels[:2] == ["seed 3", "seed 8"]
    # reorder: the last keyframe first (the strip's model moves rows, as a drag does)
    panel.strip.model().moveRow(panel.strip.rootIndex(), 2, panel.strip.rootIndex(), 0)
    assert [k.label for k in panel.keyframes()] == [labels[2], *labels[:2]]

    # a label is renamed in place (double-click), and the recipe keeps the new one
    panel.strip.item(1).setText("start")
    labels[0] = "start"  # item 1 is the first seed now
    panel.frames_box.setValue(4)
    panel.loop_box.setChecked(True)
    panel.path_box.setCurrentText("spline")
    assert len(panel.frame_latents) == 3 * 4  # a loop: keyframes × frames per keyframe
    # easing per segment: the selected keyframe's outgoing one; a hold adds frames
    panel.strip.setCurrentRow(1)
    panel.easing_box.setCurrentText("ease-in-out")
    assert panel.settings().easing == ("linear", "ease-in-out", "linear")
    panel.hold_box.setValue(2)
    assert len(panel.frame_latents) == 3 * 4 + 2
    panel.hold_box.setValue(0)
    # the scrubber shows the frame under it
    panel.scrubber.setValue(5)
    qtbot.waitUntil(lambda: panel.shown_frame == 5, timeout=10000)
    # play: the frames move on by themselves
    panel.fps_box.setValue(60)
    panel.set_playing(True)
    qtbot.waitUntil(lambda: panel.shown_frame not in (None, 5), timeout=10000)
    panel.set_playing(False)
    assert not panel.play_button.isChecked()

    progress = []
    window.bridge.job_progressed.connect(lambda job, fraction, message: progress.append(message))
    out = tmp_path / "loop.mp4"
    panel.scale_box.setCurrentIndex(2)  # 4×
    with qtbot.waitSignal(panel.exported, timeout=30000):
        panel.export_to(out)
    frames, fps, comment = video.read_video(out)
    assert frames.shape == (12, 32, 32, 3) and fps == 60  # 8-px fake at 4×, the fps set
    assert any("ETA" in message for message in progress)
    recipe = json.loads((tmp_path / "loop.mp4.recipe.json").read_text())
    assert json.loads(comment) == recipe and recipe["params"]["loop"] is True
    assert recipe["params"]["easing"] == ["linear", "ease-in-out", "linear"]
    assert recipe["params"]["labels"] == [labels[2], *labels[:2]]
    assert not panel.progress.isVisible() and panel.export_button.isEnabled()
    # the status line said "export animation…" while it ran; it says how it ended after
    qtbot.waitUntil(lambda: window.job_label.text() == "Done: export animation")
    window.close()


def test_a_cancelled_export_writes_nothing(qtbot, services, settings, tmp_path):
    from tests.fakes import FakeModel

    window = make_window(qtbot, services, settings)
    panel = window.animator
    for seed in (1, 2):
        panel.add_seed(seed)
    wait_keys(qtbot, panel, 2)
    panel.frames_box.setValue(60)
    FakeModel.step_delay = 0.0  # decode has no delay: cancel from the first progress report
    started = []
    asked = threading.Event()

    # by the label: the worker may report the export's first batch before export_to has
    # stored the job it submitted (seen on a loaded machine: not held, the export ran to
    # its end before the GUI's cancel, and the file landed)
    def hold(event, job, _payload):  # on the worker: the export waits for the GUI's cancel
        if event == "progress" and job.label == "export animation":
            asked.wait(10)

    def on_progress(job, fraction, message):
        if job.label == "export animation" and not started:
            started.append(fraction)
            panel.cancel_export()
            asked.set()

    services.engine.add_listener(hold)
    window.bridge.job_progressed.connect(on_progress)
    out = tmp_path / "exports"
    out.mkdir()
    try:
        panel.export_to(out / "never.mp4")
        qtbot.waitUntil(lambda: panel._export_job is None, timeout=20000)
    finally:
        services.engine.remove_listener(hold)
    assert started  # cancelled after its first batch, before the next
    assert sorted(p.name for p in out.iterdir()) == []  # no video, temp or sidecar
    assert "nothing was written" in panel.eta_label.text()
    window.close()


def test_a_family_without_latents_offers_nothing(qtbot, services, settings):
    from dataclasses import replace

    from studio.families.autoregressive.spec import AUTOREGRESSIVE

    window = make_window(qtbot, services, settings)
    panel = window.animator
    # the fake family, declared as a family whose ops take no latent
    services.registry.register(replace(AUTOREGRESSIVE, name="fake", _cache={}))
    panel._on_session_model_changed(window.session.model_id)
    assert "no latent the Animator can render" in panel.status.text()
    assert not panel.add_seed_button.isEnabled() and not panel.export_button.isEnabled()
    window.close()


def test_keyframes_from_an_encoded_image_and_from_gan_direction_edits(qtbot, gan_services,
                                                                      settings, tmp_path):
    from studio.core.requests import Request

    window = make_window(qtbot, gan_services, settings, model_id="fake-model")
    panel = window.animator
    # an encoded image: the encode op's latent
    image = (np.arange(8 * 8 * 3) % 255).astype(np.uint8).reshape(8, 8, 3)
    window.run_request(Request("fake-model", "encode", {}, {"image": image}))
    qtbot.waitUntil(lambda: window.last_result is not None
                    and window.last_result.request.op == "encode" and not window.busy(),
                    timeout=10000)
    assert panel.add_shown()
    assert np.array_equal(panel.keyframes()[0].latent, window.last_result.latents[0])

    # the GAN renders w+ codes through its sample op; an edited sample gives edited codes
    window.select_model("fake-gan")
    qtbot.waitUntil(lambda: window.session.model_id == "fake-gan", timeout=10000)
    assert panel.keyframes() == [] and panel.render_op == "sample"
    edits = '[{"direction": 0, "amount": 2.0}]'
    window.session.set_values({"count": 2, "edits": edits}, "sample")
    window.params.set_values(window.session.values())
    plain = generate(qtbot, window)
    assert plain.request.params["edits"] == edits
    window.explorer.samples.pick(1)
    assert panel.add_shown()
    panel.add_seed(4)
    wait_keys(qtbot, panel, 2)
    assert np.array_equal(panel.keyframes()[0].latent, plain.latents[1])
    panel.frames_box.setValue(3)
    panel.loop_box.setChecked(False)
    out = tmp_path / "gan.webp"
    with qtbot.waitSignal(panel.exported, timeout=30000):
        panel.export_to(out)
    frames = video.read_frames(out)
    assert len(frames) == (2 - 1) * 3 + 1
    window.close()


def test_a_keyframe_from_a_history_item(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    panel = window.animator
    first = generate(qtbot, window)
    second = generate(qtbot, window)
    assert not np.array_equal(first.latents, second.latents)
    row = next(r for r in range(window.history_strip.count())
               if window.history_strip.entry(r).request().same_recipe(first.request))
    before = window.last_result
    window.history_strip.entry_activated.emit(window.history_strip.entry(row))  # a click
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy(), timeout=10000)
    assert panel.add_shown()
    assert np.array_equal(panel.keyframes()[0].latent, first.latents[0])
    window.close()


def test_diffusion_keyframes_take_the_panels_class_and_sampler_settings(qtbot, tmp_path):
    """On the built-in pixel diffusion model: each seed keyframe takes the panel's class, the
    export renders with the panel's steps, scheduler and guidance, and the recipe keeps them
    (render_params) with the keyframes' classes (conditions), lerped in between."""
    from PySide6.QtCore import QSettings

    from studio.core.requests import decode_array
    from studio.ui.main_window import MainWindow
    from studio.wiring import build_services

    services = build_services(home=tmp_path / "home", device="cpu", threads=1)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    try:
        window.start("diffusion-glyphs", sample=False)
        qtbot.waitUntil(lambda: window.models.is_loaded("diffusion-glyphs"), timeout=60000)
        panel = window.animator
        assert panel.render_op == "interpolate"
        assert window.session.op == "sample"
        # through the parameter panel's editors, as a user sets them
        for name, value in {"steps": 2, "scheduler": "ddim", "guidance": 1.5,
                            "class_index": 3}.items():
            window.params.set_value(name, value)
        assert window.session.values()["scheduler"] == "ddim"
        panel.add_seed(3)
        wait_keys(qtbot, panel, 1)
        window.params.set_value("class_index", 5)
        panel.add_seed(17)
        wait_keys(qtbot, panel, 2)
        assert [k.label for k in panel.keyframes()] == ["seed 3 · class 3", "seed 17 · class 5"]
        panel.frames_box.setValue(2)
        panel.loop_box.setChecked(False)
        assert panel.frame_conditions is not None
        assert np.allclose(panel.frame_conditions[1, [3, 5]], [0.5, 0.5])
        out = tmp_path / "walk"
        with qtbot.waitSignal(panel.exported, timeout=60000):
            panel.export_to(out)
        recipe = json.loads((tmp_path / "walk.recipe.json").read_text())
        fixed = recipe["params"]["render_params"]
        assert (fixed["steps"], fixed["scheduler"], fixed["guidance"]) == (2, "ddim", 1.5)
        assert list(decode_array(recipe["inputs"]["conditions"]).argmax(1)) == [3, 5]
        assert len(video.read_frames(out)) == 3
    finally:
        window.close()
        services.close()


def test_the_animator_fits_its_dock_at_1024_by_700(qtbot, services, settings):
    """The dock scrolls vertically only: anything wider than it is cut off (seen on a
    1024×700 X screen: the keyframe buttons' row and the Cancel button)."""
    from PySide6.QtWidgets import QScrollArea

    window = make_window(qtbot, services, settings)
    window.resize(1024, 700)
    window.animator_dock.show()
    window.animator_dock.raise_()
    scroll = window.animator.findChild(QScrollArea)
    qtbot.waitUntil(lambda: scroll.isVisible() and scroll.viewport().width() > 0)
    QTest.qWait(50)
    body = scroll.widget()
    assert body.minimumSizeHint().width() <= scroll.viewport().width()
    assert window.animator.cancel_button.geometry().right() <= scroll.viewport().width()
    window.close()


def test_the_wheel_scrolls_the_panel_and_changes_only_a_focused_box(qtbot, services, settings):
    """Seen on a 1024×700 screen: scrolling the Animator with the wheel changed the easing
    under the pointer. The wheel scrolls; a box takes it once clicked (focused)."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication, QScrollArea

    window = make_window(qtbot, services, settings)
    window.resize(1024, 700)
    window.animator_dock.show()
    window.animator_dock.raise_()
    panel = window.animator
    scroll = panel.findChild(QScrollArea)
    qtbot.waitUntil(lambda: scroll.isVisible() and scroll.verticalScrollBar().maximum() > 0)
    box = panel.easing_box
    before = box.currentIndex()

    def wheel_down() -> bool:
        """Whether the box kept the event (else Qt hands a real wheel event on to the
        parents, and the scroll area scrolls; a synthetic one goes no further)."""
        centre = QPointF(box.rect().center())
        event = QWheelEvent(centre, QPointF(box.mapToGlobal(QPoint(0, 0))) + centre, QPoint(),
                            QPoint(0, -120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(box, event)
        return event.isAccepted()

    assert not wheel_down()  # not focused: passed on to the scroll area
    assert box.currentIndex() == before  # and the value stays
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    assert wheel_down()
    assert box.currentIndex() == before + 1  # focused: the wheel changes it
    window.close()
