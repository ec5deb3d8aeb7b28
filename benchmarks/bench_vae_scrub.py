"""Your own VAE, live: scrubbing the interpolation of a Stable Diffusion-sized autoencoder.

A randomly initialised AutoencoderKL with the published SD 1.x config (seeded; no
weights are downloaded) is imported as a folder into the real window over real services.
Two photos are encoded at the working size (256 px, then 512 px), then the slider is
dragged, one event every 50 ms. For every event: the time from the slider event to the
preview being on the canvas (the linear latent → RGB map; the decoder takes seconds).
Target: median ≤ 50 ms at each size. Reported, not a target: the time from the last
event to its real decode on screen (the full decode, with the decodes of the earlier
events cancelled).

--smoke: a two-block toy autoencoder at 64 px, three events: seconds.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Report, median, percentile
from benchmarks.qt_harness import app, process_until
from benchmarks.window import Studio

EVENT_INTERVAL = 0.050
TARGET_MS = 50.0
# the published Stable Diffusion 1.x autoencoder (vae/config.json of SD 1.4/1.5)
SD1_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
               block_out_channels=(128, 256, 512, 512), norm_num_groups=32, act_fn="silu",
               down_block_types=("DownEncoderBlock2D",) * 4,
               up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512,
               scaling_factor=0.18215)
TOY_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
               block_out_channels=(8, 16), norm_num_groups=4,
               down_block_types=("DownEncoderBlock2D",) * 2,
               up_block_types=("UpDecoderBlock2D",) * 2, sample_size=64)


def run(smoke: bool = False) -> list[Report]:
    root = Path(tempfile.mkdtemp(prefix="studio-bench-vae-"))
    try:
        folder = _save_vae(root / "sd1-vae-random", TOY_VAE if smoke else SD1_VAE)
        studio = _open(root, folder)
        try:
            sizes = (64,) if smoke else (256, 512)
            return [_scrub(studio, size, 3 if smoke else 40) for size in sizes]
        finally:
            studio.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _save_vae(folder: Path, config: dict) -> Path:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    AutoencoderKL(**config).save_pretrained(folder, safe_serialization=True)
    return folder


def _open(root: Path, folder: Path) -> Studio:
    from PySide6.QtCore import QSettings

    from studio.ui.main_window import MainWindow
    from studio.wiring import build_services

    app()
    home = root / "home"
    services = build_services(home=home, device="cpu", builtin_dir=root / "no-builtins")
    settings = QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    window.resize(1400, 900)
    window.show()
    window.start(sample=False)
    model_id = window.import_folder(str(folder))
    if model_id is None:
        raise RuntimeError(f"{folder}: the autoencoder did not import")
    # it loads on the engine's thread (fitting its preview map) with the first request
    return Studio(services, window, home)


def _photo(seed: int, size: int) -> np.ndarray:
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    # another shape than the working size: the aspect fitting runs too
    return np.array(Image.fromarray(small).resize((size * 3 // 2, size), Image.Resampling.BICUBIC))


def _scrub(studio: Studio, size: int, events: int) -> Report:
    window, engine = studio.window, studio.services.engine
    session, explorer = window.session, window.explorer
    for op in ("encode", "interpolate"):
        session.set_values({"working_size": size}, op)
    explorer.set_view("interpolate")
    encode_start = time.perf_counter()
    for side, seed in (("a", 1), ("b", 2)):
        session.set_input("image", _photo(seed, size))
        window.run_request(session.request("encode"), endpoint=side)
        if not process_until(lambda: engine.idle() and not window.busy(), timeout=900):
            raise RuntimeError(f"encoding at {size} px did not finish")
    encode_s = (time.perf_counter() - encode_start) / 2
    slider = explorer.interpolate.slider
    assert slider.isEnabled() and explorer.preview_map() is not None

    marks: dict[str, float] = {}
    previews: list[float] = []
    decodes: list[float] = []

    def on_shown(what: str, kind: str) -> None:  # connected after the explorer's own work
        if what != "scrub":
            return
        now = time.perf_counter()
        (previews if kind == "preview" else decodes).append(now - marks["event"])
        if kind == "decode":
            marks["decoded"] = now

    explorer.live_shown.connect(on_shown)
    values = np.linspace(slider.minimum() + 1, slider.maximum() - 1, events).round().astype(int)
    slider.setSliderDown(True)
    start = time.perf_counter()
    for i, value in enumerate(values):
        process_until(lambda i=i: time.perf_counter() >= start + i * EVENT_INTERVAL, timeout=5)
        marks["event"] = time.perf_counter()
        slider.setValue(int(value))
    slider.setSliderDown(False)
    last_event = marks["event"]
    process_until(lambda: marks.get("decoded", 0.0) > last_event, timeout=900)
    explorer.live_shown.disconnect(on_shown)
    full_decode = marks.get("decoded", float("nan")) - last_event

    report = Report(f"vae_scrub_{size}px")
    med = median(previews) * 1000
    report.add("working size", size, "px")
    report.add("encode + decode of one photo", encode_s, "s")
    report.add("slider events", events)
    report.add("previews shown", len(previews))
    report.add("median event → preview", med, "ms")
    report.add("p90 event → preview", percentile([x * 1000 for x in previews], 90), "ms")
    report.add("decodes shown during the drag", max(0, len(decodes) - 1))
    report.add("last event → its full decode shown", full_decode, "s")
    report.target(f"median scrub event → visible update ≤ {TARGET_MS:g} ms", med, TARGET_MS, "ms")
    return report
