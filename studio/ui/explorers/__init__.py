"""The explorer table: explorer kind → the explorer the centre of the window shows.

A family's spec names its explorer kind (`FamilyInfo.explorer`); the window builds that
explorer from this table, through one `ExplorerContext`, and has no branch per family.
A kind nobody registered gets the plain samples grid (kind ""). The shortcut help is
written from the registered entries (their tabs and their own keys).

Explorers are found the way families are: `register_explorers(table)` in a plugin module
(see studio.wiring: the built-ins here, and the modules named in LATENT_STUDIO_PLUGINS).
No Qt is imported here at import time, so the wiring can read the table cheaply; an
explorer's module is imported when it is first built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLES_KIND = ""


@dataclass(frozen=True)
class ExplorerContext:
    """What every explorer is built with: the session it follows and edits, the jobs
    router (engine) it submits its own lanes to, the bridge for progress and previews,
    `run(request, ...)` for a user-visible run (shown, kept in History), `folder_of`
    (a model's folder, for files that travel with it), `is_current(explorer)` (only the
    explorer on screen answers the session's events), and `export` (File ▸ Export ...
    actions an explorer can start: "animation", "sheet")."""

    session: Any
    jobs: Any
    bridge: Any
    run: Callable[..., Any]
    folder_of: Callable[[str], Path]
    is_current: Callable[[Any], bool] = lambda _explorer: True
    export: Callable[[str], None] = lambda _what: None


def _resolve(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class ExplorerEntry:
    kind: str  # FamilyInfo.explorer: "vae", "gan", ...; "" = the samples grid
    label: str  # how the shortcut help names it: "VAE", "PixelCNN"
    explorer: str  # "package.module:ExplorerClass", imported when first built
    # how to build it, when the class has no `from_context(ctx)`
    build: Callable[[type, ExplorerContext], Any] | None = None
    # keys of its own for the shortcut help: (keys, what)
    shortcuts: tuple[tuple[str, str], ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def explorer_class(self) -> type:
        if "class" not in self._cache:
            self._cache["class"] = _resolve(self.explorer)
        return self._cache["class"]

    def make(self, ctx: ExplorerContext) -> Any:
        cls = self.explorer_class()
        if self.build is not None:
            explorer = self.build(cls, ctx)
        elif hasattr(cls, "from_context"):
            explorer = cls.from_context(ctx)
        else:
            explorer = cls(ctx.session, ctx.jobs)
        explorer.attach(ctx)
        return explorer

    def tabs(self) -> list[str]:
        cls = self.explorer_class()
        return [cls.VIEW_LABELS[view] for view in cls.VIEWS]


class ExplorerTable:
    def __init__(self) -> None:
        self._entries: dict[str, ExplorerEntry] = {}

    def register(self, entry: ExplorerEntry) -> None:
        self._entries[entry.kind] = entry

    def kind_of(self, kind: str | None) -> str:
        """The registered kind that shows a family's `explorer` (else the samples grid)."""
        return kind if kind in self._entries else SAMPLES_KIND

    def get(self, kind: str | None) -> ExplorerEntry:
        return self._entries[self.kind_of(kind)]

    def __contains__(self, kind: object) -> bool:
        return kind in self._entries

    def __iter__(self) -> Iterator[ExplorerEntry]:
        return iter(self._entries.values())

    def kinds(self) -> list[str]:
        return list(self._entries)

    def tabs_help(self) -> tuple[str, str]:
        """The shortcut-help row of Ctrl+1 … : each explorer's tabs, in registration order."""
        own = [e for e in self if e.kind != SAMPLES_KIND]
        most = max([len(e.tabs()) for e in own] or [1])
        parts = "; ".join(f"{e.label}: {', '.join(e.tabs())}" for e in own)
        return (f"Ctrl+1 … Ctrl+{most}", f"The explorer's tabs ({parts})")

    def own_shortcuts(self) -> list[tuple[str, str]]:
        """The explorers' own keys, each once."""
        return list(dict.fromkeys(row for e in self for row in e.shortcuts))


# -- the built-in explorers -----------------------------------------------------------------------
MASK_KEYS = (
    ("Drag · right-drag (mask)", "Paint · erase the mask (inpainting, PixelCNN completion)"),
    ("[ / ] (mask)", "Smaller / larger brush"),
    ("Ctrl+Z / Ctrl+Shift+Z (mask)", "Undo / redo a mask stroke"),
)


def _gan(cls: type, ctx: ExplorerContext) -> Any:
    return cls(ctx.session, ctx.jobs, ctx.bridge, ctx.run, folder_of=ctx.folder_of)


def _with_bridge(cls: type, ctx: ExplorerContext) -> Any:
    return cls(ctx.session, ctx.jobs, ctx.bridge, ctx.run)


def _with_run(cls: type, ctx: ExplorerContext) -> Any:
    return cls(ctx.session, ctx.jobs, ctx.run)


def register_explorers(table: ExplorerTable) -> ExplorerTable:
    """The built-in explorers (the plugin hook studio.wiring calls)."""
    table.register(ExplorerEntry(SAMPLES_KIND, "Samples", "studio.ui.explorers.base:SamplesExplorer"))
    table.register(ExplorerEntry("vae", "VAE", "studio.ui.explorers.vae.explorer:VAEExplorer"))
    table.register(ExplorerEntry("gan", "GAN", "studio.ui.explorers.gan.explorer:GANExplorer", _gan,
                                 (("Space (Walk tab)", "Play / stop the walk"),)))
    table.register(ExplorerEntry("diffusion", "diffusion",
                                 "studio.ui.explorers.diffusion.explorer:DiffusionExplorer", _with_bridge,
                                 MASK_KEYS))
    table.register(ExplorerEntry("flow", "flow", "studio.ui.explorers.flow.explorer:FlowExplorer",
                                 _with_run))
    table.register(ExplorerEntry("autoregressive", "PixelCNN",
                                 "studio.ui.explorers.autoregressive.explorer:AutoregressiveExplorer",
                                 _with_bridge, MASK_KEYS))
    return table


def builtin_table() -> ExplorerTable:
    return register_explorers(ExplorerTable())
