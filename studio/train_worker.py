"""Training on the user's own images: where the run meets the families.

Wiring, like cli.py: it builds the family registry, so core stays free of families and
the window free of torch. `train_and_land` is what `studio train` runs in-process;
`run` and `estimate` are what studio.core.train_runs.TrainProcess runs in its spawned
child, streaming messages through `emit`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Emit = Callable[..., None]


def _threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(int(threads))


def train_and_land(recipe_path: str | Path, resume: bool = True, ctx: Any = None,
                   out: Path | None = None, **callbacks: Any) -> tuple[str, Path, dict[str, float]]:
    """Train the recipe (resuming from its checkpoints unless told not to), evaluate it,
    and add the model to the library. Returns (model id, folder, metrics)."""
    from studio.core.cards import ModelCard
    from studio.core.library import Library
    from studio.core.train_runs import model_dir
    from studio.core.training import read_recipe, train_from_recipe
    from studio.wiring import family_registry

    recipe = read_recipe(Path(recipe_path))
    folder = Path(out) if out is not None else model_dir(recipe["id"])
    train_from_recipe(recipe_path, family_registry(), folder, ctx=ctx, resume=resume, **callbacks)
    card = ModelCard.read(folder)
    if out is None:
        Library().import_folder(folder)
    return card.id, folder, dict(card.metrics)


def run(emit: Emit, stop: Any, recipe_path: str, resume: bool = True,
        threads: int | None = None, max_steps: int | None = None) -> None:
    """The child's training job: messages as studio.core.train_runs describes.
    `max_steps` stops early: with resume and the checkpoint's step, it saves the model
    as it is at that checkpoint ("Save as model"), training nothing more."""
    _threads(threads)
    from studio.core.family import Cancelled, JobContext
    from studio.core.train_runs import has_checkpoint
    from studio.core.training import read_recipe

    run_id = read_recipe(Path(recipe_path))["id"]
    ctx = JobContext(cancel_event=stop)
    try:
        model_id, folder, metrics = train_and_land(
            recipe_path, resume, ctx, max_steps=max_steps,
            on_log=lambda step, logs: emit("log", step, dict(logs)),
            on_samples=lambda step, images: emit("samples", step, images),
            on_checkpoint=lambda step, path: emit("checkpoint", step, str(path)))
    except Cancelled:
        emit("stopped", has_checkpoint(run_id))
        return
    emit("done", {"model_id": model_id, "folder": str(folder), "metrics": metrics})


def count_parameters(trainable: Any) -> int:
    """Trained parameters of a trainable: its modules, less the EMA copies."""
    import torch

    seen: set[int] = set()
    total = 0
    for name, value in vars(trainable).items():
        if isinstance(value, torch.nn.Module) and not name.startswith("ema"):
            for p in value.parameters():
                if id(p) not in seen and p.requires_grad:
                    seen.add(id(p))
                    total += p.numel()
    return total


def measure(recipe: Mapping[str, Any], steps: int = 3) -> dict[str, float]:
    """Parameters and seconds per step of a recipe's model on this machine: one warm-up
    step (first-call costs), then `steps` timed ones. Nothing is saved."""
    import numpy as np
    import torch

    from studio.core.datasets import build_dataset
    from studio.core.training import TrainConfig, batch_indices, to_batch
    from studio.wiring import family_registry

    impl = family_registry().get(recipe["family"]).implementation()
    config = TrainConfig.from_recipe(recipe)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    data = build_dataset(recipe["dataset"])
    trainable = impl.make_trainable(recipe, data)
    train = data["train"]

    def one(step: int) -> None:
        trainable.step(to_batch(train, batch_indices(len(train), config.batch_size, config.seed, step)))

    one(0)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        one(step)
    per_step = (time.perf_counter() - started) / steps
    return {"parameters": float(count_parameters(trainable)), "seconds_per_step": per_step,
            "estimate_seconds": per_step * int(recipe["train"]["steps"]),
            "threads": float(torch.get_num_threads())}


def estimate(emit: Emit, stop: Any, recipe: Mapping[str, Any] | None = None, steps: int = 3,
             threads: int | None = None, recipes: list[tuple[str, Mapping[str, Any]]] = ()) -> None:
    """("estimate", figures, tag) for `recipe` (tag "") and then each (tag, recipe) of
    `recipes`, one after the other in this one process (torch is imported once); `stop`
    ends it between two. A final ("done", {}) or ("stopped", 0) tells the parent it ended."""
    _threads(threads)
    queue = ([("", recipe)] if recipe is not None else []) + list(recipes)
    for tag, each in queue:
        if stop.is_set():
            emit("stopped", 0)
            return
        emit("estimate", measure(each, steps), tag)
    emit("done", {})
