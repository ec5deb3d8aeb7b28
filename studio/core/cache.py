"""The model cache: which device, which dtype, and which models stay loaded.

It lives on the engine's worker thread (only the engine calls `get`). torch is
imported lazily so that the GUI can import the engine before torch has loaded.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import OrderedDict
from typing import Any

from studio.core.family import ModelLoadError

log = logging.getLogger(__name__)
DEFAULT_BUDGET = 2 * 1024**3  # bytes of loaded weights before the least recent is unloaded


def pick_device(preference: str | None = None) -> str:
    """cuda → mps → cpu, unless `preference` (or LATENT_STUDIO_DEVICE) names one."""
    import importlib

    # by name: the runtime imports torch, which the GUI's import graph must not see
    return importlib.import_module("studio.core.runtime").pick_device(preference)


class ModelCache:
    def __init__(self, library: Any, registry: Any, *, device: str | None = None,
                 dtype: str = "float32", budget_bytes: int = DEFAULT_BUDGET) -> None:
        self.library = library
        self.registry = registry
        self._preference = device
        self._device: str | None = None
        self.dtype = dtype
        self.budget_bytes = budget_bytes
        self._models: OrderedDict[str, Any] = OrderedDict()  # least recent first
        self._lock = threading.Lock()

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = pick_device(self._preference)
        return self._device

    def set_device(self, device: str | None) -> None:
        """Change device; loaded models are unloaded and reload on next use."""
        self._preference = device
        self._device = None
        self.unload_all()

    def get(self, model_id: str) -> Any:
        with self._lock:
            model = self._models.get(model_id)
            if model is not None:
                self._models.move_to_end(model_id)
                return model
        model = self._load(model_id)
        with self._lock:
            self._models[model_id] = model
            self._evict_over_budget(keep=model_id)
        return model

    def _load(self, model_id: str) -> Any:
        entry = self.library.get(model_id)
        impl = self.registry.get(entry.card.family).implementation()
        kwargs = {}
        if "dtype" in inspect.signature(impl.load).parameters:
            kwargs["dtype"] = self.dtype
        try:
            model = impl.load(entry.folder, entry.card, self.device, **kwargs)
        except ModelLoadError:
            raise
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise ModelLoadError(f"{entry.folder}: could not load model {model_id!r} ({exc})") from exc
        log.info("loaded %s on %s", model_id, self.device)
        return model

    def _evict_over_budget(self, keep: str) -> None:
        while self.memory_in_use() > self.budget_bytes and len(self._models) > 1:
            oldest = next(iter(self._models))
            if oldest == keep:
                break
            self._drop(oldest)

    def settle(self, keep: str) -> None:
        """Unload the least recent models until the cache is within its budget, never
        `keep` (the model in use). A model's memory can grow after it has loaded (the
        diffusion families keep the timelines of their last runs for forks), so the
        engine calls this after every run, not only when a model loads."""
        with self._lock:
            if keep in self._models:
                self._evict_over_budget(keep)

    def unload(self, model_id: str) -> bool:
        with self._lock:
            if model_id not in self._models:
                return False
            self._drop(model_id)
            return True

    def unload_all(self) -> None:
        with self._lock:
            for model_id in list(self._models):
                self._drop(model_id)

    def _drop(self, model_id: str) -> None:
        model = self._models.pop(model_id)
        release = getattr(model, "release", None)
        if callable(release):
            release()
        log.info("unloaded %s", model_id)

    def loaded_ids(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def is_loaded(self, model_id: str) -> bool:
        with self._lock:
            return model_id in self._models

    def memory_in_use(self) -> int:
        return sum(int(m.memory_bytes()) for m in list(self._models.values()))
