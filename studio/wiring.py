"""Builds the studio's services, the same way for the GUI and the command line.

This is where the families meet core: core never imports a family, so the registry is
filled here. Nothing here imports torch; the engine's worker does, when it starts.

Families and explorers are found one way, through *plug-in modules*: the built-in ones
(`BUILTIN_PLUGINS`), then those named in the environment variable LATENT_STUDIO_PLUGINS
(module names, separated by commas). A plug-in module defines either or both of

    register_families(registry)   # FamilyInfo specs: no torch, no Qt
    register_explorers(table)     # ExplorerEntry rows (studio.ui.explorers): no Qt at import

so a new family is a family folder, an explorer folder and their plug-in hooks, with no
edit anywhere else.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from studio.core.cache import ModelCache
from studio.core.engine import Engine, validator_for
from studio.core.history import History
from studio.core.library import Library
from studio.core.registry import Registry

PLUGINS_VARIABLE = "LATENT_STUDIO_PLUGINS"
BUILTIN_PLUGINS = ("studio.families", "studio.ui.explorers")


class PluginError(RuntimeError):
    """A plug-in module named in LATENT_STUDIO_PLUGINS could not be used."""


def plugin_names(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    extra = [n.strip() for n in env.get(PLUGINS_VARIABLE, "").split(",") if n.strip()]
    return list(dict.fromkeys([*BUILTIN_PLUGINS, *extra]))


def plugin_modules(environ: Mapping[str, str] | None = None) -> list[ModuleType]:
    modules = []
    for name in plugin_names(environ):
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            raise PluginError(f"{PLUGINS_VARIABLE}: cannot import plug-in {name!r} ({exc})") from exc
    return modules


def family_registry(environ: Mapping[str, str] | None = None) -> Registry:
    """Every family: the built-ins, then the plug-ins'."""
    registry = Registry()
    for module in plugin_modules(environ):
        hook = getattr(module, "register_families", None)
        if hook is not None:
            hook(registry)
    return registry


def explorer_table(environ: Mapping[str, str] | None = None) -> Any:
    """Every explorer (a studio.ui.explorers.ExplorerTable): the built-ins, then the
    plug-ins'. The explorers' own modules (Qt) are imported when first built."""
    from studio.ui.explorers import ExplorerTable

    table = ExplorerTable()
    for module in plugin_modules(environ):
        hook = getattr(module, "register_explorers", None)
        if hook is not None:
            hook(table)
    return table


@dataclass
class Services:
    registry: Registry
    library: Library
    cache: ModelCache
    engine: Engine
    history: History

    def close(self) -> None:
        self.engine.shutdown()
        self.history.close()  # waits for the last history writes


def build_services(*, synchronous: bool = False, device: str | None = None,
                   home: Path | None = None, builtin_dir: Path | None = None,
                   registry: Registry | None = None, threads: int | None = None,
                   start_engine: bool = True) -> Services:
    registry = registry or family_registry()
    library = Library(home=home, builtin_dir=builtin_dir)
    cache = ModelCache(library, registry, device=device)
    engine = Engine(cache, synchronous=synchronous, threads=threads,
                    validate=validator_for(registry, library), start=start_engine)
    # the GUI and the CLI both add results from their main thread: write files behind it
    return Services(registry, library, cache, engine, History(home, background=True))
