"""The history of results, persisted in the user data folder so it survives a restart.

Each entry is a PNG (the result's grid, carrying its recipe) plus a line in an index
written atomically. No torch, no Qt.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from studio.core import media
from studio.core.export import export_png
from studio.core.paths import studio_home
from studio.core.requests import RecipeError, Request, Result

log = logging.getLogger(__name__)
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class HistoryEntry:
    id: str
    created: float
    image_path: Path
    recipe: dict[str, Any]
    model_id: str
    op: str
    count: int = 1

    def request(self) -> Request:
        return Request.from_recipe(self.recipe)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["image_path"] = self.image_path.name  # relative: the folder may move
        return data


class History:
    def __init__(self, home: Path | None = None, limit: int = 500) -> None:
        self.folder = Path(home or studio_home()) / "history"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self.problems: list[str] = []
        self._entries = self._read_index()

    def _read_index(self) -> list[HistoryEntry]:
        path = self.folder / INDEX_FILE
        if not path.exists():
            return []
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))["entries"]
            entries = []
            for row in rows:
                row = dict(row)
                row["image_path"] = self.folder / row["image_path"]
                if row["image_path"].exists():
                    entries.append(HistoryEntry(**row))
            return entries
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # keep the broken index for the user; start afresh rather than refuse to open
            self.problems.append(f"{path}: unreadable history index ({exc}); starting a new one")
            path.replace(path.with_suffix(".json.bak"))
            return []

    def _write_index(self) -> None:
        data = {"version": 1, "entries": [e.to_json() for e in self._entries]}
        media.atomic_write_bytes(self.folder / INDEX_FILE, json.dumps(data, indent=1).encode())

    def add(self, result: Result, family: str = "") -> HistoryEntry:
        entry_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        image_path = self.folder / f"{entry_id}.png"
        export_png(image_path, result, family=family)
        entry = HistoryEntry(id=entry_id, created=time.time(), image_path=image_path,
                             recipe=result.request.to_recipe({"device": result.device}),
                             model_id=result.request.model_id, op=result.request.op,
                             count=result.count)
        self._entries.append(entry)
        for old in self._entries[: max(0, len(self._entries) - self.limit)]:
            self._delete_files(old)
        self._entries = self._entries[-self.limit:]
        self._write_index()
        return entry

    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, entry_id: str) -> HistoryEntry:
        for entry in self._entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(f"no history entry {entry_id!r}")

    def remove(self, entry_id: str) -> None:
        entry = self.get(entry_id)
        self._entries.remove(entry)
        self._delete_files(entry)
        self._write_index()

    def clear(self) -> None:
        for entry in self._entries:
            self._delete_files(entry)
        self._entries = []
        self._write_index()

    def _delete_files(self, entry: HistoryEntry) -> None:
        try:
            entry.image_path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not delete %s: %s", entry.image_path, exc)


def request_of(entry: HistoryEntry) -> Request:
    try:
        return entry.request()
    except RecipeError as exc:
        raise RecipeError(f"history entry {entry.id}: {exc}") from None
