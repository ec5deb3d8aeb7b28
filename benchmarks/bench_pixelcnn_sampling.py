"""(e) PixelCNN sampling speed: the cached sampler against the plain one.

On the built-in PixelCNN, a batch of 4 images from seed 0: the plain sampler (the whole
network over the whole image for every pixel) against the cached one (each layer's
vertical stack extended by one row per image row, the horizontal stack run over the
current row up to the new pixel). Both on a worker thread with the engine's torch thread
count; the cached figure is the median of 3 runs, the plain one a single run (it takes
seconds). Their images must be identical. Target: cached ≥ 3 × the plain pixels per
second. `--smoke` draws the first two rows of one image.
"""

from __future__ import annotations

import time

from benchmarks.common import Report, median, on_worker_thread
from benchmarks.family_models import load_builtin

MODEL = "pixelcnn-glyphs"
BATCH = 4
MIN_SPEEDUP = 3.0


def run(smoke: bool = False) -> list[Report]:
    import torch

    from studio.core.engine import default_thread_count
    from studio.families.autoregressive.model import new_request, sample_cached, sample_plain

    threads = default_thread_count()
    loaded = load_builtin(MODEL, threads)
    cfg = loaded.cfg
    batch = 1 if smoke else BATCH
    fill = None
    if smoke:  # two rows only: seconds, not minutes
        import numpy as np

        fill = np.zeros((cfg.resolution, cfg.resolution), dtype=bool)
        fill[:2] = True
    blank = None if fill is None else np.zeros((cfg.resolution, cfg.resolution, 1), np.uint8)

    def timed(sampler):
        def go():
            req = new_request(cfg, batch, 0, -1, 1.0, 0, "cpu", blank, fill)
            start = time.perf_counter()
            images = sampler(loaded.model, req)
            return time.perf_counter() - start, images
        return on_worker_thread(go, threads)

    pixels = batch * (cfg.resolution ** 2 if fill is None else int(fill.sum()))
    timed(sample_cached)  # warm-up
    runs = [timed(sample_cached) for _ in range(1 if smoke else 3)]
    cached_s = median([t for t, _ in runs])
    plain_s, plain_images = timed(sample_plain)
    identical = all(torch.equal(images, plain_images) for _, images in runs)
    report = Report("pixelcnn_sampling")
    report.add("model", f"{MODEL} ({cfg.layers} gated layers × {cfg.hidden} ch, {cfg.resolution} px)")
    report.add("torch threads", threads)
    report.add("pixels drawn per run", pixels)
    report.add("plain sampler", pixels / plain_s, "pixels/s")
    report.add("cached sampler (median of runs)", pixels / cached_s, "pixels/s")
    report.add("identical images", identical)
    report.add("speed-up", plain_s / cached_s, "×")
    if not identical:
        raise AssertionError("the cached sampler drew other pixels than the plain one")
    report.target("cached speed-up over plain", plain_s / cached_s, MIN_SPEEDUP, "×", at_least=True)
    return [report]
