"""An engine on the other end of `studio serve`, with the in-process Engine's interface
(submit, cancel, listeners, load, status...), so the window does not know the difference.

Model runs go to the server: `submit` posts the recipe and returns a local `Job` at once;
the server's events arrive on a reader thread, which fetches a finished result and
finishes the local job there, as the engine's worker does. Plain calls (`submit_call`:
training, imports, the animator's export) run on the local engine: only model requests
travel in protocol v1.

A lost connection is retried in the background with the same client id, so the server
replays the state of this client's jobs and no finished result is lost; `on_connection`
callbacks hear of every change ("connected", "reconnecting: why").
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import websockets.exceptions
from websockets.sync.client import ClientConnection, connect

from studio.core import engine as ev
from studio.core.engine import Job, JobState
from studio.core.params import ParamError
from studio.core.requests import Request, new_job_id
from studio.server import protocol
from studio.server.http_client import HttpClient, Response

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)  # seconds between reconnection attempts
EARLY_EVENT_WAIT = 5.0  # seconds an event may wait for its job's POST to return
ENDED_KEPT = 4096  # ended jobs remembered, so their replayed events are skipped at once


class RemoteError(OSError):
    """The server could not be reached or refused the connection."""


class RemoteEngine:
    synchronous = False

    def __init__(self, url: str, *, token: str | None = None, local: Any = None,
                 timeout: float = 10.0) -> None:
        """`url`: http://host:port of a `studio serve`; `local`: the in-process engine that
        runs plain calls (training stays on this machine)."""
        self.url = url.rstrip("/")
        self.local = local
        self.threads = getattr(local, "threads", 1)
        self.warmed_up = threading.Event()
        self.warmed_up.set()
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self._listeners: list[ev.Listener] = []
        self._local_listeners: dict[Any, Any] = {}
        self.on_connection: list[Callable[[str], None]] = []
        self._lock = threading.Condition(threading.RLock())
        self._by_remote: dict[int, Job] = {}  # server job id → local job, while it runs
        self._remote_of: dict[int, int] = {}  # local job id → server job id
        self._in_flight = 0  # POSTs not answered yet (their events may come first)
        # server ids of jobs that ended here: a replay after a reconnection names them again
        self._ended: deque[int] = deque(maxlen=ENDED_KEPT)
        self._running: Job | None = None
        self._closed = False
        self.connected = threading.Event()
        self.client_id = ""
        self._socket: ClientConnection | None = None
        self._socket_open(timeout)  # the first connection fails loudly
        self.http = HttpClient(self.url, timeout=timeout,
                               headers={**self._auth, protocol.CLIENT_HEADER: self.client_id})
        self._reader = threading.Thread(target=self._read_forever, name="studio-remote",
                                        daemon=True)
        self._reader.start()

    # -- the connection -------------------------------------------------------------------
    def _socket_open(self, timeout: float) -> None:
        ws_url = "ws" + self.url[len("http"):] + f"{protocol.PREFIX}/events"
        if self.client_id:
            ws_url += f"?client={quote(self.client_id)}"
        try:
            socket = connect(ws_url, additional_headers=self._auth, open_timeout=timeout,
                             max_size=64 * 1024 * 1024, compression=None, legacy=True)
            hello = json.loads(socket.recv(timeout))
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            raise RemoteError(f"cannot connect to {self.url}: {exc}") from None
        if hello.get("event") != "hello" or hello.get("protocol") != protocol.PROTOCOL_VERSION:
            socket.close()
            raise RemoteError(f"{self.url} does not speak protocol v{protocol.PROTOCOL_VERSION}")
        client = str(hello["client"])
        if self.client_id and client != self.client_id:
            # a restarted server numbers its jobs from 1 again: the ids that ended on the
            # old one must not make a new job's early events look like replays (they were
            # dropped, and that job never ended here)
            with self._lock:
                self._ended.clear()
        self.client_id = client
        self._socket = socket
        self.connected.set()

    def _read_forever(self) -> None:
        while not self._closed:
            socket = self._socket
            try:
                assert socket is not None
                for message in socket:
                    self._on_message(message)
                reason = "the server closed the connection"
            except (OSError, websockets.exceptions.WebSocketException) as exc:
                reason = str(exc) or type(exc).__name__
            except Exception:  # a bug in handling one message must not end the stream
                log.exception("remote engine: handling an event failed")
                continue
            if self._closed:
                return
            self.connected.clear()
            self._tell_connection(f"reconnecting: {reason}")
            self._reconnect()

    def _reconnect(self) -> None:
        attempt = 0
        while not self._closed:
            time.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
            attempt += 1
            try:
                self._socket_open(5.0)
            except RemoteError as exc:
                log.info("remote engine: %s", exc)
                continue
            # a server that restarted forgot this client: the new id goes on every call
            self.http.headers[protocol.CLIENT_HEADER] = self.client_id
            self._fail_forgotten()
            self._tell_connection("connected")
            return

    def _fail_forgotten(self) -> None:
        """Jobs the server no longer knows (it restarted) will never end there: end them."""
        with self._lock:
            waiting = list(self._by_remote.items())
        for remote_id, job in waiting:
            try:
                known = self.http.get(f"{protocol.PREFIX}/jobs/{remote_id}").status_code == 200
            except OSError:
                known = True  # it will be asked again at the next reconnection
            if not known:
                self._end(remote_id, job, JobState.FAILED, ev.FAILED,
                          "the server restarted and lost this job")

    def _tell_connection(self, state: str) -> None:
        for callback in list(self.on_connection):
            try:
                callback(state)
            except Exception:
                log.exception("remote engine: a connection callback raised")

    # -- events from the server (the reader thread) ---------------------------------------
    def _job_for(self, remote_id: int) -> Job | None:
        deadline = time.monotonic() + EARLY_EVENT_WAIT
        with self._lock:
            # an event can overtake the answer to its POST: wait for the POST to return
            while (remote_id not in self._by_remote and self._in_flight
                   and remote_id not in self._ended):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            return self._by_remote.get(remote_id)

    def _on_message(self, message: str | bytes) -> None:
        payload: memoryview | None = None
        if isinstance(message, bytes):  # a preview, or a result with its finished event
            data, payload = protocol.read_binary_frame(message)
        else:
            data = json.loads(message)
        event, remote_id = data.get("event"), int(data.get("job", 0))
        job = self._job_for(remote_id)
        if job is None or job.state.finished:
            return
        if event == ev.PREVIEW and payload is not None:
            self._emit(ev.PREVIEW, job, protocol.preview_images(data, payload))
        elif event == ev.STARTED and job.state is JobState.QUEUED:
            job.state = JobState.RUNNING
            job.started_at = time.perf_counter()
            self._running = job
            self._emit(ev.STARTED, job, None)
        elif event == ev.PROGRESS:
            self._emit(ev.PROGRESS, job, (data.get("fraction", 0.0), data.get("message", "")))
        elif event == ev.FINISHED:
            self._finished(remote_id, job, data, payload)
        elif event == ev.FAILED:
            job.unexpected = bool(data.get("unexpected", False))
            self._end(remote_id, job, JobState.FAILED, ev.FAILED, str(data.get("error", "")))
        elif event == ev.CANCELLED:
            self._end(remote_id, job, JobState.CANCELLED, ev.CANCELLED, job.error)
        elif event == ev.DROPPED:
            job.superseded = True
            self._end(remote_id, job, JobState.CANCELLED, ev.DROPPED, job.error)

    def _finished(self, remote_id: int, job: Job, header: dict[str, Any],
                  payload: memoryview | None) -> None:
        assert job.request is not None
        if payload is not None:
            result = protocol.result_from_frame(header, payload, job.request)
        else:  # sent without its result: ask for it
            response = self.http.get(f"{protocol.PREFIX}/jobs/{remote_id}/result")
            if response.status_code != 200:
                self._end(remote_id, job, JobState.FAILED, ev.FAILED,
                          _error_text(response, "the server lost the result"))
                return
            result = protocol.result_from_json(response.content, job.request)
        # as in-process: the job's request is the checked one, defaults filled in
        job.request = result.request
        job.result = result
        self._end(remote_id, job, JobState.DONE, ev.FINISHED, result)

    def _end(self, remote_id: int, job: Job, state: JobState, event: str, payload: Any) -> None:
        with self._lock:
            if job.state.finished:
                return
            if self._by_remote.pop(remote_id, None) is not None:
                self._ended.append(remote_id)
            self._remote_of.pop(job.id, None)
            if self._running is job:
                self._running = None
            if state is JobState.FAILED:
                job.error = str(payload)
            job.state = state
            job.finished_at = time.perf_counter()
            self._lock.notify_all()
        self._emit(event, job, payload)
        ev.settle(job)

    def _emit(self, event: str, job: Job, payload: Any) -> None:
        ev.emit_to(self._listeners, event, job, payload)

    # -- the engine's interface -----------------------------------------------------------
    def add_listener(self, listener: ev.Listener) -> None:
        self._listeners.append(listener)
        if self.local is not None:  # plain calls report through the same listeners
            self.local.add_listener(listener)

    def remove_listener(self, listener: ev.Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)
        if self.local is not None:
            self.local.remove_listener(listener)

    def start(self) -> None:
        if self.local is not None:
            self.local.start()

    def submit(self, request: Request, *, lane: str = "default", latest_wins: bool = False,
               label: str = "", on_done: Callable[[Job], None] | None = None) -> Job:
        """Post a model run. Refused parameters raise ParamError, as locally; an
        unreachable server fails the job (the reason goes to the listeners)."""
        job = Job(id=new_job_id(), label=label or f"{request.op} · {request.model_id}",
                  lane=lane, request=request)
        if on_done is not None:
            job.callbacks["done"] = on_done
        with self._lock:
            self._in_flight += 1  # the reader holds this job's early events meanwhile
        known = False
        try:
            try:
                response = self.http.post(
                    f"{protocol.PREFIX}/jobs", content=protocol.request_body(request),
                    params={"lane": lane, "latest_wins": int(latest_wins), "label": job.label})
            except OSError as exc:
                return self._not_taken(job, f"the server is unreachable ({exc})")
            if response.status_code in (400, 404, 413, 422):
                raise ParamError(_error_text(response, "the server refused the request"))
            if response.status_code != 201:
                return self._not_taken(job, _error_text(response, "refused"))
            remote_id = int(response.json()["id"])
            self._emit(ev.QUEUED, job, None)  # as in-process: `queued` before its other events
            # known and no longer in flight in one step: a reader holding an early event
            # must never see the gap between (it dropped the job's events there)
            with self._lock:
                self._by_remote[remote_id] = job
                self._remote_of[job.id] = remote_id
                self._in_flight -= 1
                known = True
                self._lock.notify_all()
            return job
        finally:
            if not known:
                with self._lock:
                    self._in_flight -= 1
                    self._lock.notify_all()

    def _not_taken(self, job: Job, why: str) -> Job:
        """A job the server never took: queued and failed here, as the listeners expect."""
        self._emit(ev.QUEUED, job, None)
        self._end(0, job, JobState.FAILED, ev.FAILED, why)
        return job

    def submit_call(self, task: Any, *, label: str, lane: str = "default",
                    latest_wins: bool = False, on_done: Callable[[Job], None] | None = None) -> Job:
        if self.local is None:
            raise RuntimeError("plain calls run on a local engine, and none was given")
        return self.local.submit_call(task, label=label, lane=lane, latest_wins=latest_wins,
                                      on_done=on_done)

    def cancel(self, job: Job) -> None:
        with self._lock:
            remote_id = self._remote_of.get(job.id)
        if remote_id is None:
            if self.local is not None and job.request is None:
                self.local.cancel(job)
            return
        job.cancel()
        try:  # the server answers with the cancelled event
            self.http.delete(f"{protocol.PREFIX}/jobs/{remote_id}")
        except OSError as exc:
            log.info("remote engine: cancel of job %s not sent: %s", remote_id, exc)

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._by_remote.values())
        for job in jobs:
            self.cancel(job)
        if self.local is not None:
            self.local.cancel_all()

    @property
    def running_job(self) -> Job | None:
        return self._running

    def pending(self) -> list[Job]:
        with self._lock:
            return [j for j in self._by_remote.values() if j.state is JobState.QUEUED]

    def idle(self) -> bool:
        with self._lock:
            remote_idle = not self._by_remote
        return remote_idle and (self.local is None or self.local.idle())

    def wait_idle(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._by_remote:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        if self.local is None:
            return True
        return bool(self.local.wait_idle(max(0.0, deadline - time.monotonic())))

    # -- commands: the model manager's, answered by the server -----------------------------
    def _command(self, label: str, call: Callable[[], Any], lane: str = "calls") -> Job:
        job = Job(id=new_job_id(), label=label, lane=lane)
        self._emit(ev.QUEUED, job, None)

        def run() -> None:
            job.state = JobState.RUNNING
            self._emit(ev.STARTED, job, None)
            try:
                job.value = call()
            except (OSError, ValueError) as exc:
                self._end(0, job, JobState.FAILED, ev.FAILED, str(exc))
                return
            self._end(0, job, JobState.DONE, ev.FINISHED, None)

        threading.Thread(target=run, name=f"studio-remote-{label}", daemon=True).start()
        return job

    def _status(self, path: str = "/status", method: str = "GET") -> dict[str, Any]:
        response = self.http.request(method, f"{protocol.PREFIX}{path}")
        if response.status_code != 200:
            raise ValueError(_error_text(response, "the server refused"))
        return dict(response.json())

    def load(self, model_id: str, *, lane: str = "calls") -> Job:
        return self._command(f"load {model_id}",
                             lambda: self._status(f"/models/{quote(model_id)}/load", "POST"), lane)

    def unload(self, model_id: str, *, lane: str = "calls") -> Job:
        # the server keeps its models for every client: only its state is shown
        return self._command(f"unload {model_id}", self._status, lane)

    def status(self, *, lane: str = "calls") -> Job:
        return self._command("status", self._status, lane)

    def set_device(self, device: str | None, *, fallback: str | None = None,
                   check: bool = True, label: str = "", lane: str = "calls") -> Job:
        def keep() -> dict[str, Any] | None:
            if check:
                raise ValueError("the server chooses its own device (studio serve's machine)")
            return None
        return self._command(label or "device", keep, lane)

    def models(self) -> list[dict[str, Any]]:
        """The server's models (GET /v1/models)."""
        response = self.http.get(f"{protocol.PREFIX}/models")
        if response.status_code != 200:
            raise RemoteError(_error_text(response, "the server did not list its models"))
        return list(response.json()["models"])

    def library(self, local: Any) -> Any:
        """The server's models as a library (the window's model dock), beside `local`."""
        from studio.server.remote_library import ServerLibrary

        return ServerLibrary(self.models(), local)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Close the connection (the server and its jobs go on); stop the local engine."""
        self._closed = True
        with self._lock:
            jobs = list(self._by_remote.items())
        for remote_id, job in jobs:
            self._end(remote_id, job, JobState.CANCELLED, ev.CANCELLED, "disconnected")
        if self._socket is not None:
            self._socket.close()
        self._reader.join(timeout)
        self.http.close()
        if self.local is not None:
            self.local.shutdown(timeout)

    def disconnect(self) -> None:
        """Close the connection but leave the local engine running (the window goes back
        to it)."""
        local, self.local = self.local, None
        try:
            self.shutdown()
        finally:
            self.local = local


def _error_text(response: Response, fallback: str) -> str:
    try:
        return str(response.json().get("error") or fallback)
    except ValueError:
        return f"{fallback} (HTTP {response.status_code})"
