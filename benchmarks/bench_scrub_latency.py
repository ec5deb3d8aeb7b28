"""(b) Scrub latency: a scripted drag of the interpolation slider in the real window,
one slider event every 16 ms. For every frame shown, the time from the slider event
(the latent change) to the preview's canvas item being updated; its median against the
raw decoder forward pass on the same latents, on a worker thread with the engine's
torch thread count. Target: median ≤ 1.3 × raw + 10 ms.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Report, median, on_worker_thread, percentile
from benchmarks.qt_harness import drag_slider
from benchmarks.window import MODEL, open_studio

EVENT_INTERVAL = 0.016


def run(smoke: bool = False) -> list[Report]:
    studio = open_studio()
    try:
        return [_scrub(studio, smoke)]
    finally:
        studio.close()


def _scrub(studio, smoke: bool) -> Report:
    window, engine = studio.window, studio.services.engine
    explorer = window.explorer
    explorer.samples.pick(0)
    explorer.samples.pick(1, as_b=True)
    explorer.set_view("interpolate")
    slider = explorer.interpolate.slider
    assert slider.isEnabled(), "the scrub slider needs two endpoints"

    events = 6 if smoke else 190  # about 3 s of dragging
    values = np.linspace(slider.minimum(), slider.maximum(), events).round().astype(int)
    event_time: dict[int, float] = {}  # job id → when its slider event happened
    pending_event = {"t": 0.0}
    latencies: list[float] = []
    latents: list[np.ndarray] = []

    def on_engine(event, job, payload):  # called on the GUI thread for "queued"
        if event == "queued" and job.lane == "scrub":
            event_time[job.id] = pending_event["t"]

    def on_finished(job, result):  # connected after the explorer: its canvas is updated
        if job.lane == "scrub" and job.id in event_time:
            latencies.append(time.perf_counter() - event_time[job.id])
            latents.append(np.asarray(result.request.inputs["latent"]))

    engine.add_listener(on_engine)
    window.bridge.job_finished.connect(on_finished)
    start = drag_slider(slider, values, EVENT_INTERVAL, engine,
                        before_each=lambda: pending_event.update(t=time.perf_counter()))
    drag_seconds = time.perf_counter() - start
    engine.remove_listener(on_engine)
    window.bridge.job_finished.disconnect(on_finished)

    raw = _raw_decoder_ms(studio, latents, engine.threads)
    report = Report("scrub_latency")
    med = median(latencies) * 1000
    report.add("slider events", events)
    report.add("frames shown", len(latencies))
    report.add("frames per second", len(latencies) / drag_seconds)
    report.add("median latency", med, "ms")
    report.add("p90 latency", percentile([x * 1000 for x in latencies], 90), "ms")
    report.add("raw decoder forward (median)", raw, "ms")
    report.add("ratio median / raw", med / raw if raw else 0.0)
    report.target("median latency ≤ 1.3 × raw + 10 ms", med, 1.3 * raw + 10.0, "ms")
    return report


def _raw_decoder_ms(studio, latents: list[np.ndarray], threads: int) -> float:
    """The decoder alone, on the same latents, on a worker thread like the engine's."""
    import torch

    model = studio.services.cache.get(MODEL)

    def measure() -> float:
        times = []
        with torch.inference_mode():
            for latent in latents * 3:
                z = torch.from_numpy(latent).reshape(1, *model.cfg.latent_shape)
                t0 = time.perf_counter()
                torch.sigmoid(model.model.decoder(z))
                times.append(time.perf_counter() - t0)
        return median(times) * 1000

    return on_worker_thread(measure, threads)
