"""A training run's log: studio_home()/training/<run id>/log.jsonl, beside its checkpoints.

One JSON object per logged step ({"step": N, "loss": ..., "held_out_bpd": ..., ...}), the
same records the Train view plots live, so a resumed run's curves can be drawn again and
a command-line run leaves the same record. Appended as the run goes; a resumed run first
drops the records after its checkpoint (it logs those steps again), a fresh run starts
an empty log. No torch here: the window reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from studio.core import atomic

RUN_LOG = "log.jsonl"


def read_run_log(folder: Path) -> list[dict[str, Any]]:
    """The records of the run whose checkpoints are in `folder`, oldest first."""
    try:
        lines = (Path(folder) / RUN_LOG).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def start_run_log(folder: Path, start: int) -> None:
    """Keep the records of the steps up to `start` only (0: an empty log)."""
    kept = [r for r in read_run_log(folder) if r["step"] <= start] if start else []
    Path(folder).mkdir(parents=True, exist_ok=True)
    atomic.write_text(Path(folder) / RUN_LOG, "".join(json.dumps(r) + "\n" for r in kept))


def append_run_log(folder: Path, step: int, logs: Mapping[str, float]) -> None:
    with open(Path(folder) / RUN_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, **logs}) + "\n")
