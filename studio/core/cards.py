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
        for key, value in data.items():
            problem = _type_problem(key, value)
            if problem:
                raise CardError(f"{source}: {key} {problem}, not {json.dumps(value)[:60]}")
        card = cls(**{k: v for k, v in data.items() if k in known})
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


# The JSON type of each card field, checked at import and whenever the library reads a
# card: a wrong type (`"name": 12345`, `"config": [1, 2]`) is refused with a line naming the
# card, where it used to pass and crash `studio models` and the window later.
_STRINGS = ("name", "family", "dataset", "description", "licence", "weights_file",
            "weights_sha256")
_OBJECTS = ("config", "training")
_NUMBER_MAPS = ("metrics", "thresholds")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_problem(key: str, value: object) -> str:
    """What is wrong with the type of a card field's value; "" when nothing is."""
    if key == "id":
        if not isinstance(value, str) or not value.strip():
            return "must be a non-empty string"
        if any(c in value for c in "/\\\x00") or value in (".", ".."):
            return "must be a name, not a path"
    elif key in _STRINGS:
        if not isinstance(value, str):
            return "must be a string"
    elif key == "recipe":
        if value is not None and not isinstance(value, str):
            return "must be a string or null"
    elif key in ("resolution", "channels"):
        if not _is_int(value):
            return "must be a whole number"
    elif key == "latent_shape":
        if value is not None and not (isinstance(value, list) and value
                                      and all(_is_int(n) and n > 0 for n in value)):
            return "must be a list of positive whole numbers or null"
    elif key == "classes":
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(c, str) for c in value)):
            return "must be a list of strings or null"
    elif key in _OBJECTS:
        if not isinstance(value, dict):
            return "must be a JSON object"
    elif key in _NUMBER_MAPS:
        if not (isinstance(value, dict) and all(_is_number(v) for v in value.values())):
            return "must be a JSON object of numbers"
    return ""
