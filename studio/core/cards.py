"""Model cards: the JSON that sits beside a model's safetensors weights. No torch, no Qt."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

CARD_FILE = "card.json"
WEIGHTS_FILE = "model.safetensors"


class CardError(ValueError):
    """A model card is missing, unreadable or incomplete; the message names the file."""


@dataclass
class ModelCard:
    id: str
    name: str
    family: str
    resolution: int
    channels: int
    latent_shape: list[int] | None = None
    classes: list[str] | None = None
    dataset: str = ""
    recipe: str | None = None
    description: str = ""
    licence: str = "MIT"
    weights_file: str = WEIGHTS_FILE
    weights_sha256: str = ""
    # Everything the family needs to rebuild the network before loading the weights.
    config: dict[str, Any] = field(default_factory=dict)
    # Evaluator figures, and the thresholds the quality tests hold the model to.
    metrics: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "card") -> ModelCard:
        if not isinstance(data, dict):
            raise CardError(f"{source}: a model card must be a JSON object")
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("id", "name", "family", "resolution", "channels") if k not in data]
        if missing:
            raise CardError(f"{source}: missing {', '.join(missing)}")
        try:
            card = cls(**{k: v for k, v in data.items() if k in known})
            card.resolution = int(card.resolution)
            card.channels = int(card.channels)
        except (TypeError, ValueError) as exc:
            raise CardError(f"{source}: {exc}") from None
        if card.channels not in (1, 3) or not 1 <= card.resolution <= 4096:
            raise CardError(f"{source}: unsupported channels/resolution {card.channels}/{card.resolution}")
        return card

    @classmethod
    def read(cls, folder: Path) -> ModelCard:
        path = Path(folder) / CARD_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CardError(f"{path}: no model card (card.json) in this folder") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CardError(f"{path}: unreadable model card ({exc})") from None
        return cls.from_dict(data, str(path))

    def write(self, folder: Path) -> Path:
        from studio.core.atomic import write_bytes as atomic_write_bytes

        path = Path(folder) / CARD_FILE
        atomic_write_bytes(path, (self.to_json() + "\n").encode("utf-8"))
        return path
