"""The history of results, persisted in the user data folder so it survives a restart.

Each entry is a PNG (the result's grid, carrying its recipe) plus a line in an index
written atomically. No torch, no Qt.

The window adds a result every few milliseconds during a batch, and encoding a PNG and
rewriting the index (two fsyncs) took ~18 ms each on the GUI thread, so queued results
stalled it for hundreds of ms. With `background=True` the files are written by one
writer thread, in order, and index rewrites are coalesced; the in-memory list changes
at once, so the strip and restores never wait for the disk.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from studio.core import media
from studio.core.export import export_png, result_grid
from studio.core.paths import PathEscapeError, confined, studio_home
from studio.core.requests import RecipeError, Request, Result

log = logging.getLogger(__name__)
INDEX_FILE = "index.json"
# seconds: a file younger than this may be another window's write in progress
ORPHAN_AGE = 60.0


@dataclass(frozen=True)
class HistoryEntry:
    id: str
    created: float
    image_path: Path
    recipe: dict[str, Any]
    model_id: str
    op: str
    count: int = 1
    # the PNG's picture while this session holds it (a thumbnail before the file is on
    # disk); never persisted
    picture: np.ndarray | None = field(default=None, compare=False, repr=False)

    def request(self) -> Request:
        return Request.from_recipe(self.recipe)

    def to_json(self) -> dict[str, Any]:
        # not asdict(): it deep-copies every recipe (and the picture) on each index write
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "picture"}
        data["image_path"] = self.image_path.name  # relative: the folder may move
        return data


class History:
    def __init__(self, home: Path | None = None, limit: int = 500, background: bool = False) -> None:
        self.folder = Path(home or studio_home()) / "history"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self.problems: list[str] = []
        # called (on the writer thread) with a message when a background write failed
        self.on_problem: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._index_generation = 0
        self._writer = (ThreadPoolExecutor(1, thread_name_prefix="history-writer")
                        if background else None)
        self._entries = self._read_index()

    def _read_index(self) -> list[HistoryEntry]:
        path = self.folder / INDEX_FILE
        if not path.exists():
            return []
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))["entries"]
            entries, dropped = [], 0
            for row in rows:
                row = dict(row)
                try:
                    # the index is a file like any other: its image names must not lead out
                    # of the history folder, or clear/remove/trim would delete elsewhere
                    row["image_path"] = confined(self.folder, row["image_path"], "image_path",
                                                 path, single=True)
                except PathEscapeError as exc:
                    self.problems.append(f"{exc}; entry skipped")
                    dropped += 1
                    continue
                if row["image_path"].is_file():
                    entries.append(HistoryEntry(**row))
                else:  # its PNG was never written (kill -9) or was deleted
                    dropped += 1
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # keep the broken index for the user; start afresh rather than refuse to open
            self.problems.append(f"{path}: unreadable history index ({exc}); starting a new one")
            path.replace(path.with_suffix(".json.bak"))
            return []
        self._remove_orphans(entries)
        if dropped:  # write the index without them, so they are not read again
            self._entries = entries
            try:
                self._write_index(self._index_generation)
            except OSError as exc:
                self.problems.append(f"{path}: could not rewrite the history index ({exc})")
        return entries

    def _remove_orphans(self, entries: list[HistoryEntry]) -> None:
        """Delete what a killed session left behind: PNGs the index does not name (the
        process died between the image and the index write) and temp files.

        Files younger than ORPHAN_AGE are left alone: another window on the same folder
        may be between its image and its index write. While an index set aside as
        unreadable (index.json.bak) is there, its PNGs are the user's: only temps go."""
        kept = {e.image_path.name for e in entries}
        set_aside = (self.folder / INDEX_FILE).with_suffix(".json.bak").exists()
        now = time.time()
        for path in self.folder.iterdir():
            name = path.name
            temp = ".tmp" in name  # the atomic writer's temp names, old and new
            if name in kept or not (temp or (name.endswith(".png") and not set_aside)):
                continue
            try:
                if not path.is_file() or path.is_symlink() or now - path.stat().st_mtime < ORPHAN_AGE:
                    continue
                path.unlink()
            except OSError as exc:
                log.warning("could not remove the orphan %s: %s", path, exc)

    # -- writing: inline, or in order on the writer thread ---------------------------------
    def _run(self, write: Callable[[], None], what: str) -> None:
        if self._writer is None:
            write()  # errors reach the caller
            return

        def guarded() -> None:
            try:
                write()
            except OSError as exc:
                message = f"Could not save {what} to the history: {exc}"
                log.warning(message)
                self.problems.append(message)
                if self.on_problem is not None:
                    self.on_problem(message)

        self._writer.submit(guarded)

    def _schedule_index(self) -> None:
        with self._lock:
            self._index_generation += 1
            generation = self._index_generation
        self._run(lambda: self._write_index(generation), "the index")

    def _write_index(self, generation: int) -> None:
        with self._lock:
            if generation != self._index_generation:
                return  # a newer rewrite is queued behind this one: skip to it
            rows = [e.to_json() for e in self._entries]
        data = {"version": 1, "entries": rows}
        media.atomic_write_bytes(self.folder / INDEX_FILE, json.dumps(data, indent=1).encode())

    def flush(self) -> None:
        """Wait until every queued write is on disk."""
        if self._writer is not None:
            self._writer.submit(lambda: None).result()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def add(self, result: Result, family: str = "") -> HistoryEntry:
        entry_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        image_path = self.folder / f"{entry_id}.png"
        entry = HistoryEntry(id=entry_id, created=time.time(), image_path=image_path,
                             recipe=result.request.to_recipe({"device": result.device}),
                             model_id=result.request.model_id, op=result.request.op,
                             count=result.count, picture=result_grid(result))
        self._run(lambda: export_png(image_path, result, family=family), image_path.name)
        with self._lock:
            self._entries.append(entry)
            dropped = self._entries[: max(0, len(self._entries) - self.limit)]
            self._entries = self._entries[-self.limit:]
        for old in dropped:
            self._run(lambda old=old: self._delete_files(old), old.image_path.name)
        self._schedule_index()
        return entry

    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def find(self, request: Request) -> HistoryEntry | None:
        """The newest entry made by the same recipe (an identical re-run), if any. The
        model, op and parameters are compared first; inputs are decoded only on a match."""
        params = dict(request.params)
        with self._lock:
            candidates = [e for e in reversed(self._entries)
                          if (e.model_id, e.op) == (request.model_id, request.op)
                          and e.recipe.get("params") == params]
        for entry in candidates:
            try:
                if entry.request().same_recipe(request):
                    return entry
            except RecipeError:
                continue
        return None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, entry_id: str) -> HistoryEntry:
        for entry in self._entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(f"no history entry {entry_id!r}")

    def remove(self, entry_id: str) -> None:
        entry = self.get(entry_id)
        with self._lock:
            self._entries.remove(entry)
        self._run(lambda: self._delete_files(entry), entry.image_path.name)
        self._schedule_index()

    def clear(self) -> None:
        with self._lock:
            dropped, self._entries = self._entries, []
        for entry in dropped:
            self._run(lambda entry=entry: self._delete_files(entry), entry.image_path.name)
        self._schedule_index()

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
