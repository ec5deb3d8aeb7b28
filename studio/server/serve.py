"""Running the app on uvicorn: in the foreground for `studio serve`, or on a thread for
tests and benchmarks (`ServerThread`, on a free port)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from studio.server.app import build_app

LOOPBACK_NAMES = ("localhost",)


class ServeError(ValueError):
    """`studio serve` was asked for something unsafe or impossible; the text says what."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: str | Path | None, host: str) -> str | None:
    """The token from its file; binding past loopback without one is refused."""
    if path is None:
        if not is_loopback(host):
            raise ServeError(f"binding to {host} needs a token: pass --token-file FILE "
                             "(or bind to 127.0.0.1 and use an SSH tunnel)")
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeError(f"cannot read the token file {path}: {exc}") from None
    if len(token) < 16 or any(c.isspace() for c in token):
        raise ServeError(f"{path}: a token is one line of at least 16 characters, no spaces")
    return token


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    # websockets for the stream; no access log (a line per scrub request is noise)
    return uvicorn.Config(app, host=host, port=port, ws="websockets-sansio", log_level="warning",
                          access_log=False, lifespan="on", ws_max_size=16 * 1024 * 1024,
                          timeout_keep_alive=75)  # a window idles between requests


_serving: set[uvicorn.Server] = set()  # the `serve` calls running in this process


def serve(engine: Any, library: Any, *, host: str, port: int, token: str | None) -> None:
    """Serve until interrupted (Ctrl+C) or `stop_serving()`."""
    app = build_app(engine, library, token=token, shutdown_engine=True)
    server = uvicorn.Server(_config(app, host, port))
    _serving.add(server)
    try:
        server.run()
    finally:
        _serving.discard(server)


def stop_serving() -> None:
    """Stop every `serve` running in this process, as Ctrl+C does (for an embedding
    program, or a test that ran `studio serve` on a thread)."""
    for server in list(_serving):
        server.should_exit = True


class ServerThread:
    """A server on a thread, for tests and benchmarks: `start()` returns once it listens."""

    def __init__(self, engine: Any, library: Any, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, **app_options: Any) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.app = build_app(engine, library, token=token, **app_options)
        self.server = uvicorn.Server(_config(self.app, host, self.port))
        self._thread = threading.Thread(target=self.server.run, name="studio-serve", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
