"""A small keep-alive HTTP/1.1 client for the remote engine, on the standard library.

One connection per thread (http.client connections are not thread-safe; the window
submits from its thread, the event reader fetches on its own). Measured on loopback it
costs about half of what a general client (httpx) costs per call, which the remote
engine's overhead target notices (a submit is on the critical path of every scrub frame).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit


class HttpError(OSError):
    """The server could not be reached, or the connection broke."""


class Response:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    def json(self) -> Any:
        return json.loads(self.content)


# a keep-alive connection the server closed while idle: the request never reached it
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class HttpClient:
    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http:// or https:// address")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self.headers = dict(headers or {})  # sent with every request (the client id changes)
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)

    def request(self, method: str, path: str, *, content: bytes | None = None,
                params: Mapping[str, Any] | None = None) -> Response:
        target = path + (f"?{urlencode(params)}" if params else "")
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, target, body=content, headers=self.headers)
                answer = conn.getresponse()
                return Response(answer.status, answer.read())
            except (http.client.HTTPException, OSError) as exc:
                self._drop(conn)
                if attempt == 0 and isinstance(exc, _STALE):
                    continue  # once, on a fresh connection
                raise HttpError(f"{method} {path}: {exc or type(exc).__name__}") from None
        raise AssertionError("unreachable")

    def get(self, path: str, **options: Any) -> Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> Response:
        return self.request("POST", path, **options)

    def delete(self, path: str, **options: Any) -> Response:
        return self.request("DELETE", path, **options)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
