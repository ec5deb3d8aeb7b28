"""Model families. `register_all` declares every family without importing torch; each
family's torch module is imported by the engine's thread on first use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from studio.core.registry import Registry


def register_all(registry: Registry) -> Registry:
    from studio.families.catalog import FAMILIES

    for info in FAMILIES:
        registry.register(info)
    return registry


# the plug-in hook studio.wiring calls (the built-in families are a plug-in like any other)
register_families = register_all


def file_importer(path: Any) -> Callable[..., Any] | None:
    """The function that converts a model file from elsewhere (by its suffix, see
    catalog.FILE_IMPORTERS) into a studio model folder, or None. Imports its family's
    module (torch): call it off the GUI thread."""
    import importlib
    from pathlib import Path

    from studio.families.catalog import FILE_IMPORTERS

    target = FILE_IMPORTERS.get(Path(path).suffix.lower())
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
