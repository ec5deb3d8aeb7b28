"""Server fixtures: the real server (uvicorn, on a thread, on a free loopback port) around
an engine on the fake families, and remote engines connected to it."""

from __future__ import annotations

import json
import time

import pytest

from studio.core.cache import ModelCache
from studio.core.engine import Engine, validator_for
from studio.core.requests import Request
from studio.server.clients import Clients
from studio.server.protocol import read_binary_frame, read_preview_frame
from studio.server.remote import RemoteEngine
from studio.server.serve import ServerThread
from tests.fakes import (
    FakeGANModel,
    FakeLibrary,
    FakeModel,
    fake_card,
    fake_gan_card,
    fake_registry,
)

TOKEN = "a-test-token-of-32-characters-xx"


def make_engine(synchronous: bool = False) -> tuple[Engine, FakeLibrary]:
    library, registry = FakeLibrary(fake_card(), fake_gan_card()), fake_registry()
    cache = ModelCache(library, registry, device="cpu")
    engine = Engine(cache, synchronous=synchronous, threads=1,
                    validate=validator_for(registry, library))
    return engine, library


@pytest.fixture
def reset_fakes():
    yield
    FakeModel.step_delay, FakeModel.fail_with, FakeModel.gate = 0.0, None, None
    FakeGANModel.step_delay, FakeGANModel.gate = 0.0, None


@pytest.fixture
def server(reset_fakes):
    """(ServerThread, Clients) without a token."""
    engine, library = make_engine()
    clients = Clients()
    thread = ServerThread(engine, library, clients=clients).start()
    yield thread, clients
    thread.stop()
    engine.shutdown()


@pytest.fixture
def token_server(reset_fakes):
    engine, library = make_engine()
    thread = ServerThread(engine, library, token=TOKEN, max_body=64 * 1024).start()
    yield thread
    thread.stop()
    engine.shutdown()


@pytest.fixture
def remote_factory():
    remotes: list[RemoteEngine] = []

    def make(url: str, **options) -> RemoteEngine:
        remote = RemoteEngine(url, **options)
        remotes.append(remote)
        return remote

    yield make
    for remote in remotes:
        remote.shutdown()


class RawClient:
    """A client speaking the protocol by hand: its event stream and its HTTP calls."""

    def __init__(self, url: str, token: str | None = None, client_id: str | None = None) -> None:
        import httpx
        from websockets.sync.client import connect

        auth = {"Authorization": f"Bearer {token}"} if token else {}
        ws = "ws" + url[4:] + "/v1/events" + (f"?client={client_id}" if client_id else "")
        self.socket = connect(ws, additional_headers=auth, legacy=True)
        self.hello = json.loads(self.socket.recv(5))
        self.id = self.hello["client"]
        self.http = httpx.Client(base_url=url, timeout=10,
                                 headers={**auth, "X-Studio-Client": self.id})

    def submit(self, request: Request, **params) -> int:
        response = self.http.post("/v1/jobs", content=request.to_json(), params=params)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def events_until(self, job_id: int, ends=("finished", "failed", "cancelled", "dropped"),
                     timeout: float = 10.0) -> list:
        """Messages (dicts, or (job, images) for previews) until `job_id` ends; a
        finished event's result is its "payload"."""
        messages = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.socket.recv(max(0.01, deadline - time.monotonic()))
            if isinstance(frame, bytes):
                header, payload = read_binary_frame(frame)
                if header["event"] == "preview":
                    messages.append(read_preview_frame(frame))
                    continue
                message = {**header, "payload": bytes(payload)}  # finished, with its result
            else:
                message = json.loads(frame)
            messages.append(message)
            if message.get("job") == job_id and message["event"] in ends:
                return messages

    def close(self) -> None:
        self.socket.close()
        self.http.close()


@pytest.fixture
def raw_clients():
    made: list[RawClient] = []

    def make(url: str, **options) -> RawClient:
        made.append(RawClient(url, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()
