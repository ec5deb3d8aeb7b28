"""(a) GUI responsiveness: gaps between ticks of a 5 ms QTimer on the GUI thread while
the engine works, in the real window after start-up and warm-up.

Case 1: 200 VAE generations at batch 16, submitted as the window submits them (each
result goes to the canvas and the persisted history). Case 2: a VAE training job through
the engine, with its progress in the status bar. Case 3: live PixelCNN samples in the
PixelCNN's explorer, painting pixel by pixel with previews on the canvas (three batches
of 16). Case 4: dropping a 39.9-megapixel PNG on the canvas (the largest image the studio
opens: the limit is 40 MP), read and encoded. Cases 5 and 6 (bench_animation): the Animator
exporting a GAN loop to MP4, and playing it live at 24 fps. Target: max stall ≤ 50 ms in all.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from benchmarks.common import Report
from benchmarks.family_models import models_dir
from benchmarks.qt_harness import StallProbe, process_until
from benchmarks.window import MODEL, open_studio
from studio.core.paths import recipes_dir
from studio.core.requests import Request

MAX_STALL_MS = 50.0


def run(smoke: bool = False) -> list[Report]:
    studio = open_studio()
    try:
        reports = [_generation(studio, smoke), _training(studio, smoke), _big_drop(studio, smoke)]
    finally:
        studio.close()
    from benchmarks.bench_animation import stall_reports  # an export, live playback
    from benchmarks.bench_train_studio import stall_reports as training_stall  # the Train view

    return reports + [_pixelcnn_live(smoke)] + stall_reports(smoke) + training_stall(smoke)


PIXELCNN = "pixelcnn-glyphs"


def _pixelcnn_live(smoke: bool) -> Report:
    studio = open_studio(PIXELCNN, builtin_dir=models_dir())
    try:
        window, engine = studio.window, studio.services.engine
        previews: list[int] = []
        studio.window.bridge.job_previewed.connect(lambda job, images: previews.append(len(images)))
        count = 1 if smoke else 3
        probe = StallProbe()
        probe.start()
        for seed in range(count):
            window.run_request(Request(PIXELCNN, "sample", {"seed": seed, "count": 16}))
            process_until(lambda: engine.idle() and not window.busy(), timeout=600)
        probe.stop()
    finally:
        studio.close()
    report = Report("gui_stall_pixelcnn_live")
    summary = probe.summary()
    report.add("live samples (batch 16)", count)
    report.add("previews shown", len(previews))
    for key in ("ticks", "median_ms", "p99_ms", "max_ms"):
        report.add(key, summary[key])
    report.target("max GUI stall during a live PixelCNN sample", summary["max_ms"], MAX_STALL_MS, "ms")
    return report


def _generation(studio, smoke: bool) -> Report:
    window, engine = studio.window, studio.services.engine
    count = 1 if smoke else 200
    probe = StallProbe()
    probe.start()
    for seed in range(count):
        window.run_request(Request(MODEL, "sample", {"seed": seed, "count": 16, "temperature": 0.8}))
    process_until(lambda: engine.idle() and not window.busy(), timeout=600)
    probe.stop()
    report = Report("gui_stall_generation")
    summary = probe.summary()
    report.add("generations (batch 16)", count)
    report.add("history entries", len(studio.services.history))
    for key in ("ticks", "median_ms", "p99_ms", "max_ms"):
        report.add(key, summary[key])
    report.target("max GUI stall during generation", summary["max_ms"], MAX_STALL_MS, "ms")
    return report


def _big_png(smoke: bool) -> Path:
    """A noisy RGB PNG just under the 40 MP limit (noise: no easy compression to decode)."""
    import numpy as np
    from PIL import Image

    width, height = (2000, 1000) if smoke else (6400, 6236)  # 39.9 MP
    rng = np.random.default_rng(0)
    tile = rng.integers(0, 256, (height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    image = np.tile(tile, (4, 4, 1))[:height, :width]
    path = Path(tempfile.mkdtemp(prefix="studio-bench-drop-")) / "big.png"
    Image.fromarray(image).save(path, compress_level=1)
    return path


def _big_drop(studio, smoke: bool) -> Report:
    from PySide6.QtCore import QMimeData, QTimer, QUrl

    window, engine = studio.window, studio.services.engine
    path = _big_png(smoke)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    before = window.last_result
    dropped: list[bool] = []
    probe = StallProbe()
    probe.start()
    # dropped from inside the running event loop, with the probe ticking: a drop that
    # blocked before the loop ran would not show as a gap between ticks
    QTimer.singleShot(100, lambda: dropped.append(window.explorer.samples.canvas.handle_drop(mime)))
    process_until(lambda: bool(dropped) and not window.loading_files() and window.last_result is not before
                  and engine.idle() and not window.busy(), timeout=300)
    probe.stop()
    if window.last_result is before or window.last_result.request.op != "encode":
        raise RuntimeError(f"the dropped {path.name} was not encoded: {window.message_bar.text()}")
    report = Report("gui_stall_big_drop")
    summary = probe.summary()
    report.add("dropped image", f"{window.last_result.request.inputs['image'].shape} from "
               f"{'2.0' if smoke else '39.9'} MP")
    for key in ("ticks", "median_ms", "p99_ms", "max_ms"):
        report.add(key, summary[key])
    report.target("max GUI stall while a 40 MP drop is read", summary["max_ms"], MAX_STALL_MS, "ms")
    path.unlink()
    path.parent.rmdir()
    return report


def _training(studio, smoke: bool) -> Report:
    window, engine = studio.window, studio.services.engine
    recipe = json.loads((recipes_dir() / f"{MODEL}.json").read_text())
    # the shipped recipe's network and batch, on a smaller dataset (the step cost is the same)
    recipe["id"] = "bench-vae"
    recipe["dataset"] = {**recipe["dataset"], "train_per_class": 20 if smoke else 200,
                         "held_out_per_class": 5 if smoke else 20}
    steps = 2 if smoke else 150
    workdir = Path(tempfile.mkdtemp(prefix="studio-bench-train-"))
    recipe_path = workdir / "recipe.json"
    recipe_path.write_text(json.dumps(recipe))

    def train(ctx, cache):
        from studio.core.training import train_from_recipe

        return train_from_recipe(recipe_path, studio.services.registry, workdir / "out", ctx=ctx,
                                 resume=False, max_steps=steps, checkpoint_dir=workdir / "ckpt",
                                 evaluate=False)

    done: dict[str, object] = {}
    probe = StallProbe()
    probe.start()
    window.jobs.call(train, label="train bench-vae",
                     on_result=lambda job, value: done.setdefault("folder", value),
                     on_error=lambda job, message: done.setdefault("error", message))
    process_until(lambda: bool(done) and engine.idle(), timeout=900)
    probe.stop()
    if "error" in done:
        raise RuntimeError(f"training failed: {done['error']}")
    report = Report("gui_stall_training")
    summary = probe.summary()
    report.add("training steps", steps)
    for key in ("ticks", "median_ms", "p99_ms", "max_ms"):
        report.add(key, summary[key])
    report.target("max GUI stall during training", summary["max_ms"], MAX_STALL_MS, "ms")
    return report
