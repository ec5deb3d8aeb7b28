"""Builds the studio's services, the same way for the GUI and the command line.

This is where the families meet core: core never imports a family, so the registry is
filled here. Nothing here imports torch; the engine's worker does, when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.core.cache import ModelCache
from studio.core.engine import Engine, validator_for
from studio.core.history import History
from studio.core.library import Library
from studio.core.registry import Registry
from studio.families import register_all


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
    registry = registry or register_all(Registry())
    library = Library(home=home, builtin_dir=builtin_dir)
    cache = ModelCache(library, registry, device=device)
    engine = Engine(cache, synchronous=synchronous, threads=threads,
                    validate=validator_for(registry, library), start=start_engine)
    # the GUI and the CLI both add results from their main thread: write files behind it
    return Services(registry, library, cache, engine, History(home, background=True))
