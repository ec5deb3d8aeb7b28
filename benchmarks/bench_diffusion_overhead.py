"""(d) Overhead of the studio over plain diffusers, on an imported pipeline.

A fixed tiny Stable Diffusion folder (built from configs, seed 0, 64 × 64 px: a 32 × 32
latent, UNet channels 32-64) runs 10 DPM-Solver++ steps at guidance 7.5 from a prompt:
A is the studio (the family's `run`, as the engine's worker calls it), B is diffusers'
own `pipe(...)` on a second, plain instance of the same folder with the same scheduler
and settings. Both run on a fresh worker thread with the engine's torch thread count;
runs alternate A B A B ..., and the figure is the median of the per-pair ratios A/B.

  - without previews: no preview listener, timeline off;
  - with previews: a preview on every step (no rate limit), timeline on.

Targets: ≤ 1.05 and ≤ 1.20. Each A's image is checked equal to its B's.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Report, median, on_worker_thread

PAIRS = 30
STEPS = 10
SETTINGS = {"prompt": "a red cat on a blue chair", "steps": STEPS, "guidance": 7.5,
            "scheduler": "dpm++", "seed": 1, "count": 1}


def build_folder(folder: Path) -> Path:
    """The fixed tiny SD pipeline: the tests' tiny SD, a little wider and at 64 px."""
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel

    from tests.families import diffusers_tiny as tiny

    base = tiny.build_pipeline("sd")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), norm_num_groups=8, cross_attention_dim=32,
        attention_head_dim=8, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    vae = AutoencoderKL(block_out_channels=(16, 32), in_channels=3, out_channels=3,
                        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
                        latent_channels=4, norm_num_groups=8, sample_size=64)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                                   unet=unet, scheduler=base.scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def run(smoke: bool = False) -> list[Report]:
    import torch
    from diffusers import DiffusionPipeline

    from studio.core.diffusers_folder import make_card
    from studio.core.engine import default_thread_count
    from studio.core.family import JobContext
    from studio.families.diffusers.model import DiffusersFamily, float_to_uint8
    from studio.families.diffusion.loop import make_scheduler

    threads = default_thread_count()
    with tempfile.TemporaryDirectory() as scratch:
        folder = build_folder(Path(scratch) / "bench-tiny-sd")
        studio = on_worker_thread(lambda: DiffusersFamily.load(folder, make_card(folder), "cpu"),
                                  threads)
        plain = DiffusionPipeline.from_pretrained(folder, local_files_only=True,
                                                  use_safetensors=True)
    plain.set_progress_bar_config(disable=True)
    plain.scheduler = make_scheduler(SETTINGS["scheduler"], plain.scheduler.config)

    def studio_run(previews: bool) -> tuple[float, np.ndarray, int]:
        shown: list[np.ndarray] = []
        ctx = JobContext(on_preview=shown.append if previews else None, min_interval=0.0)
        start = time.perf_counter()
        out = studio.run("sample", {**SETTINGS, "timeline": previews}, {}, ctx)
        return time.perf_counter() - start, out.images, len(shown)

    def plain_run() -> tuple[float, np.ndarray, int]:
        start = time.perf_counter()
        images = plain(SETTINGS["prompt"], num_inference_steps=STEPS,
                       guidance_scale=SETTINGS["guidance"], output_type="np",
                       generator=torch.Generator().manual_seed(SETTINGS["seed"])).images
        return time.perf_counter() - start, float_to_uint8(images), 0

    def timed(fn):
        return on_worker_thread(lambda: torch.inference_mode()(fn)(), threads)

    pairs = 1 if smoke else PAIRS
    report = Report("diffusion_overhead")
    report.add("pipeline", f"tiny SD 64 px, {STEPS} dpm++ steps, guidance 7.5")
    report.add("torch threads (both)", threads)
    for label, previews, limit in (("without previews", False, 1.05),
                                   ("with previews every step + timeline", True, 1.20)):
        timed(lambda p=previews: studio_run(p))  # warm both up
        timed(plain_run)
        ratios, a_times, b_times = [], [], []
        for _ in range(pairs):
            a_time, a_images, shown = timed(lambda p=previews: studio_run(p))
            b_time, b_images, _ = timed(plain_run)
            assert np.abs(a_images.astype(int) - b_images).max() <= 1, "the images differ"
            assert shown == (STEPS if previews else 0), shown
            ratios.append(a_time / b_time)
            a_times.append(a_time)
            b_times.append(b_time)
        report.add(f"studio {label} (median)", median(a_times) * 1000, "ms")
        report.add(f"diffusers (median, paired with {label})", median(b_times) * 1000, "ms")
        report.add(f"ratio {label} (median of {pairs} pairs)", median(ratios))
        report.target(f"ratio {label}", median(ratios), limit)
    return [report]
