"""The README's "Train your own" demonstration, made from the GUI: a small colour VAE at
32 px trained from the window's Train view on 1,000 script-made shapes
(benchmarks.shapes), offscreen. Writes the loss curves and the sample grids at three
points of the run to docs/, and 16 samples of the finished model (`studio generate`).

    python -m benchmarks.train_demo [--steps 1200] [--out docs]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_demo")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="studio-train-demo-"))
    os.environ["LATENT_STUDIO_HOME"] = str(home)  # the run and its model stay out of yours

    from benchmarks.qt_harness import process_until
    from benchmarks.shapes import make_shapes
    from benchmarks.window import open_studio
    from studio.core.engine import default_thread_count

    folder = make_shapes(home / "shapes", count=1000, size=64)
    points = {args.steps // 12, args.steps // 3, args.steps}  # three points of the run
    studio = open_studio()
    saved: list[str] = []
    try:
        dialog = studio.window.show_train()
        dialog.resize(1100, 760)
        dialog.family_combo.setCurrentIndex(dialog.family_combo.findData("vae"))
        dialog.size_combo.setCurrentText("small")
        dialog.steps_spin.setValue(args.steps)
        dialog.sample_spin.setValue(args.steps // 12)
        dialog.checkpoint_spin.setValue(args.steps // 6)
        dialog.threads_spin.setValue(default_thread_count())
        dialog.set_folder(str(folder))
        process_until(lambda: dialog.prepared is not None, timeout=600)
        # as a user would: the sizes measured (the estimate shows in the view) before the run
        process_until(lambda: dialog.estimator is None and dialog.measured() is not None, timeout=600)
        print(dialog.estimate_label.text().replace("<br>", "\n").replace("<b>", "").replace("</b>", ""))

        def on_samples(step: int) -> None:
            if step in points:
                path = args.out / f"train-demo-samples-{step}.png"
                dialog.samples_label.pixmap().save(str(path))
                saved.append(str(path))

        dialog.samples_shown.connect(on_samples)
        started = time.perf_counter()
        dialog.start()
        process_until(lambda: dialog.state in ("done", "failed"), timeout=7200)
        print(dialog.status_label.text())
        print(dialog.metrics_label.text())
        print(f"{args.steps} steps in {time.perf_counter() - started:.0f} s (wall, with evaluation)")
        dialog.plot.grab().save(str(args.out / "train-demo-losses.png"))
        dialog.grab().save(str(args.out / "train-demo-view.png"))
        saved += [str(args.out / "train-demo-losses.png"), str(args.out / "train-demo-view.png")]
        model_id = dialog.recipe["id"]
        dialog.shutdown()
        # the finished model samples its fitted prior (the live grid, the training prior N(0, I))
        from studio.cli import main as cli

        final = args.out / "train-demo-final.png"
        cli(["generate", "--model", model_id, "--count", "16", "--seed", "0", "--scale", "4",
             "-o", str(final)])
        saved.append(str(final))
    finally:
        studio.close()
    print("\n".join(saved))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
