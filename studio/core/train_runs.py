"""Training runs on the user's own images: the recipe they write, their id, and the
separate process they train in.

One recipe for the GUI and the command line: `make_recipe(RunSettings)` turns a folder,
a family and a size preset (resources/training/presets.json) into the same recipe JSON
that `studio train --recipe` reads. A run's id is the folder's name plus a short hash of
the settings that shape the model and its schedule; checkpoints and the recipe live in studio_home()/training/<id>/, the model
lands in studio_home()/models/<id>/.

`TrainProcess` runs a job in a *spawned* child process (never forked: the parent may be
the Qt window) with its own torch thread count. The child streams messages back through
a queue: ("log", step, logs), ("samples", step, images), ("checkpoint", step, path),
("estimate", figures), ("done", result), ("stopped", step), ("error", text). A crash in
the child costs the window nothing; at worst the steps since the last checkpoint.

No torch here (the window imports this): the child's work is named by a dotted path,
studio.train_worker, which is the wiring that meets the families.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import queue as queue_mod
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from studio.core import atomic
from studio.core.datasets import GLYPH_CLASSES
from studio.core.paths import confined, resources_dir, studio_home
from studio.core.run_log import read_run_log
from studio.core.train_data import BUILTIN_GLYPHS, GLYPHS_SPEC, FolderSettings, prepare_folder

SIZES = ("tiny", "small", "medium")
WORKER = "studio.train_worker"  # the child's entry points (run, estimate)
# what only changes how often the run reports: left out of the run's id. The step count
# stays in: the learning-rate schedule depends on it, so only the same run resumes bit for bit
_NOT_IN_ID = ("log_every", "sample_every", "sample_count", "checkpoint_every", "keep_checkpoints")


def presets() -> dict[str, Any]:
    path = resources_dir() / "training" / "presets.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def families() -> list[str]:
    return list(presets())


@dataclass
class RunSettings:
    """What the Train view and `studio train --data` ask for."""

    data: FolderSettings
    family: str = "vae"
    size: str = "small"
    steps: int = 2000
    batch_size: int | None = None  # None: the preset's
    lr: float | None = None
    seed: int = 0
    vae: str | None = None  # latent diffusion: the VAE model id it works in
    log_every: int | None = None  # None: every 10 steps, more often in short runs
    sample_every: int = 100
    sample_count: int = 16  # images in each sample grid
    checkpoint_every: int = 200
    name: str = ""
    extra_train: dict[str, Any] = field(default_factory=dict)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40] or "images"


def make_recipe(settings: RunSettings) -> dict[str, Any]:
    """The recipe of a run (see the module docstring). Prepares the folder (cached) when
    the class count is needed."""
    table = presets()
    if settings.family not in table:
        raise ValueError(f"unknown family {settings.family!r} (known: {', '.join(table)})")
    preset = table[settings.family]
    if settings.size not in preset["sizes"]:
        raise ValueError(f"unknown size {settings.size!r} (known: {', '.join(preset['sizes'])})")
    data = settings.data
    if data.size not in preset["resolutions"]:
        raise ValueError(f"{preset['name']} trains at {', '.join(map(str, preset['resolutions']))} px, "
                         f"not {data.size}")
    if data.channels not in preset.get("channels", [1, 3]):
        raise ValueError(f"{preset['name']} trains on {'grey' if data.channels == 3 else 'colour'} "
                         "images only")
    if preset.get("needs_vae") and not settings.vae:
        raise ValueError(f"{preset['name']} needs a VAE (its model id) with the data's "
                         "resolution and channels")
    config: dict[str, Any] = {**preset["sizes"][settings.size], "resolution": data.size,
                              "channels": data.channels}
    for key, end in preset.get("per_doubling", {}).items():  # one layer per doubling above 32 px
        widths = list(config[key])
        for _ in range(max(0, (data.size // 32).bit_length() - 1)):
            edge = widths[-1] if end == "end" else widths[0]
            widths = widths + [max(8, edge // 2)] if end == "end" else [max(8, edge // 2)] + widths
        config[key] = widths
    spec = data.to_spec()
    builtin = data.path == BUILTIN_GLYPHS
    if builtin:  # the evaluator's figures apply; the digits are always its classes
        if data.size != 32 or data.channels != 1:
            raise ValueError("the built-in glyphs are 32 px grey")
        spec = dict(GLYPHS_SPEC)
        data = replace(data, classes=True)
    class_names: list[str] = []  # the subfolders' names, for the card's class list
    class_key = preset.get("class_key")
    if class_key:
        if builtin:
            config[class_key] = len(GLYPH_CLASSES)
        elif data.classes:
            class_names = prepare_folder(data).class_names
            config[class_key] = len(class_names)
        elif preset.get("needs_labels"):  # class-conditional only: all images are one class
            spec["single_label"] = True
            config[class_key] = 1
        else:
            config[class_key] = 0
    if settings.vae:
        config["vae"] = settings.vae
    train = {**preset["train"], **settings.extra_train, "steps": int(settings.steps),
             "log_every": settings.log_every or max(1, min(10, settings.steps // 50)),
             "sample_every": settings.sample_every, "sample_count": settings.sample_count,
             "checkpoint_every": settings.checkpoint_every}
    if settings.batch_size:
        train["batch_size"] = int(settings.batch_size)
    if settings.lr:
        train["lr"] = float(settings.lr)
    shaping = {"family": settings.family, "size": settings.size, "seed": settings.seed,
               "dataset": spec if builtin else {**spec, "path": str(Path(data.path).expanduser().resolve())},
               "config": config, "train": {k: v for k, v in train.items() if k not in _NOT_IN_ID}}
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:8]
    folder_name = "glyphs" if builtin else Path(data.path).expanduser().resolve().name
    run_id = f"{_slug(folder_name)}-{digest}"
    return {
        "id": run_id,
        "name": settings.name or f"{folder_name} {preset['name']} ({settings.size})",
        "family": settings.family,
        "description": f"A {settings.size} {preset['name']} trained in the studio on "
                       + ("the built-in glyph digits" if builtin else f"the images in {folder_name}/")
                       + f" at {data.size} px.",
        "seed": int(settings.seed),
        "dataset": shaping["dataset"],
        "config": config,
        "train": train,
        "evaluate": {"samples": 64},
        **({"class_names": class_names} if class_names else {}),
        "studio_train": {"size": settings.size, "settings": {**asdict(settings), "data": None}},
    }


def run_dir(run_id: str) -> Path:
    """The run's checkpoints and recipe (the driver's default checkpoint folder)."""
    return confined(studio_home() / "training", run_id, "id", single=True)


def model_dir(run_id: str) -> Path:
    return confined(studio_home() / "models", run_id, "id", single=True)


def write_recipe(recipe: Mapping[str, Any]) -> Path:
    path = run_dir(recipe["id"]) / "recipe.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(recipe, indent=2))
    return path


def estimate_key(recipe: Mapping[str, Any], threads: int) -> str:
    """What a step's time depends on: the family, the model, the batch and the threads
    (not the run's length or the learning rate), so a measurement is reused for those."""
    shaping = {"family": recipe["family"], "config": recipe["config"],
               "batch_size": recipe["train"].get("batch_size"), "threads": int(threads),
               "size": recipe["studio_train"]["size"]}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]


def read_log(run_id: str) -> list[dict[str, Any]]:
    """The run's log (studio.core.run_log): one record per logged step, with the held-out
    figures, oldest first."""
    return read_run_log(run_dir(run_id))


def has_checkpoint(run_id: str) -> int:
    """The step of the run's newest checkpoint, 0 when none (what "resume" would continue)."""
    steps = [int(m.group(1)) for p in run_dir(run_id).glob("step-*.pt")
             if (m := re.match(r"^step-(\d+)\.pt$", p.name))]
    return max(steps, default=0)


def unfinished_runs() -> list[tuple[str, int, int, Path]]:
    """(run id, checkpoint step, total steps, recipe path) of every run that stopped before
    its end (paused, cancelled, quit or killed), newest first: what a next start offers."""
    found = []
    root = studio_home() / "training"
    for recipe_path in root.glob("*/recipe.json") if root.is_dir() else []:
        try:
            recipe = json.loads(recipe_path.read_text(encoding="utf-8"))
            run_id, total = str(recipe["id"]), int(recipe["train"]["steps"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a run of ours: never offered
        if run_id != recipe_path.parent.name:
            continue
        step = has_checkpoint(run_id)
        if 0 < step < total:
            found.append((recipe_path.stat().st_mtime, run_id, step, total, recipe_path))
    return [(run_id, step, total, path) for _, run_id, step, total, path in sorted(found, reverse=True)]


# -----------------------------------------------------------------------------
# the spawned process

def _child(target: str, kwargs: dict[str, Any], out: Any, stop: Any) -> None:
    import importlib

    module = importlib.import_module(WORKER)

    def emit(*message: Any) -> None:
        out.put(message)

    try:
        getattr(module, target)(emit=emit, stop=stop, **kwargs)
    except BaseException as exc:  # reported, never raised into a parent that cannot see it
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        emit("error", f"{type(exc).__name__}: {first}")


class TrainProcess:
    """One job in a spawned child: `target` is a function of studio.train_worker."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        context = mp.get_context("spawn")
        self._queue = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(target=_child, args=(target, kwargs, self._queue, self._stop),
                                        daemon=True, name=f"studio-{target}")
        self.finished = False  # a final message (done, stopped, error) arrived

    def start(self) -> None:
        self._process.start()

    def stop(self) -> None:
        """Ask the child to checkpoint and end (pause and cancel both do this)."""
        self._stop.set()

    def poll(self) -> list[tuple[Any, ...]]:
        """Every message that arrived since the last poll; ("error", ...) if the child died
        without a final message (kill -9, out of memory)."""
        messages: list[tuple[Any, ...]] = []
        while True:
            try:
                messages.append(self._queue.get_nowait())
            except queue_mod.Empty:
                break
            except (EOFError, OSError):
                break
        if any(m[0] in ("done", "stopped", "error") for m in messages):
            self.finished = True
        elif not self.finished and not self._process.is_alive() and self._process.exitcode is not None:
            try:  # the last messages may still be in the pipe
                messages.append(self._queue.get(timeout=0.5))
                self.finished = messages[-1][0] in ("done", "stopped", "error")
            except queue_mod.Empty:
                pass
            if not self.finished:
                messages.append(("error", f"the training process ended (exit code "
                                          f"{self._process.exitcode}); the last checkpoint is kept"))
                self.finished = True
        return messages

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._process.join(timeout)

    def kill(self, wait: bool = True) -> None:
        """SIGKILL the child (it writes nothing more); `wait=False` leaves the join to a
        later `join` or `alive` check, for a caller that must not block."""
        if self._process.is_alive():
            self._process.kill()
            if wait:
                self._process.join(5)
