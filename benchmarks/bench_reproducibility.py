"""Reproducibility across CPUs and thread counts: what a recipe gives elsewhere.

A recipe re-renders the same pixels on the same device, thread count and CPU kind (the
tests hold that). Elsewhere float results change with the kernels torch picks and the
way a reduction is split over threads. This measures how much, as a user would meet it:
every built-in model renders a few recipes in a subprocess at the reference setting
(this CPU's best kernels, 1 thread), then each other setting re-renders them in a fresh
subprocess (plain, AVX2 and AVX512 kernels, where the CPU has them, at 1 and 2 threads;
see KERNELS) and the worst pixel difference per family is reported in /255.

Target: every family stays within its stated bound (README, "Reproducibility").
`--smoke` renders one recipe of one model under one other setting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, Report

# (model, op, params): a grid per model, and the ops whose maths differs from sampling
RECIPES = [
    ("vae-glyphs", "sample", {"seed": 1, "count": 16}),
    ("vae-glyphs", "interpolate", {"seed": 2, "frames": 8}),
    ("gan-glyphs", "sample", {"seed": 1, "count": 16}),
    ("gan-glyphs", "mix", {"layers": "middle"}),
    ("flow-glyphs", "sample", {"seed": 1, "count": 16}),
    ("flow-glyphs", "interpolate", {"seed": 2, "frames": 8}),
    ("diffusion-glyphs", "sample", {"seed": 1, "count": 2, "steps": 20}),
    ("latent-diffusion-glyphs", "sample", {"seed": 1, "count": 8, "steps": 20}),
    ("pixelcnn-glyphs", "sample", {"seed": 1, "count": 4}),
]
# The worst difference each family may show across CPUs and thread counts, in /255 (the
# README's promise). Continuous decoders stay within one rounding step. The PixelCNN
# draws from a 256-way softmax: a float difference that flips one draw could change any
# value (and the pixels after it), so its bound is the one that would catch that.
BOUNDS = {"vae": 1, "gan": 1, "flow": 1, "diffusion": 1, "latent_diffusion": 1,
          "autoregressive": 1}
# The CPU kinds a user may have, as torch's three kernel pickers see them: ATen's own
# (ATEN_CPU_CAPABILITY), MKL's GEMMs and oneDNN's convolutions. The reference is this
# machine's best, unrestricted.
KERNELS = {
    "plain": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
              "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
             "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "MKL_ENABLE_INSTRUCTIONS": "AVX512",
               "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
}
REFERENCE = {"kernels": "native", "threads": 1}


def settings(smoke: bool) -> list[dict]:
    kinds = ["plain", "avx2"] + (["avx512"] if _has_avx512() else [])
    if smoke:
        return [{"kernels": "plain", "threads": 1}]
    return [{"kernels": k, "threads": t} for k in kinds for t in (1, 2)] + [
        {"kernels": "native", "threads": 2}]


def _has_avx512() -> bool:
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _worker(setting: dict, mode: str, folder: Path) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1"}
    for name in KERNELS["plain"]:
        env.pop(name, None)
    env.update(KERNELS.get(setting["kernels"], {}))
    cmd = [sys.executable, "-m", "benchmarks.bench_reproducibility", mode, str(folder),
           str(setting["threads"])]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(smoke: bool = False) -> list[Report]:
    recipes = RECIPES[:1] if smoke else RECIPES
    report = Report("reproducibility")
    with tempfile.TemporaryDirectory(prefix="studio-repro-") as tmp:
        folder = Path(tmp)
        (folder / "recipes.json").write_text(json.dumps(recipes))
        made = _worker(REFERENCE, "make", folder)
        report.add("reference", made["rendered_on"])
        worst: dict[str, int] = {}
        per_setting = {}
        for setting in settings(smoke):
            name = f"{setting['kernels']}/{setting['threads']}t"
            checked = _worker(setting, "check", folder)
            per_setting[name] = checked["by_family"]
            print(f"  {name}: {checked['by_family']}", file=sys.stderr, flush=True)  # a long run
            for family, diff in checked["by_family"].items():
                worst[family] = max(worst.get(family, 0), diff)
        report.data["by_setting"] = per_setting
    for family, diff in sorted(worst.items()):
        report.add(f"{family}: worst difference", diff, "/255")
        bound = BOUNDS.get(family, 1)
        report.target(f"{family} within {bound}/255", diff, bound, "/255")
    for name, by_family in per_setting.items():
        report.add(f"  {name}", " ".join(f"{f} {d}" for f, d in sorted(by_family.items())))
    return [report]


# -- the subprocess side -------------------------------------------------------------


def _make(folder: Path, threads: int) -> dict:
    from studio.core import export
    from studio.core.requests import Request
    from studio.wiring import build_services

    services = build_services(synchronous=True, threads=threads)
    try:
        rendered_on = {}
        for i, (model, op, params) in enumerate(json.loads((folder / "recipes.json").read_text())):
            job = services.engine.submit(Request(model, op, params))
            if job.result is None:
                raise RuntimeError(f"{model} {op}: {job.error}")
            export.export_png(folder / f"{i:02d}.png", job.result)
            rendered_on = dict(job.result.rendered_on)
    finally:
        services.close()
    return {"rendered_on": rendered_on}


def _check(folder: Path, threads: int) -> dict:
    from studio.core.export import open_recipe
    from studio.core.reproduce import check_result
    from studio.wiring import build_services

    services = build_services(synchronous=True, threads=threads)
    by_family: dict[str, int] = {}
    try:
        for path in sorted(folder.glob("*.png")):
            request = open_recipe(path)
            job = services.engine.submit(request)
            if job.result is None:
                raise RuntimeError(f"{path.name}: {job.error}")
            family = services.library.get(request.model_id).family
            diff = check_result(path, job.result, tolerance=255).max_difference
            by_family[family] = max(by_family.get(family, 0), diff)
    finally:
        services.close()
    return {"by_family": by_family}


if __name__ == "__main__":
    mode, where, thread_count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    # LATENT_STUDIO_HOME: a throwaway library and history, never the user's
    os.environ["LATENT_STUDIO_HOME"] = str(where / "home")
    result = (_make if mode == "make" else _check)(where, thread_count)
    print(json.dumps(result))
