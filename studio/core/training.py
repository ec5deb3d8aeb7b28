"""The training driver: one loop for every family's built-in model.

A family supplies a `Trainable` (its network, optimiser and EMA behind `step`); the
driver owns the data order, seeding, progress, sample previews, checkpoints, resume and
cancel. `train_from_recipe` goes from a recipe JSON (resources/recipes/<id>.json) to a
model folder (weights + card) with the evaluator's figures recorded in the card.

Recipe format:
    {
      "id": "vae-glyphs", "name": "Glyph VAE", "family": "vae",
      "description": "...", "apt": ["fonts-dejavu-core"],
      "seed": 0,
      "dataset": {"name": "glyphs", "train_per_class": 2000, "held_out_per_class": 100},
      "config": {...},                  # the family's model config (saved in the card)
      "train": {"steps": 6000, "batch_size": 64, "lr": 0.001, ...,
                "log_every": 50, "sample_every": 500, "sample_count": 16,
                "checkpoint_every": 500},
      "evaluate": {"samples": 256},
      "class_names": ["cats", "dogs"]     # optional: the card's class names (a folder's subfolders)
    }

DataLoader-free on purpose: batches are slices of in-memory uint8 arrays (no workers,
so nothing forks inside the Qt process), and the order is a function of (seed, epoch),
so a resumed run sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from studio.core import atomic
from studio.core.cards import ModelCard
from studio.core.datasets import Split, build_dataset
from studio.core.family import Cancelled, JobContext
from studio.core.paths import confined, studio_home
from studio.core.run_log import append_run_log, start_run_log


class Trainable(Protocol):
    """What a family hands the driver. `step` takes a batch {"images": float (B, C, H, W)
    in [0, 1], "labels": int64 (B,) when the data has labels} and returns scalar logs."""

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...  # model, optimiser, EMA, step counters

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...

    def sample_images(self, n: int) -> np.ndarray: ...  # (n, H, W, C) uint8

    def export(self, folder: Path, metrics: Mapping[str, float]) -> ModelCard: ...

    # optional: def extra_metrics(self, evaluator) -> dict[str, float], recorded in the card
    # optional: def held_out_logs(self) -> dict[str, float]: figures on (part of) the
    #   held-out split, e.g. "held_out_bpd", added to the logs at every log interval. The
    #   driver runs it under a forked random state, so it never changes what is trained.


class EMATrainable:
    """What the single-network trainables share: `model` trained by `opt` under `sched`,
    an `ema` copy that warms up with the step count, and their checkpoint state."""

    model: torch.nn.Module
    ema: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    ema_decay: float
    steps_done: int

    def update_ema(self) -> None:
        # EMA warms up too: early on it follows the raw weights closely
        decay = min(self.ema_decay, (1 + self.steps_done) / (10 + self.steps_done))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.model.parameters()):
                e.lerp_(p, 1.0 - decay)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                "opt": self.opt.state_dict(), "sched": self.sched.state_dict(),
                "steps_done": self.steps_done}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.steps_done = int(state["steps_done"])


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 64
    seed: int = 0
    log_every: int = 50
    sample_every: int = 0  # 0: never
    sample_count: int = 16  # images in each sample grid (from fixed seeds 0..n-1)
    checkpoint_every: int = 500  # 0: only at the end and on cancel
    keep_checkpoints: int = 2

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any]) -> TrainConfig:
        train = recipe.get("train", {})
        known = {k: train[k] for k in cls.__dataclass_fields__ if k in train}
        return cls(**{**known, "seed": int(recipe.get("seed", 0))})


LogFn = Callable[[int, Mapping[str, float]], None]


def held_out_logs(trainable: Trainable) -> dict[str, float]:
    """The trainable's held-out figures (empty when it has none). Its random draws come
    from a forked torch state: the training's own stream stays as it was, so a run with
    these figures trains the same weights as one without."""
    figures = getattr(trainable, "held_out_logs", None)
    if figures is None:
        return {}
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        return {k: float(v) for k, v in figures().items()}


# -----------------------------------------------------------------------------
# checkpoints

_CKPT = re.compile(r"^step-(\d+)\.pt$")


def checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint in `folder`, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT.match(p.name))]
    return sorted(found)


def save_checkpoint(folder: Path, step: int, trainable: Trainable, keep: int = 2,
                    seconds: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    state = {"step": step, "trainable": trainable.state_dict(), "torch_rng": torch.get_rng_state(),
             "seconds": float(seconds)}
    path = folder / f"step-{step:08d}.pt"
    with atomic.atomic_path(path) as tmp:  # a crash mid-save leaves the previous checkpoint
        torch.save(state, tmp)
    for _, old in checkpoints(folder)[:-max(1, keep)]:
        old.unlink(missing_ok=True)
    return path


class CheckpointError(ValueError):
    """A checkpoint cannot be resumed (damaged, foreign, or a pickle carrying code)."""


def load_latest_checkpoint(folder: Path, trainable: Trainable,
                           stats: dict[str, float] | None = None) -> int:
    """Restore the newest checkpoint into `trainable`; return its step (0 when none).
    `stats["seconds"]` gets the training time spent before it."""
    found = checkpoints(folder)
    if not found:
        return 0
    step, path = found[-1]
    # weights_only: a checkpoint is data, never code; one that is not is refused in a line
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles; we refuse them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or int(state["step"]) != step:
            raise ValueError("not a training checkpoint of this step")
        trainable.load_state_dict(state["trainable"])
        torch.set_rng_state(state["torch_rng"])
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, TypeError, KeyError,
            AttributeError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path}: refused, not a checkpoint the studio can resume "
                              f"({first}); delete it or train with --no-resume") from None
    if stats is not None:
        stats["seconds"] = float(state.get("seconds", 0.0))
    return step


# -----------------------------------------------------------------------------
# the loop

def batch_indices(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of the batch at `step`: epochs are seeded permutations, so the order is a
    pure function of (seed, step) and resume needs no saved sampler state."""
    per_epoch = max(1, n // batch_size)  # drop the ragged tail: fixed batch shapes
    epoch, pos = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    if n < batch_size:  # tiny data (tests): sample with replacement instead
        return np.random.default_rng([seed, step]).integers(0, n, size=batch_size)
    return order[pos * batch_size:(pos + 1) * batch_size]


def to_batch(split: Split, index: np.ndarray) -> dict[str, torch.Tensor]:
    images = torch.from_numpy(split.images[index]).permute(0, 3, 1, 2)  # (B, C, H, W) uint8
    batch = {"images": images.float().div_(255.0)}
    if split.labels is not None:
        batch["labels"] = torch.from_numpy(split.labels[index]).long()
    return batch


def train_loop(trainable: Trainable, data: Split, config: TrainConfig,
               ctx: JobContext | None = None, checkpoint_dir: Path | None = None,
               resume: bool = True, on_log: LogFn | None = None,
               on_samples: Callable[[int, np.ndarray], None] | None = None,
               on_checkpoint: Callable[[int, Path], None] | None = None,
               stats: dict[str, float] | None = None) -> int:
    """Train to `config.steps`; return the step reached.

    Cancel (ctx's event, checked every step) saves a checkpoint, then raises Cancelled.
    Progress goes to ctx.progress(step, steps); sample grids to ctx.preview and on_samples.
    Every `log_every` steps the logs, with the held-out figures, go to on_log and to the
    run's log (checkpoint_dir/log.jsonl).
    `stats` (if given) gets "seconds": training time over all runs, and "resumed_from".
    """
    ctx = ctx or JobContext()
    torch.manual_seed(config.seed)
    start = 0
    stats = {} if stats is None else stats
    stats["seconds"] = 0.0
    if checkpoint_dir is not None:
        if resume:
            start = load_latest_checkpoint(checkpoint_dir, trainable, stats)
        else:  # a fresh run: old checkpoints would be resumed by mistake later
            for _, old in checkpoints(checkpoint_dir):
                old.unlink()
    if checkpoint_dir is not None:
        start_run_log(checkpoint_dir, start)
    step = start
    last_saved = start
    stats["resumed_from"] = start
    held: dict[str, float] = {}  # the latest held-out figures, shown with the progress
    before = stats["seconds"]

    def checkpoint() -> None:
        nonlocal last_saved
        if checkpoint_dir is not None and step != last_saved:
            path = save_checkpoint(checkpoint_dir, step, trainable, config.keep_checkpoints,
                                   stats["seconds"])
            last_saved = step
            if on_checkpoint:
                on_checkpoint(step, path)

    started = time.monotonic()
    while step < config.steps:
        try:
            ctx.check_cancelled()
        except Cancelled:
            checkpoint()
            raise
        index = batch_indices(len(data), config.batch_size, config.seed, step)
        logs = trainable.step(to_batch(data, index))
        step += 1
        stats["seconds"] = before + time.monotonic() - started
        assert all(math.isfinite(v) for v in logs.values()), f"step {step}: {logs}"
        reporting = on_log is not None or checkpoint_dir is not None
        if reporting and (step % max(1, config.log_every) == 0 or step == config.steps):
            held = held_out_logs(trainable)
            rate = (step - start) / max(1e-9, time.monotonic() - started)
            record = {**logs, **held, "steps_per_s": rate}
            if checkpoint_dir is not None:
                append_run_log(checkpoint_dir, step, record)
            if on_log:
                on_log(step, record)
        ctx.progress(step, config.steps, " ".join(f"{k}={v:.4g}" for k, v in {**logs, **held}.items()))
        if config.sample_every and step % config.sample_every == 0 and (on_samples or ctx.wants_preview()):
            images = trainable.sample_images(config.sample_count)
            ctx.preview(images, force=True)
            if on_samples:
                on_samples(step, images)
        if config.checkpoint_every and step % config.checkpoint_every == 0:
            checkpoint()
    checkpoint()
    return step


# -----------------------------------------------------------------------------
# recipes

def read_recipe(path: Path) -> dict[str, Any]:
    try:
        recipe = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable recipe ({exc})") from None
    if not isinstance(recipe, dict):
        raise ValueError(f"{path}: a recipe must be a JSON object")
    missing = [k for k in ("id", "dataset") if k not in recipe]
    if missing:
        raise ValueError(f"{path}: recipe lacks {', '.join(missing)}")
    # the id names the model's folder and its checkpoints' folder: one plain name
    confined(studio_home(), recipe["id"], "id", path, single=True)
    return recipe


def default_checkpoint_dir(model_id: str) -> Path:
    return confined(studio_home() / "training", model_id, "id", single=True)


def quality_thresholds(metrics: Mapping[str, float], floor: float = 0.7) -> dict[str, float]:
    """Thresholds for the quality test: a margin inside the measured figures, and never
    below the issue's recognisability bar."""
    out: dict[str, float] = {}
    if "recognisability" in metrics:
        out["min_recognisability"] = round(max(floor, metrics["recognisability"] - 0.05), 3)
    if "class_accuracy" in metrics:
        out["min_class_accuracy"] = round(max(0.0, metrics["class_accuracy"] - 0.1), 3)
    if "reconstruction_mse" in metrics:
        out["max_reconstruction_mse"] = round(metrics["reconstruction_mse"] * 1.25 + 1e-4, 5)
    if "nn_distance_samples" in metrics:
        # a model that copies its training images would sit near 0
        out["min_nn_distance_samples"] = round(metrics["nn_distance_samples"] * 0.5, 4)
    if "bits_per_dim" in metrics:
        out["max_bits_per_dim"] = round(metrics["bits_per_dim"] * 1.05, 4)
    return out


def train_from_recipe(recipe_path: str | Path, registry: Any, out_dir: str | Path,
                      ctx: JobContext | None = None, resume: bool = True,
                      max_steps: int | None = None, checkpoint_dir: str | Path | None = None,
                      on_log: LogFn | None = None, evaluate: bool = True,
                      device: str = "cpu",
                      on_samples: Callable[[int, np.ndarray], None] | None = None,
                      on_checkpoint: Callable[[int, Path], None] | None = None) -> Path:
    """Train the model a recipe describes, export weights + card to `out_dir`, run the
    evaluator and record its figures and thresholds in the card. Returns `out_dir`.

    `max_steps` caps the steps (quick runs); `registry` is a studio.core.registry.Registry.
    """
    recipe_path = Path(recipe_path)
    recipe = read_recipe(recipe_path)
    out_dir = Path(out_dir)
    if "family" not in recipe:
        raise ValueError(f"{recipe_path}: recipe lacks family")
    info = registry.get(recipe["family"])
    impl = info.implementation()
    config = TrainConfig.from_recipe(recipe)
    if max_steps is not None:
        config.steps = min(config.steps, int(max_steps))
    ckpt = Path(checkpoint_dir) if checkpoint_dir else default_checkpoint_dir(recipe["id"])

    torch.manual_seed(config.seed)  # the same seed builds the same initial weights
    np.random.seed(config.seed)
    data = build_dataset(recipe["dataset"])
    trainable = impl.make_trainable(recipe, data)
    stats: dict[str, float] = {}
    steps = train_loop(trainable, data["train"], config, ctx, ckpt, resume, on_log,
                       on_samples=on_samples, on_checkpoint=on_checkpoint, stats=stats)

    out_dir.mkdir(parents=True, exist_ok=True)
    card = trainable.export(out_dir, {})
    card.recipe = recipe_path.name
    if recipe.get("class_names") and not card.classes:  # a folder's subfolders name its classes
        card.classes = [str(name) for name in recipe["class_names"]]
    card.training = {**card.training, "steps": steps, "seconds": round(stats["seconds"], 1),
                     "threads": torch.get_num_threads(),
                     "seed": config.seed, "batch_size": config.batch_size,
                     "torch": torch.__version__, "apt": list(recipe.get("apt", []))}
    # the glyph classifier's figures only mean something on the built-in glyphs
    glyphs = recipe["dataset"].get("name", "glyphs") == "glyphs"
    if evaluate:
        from studio.core.evaluator import Evaluator, dataset_ceiling, evaluate_model

        evaluator = Evaluator.load() if glyphs else None
        model = impl.load(out_dir, card, device)
        samples = int(recipe.get("evaluate", {}).get("samples", 256))
        metrics = evaluate_model(model, info, samples=samples, seed=0, data=data,
                                 evaluator=evaluator, glyphs=glyphs)
        if glyphs:
            metrics["dataset_ceiling"] = round(dataset_ceiling(data["train"], evaluator, samples), 5)
        card.thresholds = quality_thresholds(metrics)
        extra = getattr(trainable, "extra_metrics", None)  # optional: family-specific figures
        if extra is not None and glyphs:
            metrics.update(extra(evaluator))
        card.metrics = {**card.metrics, **metrics}
    write_card(card, out_dir)
    return out_dir


def write_card(card: ModelCard, folder: Path) -> Path:
    return card.write(folder)
