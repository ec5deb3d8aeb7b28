"""Model families. `register_all` declares every family without importing torch; each
family's torch module is imported by the engine's thread on first use."""

from __future__ import annotations

from studio.core.registry import Registry


def register_all(registry: Registry) -> Registry:
    from studio.families.catalog import FAMILIES

    for info in FAMILIES:
        registry.register(info)
    return registry
