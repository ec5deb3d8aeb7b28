"""The HTTP and WebSocket face of the engine (protocol v1, see studio.server.protocol).

    GET    /v1/models                 the server's models (JSON)
    GET    /v1/status                 its device, loaded models and their memory
    POST   /v1/models/{id}/load       load a model now (else the first request does)
    POST   /v1/clients                a client id, for clients without an event stream
    POST   /v1/jobs?lane=&latest_wins=&label=   body: a recipe → {"id": ...}
    GET    /v1/jobs/{id}              its state
    GET    /v1/jobs/{id}/result       the whole result (JSON, studio.server.protocol)
    GET    /v1/jobs/{id}/result.png   the image with its recipe, as an export writes it
    GET    /v1/jobs/{id}/latents.npy  its latents
    DELETE /v1/jobs/{id}              cancel it (or forget its result)
    WS     /v1/events[?client=ID]     the client's events; the first message names its id

Every job call names its client in the `X-Studio-Client` header. With a token, every
call and the stream carry `Authorization: Bearer TOKEN`, compared in constant time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import json
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from studio.core.params import ParamError
from studio.server import protocol
from studio.server.clients import Clients, Delivery, Message, ServerJob

MAX_BODY = 16 * 1024 * 1024  # bytes in one request (a recipe embeds inputs up to 4 MB each)
SWEEP_INTERVAL = 5.0  # seconds between retention sweeps


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class TokenGuard:
    """ASGI middleware: without the Bearer token, HTTP answers 401 and a WebSocket is
    refused before it is accepted."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                else:
                    await _error(401, "a valid Bearer token is required")(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ServerState:
    def __init__(self, engine: Any, library: Any, registry: Any, clients: Clients,
                 max_body: int) -> None:
        self.engine, self.library, self.registry = engine, library, registry
        self.clients, self.max_body = clients, max_body

    # -- helpers --------------------------------------------------------------------------
    def client_of(self, request: HttpRequest) -> Any:
        client = self.clients.get(request.headers.get(protocol.CLIENT_HEADER))
        if client is None:
            raise Refused(403, "unknown client: connect to /v1/events or POST /v1/clients first")
        return client

    def job_of(self, request: HttpRequest) -> ServerJob:
        client = self.client_of(request)
        sjob = self.clients.job_of(client, int(request.path_params["job"]))
        if sjob is None:
            raise Refused(404, "no such job (finished results are kept for a while only)")
        return sjob

    def finished_result(self, request: HttpRequest) -> tuple[ServerJob, Any]:
        sjob = self.job_of(request)
        if sjob.job.result is None:
            raise Refused(409, f"job {sjob.id} has no result ({sjob.job.state.value})")
        self.clients.fetched(sjob)
        return sjob, sjob.job.result

    async def read_body(self, request: HttpRequest) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise Refused(413, f"the request is over {self.max_body} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise Refused(413, f"the request is over {self.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # -- routes ---------------------------------------------------------------------------
    async def models(self, request: HttpRequest) -> Response:
        rows = [{"id": e.id, "name": e.card.name, "family": e.family,
                 "resolution": e.card.resolution, "channels": e.card.channels,
                 "builtin": e.builtin, "size_bytes": e.size_bytes, "card": asdict(e.card)}
                for e in self.library.entries()]
        return JSONResponse({"protocol": protocol.PROTOCOL_VERSION, "models": rows})

    async def status(self, request: HttpRequest) -> Response:
        return JSONResponse(await run_in_threadpool(self._command, self.engine.status()))

    async def load(self, request: HttpRequest) -> Response:
        model_id = request.path_params["model"]
        try:
            self.library.get(model_id)
        except KeyError:
            raise Refused(404, f"unknown model {model_id!r}") from None
        return JSONResponse(await run_in_threadpool(self._command, self.engine.load(model_id)))

    def _command(self, job: Any) -> Any:
        job.wait()
        if job.error:
            raise Refused(422, job.error)
        return job.value

    async def new_client(self, request: HttpRequest) -> Response:
        return JSONResponse({"client": self.clients.new_client().id})

    async def submit(self, request: HttpRequest) -> Response:
        client = self.client_of(request)
        body = await self.read_body(request)
        try:
            model_request = protocol.request_from_body(body)
        except protocol.ProtocolError as exc:
            raise Refused(400, str(exc)) from None
        self.refuse_paths(model_request)
        lane = request.query_params.get("lane", "default")
        if not lane or len(lane) > protocol.MAX_LANE:
            raise Refused(400, f"a lane is 1 to {protocol.MAX_LANE} characters")
        latest_wins = request.query_params.get("latest_wins", "0") in ("1", "true")
        label = request.query_params.get("label", "")[:200]
        try:
            with self.clients.submitting():
                job = self.engine.submit(model_request, lane=f"{client.id}/{lane}",
                                         latest_wins=latest_wins, label=label)
                sjob = self.clients.add_job(client, job, lane)
                client.post(self.clients.queued_message(sjob))
        except (ParamError, KeyError, ValueError) as exc:
            raise Refused(422, str(exc).strip("'\"")) from None
        # let the engine's worker take the GIL and start the job now, rather than after
        # this thread's switch interval (measured: the job starts ~0.2 ms sooner)
        time.sleep(0)
        return JSONResponse({"id": sjob.id}, status_code=201)

    def refuse_paths(self, request: Any) -> None:
        """A parameter that names a file or folder (ParamSpec.local_path) would make the
        server read a path the client names: refused when it is not empty."""
        try:
            family = self.library.get(request.model_id).card.family
            op = self.registry.get(family).op(request.op)
        except KeyError:
            return  # the engine's check names what is unknown
        for spec in op.params:
            if spec.local_path and request.params.get(spec.name):
                raise Refused(422, f"{spec.name}: names a path on the server, which reads no "
                              "path a client names (leave it empty here)")

    async def job_state(self, request: HttpRequest) -> Response:
        return JSONResponse(self.job_of(request).state())

    async def cancel(self, request: HttpRequest) -> Response:
        sjob = self.job_of(request)
        if sjob.job.state.finished:
            self.clients.forget(sjob)  # a finished job: its result is not wanted any more
        else:
            self.engine.cancel(sjob.job)
        return JSONResponse(sjob.state())

    async def result(self, request: HttpRequest) -> Response:
        _sjob, result = self.finished_result(request)
        body = await run_in_threadpool(protocol.result_to_json, result)
        return Response(body, media_type="application/json")

    async def result_png(self, request: HttpRequest) -> Response:
        _sjob, result = self.finished_result(request)
        return Response(await run_in_threadpool(_png_bytes, result), media_type="image/png")

    async def latents_npy(self, request: HttpRequest) -> Response:
        sjob, result = self.finished_result(request)
        if result.latents is None:
            raise Refused(404, f"job {sjob.id} made no latents")
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(result.latents), allow_pickle=False)
        return Response(buffer.getvalue(), media_type="application/octet-stream")

    async def events(self, socket: WebSocket) -> None:
        client = self.clients.get(socket.query_params.get("client"))
        resumed = client is not None
        if client is None:
            client = self.clients.new_client()
        await socket.accept()
        outbox: asyncio.Queue[Message] = asyncio.Queue()
        client.loop, client.outbox = asyncio.get_running_loop(), outbox
        await socket.send_text(json.dumps({"event": "hello", "client": client.id,
                                           "protocol": protocol.PROTOCOL_VERSION,
                                           "resumed": resumed}))
        for message in client.replay() if resumed else []:
            outbox.put_nowait(message)
        sender = asyncio.create_task(_send_all(socket, outbox, self.clients))
        try:
            while True:  # the client sends nothing; this notices when it goes
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        except WebSocketDisconnect:
            pass
        finally:
            if client.outbox is outbox:
                client.loop, client.outbox = None, None
            client.last_seen = self.clients.clock()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender


async def _send_all(socket: WebSocket, outbox: asyncio.Queue[Message], clients: Clients) -> None:
    while True:
        message = await outbox.get()
        if isinstance(message, Delivery):
            await socket.send_bytes(message.frame())
            clients.fetched(message.sjob)
        elif isinstance(message, bytes):
            await socket.send_bytes(message)
        else:
            await socket.send_text(message)


def _png_bytes(result: Any) -> bytes:
    # through the export itself, so the file is the one `File › Export` writes
    from studio.core.export import export_png

    with tempfile.TemporaryDirectory(prefix="studio-serve-") as folder:
        path = Path(folder) / "result.png"
        export_png(path, result)
        return path.read_bytes()


def _guarded(handler: Any) -> Any:
    async def endpoint(request: HttpRequest) -> Response:
        try:
            return await handler(request)
        except Refused as exc:
            return _error(exc.status, str(exc))
    return endpoint


def build_app(engine: Any, library: Any, *, token: str | None = None,
              clients: Clients | None = None, max_body: int = MAX_BODY,
              shutdown_engine: bool = False) -> Any:
    """The ASGI app around a threaded engine (its model cache's registry gives the op
    specs). `token`: required on every call when set."""
    clients = clients or Clients()
    state = ServerState(engine, library, engine.cache.registry, clients, max_body)
    engine.add_listener(clients.on_engine_event)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def sweep_forever() -> None:
            while True:
                await asyncio.sleep(SWEEP_INTERVAL)
                clients.sweep()
        sweeper = asyncio.create_task(sweep_forever())
        try:
            yield
        finally:
            sweeper.cancel()
            engine.remove_listener(clients.on_engine_event)
            if shutdown_engine:
                await run_in_threadpool(engine.shutdown)

    p = protocol.PREFIX
    routes = [
        Route(f"{p}/models", _guarded(state.models), methods=["GET"]),
        Route(f"{p}/status", _guarded(state.status), methods=["GET"]),
        Route(f"{p}/models/{{model}}/load", _guarded(state.load), methods=["POST"]),
        Route(f"{p}/clients", _guarded(state.new_client), methods=["POST"]),
        Route(f"{p}/jobs", _guarded(state.submit), methods=["POST"]),
        Route(f"{p}/jobs/{{job:int}}", _guarded(state.job_state), methods=["GET"]),
        Route(f"{p}/jobs/{{job:int}}", _guarded(state.cancel), methods=["DELETE"]),
        Route(f"{p}/jobs/{{job:int}}/result", _guarded(state.result), methods=["GET"]),
        Route(f"{p}/jobs/{{job:int}}/result.png", _guarded(state.result_png), methods=["GET"]),
        Route(f"{p}/jobs/{{job:int}}/latents.npy", _guarded(state.latents_npy), methods=["GET"]),
        WebSocketRoute(f"{p}/events", state.events),
    ]
    app: Any = Starlette(routes=routes, lifespan=lifespan)
    app.state.clients = clients
    return TokenGuard(app, token) if token else app
