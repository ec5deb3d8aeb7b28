"""Latent directions of a GAN (GANSpace): edits, the directions file, reading a model's
own directions. numpy only: no torch, no Qt, so the GUI can build sliders, rename,
save and load directions before torch has loaded.

A direction is a unit vector in w (the style space), a σ (the standard deviation of the
mapped w along it, so that slider amounts are in σ) and the range of synthesis layers it
edits (first and last, inclusive). A model ships its directions in model.safetensors
("directions.vectors", (K, w_dim)) with their names, layer ranges and σ in
card.config["directions"].

The directions file is a small JSON document:

    {"format": "latent-studio/directions", "version": 1, "model": "gan-glyphs",
     "w_dim": 128, "num_layers": 7,
     "directions": [{"name": "Stroke width", "layers": [0, 6], "sigma": 1.9,
                     "vector": [0.01, ...]}]}

Edits (the `edits` text parameter of the GAN's sample op) are JSON too:

    [{"direction": 0, "amount": 2.0, "layers": [0, 4]},
     {"vector": [...], "sigma": 1.5, "amount": -1.0}]

`direction` indexes the model's own directions; `vector` carries one from a directions
file the user loaded (the UI writes it). amount is in σ; layers default to the
direction's own range (all layers for a vector).

This is the one directions and edits model: the GAN family applies `parse_edits`, and
the GAN explorer's sliders are `Direction`s with an amount (`directions_of`,
`edits_text_of`, `read_edits`), so no second copy lives in the UI.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.params import ParamError
from studio.core.paths import PathEscapeError, confined

FORMAT = "latent-studio/directions"
VERSION = 1
SUFFIX = ".directions.json"
VECTORS_TENSOR = "directions.vectors"  # (K, w_dim) in the model's safetensors
MAX_DIRECTIONS = 256


class DirectionsError(ValueError):
    """A directions file is unreadable or inconsistent; the message names the file."""


@dataclass
class Direction:
    name: str
    # (w_dim,) float32, unit norm for PCA directions; None in an editor for the model's
    # own direction at this position (its vector stays in the weights)
    vector: np.ndarray | None
    layers: tuple[int, int]  # first and last synthesis layer it edits, inclusive
    sigma: float = 1.0  # std of w along the vector: amounts are in these units
    amount: float = 0.0  # how far an editor moved it, in σ (not written to files)
    card_layers: tuple[int, int] | None = None  # the card's range (Reset goes back to it)

    def __post_init__(self) -> None:
        if self.vector is not None:
            self.vector = np.asarray(self.vector, dtype=np.float32).reshape(-1)
        self.layers = (int(self.layers[0]), int(self.layers[1]))
        self.sigma = float(self.sigma)
        if self.card_layers is None:
            self.card_layers = self.layers

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "layers": list(self.layers), "sigma": self.sigma,
                "vector": [float(x) for x in self.vector]}


@dataclass(frozen=True)
class Edit:
    """One move of an edit: `amount`·`sigma`·`vector` added to w in layers first..last.
    `direction` is the model's direction index (None when a vector was given)."""

    amount: float
    layers: tuple[int, int]
    direction: int | None = None
    vector: np.ndarray | None = field(default=None, compare=False)
    sigma: float = 1.0


# -----------------------------------------------------------------------------
# the directions file


def save_directions(path: str | Path, directions: Sequence[Direction], *, model: str = "",
                    num_layers: int | None = None) -> Path:
    """Write `directions` to a JSON file (atomically). All vectors must have one length."""
    from studio.core.atomic import write_bytes as atomic_write_bytes

    path = Path(path)
    dims = {len(d.vector) for d in directions}
    if len(dims) > 1:
        raise DirectionsError(f"{path}: directions of different lengths {sorted(dims)}")
    for d in directions:
        _check_direction(d, num_layers, str(path))
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "model": model,
                           "w_dim": dims.pop() if dims else 0,
                           "directions": [d.to_json() for d in directions]}
    if num_layers is not None:
        doc["num_layers"] = int(num_layers)
    atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))
    return path


def load_directions(path: str | Path, *, w_dim: int | None = None,
                    num_layers: int | None = None) -> list[Direction]:
    """Read a directions file. With `w_dim` / `num_layers` (the model's), a file made for
    another model is refused with a message saying why."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DirectionsError(f"{path}: no such directions file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DirectionsError(f"{path}: unreadable directions file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DirectionsError(f"{path}: not a Latent Studio directions file")
    if doc.get("version") != VERSION:
        raise DirectionsError(f"{path}: unsupported version {doc.get('version')!r}")
    entries = doc.get("directions")
    if not isinstance(entries, list) or len(entries) > MAX_DIRECTIONS:
        raise DirectionsError(f"{path}: 'directions' must be a list of at most {MAX_DIRECTIONS}")
    file_layers = doc.get("num_layers")
    if num_layers is not None and file_layers is not None and file_layers != num_layers:
        raise DirectionsError(f"{path}: made for a model with {file_layers} layers, "
                              f"this one has {num_layers}")
    out = []
    for i, entry in enumerate(entries):
        where = f"{path}: direction {i + 1}"
        if not isinstance(entry, dict):
            raise DirectionsError(f"{where} is not an object")
        try:
            name, vector = entry["name"], entry["vector"]
            layers, sigma = entry["layers"], entry.get("sigma", 1.0)
        except KeyError as exc:
            raise DirectionsError(f"{where} lacks {exc}") from None
        if not isinstance(name, str) or not name.strip():
            raise DirectionsError(f"{where}: the name must be a non-empty text")
        if (not isinstance(vector, list) or not vector
                or not all(_is_number(x) for x in vector)):
            raise DirectionsError(f"{where}: 'vector' must be a list of numbers")
        if (not isinstance(layers, list) or len(layers) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in layers)):
            raise DirectionsError(f"{where}: 'layers' must be [first, last]")
        if not _is_number(sigma):
            raise DirectionsError(f"{where}: 'sigma' must be a number")
        direction = Direction(name, np.array(vector, dtype=np.float32), tuple(layers), sigma)
        _check_direction(direction, num_layers, where)
        out.append(direction)
    dims = {len(d.vector) for d in out}
    if len(dims) > 1:
        raise DirectionsError(f"{path}: directions of different lengths {sorted(dims)}")
    if w_dim is not None and dims and dims != {w_dim}:
        raise DirectionsError(f"{path}: vectors of length {dims.pop()}, but this model's w "
                              f"has {w_dim} numbers")
    return out


def read_any_directions(path: str | Path, *, w_dim: int | None = None,
                        num_layers: int | None = None,
                        max_name: int = 60) -> tuple[str, list[dict[str, Any]]]:
    """(model id, [{"name", "layers"[, "vector", "sigma"]}, ...]) from a directions file.

    The file is this module's format (read, and checked against `w_dim` and
    `num_layers`, by `load_directions`); older names-only files the GAN explorer wrote,
    {"model": id, "directions": [{"name", "layers"}]}, still give names and ranges (applied
    by position). DirectionsError (a ValueError) names the file and what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DirectionsError(f"{path.name}: not a readable directions file ({exc})") from None
    if isinstance(data, dict) and "format" in data:
        loaded = load_directions(path, w_dim=w_dim, num_layers=num_layers)
        model = data.get("model")
        return (model if isinstance(model, str) else "",
                [{"name": d.name[:max_name], "layers": list(d.layers), "vector": d.vector,
                  "sigma": d.sigma} for d in loaded])
    entries = data.get("directions") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not isinstance(data.get("model"), str):
        raise DirectionsError(f"{path.name}: not a directions file (no model and directions)")
    out = []
    for index, entry in enumerate(entries):
        try:
            layers = [int(entry["layers"][0]), int(entry["layers"][1])]
            out.append({"name": str(entry["name"])[:max_name], "layers": layers})
        except (KeyError, TypeError, ValueError, IndexError):
            raise DirectionsError(
                f"{path.name}: direction {index + 1} needs a name and layers [first, last]") from None
    return data["model"], out


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_direction(d: Direction, num_layers: int | None, where: str) -> None:
    first, last = d.layers
    top = (num_layers - 1) if num_layers is not None else None
    if first < 0 or last < first or (top is not None and last > top):
        span = f"0..{top}" if top is not None else "0 ≤ first ≤ last"
        raise DirectionsError(f"{where}: layers {list(d.layers)} are not a range within {span}")
    if not np.isfinite(d.vector).all() or not d.vector.size:
        raise DirectionsError(f"{where}: the vector is empty or holds NaN or infinite values")
    if not (math.isfinite(d.sigma) and d.sigma > 0):
        raise DirectionsError(f"{where}: sigma must be a positive number")


# -----------------------------------------------------------------------------
# a model's own directions


def card_directions(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The direction metadata in a GAN card's config: [{"name", "layers", "sigma"}, ...]
    (no vectors: they live in the weights)."""
    entries = config.get("directions") or []
    return [{"name": str(e["name"]), "layers": [int(e["layers"][0]), int(e["layers"][1])],
             "sigma": float(e["sigma"])} for e in entries]


def model_directions(folder: str | Path, config: Mapping[str, Any],
                     weights_file: str = "model.safetensors") -> list[Direction]:
    """The model's directions with their vectors, read from its safetensors with numpy."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:  # the name comes from the card: it must stay inside the model folder
        path = confined(folder, weights_file, "weights_file", Path(folder) / "card.json")
    except PathEscapeError as exc:
        raise DirectionsError(str(exc)) from None
    try:
        vectors = load_file(str(path))[VECTORS_TENSOR]
    except (SafetensorError, OSError, ValueError) as exc:
        raise DirectionsError(f"{path}: cannot read the directions ({exc})") from None
    except KeyError:
        raise DirectionsError(f"{path}: holds no '{VECTORS_TENSOR}'") from None
    meta = card_directions(config)
    if len(meta) != len(vectors):
        raise DirectionsError(f"{path}: {len(vectors)} direction vectors, but the card "
                              f"describes {len(meta)}")
    return [Direction(m["name"], v.astype(np.float32), tuple(m["layers"]), m["sigma"])
            for m, v in zip(meta, vectors)]


# -----------------------------------------------------------------------------
# edits


def layer_count(card: Any) -> int:
    """The number of w+ layers of a GAN's card: config["layers"], else the latent shape's."""
    config = getattr(card, "config", {}) or {}
    if config.get("layers"):
        return int(config["layers"])
    shape = getattr(card, "latent_shape", None)
    return int(shape[0]) if shape else 1


def clamp_layers(layers: Sequence[Any], count: int) -> tuple[int, int]:
    first = min(max(int(layers[0]), 0), count - 1)
    last = min(max(int(layers[1]), first), count - 1)
    return first, last


def directions_of(card: Any) -> list[Direction]:
    """The directions a card lists, to edit: config["directions"] = [{"name", "layers":
    [first, last], "sigma"}, ...], leniently (a missing name or range gets a default, a
    range is clamped to the model's layers); the vectors stay in the weights."""
    config = getattr(card, "config", {}) or {}
    count = layer_count(card)
    out = []
    for index, entry in enumerate(config.get("directions") or []):
        first, last = clamp_layers(entry.get("layers") or [0, count - 1], count)
        out.append(Direction(str(entry.get("name") or f"Direction {index + 1}"), None,
                             (first, last), float(entry.get("sigma", 1.0))))
    return out


def edits_text_of(directions: Sequence[Direction]) -> str:
    """The `edits` parameter for directions moved in an editor (those away from 0). The
    model's own directions (vector None) go by index; loaded vectors go as they are,
    with their σ."""
    edits: list[dict[str, Any]] = []
    for index, d in enumerate(directions):
        if not d.amount:
            continue
        if d.vector is None:
            edits.append({"direction": index, "amount": round(d.amount, 4),
                          "layers": list(d.layers)})
        else:
            edits.append({"vector": [float(x) for x in d.vector], "sigma": d.sigma,
                          "amount": round(d.amount, 4), "layers": list(d.layers)})
    return json.dumps(edits) if edits else ""


def read_edits(text: Any) -> list[dict[str, Any]] | None:
    """The `edits` JSON as a list of dicts ({"direction": index} or {"vector", "sigma"},
    with "amount" and maybe "layers"), for an editor to show; None when it is not valid
    (yet: the user may be typing). `parse_edits` is the strict reader a model applies."""
    if not str(text or "").strip():
        return []
    try:
        edits = json.loads(str(text))
    except json.JSONDecodeError:
        return None
    if not isinstance(edits, list):
        return None
    out = []
    try:
        for e in edits:
            item: dict[str, Any] = {"amount": float(e.get("amount", 0.0))}
            if "vector" in e:
                item["vector"] = np.asarray(e["vector"], np.float32).reshape(-1)
                item["sigma"] = float(e.get("sigma", 1.0))
            else:
                item["direction"] = int(e["direction"])
            if "layers" in e:
                item["layers"] = [int(e["layers"][0]), int(e["layers"][1])]
            out.append(item)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None
    return out


def same_vector(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is not None and b is not None and a.shape == b.shape
            and bool(np.allclose(a, b, rtol=1e-5, atol=1e-6)))


def edits_text(edits: Iterable[Mapping[str, Any]]) -> str:
    """The `edits` parameter for a list of {"direction" or "vector", "amount", "layers"}:
    moves of zero are left out, so an untouched slider adds nothing to the request."""
    kept = []
    for e in edits:
        if float(e.get("amount", 0.0)) == 0.0:
            continue
        item = {k: (list(v) if isinstance(v, (tuple, np.ndarray)) else v) for k, v in e.items()}
        if isinstance(item.get("vector"), list):
            item["vector"] = [float(x) for x in item["vector"]]
        kept.append(item)
    return json.dumps(kept) if kept else ""


def parse_edits(text: str, num_directions: int, num_layers: int, w_dim: int,
                default_layers: Sequence[tuple[int, int]] | None = None,
                sigmas: Sequence[float] | None = None) -> list[Edit]:
    """Parse and check the `edits` text; ParamError says what is wrong and where.

    `default_layers[k]` and `sigmas[k]` are direction k's own range and σ."""
    text = (text or "").strip()
    if not text:
        return []
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParamError(f"edits: not valid JSON ({exc.msg} at character {exc.pos})") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise ParamError('edits: expected a JSON list like [{"direction": 0, "amount": 1.5}]')
    known = {"direction", "vector", "amount", "layers", "sigma", "name"}
    out = []
    for i, item in enumerate(items):
        where = f"edits[{i}]"
        if not isinstance(item, dict):
            raise ParamError(f"{where}: expected an object with direction and amount")
        unknown = sorted(set(item) - known)
        if unknown:
            raise ParamError(f"{where}: unknown key {', '.join(map(repr, unknown))} "
                             f"(known: amount, direction, layers, name, sigma, vector)")
        amount = item.get("amount")
        if not _is_number(amount):
            raise ParamError(f"{where}: 'amount' must be a finite number, not {amount!r}")
        index, vector = item.get("direction"), item.get("vector")
        if (index is None) == (vector is None):
            raise ParamError(f"{where}: give either 'direction' (an index) or 'vector'")
        sigma = item.get("sigma")
        if sigma is not None and not (_is_number(sigma) and sigma > 0):
            raise ParamError(f"{where}: 'sigma' must be a positive number")
        layers: tuple[int, int] = (0, num_layers - 1)
        if index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise ParamError(f"{where}: 'direction' must be a whole number")
            if not 0 <= index < num_directions:
                raise ParamError(f"{where}: direction {index} is outside "
                                 f"0..{num_directions - 1} (the model has {num_directions})")
            if default_layers is not None:
                layers = tuple(default_layers[index])
            if sigma is None:
                sigma = sigmas[index] if sigmas is not None else 1.0
        else:
            if (not isinstance(vector, list) or len(vector) != w_dim
                    or not all(_is_number(x) for x in vector)):
                raise ParamError(f"{where}: 'vector' must be a list of {w_dim} finite numbers")
            vector = np.asarray(vector, dtype=np.float32)
            sigma = 1.0 if sigma is None else sigma
        if "layers" in item:
            got = item["layers"]
            if (not isinstance(got, list) or len(got) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in got)):
                raise ParamError(f"{where}: 'layers' must be [first, last], not {got!r}")
            layers = (got[0], got[1])
        if not 0 <= layers[0] <= layers[1] < num_layers:
            raise ParamError(f"{where}: layers {list(layers)} are not a range within "
                             f"0..{num_layers - 1}")
        out.append(Edit(float(amount), layers, index, vector, float(sigma)))
    return out
