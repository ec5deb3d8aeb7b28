"""GAN truncation scrub: a scripted 3-second drag of the truncation slider in the real
window (Truncation & directions tab, the picked seed), one slider event every 16 ms.

Reports the frames rendered per second, and each frame's service time — from its request
leaving the queue (the worker starts it) to the canvas being updated — against the raw
generator forward pass (mapping, truncation, synthesis) on the same seeds and ψ, on a
worker thread with the engine's torch thread count.
Targets: ≥ 20 frames per second; median service time ≤ 1.3 × the raw forward pass.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Report, median, on_worker_thread, percentile
from benchmarks.qt_harness import drag_slider, process_until
from benchmarks.window import open_studio

MODEL = "gan-glyphs"
EVENT_INTERVAL = 0.016
LANE = "gan-edit"


def run(smoke: bool = False) -> list[Report]:
    studio = open_studio(MODEL)
    try:
        return [_drag(studio, smoke)]
    finally:
        studio.close()


def _drag(studio, smoke: bool) -> Report:
    window, engine = studio.window, studio.services.engine
    explorer = window.explorer
    explorer.seeds.pick(0)
    explorer.seeds.edit_button.click()  # the picked seed, rendered on its own tab
    if not process_until(lambda: explorer.edit.result is not None and engine.idle(), timeout=60):
        raise RuntimeError("the Truncation & directions tab did not render the picked seed")
    slider = explorer.edit.truncation_slider
    assert slider.isEnabled(), "ψ applies to a seed's styles"

    events = 6 if smoke else round(3.0 / EVENT_INTERVAL)
    values = np.linspace(slider.minimum(), slider.maximum(), events).round().astype(int)
    started: dict[int, float] = {}  # job id → when the worker took it off the queue
    service: list[float] = []
    shown_at: list[float] = []
    requests = []

    def on_engine(event, job, payload):  # "started" is reported on the worker thread
        if event == "started" and job.lane == LANE:
            started[job.id] = time.perf_counter()

    def on_finished(job, result):  # connected after the explorer: its canvas is updated
        if job.lane == LANE and job.id in started:
            now = time.perf_counter()
            service.append(now - started[job.id])
            shown_at.append(now)
            requests.append(result.request)

    engine.add_listener(on_engine)
    window.bridge.job_finished.connect(on_finished)
    start = drag_slider(slider, values, EVENT_INTERVAL, engine)
    engine.remove_listener(on_engine)
    window.bridge.job_finished.disconnect(on_finished)
    drag_seconds = max(shown_at[-1] - start, EVENT_INTERVAL) if shown_at else 0.0

    raw = _raw_generator_ms(studio, requests, engine.threads)
    report = Report("gan_truncation_scrub")
    fps = len(service) / drag_seconds if drag_seconds else 0.0
    med = median(service) * 1000
    report.add("slider events", events)
    report.add("frames rendered", len(service))
    report.add("frames per second", fps)
    report.add("median service time", med, "ms")
    report.add("p90 service time", percentile([x * 1000 for x in service], 90), "ms")
    report.add("raw generator forward (median)", raw, "ms")
    report.add("ratio median service / raw", med / raw if raw else 0.0)
    report.target("frames per second", fps, 20.0, "fps", at_least=True)
    report.target("median service time ≤ 1.3 × raw forward", med, 1.3 * raw, "ms")
    return report


def _raw_generator_ms(studio, requests, threads: int) -> float:
    """Mapping, truncation and synthesis alone, for the same seeds and ψ, on a worker
    thread like the engine's."""
    import torch

    model = studio.services.cache.get(MODEL)
    inputs = []
    for request in requests:
        params = request.params
        seeds = [params["seed"] + i for i in range(params.get("count", 1))]
        z, c, _ = model._seed_inputs(seeds, params.get("class_index", -1))
        inputs.append((z, c, float(params["truncation"])))

    def measure() -> float:
        times = []
        G, w_avg = model.G, model.w_avg
        with torch.inference_mode():
            for z, c, psi in inputs * 3:
                t0 = time.perf_counter()
                w = G.mapping(z, c)
                w = w_avg + psi * (w - w_avg)
                G.synthesis(w[:, None].repeat(1, model.cfg.num_ws, 1))
                times.append(time.perf_counter() - t0)
        return median(times) * 1000

    return on_worker_thread(measure, threads)
