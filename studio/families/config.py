"""What every family's config dataclass shares: it is saved in the model card
(`card.config`) and rebuilt from it. No torch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, TypeVar

C = TypeVar("C", bound="CardConfig")


class CardConfig:
    """Mixin for a dataclass config: `from_dict` ignores keys it does not know (a card
    may carry figures for the UI beside the network's shape), `to_dict` is JSON-ready."""

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
