"""Run every benchmark: `python -m benchmarks [--smoke] [names...]`.

`--smoke` runs one iteration of each (part of `make test`: it proves the benchmark code
works, and enforces no target). Without it, a missed target exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

BENCHMARKS = ["gui_stall", "scrub_latency", "gan_scrub", "diffusion_overhead",
              "pixelcnn_sampling", "flow_sampling", "reproducibility", "soak", "stylegan_drag",
              "model_switch", "vae_scrub", "animation", "train_studio", "server", "batch"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--smoke", action="store_true", help="one iteration each; no targets")
    parser.add_argument("names", nargs="*", help=f"which to run (default: all of {BENCHMARKS})")
    args = parser.parse_args()
    names = args.names or BENCHMARKS
    missed = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        for report in module.run(smoke=args.smoke):
            report.print()
            path = report.write(args.smoke)
            print(f"  → {path}")
            if not args.smoke and not report.passed:
                missed += [f"{report.name}: {t.name}" for t in report.targets if not t.met]
    if missed:
        print("\nMISSED TARGETS:\n  " + "\n  ".join(missed), file=sys.stderr)
        return 1
    print("\nall targets met" if not args.smoke else "\nsmoke run done (targets not enforced)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
