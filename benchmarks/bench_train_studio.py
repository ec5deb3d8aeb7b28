"""Training in the window (issue 17).

Throughput: a small colour VAE at 32 px on script-made shapes (benchmarks.shapes), the
same recipe (the Train view writes it) trained from the window's Train view (a spawned
process, with the live loss curves and sample grids drawn in the window) and by `studio
train --recipe` in-process, at the same torch thread count (the engine's, cores − 1), in
the order window, CLI, CLI, window (200 steps each), so that the machine's drift over the
minutes weighs on both alike. Steps per second are the steps over the training seconds
each run records in its card; the ratio is of the two sides' means. Target: window ≥ 0.95
× CLI.

GUI stall (`stall_reports`, run by bench_gui_stall too): the real window, its VAE loaded,
while the Train view trains with live previews; and while it measures every size of a
family (in a spawned process) as the data is chosen and the family changes. Target: max
stall ≤ 50 ms.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.common import Report
from benchmarks.shapes import make_shapes

RATIO = 0.95
MAX_STALL_MS = 50.0


def _home() -> Path:
    # the runs, their checkpoints and models go to a temporary user data folder
    home = Path(tempfile.mkdtemp(prefix="studio-bench-train-"))
    os.environ["LATENT_STUDIO_HOME"] = str(home)
    return home


def _gui_run(home: Path, steps: int, images: int) -> tuple[dict, float, object]:
    """Train from the Train view of the real window; returns (recipe, steps/s, probe)."""
    from benchmarks.qt_harness import StallProbe, process_until
    from benchmarks.window import open_studio
    from studio.core.cards import ModelCard
    from studio.core.engine import default_thread_count
    from studio.core.train_runs import model_dir

    folder = make_shapes(home / "shapes", count=images, size=32)
    studio = open_studio()
    try:
        dialog = studio.window.show_train()
        dialog.family_combo.setCurrentIndex(dialog.family_combo.findData("vae"))
        dialog.size_combo.setCurrentText("small")
        dialog.steps_spin.setValue(steps)
        dialog.sample_spin.setValue(max(2, steps // 10))
        dialog.checkpoint_spin.setValue(max(2, steps // 3))
        dialog.threads_spin.setValue(default_thread_count())
        dialog.set_folder(str(folder))
        process_until(lambda: dialog.prepared is not None, timeout=300)
        dialog.resume_check.setChecked(False)  # a second run of the recipe starts afresh
        probe = StallProbe()
        # the stall while it trains: the probe stops before the model opens in its explorer
        dialog.state_changed.connect(lambda state: probe.stop() if state == "done" else None)
        probe.start()
        dialog.start()
        process_until(lambda: dialog.state in ("done", "failed"), timeout=3600)
        probe.stop()
        assert dialog.state == "done", dialog.status_label.text()
        recipe = dict(dialog.recipe)
        dialog.shutdown()
    finally:
        studio.close()
    card = ModelCard.read(model_dir(recipe["id"]))
    return recipe, steps / card.training["seconds"], probe


def _cli_run(recipe: dict, threads: int) -> float:
    import contextlib
    import io

    from studio.cli import main
    from studio.core.cards import ModelCard
    from studio.core.train_runs import model_dir, run_dir

    path = run_dir(recipe["id"]) / "recipe.json"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--recipe", str(path), "--no-resume", "--threads", str(threads)]) == 0
    card = ModelCard.read(model_dir(recipe["id"]))
    return recipe["train"]["steps"] / card.training["seconds"]


def run(smoke: bool = False) -> list[Report]:
    from studio.core.engine import default_thread_count

    threads = default_thread_count()
    steps, images = (12, 80) if smoke else (200, 1000)
    before = os.environ.get("LATENT_STUDIO_HOME")
    gui_rates: list[float] = []
    cli_rates: list[float] = []
    try:
        home = _home()
        import torch

        # window, CLI, CLI, window: the machine's speed drifts by a tenth over minutes
        # here, and in this order a steady drift weighs on both sides alike
        recipe, gui_rate, probe = _gui_run(home, steps, images)
        gui_rates.append(gui_rate)
        torch.set_num_threads(threads)
        for _ in range(1 if smoke else 2):
            cli_rates.append(_cli_run(recipe, threads))
        if not smoke:
            again, gui_rate, _probe = _gui_run(home, steps, images)
            assert again["id"] == recipe["id"]
            gui_rates.append(gui_rate)
    finally:
        if before is None:
            os.environ.pop("LATENT_STUDIO_HOME", None)
        else:
            os.environ["LATENT_STUDIO_HOME"] = before
    report = Report("train_throughput")
    report.add("recipe", f"{recipe['id']} (vae small, 32 px colour, batch {recipe['train']['batch_size']})")
    report.add("steps per run", steps)
    report.add("threads", threads)
    report.add("window steps/s (first, last run)", ", ".join(f"{r:.2f}" for r in gui_rates))
    report.add("cli steps/s (the runs between)", ", ".join(f"{r:.2f}" for r in cli_rates))
    gui_rate, cli_rate = sum(gui_rates) / len(gui_rates), sum(cli_rates) / len(cli_rates)
    report.add("window / cli (means)", gui_rate / cli_rate)
    report.add("max GUI stall meanwhile (first run)", probe.summary()["max_ms"], "ms")
    report.target("window ≥ 0.95 × CLI steps/s", gui_rate / cli_rate, RATIO, at_least=True)
    return [report]


def _measure_run(home: Path, families: list[str], images: int) -> tuple[object, int]:
    """The Train view measuring each size of each family in turn, as a user choosing the
    data and then changing the family sees it; returns (probe, sizes measured)."""
    from benchmarks.qt_harness import StallProbe, process_until
    from benchmarks.window import open_studio

    folder = make_shapes(home / "shapes", count=images, size=32)
    studio = open_studio()
    try:
        dialog = studio.window.show_train()
        probe = StallProbe()
        probe.start()
        dialog.set_folder(str(folder))
        for family in families:
            dialog.family_combo.setCurrentIndex(dialog.family_combo.findData(family))
            process_until(lambda: dialog.prepared is not None and dialog.estimator is None
                          and all(dialog.estimates.get(key) for _, key, _ in dialog._size_recipes()),
                          timeout=1200)
        probe.stop()
        measured = len(dialog.estimates)
        dialog.shutdown()
    finally:
        studio.close()
    return probe, measured


def stall_reports(smoke: bool = False) -> list[Report]:
    from studio.core.engine import default_thread_count

    before = os.environ.get("LATENT_STUDIO_HOME")
    try:
        _, rate, probe = _gui_run(_home(), 12 if smoke else 150, 80 if smoke else 400)
        families = ["vae"] if smoke else ["vae", "gan", "flow"]
        measure_probe, measured = _measure_run(_home(), families, 80 if smoke else 400)
    finally:
        if before is None:
            os.environ.pop("LATENT_STUDIO_HOME", None)
        else:
            os.environ["LATENT_STUDIO_HOME"] = before
    report = Report("gui_stall_train_view")
    summary = probe.summary()
    report.add("threads", default_thread_count())
    report.add("steps/s", rate)
    for key in ("ticks", "median_ms", "p99_ms", "max_ms"):
        report.add(key, summary[key])
    report.target("max GUI stall while training with live previews", summary["max_ms"],
                  MAX_STALL_MS, "ms")
    measuring = Report("gui_stall_train_measure")
    summary = measure_probe.summary()
    measuring.add("families", ", ".join(families))
    measuring.add("sizes measured", measured)
    for key in ("ticks", "median_ms", "p99_ms", "max_ms"):
        measuring.add(key, summary[key])
    measuring.target("max GUI stall while each size is measured", summary["max_ms"],
                     MAX_STALL_MS, "ms")
    return [report, measuring]
