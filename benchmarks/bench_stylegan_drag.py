"""StyleGAN truncation drag at real sizes, in the real window, on the CPU.

A randomly initialised StyleGAN2 with the official 256-px widths (stylegan2's paper256
config: channel_base 16384, channel_max 512, 8 mapping layers, z and w 512), written as a
studio model folder exactly as an imported pickle is, opened in the GAN explorer's
Truncation & directions tab. A scripted 2-second drag of the truncation slider, one event
every 16 ms, then the slider rests.

Figures:
- slider event → visible update: per slider event, the time until the canvas next shows
  a frame rendered for that value or a newer one (what a user feels); median and p90.
  While the slider moves, the frames are previews: the synthesis stopped at the card's
  preview resolution, upscaled.
- full frame after the drag: from the last slider event to the full-resolution frame of
  the final ψ on screen (the explorer waits 150 ms for the slider to rest, then renders
  it), against one raw forward pass (mapping, truncation, full synthesis) timed in the
  same process on a worker thread with the engine's thread count.

Targets (256 px): median event → update ≤ 100 ms; the full frame within 1.5 × the raw
forward pass. The same figures at 512 px (stylegan2's 512 config: channel_base 32768) are
reported, not enforced. `--smoke` runs a tiny 32-px model through the same code.
"""

from __future__ import annotations

import bisect
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Report, median, on_worker_thread, percentile
from benchmarks.qt_harness import app, process_until

EVENT_INTERVAL = 0.016
DRAG_SECONDS = 2.0
LANE = "gan-edit"
VERBOSE = False  # print every preview's level and times


def make_model(root: Path, resolution: int, channel_base: int, smoke: bool) -> str:
    import torch

    from studio.families.stylegan.importer import write_model_folder
    from studio.families.stylegan.networks import Generator, StyleGANConfig

    torch.manual_seed(0)
    if smoke:
        cfg = StyleGANConfig(architecture="stylegan2", z_dim=32, w_dim=32, img_resolution=32,
                             channel_base=512, channel_max=32, mapping_layers=2)
    else:
        cfg = StyleGANConfig(architecture="stylegan2", z_dim=512, w_dim=512, img_resolution=resolution,
                             channel_base=channel_base, channel_max=512, mapping_layers=8)
    G = Generator(cfg).eval().requires_grad_(False)
    model_id = f"bench-sg2-{cfg.img_resolution}"
    folder = write_model_folder(G, root / model_id, model_id, model_id, "randomly initialised",
                                pca_samples=2000)
    if smoke:  # a tiny model needs no preview; force one so the code path runs
        import json

        card = json.loads((folder / "card.json").read_text())
        card["config"].update(live_drag="progressive", preview_resolution=16)
        (folder / "card.json").write_text(json.dumps(card))
    return model_id


def run(smoke: bool = False) -> list[Report]:
    cases = [(32, 512)] if smoke else [(256, 16384), (512, 32768)]
    reports = []
    for resolution, channel_base in cases:
        reports.append(_drag_case(resolution, channel_base, smoke, enforce=(resolution == 256)))
    return reports


def _drag_case(resolution: int, channel_base: int, smoke: bool, enforce: bool) -> Report:
    from PySide6.QtCore import QSettings

    from studio.ui.main_window import MainWindow
    from studio.wiring import build_services

    app()
    home = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    builtin = home / "builtin"
    model_id = make_model(builtin, resolution, channel_base, smoke)
    services = build_services(home=home, device="cpu", builtin_dir=builtin)
    settings = QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=settings)
    try:
        window.resize(1400, 900)
        window.show()
        window.start(model_id, sample=False)
        if not process_until(lambda: window.models.is_loaded(model_id) and services.engine.idle()
                             and services.engine.warmed_up.is_set(), timeout=300):
            raise RuntimeError(f"{model_id} did not load")
        return _measure(window, services, model_id, resolution, smoke, enforce)
    finally:
        window.close()
        services.close()


def _measure(window, services, model_id: str, resolution: int, smoke: bool, enforce: bool) -> Report:
    engine, explorer = services.engine, window.explorer
    window.session.set_values({"count": 1, "seed": 0}, "sample")
    explorer.set_view("edit")
    if not process_until(lambda: explorer.edit.result is not None and engine.idle(), timeout=300):
        raise RuntimeError("the Truncation & directions tab did not render")
    edit = explorer.edit
    slider = edit.truncation_slider
    shown: list[tuple[float, float, bool]] = []  # (when, ψ rendered, preview?)
    preview_runs: list[float] = []
    levels: list[int] = []
    original = edit.show_result

    def record(result):
        original(result)
        shown.append((time.perf_counter(), float(result.request.params["truncation"]),
                      bool(result.extras.get("preview"))))
        if result.extras.get("preview"):
            preview_runs.append(float(result.timings.get("run", 0.0)))
            levels.append(int(result.request.params.get("preview_resolution", 0)))
            if VERBOSE:
                print(f"  preview {levels[-1]} px: run {preview_runs[-1] * 1000:.0f} ms, "
                      f"queued {result.timings.get('queued', 0) * 1000:.0f} ms")

    edit.show_result = record
    events = 4 if smoke else round(DRAG_SECONDS / EVENT_INTERVAL)
    lo, hi = slider.minimum(), slider.maximum()
    start_value = slider.value()
    values = np.linspace(start_value, start_value + (hi - lo) // 3, events + 1)[1:].round().astype(int)
    event_times: list[float] = []
    event_psis: list[float] = []
    slider.setSliderDown(True)
    t0 = time.perf_counter()
    for i, value in enumerate(values):
        process_until(lambda i=i: time.perf_counter() >= t0 + i * EVENT_INTERVAL, timeout=5)
        slider.setValue(int(value))
        event_times.append(time.perf_counter())
        event_psis.append(edit.truncation())
    slider.setSliderDown(False)
    final_psi = event_psis[-1]
    done = process_until(lambda: bool(shown) and not shown[-1][2] and abs(shown[-1][1] - final_psi) < 1e-9
                         and engine.idle(), timeout=120)
    edit.show_result = original
    if not done:
        raise RuntimeError("the full frame never came after the drag")
    full_after = shown[-1][0] - event_times[-1]

    # per event: the first update at or after it that shows its ψ or a later event's
    order = {psi: i for i, psi in enumerate(event_psis)}  # later events win for equal ψ
    latencies = []
    shown_times = [s[0] for s in shown]
    for i, t in enumerate(event_times):
        k = bisect.bisect_left(shown_times, t)
        for when, psi, _ in shown[k:]:
            if order.get(psi, -1) >= i:
                latencies.append(when - t)
                break
    previews = sum(1 for s in shown if s[2])

    model = services.cache.get(model_id)
    raw = _raw_forward(model, final_psi, engine.threads, repeats=1 if smoke else 3)
    report = Report(f"stylegan_drag_{resolution}px" if not smoke else "stylegan_drag_smoke")
    report.add("model", f"StyleGAN2, {model.cfg.img_resolution} px, channel_base "
                        f"{model.cfg.channel_base}, random weights")
    report.add("engine threads", engine.threads)
    report.add("preview resolution", int(model.card.config.get("preview_resolution") or 0), "px")
    report.add("slider events", len(event_times))
    report.add("frames shown while dragging (previews)", previews)
    report.add("preview levels used", ", ".join(f"{r} px" for r in sorted(set(levels))) or "none")
    report.add("preview run time on the worker, median",
               median(preview_runs) * 1000 if preview_runs else 0.0, "ms")
    med = median(latencies) * 1000 if latencies else float("inf")
    report.add("slider event → visible update, median", med, "ms")
    report.add("slider event → visible update, p90", percentile([x * 1000 for x in latencies], 90), "ms")
    report.add("last event → full frame on screen", full_after * 1000, "ms")
    report.add("raw forward pass (mapping + full synthesis), median", raw * 1000, "ms")
    report.add("ratio full frame after drag / raw forward", full_after / raw if raw else 0.0)
    if enforce or smoke:
        report.target("median slider event → visible update", med, 100.0, "ms")
        report.target("full frame ≤ 1.5 × raw forward after the drag", full_after * 1000, 1.5 * raw * 1000, "ms")
    return report


def _raw_forward(model, psi: float, threads: int, repeats: int) -> float:
    import torch

    z, c, _ = model._seed_inputs([0], -1)
    G = model.G

    def measure() -> float:
        times = []
        with torch.inference_mode():
            for _ in range(repeats):
                t = time.perf_counter()
                ws = G.mapping.truncate(G.mapping(z, c), psi)
                G.synthesis(ws)
                times.append(time.perf_counter() - t)
        return float(np.median(times))

    return on_worker_thread(measure, threads)
