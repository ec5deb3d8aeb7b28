"""Loading a built-in model for a benchmark, on the engine's kind of thread."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.common import on_worker_thread


def models_dir() -> Path:
    """The built-in models; BENCH_MODELS_DIR points elsewhere (a model being trained)."""
    from studio.core.paths import builtin_models_dir

    return Path(os.environ.get("BENCH_MODELS_DIR") or builtin_models_dir())


def load_builtin(model_id: str, threads: int) -> Any:
    """The loaded model (its family's `load`), made on a worker thread like the engine's."""
    from studio.core.cards import ModelCard
    from studio.core.registry import Registry
    from studio.families import register_all

    folder = models_dir() / model_id
    card = ModelCard.read(folder)
    impl = register_all(Registry()).get(card.family).implementation()
    return on_worker_thread(lambda: impl.load(folder, card, "cpu"), threads)
