"""Plain-callback events for the Qt-free models (the session). No Qt.

An `Event` is a list of callbacks called in order, on the emitting thread. The session
is only changed on the GUI thread, so its events are too; a Qt view that subscribes
re-draws directly, without a queued signal. (psygnal would do the same; a dozen lines
do not need a dependency.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Event:
    def __init__(self, name: str = "") -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        # a copy: a callback may connect or disconnect while we call
        for callback in list(self._callbacks):
            callback(*args)

    def __len__(self) -> int:
        return len(self._callbacks)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._callbacks)} callbacks)"


@dataclass
class Claim:
    """Handed to the callbacks of an *offer* (a Generate, an opened image): one of them
    may take it, as a Qt event is accepted, and the emitter does its default only when
    none did. So the window asks "does anyone take this?" without knowing who might."""

    taken: bool = False

    def take(self) -> None:
        self.taken = True
