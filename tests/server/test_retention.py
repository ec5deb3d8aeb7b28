"""How long the server keeps finished results: until fetched (and a grace after), or
the retention time, within the memory cap, oldest out first; idle clients are forgotten."""

from __future__ import annotations

from studio.core import engine as ev
from studio.core.requests import Request
from studio.server.clients import FETCHED_GRACE, Clients
from tests.server.conftest import make_engine


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def finished_jobs(clients: Clients, client, count: int, images: int = 4):
    """Jobs run for real (synchronously), then told to the clients as the engine would."""
    engine, _library = make_engine(synchronous=True)
    records = []
    for seed in range(count):
        job = engine.submit(Request("fake-model", "sample", {"seed": seed, "count": images}))
        record = clients.add_job(client, job, "default")
        clients.on_engine_event(ev.FINISHED, job, job.result)
        records.append(record)
    return records


def test_results_stay_until_fetched_or_expired():
    clock = Clock()
    clients = Clients(clock=clock)
    client = clients.new_client()
    fetched, unfetched = finished_jobs(clients, client, 2)
    clients.fetched(fetched)
    clock.now += FETCHED_GRACE - 1
    clients.sweep()
    assert clients.job_of(client, fetched.id) is fetched  # still there for the PNG, the latents
    clock.now += 2
    clients.sweep()
    assert clients.job_of(client, fetched.id) is None
    assert clients.job_of(client, unfetched.id) is unfetched
    clock.now += clients.retention
    clients.sweep()
    assert clients.job_of(client, unfetched.id) is None and clients.job_count() == 0


def test_the_memory_cap_drops_the_oldest_results_first():
    clock = Clock()
    clients = Clients(clock=clock, memory_cap=10**9)
    client = clients.new_client()
    records = []
    for _ in range(4):  # finished one after another
        records += finished_jobs(clients, client, 1)
        clock.now += 1
    each = records[0].result_bytes
    assert each > 0 and clients.kept_bytes() == 4 * each
    clients.memory_cap = 2 * each
    clients.sweep()
    assert [clients.job_of(client, r.id) for r in records] == [None, None, records[2], records[3]]
    assert clients.kept_bytes() == 2 * each


def test_idle_clients_without_jobs_are_forgotten():
    clock = Clock()
    clients = Clients(clock=clock)
    idle, busy = clients.new_client(), clients.new_client()
    finished_jobs(clients, busy, 1)
    clock.now += clients.retention / 2
    assert clients.get(busy.id) is busy  # seen now
    clock.now += clients.retention / 2 + 1
    clients.sweep()
    assert clients.get(idle.id) is None
    assert clients.get(busy.id) is busy and not busy.jobs  # seen lately; its result expired
