"""Model ▸ Train New Model…: a tiny VAE trained on a folder from the window, in a spawned
process: start, a preview, pause, resume, cancel, save the checkpoint as a model, resume
again to the end, and the model opens in its explorer. Tiny seeded model, a few dozen steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.train_runs import has_checkpoint
from studio.ui.main_window import MainWindow
from studio.wiring import build_services

WAIT = 120_000  # ms: a guard against a hang (a spawned child imports torch), not a timing claim


@pytest.fixture
def real_window(qtbot, tmp_path, settings):
    empty = tmp_path / "no-builtins"
    empty.mkdir()
    services = build_services(builtin_dir=empty, threads=1, device="cpu")
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    yield window
    dialog = getattr(window, "train_dialog", None)
    if dialog is not None:
        dialog.shutdown()
    window.close()
    services.engine.shutdown()


def image_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    for i in range(12):
        a = np.zeros((24, 24, 3), np.uint8)
        a[..., i % 3] = 190
        a[3:3 + i, 4:14] = 255
        Image.fromarray(a).save(root / f"{i}.png")
    (root / "readme.txt").write_text("not an image")
    return root


def test_train_a_model_in_the_window(qtbot, real_window, tmp_path: Path) -> None:
    window = real_window
    assert window.train_action.text() == "&Train New Model…"
    window.train_action.trigger()
    dialog = window.train_dialog
    qtbot.waitExposed(dialog)

    dialog.family_combo.setCurrentIndex(dialog.family_combo.findData("vae"))
    dialog.size_combo.setCurrentText("tiny")
    dialog.steps_spin.setValue(60)
    dialog.batch_spin.setValue(4)
    dialog.sample_spin.setValue(2)
    dialog.checkpoint_spin.setValue(2)
    dialog.threads_spin.setValue(1)
    with qtbot.waitSignal(dialog._prepared, timeout=WAIT):
        dialog.set_folder(str(image_folder(tmp_path / "shapes")))
    assert dialog.count_label.text().startswith("12 images (11 for training, 1 held out)")
    assert "readme.txt: not an image (.txt)" in dialog.skipped_text.toPlainText()
    assert not dialog.sheet_label.pixmap().isNull()

    # every size is measured as soon as the data is chosen, in a spawned process (the
    # window never waits on it): parameters, time per step, the whole run's estimate
    qtbot.waitUntil(lambda: dialog.estimator is None and len(dialog.estimates) == 3, timeout=WAIT)
    tiny = dialog.measured()
    assert tiny is not None and tiny["parameters"] > 1000 and tiny["seconds_per_step"] > 0
    lines = dialog.estimate_label.text().split("<br>")
    assert [line.removeprefix("<b>").split(":")[0] for line in lines] == ["tiny", "small", "medium"]
    assert lines[0].startswith("<b>tiny: ") and f"{int(tiny['parameters']):,} parameters" in lines[0]
    assert "for 60 steps" in lines[0]
    measured = {}
    for size in ("small", "medium", "tiny"):  # measured already: shown, not measured again
        dialog.size_combo.setCurrentText(size)
        measured[size] = dialog.measured()
    assert tiny["parameters"] < measured["small"]["parameters"] < measured["medium"]["parameters"]
    dialog.steps_spin.setValue(6000)  # the run's length: the estimate is redrawn
    assert "for 6000 steps" in dialog.estimate_label.text()
    dialog.steps_spin.setValue(60)
    qtbot.wait(600)
    assert dialog.estimator is None

    # start, and see a sample grid arrive from the training process
    with qtbot.waitSignal(dialog.samples_shown, timeout=WAIT):
        dialog.start_button.click()
    assert dialog.state == "running" and not dialog.samples_label.pixmap().isNull()
    assert "loss" in dialog.curves and "held_out_loss" in dialog.curves
    assert "steps/s" in dialog.status_label.text()
    assert dialog._eta_per_step == tiny["seconds_per_step"]  # the ETA before the run has a rate

    # pause: a checkpoint is written and the process ends
    with qtbot.waitSignal(dialog.state_changed, timeout=WAIT,
                          check_params_cb=lambda s: s == "paused"):
        dialog.pause_button.click()
    run_id = dialog.recipe["id"]
    paused_at = dialog.last_step
    assert 2 <= paused_at < 60 and has_checkpoint(run_id) == paused_at
    assert dialog.resume_button.isEnabled() and not dialog.pause_button.isEnabled()

    # resume continues from the checkpoint; cancel keeps a checkpoint too
    with qtbot.waitSignal(dialog.samples_shown, timeout=WAIT):
        dialog.resume_button.click()
    assert dialog.state == "running"
    with qtbot.waitSignal(dialog.state_changed, timeout=WAIT,
                          check_params_cb=lambda s: s == "cancelled"):
        dialog.cancel_button.click()
    cancelled_at = has_checkpoint(run_id)
    assert cancelled_at >= paused_at
    # an unfinished run is offered again (also to a Train view opened after a restart)
    assert dialog.unfinished_row.isVisibleTo(dialog)
    assert dialog.unfinished_combo.itemText(0) == f"{run_id} (step {cancelled_at} of 60)"
    assert dialog.continue_button.isEnabled()
    # Save as model: the checkpoint, evaluated, in the library, without training further
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.model_ready, timeout=WAIT):
        dialog.save_button.click()
    assert window.library.get(run_id).card.training["steps"] == cancelled_at
    assert has_checkpoint(run_id) == cancelled_at
    # the next start offers to resume, and runs to the end
    assert dialog.resume_check.isChecked() and dialog.resume_check.isEnabled()
    with qtbot.waitSignal(dialog.model_ready, timeout=WAIT) as ready:
        dialog.start_button.click()
    model_id = ready.args[0]
    assert model_id == run_id and dialog.state == "done"
    assert window.library.get(run_id).card.training["steps"] == 60
    assert dialog.unfinished_combo.count() == 0 and not dialog.unfinished_row.isVisibleTo(dialog)
    assert "nearest training image" in dialog.metrics_label.text()
    # the trained model is in the library and opens in its explorer
    qtbot.waitUntil(lambda: window.session.model_id == model_id, timeout=WAIT)
    assert window.library.get(model_id).card.family == "vae"


def _open_train_view(qtbot, window, family: str, folder: Path, steps: int = 400):
    window.train_action.trigger()
    dialog = window.train_dialog
    qtbot.waitExposed(dialog)
    dialog.family_combo.setCurrentIndex(dialog.family_combo.findData(family))
    dialog.size_combo.setCurrentText("tiny")
    dialog.steps_spin.setValue(steps)
    dialog.batch_spin.setValue(4)
    dialog.sample_spin.setValue(2)
    dialog.sample_count_spin.setValue(4)  # PixelCNN and diffusion samples cost most here
    dialog.checkpoint_spin.setValue(1000)  # pause and cancel write their own checkpoints
    dialog.threads_spin.setValue(1)
    with qtbot.waitSignal(dialog._prepared, timeout=WAIT):
        dialog.set_folder(str(folder))
    return dialog


@pytest.mark.parametrize("family", ["gan", "diffusion", "latent_diffusion", "flow", "autoregressive"])
def test_every_family_trains_in_the_window(qtbot, real_window, tmp_path: Path, family: str) -> None:
    """Each family the Train view offers (the VAE has its own test above): start, a sample
    grid arrives, pause (a checkpoint), resume (it continues past it), cancel."""
    folder = image_folder(tmp_path / "shapes")
    vae_id = None
    if family == "latent_diffusion":  # it works in a VAE of the data's size: one trained here
        from studio.core.train_data import FolderSettings
        from studio.core.train_runs import RunSettings, make_recipe, write_recipe
        from studio.train_worker import train_and_land

        vae = make_recipe(RunSettings(FolderSettings(str(folder), size=32), family="vae",
                                      size="tiny", steps=1, batch_size=4, sample_every=0))
        vae_id, _, _ = train_and_land(write_recipe(vae), resume=False, evaluate=False)
    dialog = _open_train_view(qtbot, real_window, family, folder)
    if vae_id is not None:  # the picker offers the library's VAEs that fit the data
        offered = [dialog.vae_combo.itemData(i) for i in range(dialog.vae_combo.count())]
        assert dialog.vae_combo.isEnabled() and offered == [vae_id]
        with qtbot.waitSignal(dialog._prepared, timeout=WAIT):
            dialog.grey_check.setChecked(True)  # grey data: the colour VAE no longer fits
        assert vae_id not in [dialog.vae_combo.itemData(i) for i in range(dialog.vae_combo.count())]
        with qtbot.waitSignal(dialog._prepared, timeout=WAIT):
            dialog.grey_check.setChecked(False)
        assert dialog.vae_combo.currentData() == vae_id
    if family == "autoregressive":  # grey only: the view says so by its check box
        assert dialog.grey_check.isChecked() and not dialog.grey_check.isEnabled()

    with qtbot.waitSignal(dialog.samples_shown, timeout=WAIT):
        dialog.start_button.click()
    assert dialog.state == "running" and not dialog.samples_label.pixmap().isNull()
    assert dialog.recipe["family"] == family
    qtbot.waitUntil(lambda: bool(dialog.curves), timeout=WAIT)  # the first log (every 8 steps here)
    if family in ("flow", "autoregressive"):  # bits/dim on held-out images, drawn live
        assert "held_out_bpd" in dialog.curves and "held-out bits/dim" in dialog.status_label.text()

    with qtbot.waitSignal(dialog.state_changed, timeout=WAIT, check_params_cb=lambda s: s == "paused"):
        dialog.pause_button.click()
    run_id, paused_at = dialog.recipe["id"], dialog.last_step
    assert 2 <= paused_at < 400 and has_checkpoint(run_id) == paused_at

    with qtbot.waitSignal(dialog.samples_shown, timeout=WAIT, check_params_cb=lambda s: s > paused_at):
        dialog.resume_button.click()
    # the curves continue from the checkpoint (drawn again from the run's log), not from 0
    first = min(step for points in dialog.losses.values() for step, _ in points)
    assert first <= paused_at and dialog.state == "running"
    with qtbot.waitSignal(dialog.state_changed, timeout=WAIT, check_params_cb=lambda s: s == "cancelled"):
        dialog.cancel_button.click()
    assert has_checkpoint(run_id) > paused_at


def test_the_settings_column_fits_at_1024_by_700(qtbot, real_window) -> None:
    """The column scrolls vertically only: anything wider than it is cut off (seen on a
    1024×700 X screen: the Browse button, the lists' arrows and the number boxes' ends)."""
    from PySide6.QtWidgets import QScrollArea

    dialog = real_window.show_train()
    dialog.resize(1024, 700)
    scroll = dialog.findChild(QScrollArea)
    qtbot.waitUntil(lambda: scroll.isVisible() and scroll.viewport().width() > 0)
    qtbot.wait(50)
    assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
    assert scroll.widget().width() <= scroll.viewport().width()


def test_a_folder_read_while_the_view_is_closed_is_read_again_when_it_shows(qtbot, tmp_path,
                                                                           monkeypatch):
    """Closed, the view may be deleted: the scanning thread's answer is not sent to it
    (see studio/ui/cross_thread), and the view reads the folder again when shown."""
    import threading

    from studio.ui import train_view

    dialog = train_view.TrainDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    real_prepare = train_view.prepare_folder
    hold, calls = threading.Event(), []

    def held_prepare(settings):
        calls.append(settings)
        assert hold.wait(30)
        return real_prepare(settings)

    monkeypatch.setattr(train_view, "prepare_folder", held_prepare)
    dialog.set_folder(str(image_folder(tmp_path / "pictures")))
    qtbot.waitUntil(lambda: len(calls) == 1)
    dialog.close()
    hold.set()  # the scan ends while the view is closed
    qtbot.waitUntil(lambda: dialog._scan_dropped, timeout=30_000)
    assert dialog.count_label.text() == "Reading the folder…"
    dialog.show()
    qtbot.waitUntil(lambda: dialog.count_label.text().startswith("12 images"), timeout=30_000)
    assert len(calls) == 2
    dialog.shutdown()
