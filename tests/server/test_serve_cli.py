"""`studio serve`, called in-process on a thread: it serves the library's built-in models
through the real engine, and stops as Ctrl+C would stop it."""

from __future__ import annotations

import threading
import time

import numpy as np

from studio.cli import main
from studio.core.engine import JobState, run_sync
from studio.core.requests import Request
from studio.server.remote import RemoteEngine, RemoteError
from studio.server.serve import free_port, stop_serving
from studio.wiring import build_services


def connect(url: str, timeout: float = 60.0) -> RemoteEngine:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return RemoteEngine(url)
        except RemoteError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_studio_serve_runs_the_built_in_models_until_stopped(capsys):
    port = free_port()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main(["serve", "--port", str(port),
                                                                 "--threads", "1"])))
    thread.start()
    try:
        remote = connect(f"http://127.0.0.1:{port}")
        try:
            assert "vae-glyphs" in [m["id"] for m in remote.models()]
            request = Request("vae-glyphs", "sample", {"seed": 5, "count": 2})
            job = remote.submit(request)
            assert job.wait(120) and job.state is JobState.DONE
        finally:
            remote.shutdown()
    finally:
        stop_serving()
        thread.join(30)
    assert codes == [0] and not thread.is_alive()
    assert f"http://127.0.0.1:{port} (protocol v1, loopback only)" in capsys.readouterr().err
    services = build_services(synchronous=True, threads=1)
    try:
        expected = run_sync(services.engine, request)
    finally:
        services.close()
    assert np.array_equal(job.result.images, expected.images)
    assert np.array_equal(job.result.latents, expected.latents)
