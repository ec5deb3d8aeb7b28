"""Reading opened and dropped files off the GUI thread.

A 40-megapixel PNG (allowed: the limit is 40 MP) took 1.3-2.0 s to decode, and reading a
PNG's recipe decodes it too (its text chunks may follow the pixels). So one worker thread
reads each file, in the order given: its recipe, or its pixels fitted to the model; the
outcome comes back to the GUI thread through a queued signal. Pillow and numpy release
the GIL while they decode and resize, so the GUI keeps painting meanwhile.

No torch here (studio.ui never imports it): a plain Python thread does the reading.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import numpy as np
from PySide6.QtCore import QObject, Qt, QUrl, Signal

from studio.core import export, media
from studio.core.requests import Request
from studio.ui.cross_thread import ThreadGate

log = logging.getLogger(__name__)

def local_path(url: QUrl) -> str:
    """The file a file:// URL names, byte for byte.

    QUrl.toLocalFile decodes the percent-encoding as UTF-8, so a name that is not UTF-8
    (`caf%E9-%FF.png`, from a Latin-1 file system) came back with U+FFFD in it and "no such
    file". Undo the percent-encoding to bytes and decode them as the OS does
    (os.fsdecode: surrogateescape keeps every byte), so the file opens.
    """
    if os.name == "nt" or url.host():  # Windows paths are UTF-16; a host is a network share
        return url.toLocalFile()
    encoded = bytes(url.path(QUrl.ComponentFormattingOption.FullyEncoded).encode("ascii"))
    return os.fsdecode(unquote_to_bytes(encoded))


@dataclass(frozen=True)
class OpenedFile:
    """What reading one file gave: a recipe to restore, or an image, or an error."""

    path: str
    index: int  # its place among the files opened together
    request: Request | None = None
    fitted: np.ndarray | None = None  # the image, fitted to the model it was read for
    error: str | None = None  # shown; nothing changes
    note: str | None = None  # shown beside an image that was opened anyway


def read_file(path: str, index: int, fit: tuple[int, int], recipes: bool = True) -> OpenedFile:
    """Read a recipe (JSON, an exported PNG, an animation's sidecar), else an image fitted
    to `fit` (resolution, channels); runs on the loader's thread. Only the small fitted
    image goes back to the GUI thread. Without `recipes`, any file is read as an image."""
    suffix = Path(path).suffix.lower()
    if not recipes:
        try:
            return OpenedFile(path, index, fitted=media.load_fitted_image(path, *fit)[0])
        except media.MediaError as exc:
            return OpenedFile(path, index, error=str(exc))
        except (OSError, ValueError) as exc:
            return OpenedFile(path, index, error=f"{path}: {exc}")
    if suffix == ".json" or (suffix in (".gif", ".webp") and export.sidecar_path(Path(path)).exists()):
        try:
            return OpenedFile(path, index, request=export.open_recipe(path))
        except Exception as exc:  # any damage: one line naming the file, never the crash dialog
            if suffix == ".json":
                return OpenedFile(path, index, error=_named(path, exc))
            problem: str | None = _named(path, exc)
    else:
        problem = None
    try:
        # one decode gives the fitted pixels and a PNG's text chunks (its recipe among them)
        fitted, text = media.load_fitted_image(path, *fit)
    except media.MediaError as exc:
        return OpenedFile(path, index, error=str(exc))
    except (OSError, ValueError) as exc:
        return OpenedFile(path, index, error=f"{path}: {exc}")
    try:
        recipe = media.recipe_in_text(text, path)
        if recipe is not None:
            return OpenedFile(path, index, request=Request.from_recipe(recipe))
    except Exception as exc:  # a damaged recipe: say so, and open the pixels as an image
        problem = _named(path, exc)
    note = None
    if problem is not None:
        reason = problem.removeprefix(f"{path}: ")
        note = f"{Path(path).name}: its recipe is unreadable: {reason}; opened as an image."
    return OpenedFile(path, index, fitted=fitted, note=note)


def _named(path: str, exc: Exception) -> str:
    text = str(exc).strip().strip("'") or type(exc).__name__
    return text if text.startswith(str(path)) else f"{path}: {text}"


class FileLoader(QObject):
    """One worker thread that reads files in order; `file_read` comes on the GUI thread."""

    file_read = Signal(object, object)  # OpenedFile, the context given to load()
    settled = Signal()  # nothing left to read
    _delivered = Signal(object, object)  # emitted on the worker, received on the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.Queue[tuple[str, int, Any, Any, bool] | None] = queue.Queue()
        self._pending = 0  # counted on the GUI thread only
        self._thread: threading.Thread | None = None
        self._gate = ThreadGate()  # closed with the window, which may go while the thread delivers
        self._delivered.connect(self._on_worker_delivered, Qt.ConnectionType.QueuedConnection)

    def busy(self) -> bool:
        return self._pending > 0

    def warm_up(self) -> None:
        """Start the thread, which first imports the image decoders (see _run)."""
        if self._thread is None and self._gate.is_open:
            self._thread = threading.Thread(target=self._run, name="studio-file-loader", daemon=True)
            self._thread.start()

    def load(self, paths: list[str], context: Any, fit: tuple[int, int], recipes: bool = True) -> None:
        """Read `paths` in order; `fit`: (resolution, channels) of the model; `recipes`:
        whether a file's recipe is restored (else every file is an image)."""
        if not self._gate.is_open:
            return
        self.warm_up()
        for index, path in enumerate(paths):
            self._pending += 1
            self._queue.put((str(path), index, fit, context, recipes))

    def close(self) -> None:
        """Stop after the file being read; what is left is dropped."""
        self._gate.close()
        self._queue.put(None)

    def _run(self) -> None:
        # at start-up (the window's start() warms up): then a first drop does not pay it
        media.preload_decoders()
        while (item := self._queue.get()) is not None:
            path, index, fit, context, recipes = item
            try:
                opened = read_file(path, index, fit, recipes)
            except Exception as exc:  # a bug: still one line, and the loader goes on
                log.exception("reading %s failed", path)
                opened = OpenedFile(path, index, error=f"{path}: cannot be opened ({exc})")
            if not self._gate.emit(self._delivered, opened, context):  # the window closed
                return

    def _on_worker_delivered(self, opened: OpenedFile, context: Any) -> None:
        self._pending -= 1
        if self._gate.is_open:
            self.file_read.emit(opened, context)
        if self._pending == 0:
            self.settled.emit()
