"""Model › Import Model File…: a model file from elsewhere (a StyleGAN network pickle,
read as data only) converted into a studio model folder on the engine's thread, with
progress in the status bar and Cancel (Esc); the new folder is then imported as any
model folder is. Which suffixes convert, and by what, the families say in the registry
(FamilyInfo.importers): no family is named here, and no torch is imported on the GUI
thread (the registry imports the converter inside the task, on the worker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.registry import Registry


def file_filter(registry: Registry) -> str:
    patterns = " ".join(f"*{suffix}" for suffix in registry.file_suffixes())
    return f"Model files ({patterns});;All files (*)"


def convertible(registry: Registry, path: str | Path) -> bool:
    return Path(path).suffix.lower() in registry.file_suffixes()


def conversion_task(registry: Registry, path: str | Path, models_dir: Path,
                    taken: set[str]) -> Callable[[Any, Any], str]:
    """The engine task `task(ctx, cache) -> folder`: converts `path` into a new folder in
    `models_dir` (an id not in `taken`), reporting progress; Esc stops it (nothing is
    written when it stops before the files)."""
    path = Path(path)

    def task(ctx: Any, _cache: Any) -> str:
        importer = registry.file_importer(path)
        if importer is None:
            raise ValueError(f"{path}: no converter for {path.suffix or 'files without a suffix'}")

        def cancelled() -> bool:
            ctx.check_cancelled()  # raises Cancelled: the job ends as cancelled
            return False

        folder = importer(path, models_dir, taken=lambda model_id: model_id in taken,
                          progress=lambda fraction, message: ctx.progress(fraction, 1.0, message),
                          cancelled=cancelled)
        return str(folder)

    return task
