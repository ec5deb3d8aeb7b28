"""Clients are kept apart: one never sees, fetches or cancels another's jobs, and each
stream carries only its own client's events."""

from __future__ import annotations

import threading

from studio.core.requests import Request
from tests.fakes import FakeModel


def test_one_client_cannot_see_fetch_or_cancel_anothers_jobs(server, raw_clients):
    thread, _clients = server
    FakeModel.gate = threading.Event()
    a, b = raw_clients(thread.url), raw_clients(thread.url)
    assert a.id != b.id and len(a.id) >= 20
    job_a = a.submit(Request("fake-model", "sample", {"seed": 1, "count": 2}))
    a.events_until(job_a, ends=("started",))
    for path in (f"/v1/jobs/{job_a}", f"/v1/jobs/{job_a}/result", f"/v1/jobs/{job_a}/result.png",
                 f"/v1/jobs/{job_a}/latents.npy"):
        assert b.http.get(path).status_code == 404
    assert b.http.delete(f"/v1/jobs/{job_a}").status_code == 404
    job_b = b.submit(Request("fake-model", "sample", {"seed": 2, "count": 2}))
    FakeModel.gate.set()
    seen_by_a = a.events_until(job_a)
    assert seen_by_a[-1]["event"] == "finished"  # B's cancel did nothing
    seen_by_b = b.events_until(job_b)
    assert all(m[0] == job_b if isinstance(m, tuple) else m["job"] == job_b for m in seen_by_b)
    assert all(m[0] == job_a if isinstance(m, tuple) else m["job"] == job_a for m in seen_by_a)
    assert a.http.get(f"/v1/jobs/{job_a}/result").status_code == 200
