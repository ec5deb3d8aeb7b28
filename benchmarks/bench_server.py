"""`studio serve` on loopback (issue 18): the real server on a thread, the built-in models,
remote engines as the window uses them.

- job overhead: the same ~50 ms job (a VAE sample grid of 64) through the server against
  in-process, 60 pairs run back to back, the median of their ratios. Target: remote ≤
  1.10 × in-process.
- preview latency: from the server's preview callback (its engine listener) to the
  remote engine's listener, for a diffusion sample's step previews. Target: median ≤ 20 ms.
- scrub latency: a latest-wins decode of one latent with the built-in VAE, one after
  another, through the server against in-process. Target: median ≤ 1.3 × in-process + 5 ms.
- load: 8 clients × 200 decode requests at once, each with its own latent; every result
  must come back to the client that asked, equal to the in-process decode of its latent.
  Targets: none lost, none misdelivered, server memory growth ≤ 150 MB and the results
  kept within the memory cap.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Report, median
from studio.core.engine import JobState
from studio.core.requests import Request
from studio.server.remote import RemoteEngine
from studio.server.serve import ServerThread
from studio.wiring import build_services

VAE, DIFFUSION = "vae-glyphs", "diffusion-glyphs"
# the "50 ms job": a VAE sample grid of 64 (the op's maximum) takes 45-55 ms in-process on
# this 2-core machine; a fixed job, so that a slow moment while calibrating cannot shorten it
JOB_IMAGES = 64


def run(smoke: bool = False) -> list[Report]:
    home = Path(tempfile.mkdtemp(prefix="studio-bench-serve-"))
    services = build_services(home=home, device="cpu")
    server = ServerThread(services.engine, services.library).start()
    clients = server.app.state.clients
    try:
        remote = RemoteEngine(server.url)
        try:
            reports = [_overhead(services.engine, remote, smoke),
                       _previews(services.engine, remote, smoke),
                       _scrub(services.engine, remote, smoke)]
        finally:
            remote.shutdown()
        reports.append(_load(services.engine, server.url, clients, smoke))
        return reports
    finally:
        server.stop()
        services.close()


def _wait(job) -> None:
    job.wait(120)
    assert job.state is JobState.DONE, (job.state, job.error)


def _timed(engine, request: Request, reps: int, **options) -> list[float]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _wait(engine.submit(request, **options))
        times.append(time.perf_counter() - t0)
    return times


def _overhead(engine, remote, smoke: bool) -> Report:
    request = Request(VAE, "sample", {"seed": 1, "count": JOB_IMAGES})
    _timed(engine, request, 3)  # warm
    reps = 3 if smoke else 60
    local, far = [], []
    for _ in range(reps):  # interleaved: the machine's load hits both alike
        local += _timed(engine, request, 1)
        far += _timed(remote, request, 1)
    report = Report("server_overhead")
    report.add("images per job", int(request.params["count"]))
    report.add("in-process (median)", median(local) * 1000, "ms")
    report.add("remote (median)", median(far) * 1000, "ms")
    report.add("ratio of the medians", median(far) / median(local))
    # each pair ran back to back, under the same load from the machine's other work; the
    # median of their ratios is what the server adds, where the medians drift with that load
    ratio = median([f / n for f, n in zip(far, local)])
    report.add("ratio remote / in-process (median of the pairs)", ratio)
    report.target("remote ≤ 1.10 × in-process (same 50 ms job)", ratio, 1.10)
    return report


def _previews(engine, remote, smoke: bool) -> Report:
    sent: dict[tuple[int, int], float] = {}
    received: list[float] = []
    counts: dict[int, int] = {}
    seen: dict[int, int] = {}

    def on_server(event, job, _payload):  # the server's engine: its preview callback
        if event == "preview":
            index = counts.get(job.id, 0)
            counts[job.id] = index + 1
            sent[(job.id, index)] = time.perf_counter()

    def on_client(event, job, _payload):  # the client's handler
        if event == "preview":
            now = time.perf_counter()
            index = seen.get(job.id, 0)
            seen[job.id] = index + 1
            server_id = remote._remote_of.get(job.id)  # the server's id for this job
            if server_id is not None and (server_id, index) in sent:
                received.append(now - sent[(server_id, index)])

    engine.add_listener(on_server)
    remote.add_listener(on_client)
    try:
        for seed in range(1 if smoke else 6):
            request = Request(DIFFUSION, "sample", {"seed": seed, "count": 4, "steps": 25})
            _wait(remote.submit(request))
    finally:
        engine.remove_listener(on_server)
        remote.remove_listener(on_client)
    report = Report("server_preview_latency")
    report.add("previews timed", len(received))
    latencies = [x * 1000 for x in received] or [float("inf")]
    report.add("median latency", median(latencies), "ms")
    report.add("max latency", max(latencies), "ms")
    report.target("median preview latency ≤ 20 ms", median(latencies), 20.0, "ms")
    return report


def _latents(engine, count: int) -> list[np.ndarray]:
    job = engine.submit(Request(VAE, "sample", {"seed": 7, "count": count}))
    _wait(job)
    return [np.asarray(z)[None] for z in job.result.latents]


def _scrub(engine, remote, smoke: bool) -> Report:
    latents = _latents(engine, 8 if smoke else 60)
    local, far = [], []
    for latent in latents:
        request = Request(VAE, "decode", {}, {"latent": latent})
        local += _timed(engine, request, 1, lane="scrub", latest_wins=True)
        far += _timed(remote, request, 1, lane="scrub", latest_wins=True)
    report = Report("server_scrub_latency")
    report.add("decodes", len(latents))
    report.add("in-process (median)", median(local) * 1000, "ms")
    report.add("remote (median)", median(far) * 1000, "ms")
    limit = 1.3 * median(local) * 1000 + 5.0
    report.target("remote scrub ≤ 1.3 × in-process + 5 ms", median(far) * 1000, limit, "ms")
    return report


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _load(engine, url: str, clients, smoke: bool) -> Report:
    n_clients, per_client = (8, 10) if smoke else (8, 200)
    latents = _latents(engine, 64)
    expected = []
    for latent in latents:  # what each latent decodes to, in-process
        job = engine.submit(Request(VAE, "decode", {}, {"latent": latent}))
        _wait(job)
        expected.append(job.result.images)
    remotes = [RemoteEngine(url) for _ in range(n_clients)]
    outcomes: list[list[tuple[int, object]]] = [[] for _ in remotes]
    rss_before = _rss_mb()

    def work(index: int) -> None:
        remote = remotes[index]
        jobs = []
        for k in range(per_client):
            which = (index * 31 + k) % len(latents)
            request = Request(VAE, "decode", {}, {"latent": latents[which]})
            jobs.append((which, remote.submit(request, lane=f"load{k % 4}")))
        for which, job in jobs:
            job.wait(300)
            outcomes[index].append((which, job))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - t0
    lost = sum(1 for outcome in outcomes for _w, job in outcome if job.state is not JobState.DONE)
    lost += n_clients * per_client - sum(len(o) for o in outcomes)
    wrong = sum(1 for outcome in outcomes for which, job in outcome
                if job.state is JobState.DONE and not np.array_equal(job.result.images,
                                                                     expected[which]))
    clients.sweep()
    rss_growth = _rss_mb() - rss_before
    for remote in remotes:
        remote.shutdown()
    report = Report("server_load")
    report.add("clients × requests", f"{n_clients} × {per_client}")
    report.add("requests per second", n_clients * per_client / seconds)
    report.add("lost", lost)
    report.add("misdelivered", wrong)
    report.add("memory growth", rss_growth, "MB")
    report.add("results kept on the server", clients.kept_bytes() / 1e6, "MB")
    report.target("no request lost", lost, 0)
    report.target("no result delivered to the wrong client", wrong, 0)
    report.target("memory growth ≤ 150 MB", rss_growth, 150.0, "MB")
    report.target("results kept within the cap", clients.kept_bytes() / 1e6,
                  clients.memory_cap / 1e6, "MB")
    return report
