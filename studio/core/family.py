"""What the engine asks of a family, and what it hands it. No torch, no Qt.

A family implementation (in studio/families/<name>.py) is a class with

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedModel

and the loaded model has `card`, `device`, `memory_bytes()` and
`run(op, params, inputs, ctx) -> Output`. Ops check `ctx.check_cancelled()` between
steps and report through `ctx.progress()` and `ctx.preview()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from studio.core.cards import ModelCard


class Cancelled(Exception):
    """Raised inside a job when the user cancelled it; the job ends as cancelled."""


class ModelLoadError(RuntimeError):
    """A model folder could not be loaded; the message names the file and the problem."""


@dataclass
class Output:
    images: np.ndarray  # (N, H, W, C) uint8
    latents: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    columns: int = 0
    extras: Mapping[str, Any] = field(default_factory=dict)


class LoadedModel(Protocol):
    card: ModelCard
    device: str

    def run(self, op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
            ctx: JobContext) -> Output: ...

    def memory_bytes(self) -> int: ...


class FamilyImplementation(Protocol):
    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedModel: ...


class JobContext:
    """Cancellation, progress and previews for one running job.

    Progress and previews are rate-limited here so that a tight loop in a family can
    report every step without flooding the GUI thread.
    """

    def __init__(
        self,
        cancel_event: threading.Event | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_preview: Callable[[np.ndarray], None] | None = None,
        min_interval: float = 0.05,
    ) -> None:
        self.cancel_event = cancel_event or threading.Event()
        self._on_progress = on_progress
        self._on_preview = on_preview
        self._min_interval = min_interval
        self._last_progress = 0.0
        self._last_preview = 0.0

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()

    def progress(self, done: float, total: float, message: str = "") -> None:
        if self._on_progress is None:
            return
        now = time.monotonic()
        final = done >= total
        if final or now - self._last_progress >= self._min_interval:
            self._last_progress = now
            self._on_progress(min(1.0, done / total) if total else 1.0, message)

    def wants_preview(self) -> bool:
        """True when a preview sent now would not be dropped by the rate limit."""
        return self._on_preview is not None and (
            time.monotonic() - self._last_preview >= self._min_interval)

    def preview(self, images: np.ndarray, force: bool = False) -> None:
        if self._on_preview is None:
            return
        now = time.monotonic()
        if force or now - self._last_preview >= self._min_interval:
            self._last_preview = now
            self._on_preview(images)


def run_in_chunks(render: Callable[[Any], np.ndarray], items: Any, ctx: JobContext,
                  chunk: int = 64) -> np.ndarray:
    """`render(items[i:i + chunk])` for each chunk, checking for cancel before each and
    reporting progress after: how families turn a batch of latents into images."""
    out = []
    for i in range(0, len(items), chunk):
        ctx.check_cancelled()
        out.append(render(items[i:i + chunk]))
        ctx.progress(min(len(items), i + chunk), len(items))
    return np.concatenate(out)
