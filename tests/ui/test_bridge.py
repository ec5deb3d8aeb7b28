"""EngineBridge and JobRouter: engine events arrive as Qt signals on the GUI thread,
and each outcome goes back to whoever asked."""

from __future__ import annotations

import threading

from studio.core.requests import Request
from studio.ui.bridge import EngineBridge
from studio.ui.jobs import JobRouter


def test_events_are_re_emitted_on_the_gui_thread(qtbot, services):
    bridge = EngineBridge(services.engine)
    seen = []
    for name in ("job_queued", "job_started", "job_progressed", "job_previewed", "job_finished"):
        getattr(bridge, name).connect(
            lambda *args, n=name: seen.append((n, threading.current_thread() is threading.main_thread())))
    with qtbot.waitSignal(bridge.job_finished, timeout=20000) as blocker:
        services.engine.submit(Request("fake-model", "sample", {"seed": 1, "count": 4}))
    job, result = blocker.args
    assert result.images.shape == (4, 8, 8, 1) and job.result is result
    names = [n for n, _ in seen]
    assert names[0] == "job_queued" and "job_started" in names and names[-1] == "job_finished"
    assert "job_progressed" in names and "job_previewed" in names
    assert all(on_gui for _, on_gui in seen)
    bridge.detach()


def test_router_hands_results_and_refusals_back(qtbot, services):
    bridge = EngineBridge(services.engine)
    router = JobRouter(services.engine, bridge)
    got = []
    router.submit(Request("fake-model", "sample", {"seed": 2, "count": 2}),
                  on_result=lambda job, result: got.append(result))
    qtbot.waitUntil(lambda: bool(got), timeout=20000)
    assert got[0].count == 2 and router.pending() == 0
    with qtbot.waitSignal(router.error_raised) as blocker:
        assert router.submit(Request("fake-model", "sample", {"count": 999})) is None
    assert "count" in blocker.args[0]
    calls = []
    router.call(lambda ctx, cache: cache.loaded_ids(), label="ids",
                on_result=lambda job, value: calls.append(value))
    qtbot.waitUntil(lambda: bool(calls))
    assert calls[0] == ["fake-model"]
    bridge.detach()
