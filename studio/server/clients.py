"""The server's clients: who submitted which job, their event streams, and how long
finished results are kept. No web framework here: app.py calls in.

Each client gets an unguessable id when it connects. Its jobs run on the one engine in
lanes of its own (`<client>/<lane>`), so latest-wins drops only its own superseded
requests, and it can look up or cancel only its own jobs (another client's id is
answered as unknown). Engine events arrive on the engine's worker thread and are posted
to the client's event loop; a client with no open event stream gets the state of its
jobs when it reconnects.

Retention: a finished result is kept until its client fetched it (and `FETCHED_GRACE`
after, so the PNG and the latents can both be read), or `RETENTION` seconds, within
`memory_cap` bytes: past the cap the oldest results go first. A result sent with its
`finished` event counts as fetched once the frame is sent.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio.core import engine as ev
from studio.server import protocol

RETENTION = 600.0  # seconds a finished result (or an idle client) is kept
FETCHED_GRACE = 30.0  # seconds a fetched result stays for the client's other reads
MEMORY_CAP = 512 * 1024 * 1024  # bytes of finished results kept in all


@dataclass(eq=False)
class ServerJob:
    job: Any  # the engine's Job
    client: Client
    lane: str  # the client's own lane name
    progress: float = 0.0
    finished_at: float | None = None
    fetched_at: float | None = None

    @property
    def id(self) -> int:
        return int(self.job.id)

    @property
    def result_bytes(self) -> int:
        result = self.job.result
        if result is None:
            return 0
        latents = 0 if result.latents is None else getattr(result.latents, "nbytes", 0)
        return int(result.images.nbytes + latents)

    def state(self) -> dict[str, Any]:
        job = self.job
        state = {"id": self.id, "state": job.state.value, "lane": self.lane,
                 "label": job.label, "progress": self.progress}
        if job.superseded:
            state["superseded"] = True
        if job.error:
            state["error"] = job.error
        if job.result is not None:
            state["count"] = job.result.count
            state["shape"] = list(job.result.images.shape)
        return state


@dataclass(eq=False)
class Delivery:
    """A finished job's event with its result, made into a frame when it is sent (on the
    event loop, not on the engine's worker)."""

    sjob: ServerJob

    def frame(self) -> bytes:
        return protocol.finished_frame(self.sjob.id, self.sjob.lane, self.sjob.job.result)


Message = str | bytes | Delivery


@dataclass(eq=False)
class Client:
    id: str
    jobs: dict[int, ServerJob] = field(default_factory=dict)
    last_seen: float = field(default_factory=time.monotonic)
    # the open event stream: messages (str or bytes) posted to its loop
    loop: asyncio.AbstractEventLoop | None = None
    outbox: asyncio.Queue[Message] | None = None

    def post(self, message: Message) -> None:
        """From any thread: queue a message for the open stream (none open: dropped;
        the stream's replay on reconnect tells the state instead)."""
        loop, outbox = self.loop, self.outbox
        if loop is None or outbox is None:
            return
        try:
            loop.call_soon_threadsafe(outbox.put_nowait, message)
        except RuntimeError:  # the loop closed: the server is stopping
            pass

    def replay(self) -> list[Message]:
        """What a reconnecting stream is told: each kept job's latest state."""
        messages: list[Message] = []
        for sjob in sorted(self.jobs.values(), key=lambda s: s.id):
            state = sjob.job.state.value
            event = {"queued": ev.QUEUED, "running": ev.STARTED, "done": ev.FINISHED,
                     "failed": ev.FAILED, "cancelled": ev.CANCELLED}[state]
            if sjob.job.superseded:
                event = ev.DROPPED
            if event == ev.FINISHED and sjob.job.result is not None:
                messages.append(Delivery(sjob))
            else:
                messages.append(_event_message(event, sjob, sjob.job.error))
        return messages


def _event_message(event: str, sjob: ServerJob, payload: Any) -> str:
    fields: dict[str, Any] = {"lane": sjob.lane}
    if event == ev.QUEUED:
        fields["label"] = sjob.job.label
    elif event == ev.PROGRESS:
        fraction, message = payload
        fields.update(fraction=float(fraction), message=str(message or ""))
    elif event == ev.FAILED:
        fields.update(error=str(payload or sjob.job.error), unexpected=bool(sjob.job.unexpected))
    return protocol.event_text(event, sjob.id, **fields)


class Clients:
    def __init__(self, *, retention: float = RETENTION, memory_cap: int = MEMORY_CAP,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.retention, self.memory_cap, self.clock = retention, memory_cap, clock
        self._clients: dict[str, Client] = {}
        self._jobs: dict[int, ServerJob] = {}  # engine job id → its record, every client
        self._lock = threading.RLock()

    # -- clients --------------------------------------------------------------------------
    def new_client(self) -> Client:
        with self._lock:
            client = Client(secrets.token_urlsafe(18), last_seen=self.clock())
            self._clients[client.id] = client
            return client

    def get(self, client_id: str | None) -> Client | None:
        with self._lock:
            client = self._clients.get(client_id or "")
            if client is not None:
                client.last_seen = self.clock()
            return client

    def __len__(self) -> int:
        return len(self._clients)

    # -- jobs -----------------------------------------------------------------------------
    def submitting(self) -> threading.RLock:
        """Hold while submitting to the engine and adding the job: the worker's first
        events for it wait until the job is known (the lock is re-entrant: the queued
        event, raised on the submitter's thread, is told by the submitter instead)."""
        return self._lock

    def add_job(self, client: Client, job: Any, lane: str) -> ServerJob:
        with self._lock:
            sjob = ServerJob(job, client, lane)
            client.jobs[sjob.id] = sjob
            self._jobs[sjob.id] = sjob
            return sjob

    def job_of(self, client: Client, job_id: int) -> ServerJob | None:
        """The client's own job; another client's is None, as an unknown one is."""
        with self._lock:
            return client.jobs.get(job_id)

    def fetched(self, sjob: ServerJob) -> None:
        with self._lock:
            if sjob.fetched_at is None:
                sjob.fetched_at = self.clock()

    def forget(self, sjob: ServerJob) -> None:
        with self._lock:
            self._jobs.pop(sjob.id, None)
            sjob.client.jobs.pop(sjob.id, None)

    def kept_bytes(self) -> int:
        with self._lock:
            return sum(s.result_bytes for s in self._jobs.values() if s.finished_at is not None)

    def job_count(self) -> int:
        with self._lock:
            return len(self._jobs)

    # -- engine events (the worker's thread, or the loop's on submit) -----------------------
    def on_engine_event(self, event: str, job: Any, payload: Any) -> None:
        with self._lock:
            sjob = self._jobs.get(int(job.id))
        if sjob is None:
            # a job queues (and a synchronous one runs) before add_job: the submitter
            # tells the client about those itself
            return
        if event == ev.PREVIEW:
            sjob.client.post(protocol.preview_frame(sjob.id, payload))
            return
        if event == ev.PROGRESS:
            sjob.progress = float(payload[0])
        if event in (ev.FINISHED, ev.FAILED, ev.CANCELLED, ev.DROPPED):
            with self._lock:
                sjob.finished_at = self.clock()
            if event == ev.FINISHED:
                sjob.progress = 1.0
        if event == ev.FINISHED and sjob.job.result is not None:
            sjob.client.post(Delivery(sjob))  # the result goes with the event
            self.sweep()
        else:
            sjob.client.post(_event_message(event, sjob, payload))

    def queued_message(self, sjob: ServerJob) -> str:
        return _event_message(ev.QUEUED, sjob, None)

    # -- retention ------------------------------------------------------------------------
    def sweep(self) -> None:
        """Forget expired and fetched results and idle clients; keep the results within
        the memory cap, oldest out first."""
        now = self.clock()
        with self._lock:
            finished = sorted((s for s in self._jobs.values() if s.finished_at is not None),
                              key=lambda s: s.finished_at or 0.0)
            kept = []
            for sjob in finished:
                fetched_long_ago = (sjob.fetched_at is not None
                                    and now - sjob.fetched_at > FETCHED_GRACE)
                if fetched_long_ago or now - (sjob.finished_at or now) > self.retention:
                    self.forget(sjob)
                else:
                    kept.append(sjob)
            total = sum(s.result_bytes for s in kept)
            for sjob in kept:
                if total <= self.memory_cap:
                    break
                total -= sjob.result_bytes
                self.forget(sjob)
            for client in list(self._clients.values()):
                idle = client.outbox is None and now - client.last_seen > self.retention
                if idle and not client.jobs:
                    del self._clients[client.id]
