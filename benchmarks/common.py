"""Shared benchmark plumbing: a report table, JSON with the git commit, target checks."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "build" / "bench"


@dataclass
class Target:
    name: str
    value: float
    limit: float
    unit: str = ""
    at_least: bool = False  # a floor (frames per second), not a ceiling

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit


@dataclass
class Report:
    name: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, label: str, value: Any, unit: str = "") -> None:
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        self.rows.append((label, f"{shown} {unit}".strip()))
        self.data[label] = value

    def target(self, name: str, value: float, limit: float, unit: str = "",
               at_least: bool = False) -> None:
        self.targets.append(Target(name, value, limit, unit, at_least))

    @property
    def passed(self) -> bool:
        return all(t.met for t in self.targets)

    def print(self) -> None:
        width = max([len(r[0]) for r in self.rows] + [len(t.name) for t in self.targets] + [10])
        print(f"\n== {self.name} ==")
        for label, value in self.rows:
            print(f"  {label:<{width}}  {value}")
        for t in self.targets:
            verdict = "ok" if t.met else "MISSED"
            sign = "≥" if t.at_least else "≤"
            print(f"  {'target: ' + t.name:<{width + 8}}  {t.value:.2f} {sign} {t.limit:.2f} {t.unit}  [{verdict}]")

    def write(self, smoke: bool) -> Path:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUT_DIR / f"{self.name}{'-smoke' if smoke else ''}.json"
        payload = {
            "benchmark": self.name, "commit": git_commit(), "smoke": smoke,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.platform(),
            "cpus": os.cpu_count(), "figures": self.data,
            "targets": [{"name": t.name, "value": t.value, "limit": t.limit, "unit": t.unit,
                         "met": t.met} for t in self.targets],
        }
        path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
        return path


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def on_worker_thread(fn: Callable[[], Any], threads: int) -> Any:
    """Run `fn` on a fresh thread with the same torch thread count and the same GIL
    switch interval as the engine's worker: the fair baseline for ratios (DESIGN.md).
    (The engine lowers the interval when it starts; without it, a thread that wants the
    GIL back between two torch ops waits up to 5 ms for another thread's Python, which
    measured something the app never runs, for the baseline and the measured alike.)"""
    import sys

    import torch

    from studio.core.engine import SWITCH_INTERVAL

    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
    box: dict[str, Any] = {}

    def target() -> None:
        torch.set_num_threads(threads)
        box["value"] = fn()

    thread = threading.Thread(target=target, name="bench-baseline")
    thread.start()
    thread.join()
    return box["value"]
