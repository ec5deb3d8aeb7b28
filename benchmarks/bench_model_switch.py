"""Model switches: 50 switches back and forth between two built-in models of different
families (the VAE and the GAN), each with its results kept in the session.

The session keeps one state per opened model (view, op, values, subject, the latest
result of each view), so switching models switches states and loses nothing. A switch
is pure GUI-thread work (the window follows the session: another explorer, the
parameter panel rebuilt), so it must never stall: the GUI thread's longest gap while
switching (a 5 ms probe timer) ≤ 50 ms. Reported, not targeted: the memory the kept
states add (their arrays, and resident memory after the switches against before).
"""

from __future__ import annotations

import gc

from benchmarks.common import Report, percentile
from benchmarks.qt_harness import StallProbe, process_for, process_until
from benchmarks.window import open_studio

MODELS = ("vae-glyphs", "gan-glyphs")
SWITCHES = 50
MAX_STALL_MS = 50.0


def rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _open(window, services, model_id: str) -> None:
    """Select, load and sample `model_id`, as a user's first visit does."""
    window.models.select(model_id)
    window.select_model(model_id)
    window.load_model(model_id, then_sample=True)
    if not process_until(lambda: window.session.result("samples") is not None
                         and services.engine.idle() and not window.busy(), timeout=300):
        raise RuntimeError(f"{model_id} did not load and sample within 300 s")


def run(smoke: bool = False) -> list[Report]:
    studio = open_studio(MODELS[0])
    window, services = studio.window, studio.services
    report = Report("model_switch")
    try:
        _open(window, services, MODELS[1])
        gc.collect()
        before = rss_bytes()
        switches = 4 if smoke else SWITCHES
        probe = StallProbe()
        per_switch = []
        probe.start()
        for i in range(switches):
            model_id = MODELS[i % 2]  # the other one: MODELS[1] is open
            start = len(probe.ticks)
            window.models.select(model_id)
            window.select_model(model_id)
            process_for(0.05)  # the event loop runs between switches, as between clicks
            gaps = probe.gaps_ms[max(0, start - 1):]
            per_switch.append(max(gaps, default=0.0))
        probe.stop()
        gc.collect()
        after = rss_bytes()
        kept = sum(state.nbytes() for state in window.session.states().values())
        stalls = probe.gaps_ms
        report.add("switches", switches)
        report.add("max GUI stall", max(stalls, default=0.0), "ms")
        report.add("p99 GUI stall", percentile(stalls, 99), "ms")
        report.add("median worst gap per switch", percentile(per_switch, 50), "ms")
        report.add("states kept", len(window.session.states()))
        report.add("arrays the kept states hold", kept / 1e6, "MB")
        report.add("resident memory added by the switches", (after - before) / 1e6, "MB")
        report.target("max GUI stall while switching", max(stalls, default=0.0), MAX_STALL_MS, "ms")
    finally:
        studio.close()
    return [report]
