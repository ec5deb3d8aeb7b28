"""Chunks handed out to Ray actors, results given back in order, dead workers replaced.

Each worker holds at most `depth` chunks at once (one running, one queued behind it, so
it never waits for the driver); chunks further than `window` ahead of the next one due
are not handed out yet, so results waiting for an earlier chunk stay few. A chunk whose
worker died (killed, out of memory, its node gone) goes back to the front of the queue
and runs on another worker; the dead one is replaced while spares last, and the new one
takes chunks once it has loaded the model (until then the others carry on). A chunk that
fails in the studio's own code is not retried: it would fail again.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ObjectLostError, RayActorError, RayTaskError, WorkerCrashedError

from studio.batch.worker import BatchJobError

# a worker lost, not a chunk at fault: the chunk runs again elsewhere
WORKER_LOST = (RayActorError, WorkerCrashedError, ObjectLostError)
MAX_ATTEMPTS = 3  # a chunk that kills three workers is not tried on a fourth


class WorkersLost(RuntimeError):
    """Every worker died, or one chunk took down MAX_ATTEMPTS of them."""


@dataclass(eq=False)
class _Slot:
    actor: Any
    busy: int = 0
    starting: Any = None  # the ObjectRef of its ready() call while it loads the model


@dataclass
class PoolStats:
    retried: list[int] = field(default_factory=list)  # chunk indices run again after a loss
    replaced: int = 0  # workers started in place of dead ones
    lost: list[str] = field(default_factory=list)  # why each worker was lost


class WorkerPool:
    def __init__(self, spawn: Callable[[], Any], workers: int, *, depth: int = 2,
                 spares: int | None = None) -> None:
        """`spawn()` starts one actor; `spares` how many dead ones may be replaced
        (default: as many as there are workers)."""
        if workers < 1:
            raise ValueError(f"a pool needs at least one worker, not {workers}")
        self._spawn = spawn
        self._slots = [_Slot(spawn()) for _ in range(workers)]
        self.depth = depth
        self.spares = workers if spares is None else spares
        self.stats = PoolStats()

    @property
    def actors(self) -> list[Any]:
        return [slot.actor for slot in self._slots]

    def busy_actors(self) -> list[Any]:
        """The live workers holding chunks now (a test kills one of these mid-run)."""
        return [slot.actor for slot in self._slots if slot.busy]

    def ready(self) -> list[dict[str, Any]]:
        """Wait until every worker has loaded the model; where each one runs."""
        return [self._value(ref) for ref in [s.actor.ready.remote() for s in self._slots]]

    def call(self, submit: Callable[[Any], Any]) -> Any:
        """One call on any worker (retried elsewhere if the worker dies)."""
        return next(self.map_ordered(lambda actor, _item: submit(actor), [None]))

    def map_ordered(self, submit: Callable[[Any, Any], Any], items: Sequence[Any],
                    window: int | None = None) -> Iterator[Any]:
        """`submit(actor, item)` → an ObjectRef, for every item; the values in item order,
        each as soon as it and all before it are in."""
        window = window or max(4, 2 * self.depth * len(self._slots))
        todo = list(range(len(items)))  # a heap: a retried chunk goes before later ones
        flying: dict[Any, tuple[int, _Slot]] = {}
        done: dict[int, Any] = {}
        attempts: dict[int, int] = {}
        following = 0  # the next index to give back
        try:
            while following < len(items):
                self._hand_out(submit, items, todo, flying, following + window)
                starting = {s.starting: s for s in self._slots if s.starting is not None}
                if not flying and not starting:
                    raise WorkersLost("no worker is left to run the remaining chunks: "
                                      + "; ".join(self.stats.lost[-3:]))
                ready, _ = ray.wait([*flying, *starting], num_returns=1)
                for ref in ready:
                    if ref in starting:
                        self._started(starting[ref])
                        continue
                    index, slot = flying.pop(ref)
                    slot.busy -= 1
                    try:
                        done[index] = self._value(ref)
                    except WORKER_LOST as exc:
                        attempts[index] = attempts.get(index, 0) + 1
                        self._lose(slot, exc)
                        if attempts[index] >= MAX_ATTEMPTS:
                            raise WorkersLost(f"chunk {index} was lost with {MAX_ATTEMPTS} "
                                              f"workers in a row: {_first_line(exc)}") from exc
                        heapq.heappush(todo, index)
                        self.stats.retried.append(index)
                while following in done:
                    yield done.pop(following)
                    following += 1
        finally:  # stopped early (an error, Ctrl-C): drop what is still queued on workers
            _settle(list(flying))

    def close(self) -> None:
        loading = [slot.starting for slot in self._slots if slot.starting is not None]
        for slot in self._slots:
            ray.kill(slot.actor)
        self._slots.clear()
        _settle(loading, cancel=False)  # a replacement still loading: its ready() fails now

    # -- inside ----------------------------------------------------------------------------------
    def _hand_out(self, submit: Callable[[Any, Any], Any], items: Sequence[Any], todo: list[int],
                  flying: dict[Any, tuple[int, _Slot]], limit: int) -> None:
        for slot in sorted(self._slots, key=lambda s: s.busy):  # the idlest first
            while slot.starting is None and slot.busy < self.depth and todo and todo[0] < limit:
                index = heapq.heappop(todo)
                flying[submit(slot.actor, items[index])] = (index, slot)
                slot.busy += 1

    def _lose(self, slot: _Slot, exc: BaseException) -> None:
        if slot not in self._slots:  # its other chunks coming back: counted already
            return
        self._slots.remove(slot)
        self.stats.lost.append(_first_line(exc))
        if self.spares > 0:
            self.spares -= 1
            self.stats.replaced += 1
            actor = self._spawn()
            self._slots.append(_Slot(actor, starting=actor.ready.remote()))

    def _started(self, slot: _Slot) -> None:
        """A replacement has loaded the model (or died trying)."""
        try:
            ray.get(slot.starting)
            slot.starting = None
        except WORKER_LOST as exc:
            slot.starting = None
            self._lose(slot, exc)

    @staticmethod
    def _value(ref: Any) -> Any:
        try:
            return ray.get(ref)
        except RayTaskError as exc:  # the studio's own error on the worker: say it as is
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BatchJobError):
                raise cause from None
            raise


def _settle(refs: list[Any], timeout: float = 5.0, cancel: bool = True) -> None:
    """Cancel calls no longer wanted and take their outcomes (a chunk already running
    ends first, within `timeout`): Ray logs an outcome nobody took as an "unhandled
    error", which would follow the job's own one-line reason on stderr."""
    for ref in refs if cancel else ():
        try:
            ray.cancel(ref)
        except Exception:  # noqa: BLE001 - finished or lost already: nothing to cancel
            pass
    if not refs:
        return
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
    for ref in ready:
        try:
            ray.get(ref)
        except Exception:  # noqa: BLE001 - cancelled, or failed like the chunk that stopped us
            pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
