"""The family registry. Families declare their name, ops and specs here without torch;
the torch module behind `loader` is imported on the engine's thread when first used.

Core never imports a family: `studio.families.register_all(registry)` fills it, called
by the wiring (app.py, cli.py) or, in tests, with a fake family.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import PurePath
from typing import Any

from studio.core.params import OpSpec


class UnknownFamilyError(KeyError):
    pass


@dataclass(frozen=True)
class FamilyInfo:
    name: str  # "vae"
    label: str  # "VAE"
    description: str
    ops: tuple[OpSpec, ...]
    loader: str  # "package.module:ClassName"; imported lazily
    explorer: str = ""  # which explorer views the UI shows; "" = samples only
    # what the architecture is good and bad at, a few words each: the Compare view and
    # `studio compare` show them beside the measured figures
    strengths: tuple[str, ...] = ()
    weaknesses: tuple[str, ...] = ()
    # model files from elsewhere that this family converts into a studio model folder at
    # import: (suffix, "module:function"), the function called as
    # function(path, models_dir, *, taken, progress, cancelled) -> the new folder
    importers: tuple[tuple[str, str], ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def op(self, name: str) -> OpSpec:
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(f"family {self.name!r} has no op {name!r}; it has {', '.join(self.op_names)}")

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(op.name for op in self.ops)

    def implementation(self) -> Any:
        """Import and return the family class (heavy: imports torch)."""
        if "impl" not in self._cache:
            module_name, _, attr = self.loader.partition(":")
            self._cache["impl"] = getattr(importlib.import_module(module_name), attr)
        return self._cache["impl"]


class Registry:
    def __init__(self) -> None:
        self._families: dict[str, FamilyInfo] = {}

    def register(self, info: FamilyInfo) -> None:
        self._families[info.name] = info

    def get(self, name: str) -> FamilyInfo:
        try:
            return self._families[name]
        except KeyError:
            raise UnknownFamilyError(f"no family named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._families

    def __iter__(self) -> Iterator[FamilyInfo]:
        return iter(self._families.values())

    def names(self) -> list[str]:
        return list(self._families)

    def file_suffixes(self) -> list[str]:
        """The suffixes of model files some family converts (".pkl", ...)."""
        return sorted({suffix for info in self for suffix, _ in info.importers})

    def file_importer(self, path: str | PathLike[str]) -> Any:
        """The converter for a model file from elsewhere, by its suffix, or None. Imports
        the family's module (torch): call it on the engine's thread."""
        suffix = PurePath(path).suffix.lower()
        for info in self:
            for known, target in info.importers:
                if known == suffix:
                    module_name, _, attr = target.partition(":")
                    return getattr(importlib.import_module(module_name), attr)
        return None
