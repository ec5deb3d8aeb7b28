"""Engine: job states, cancel, latest-wins, failures, synchronous mode."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from studio.core.cache import ModelCache
from studio.core.engine import DROPPED, Engine, JobState, run_sync, validator_for
from studio.core.params import ParamError
from studio.core.requests import Request
from tests.fakes import FakeLibrary, FakeModel, fake_card, fake_registry


@pytest.fixture
def make_engine():
    engines = []

    def make(synchronous: bool = False) -> Engine:
        library, registry = FakeLibrary(), fake_registry()
        cache = ModelCache(library, registry, device="cpu")
        engine = Engine(cache, synchronous=synchronous, threads=1,
                        validate=validator_for(registry, library))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.shutdown()
    FakeModel.step_delay, FakeModel.fail_with, FakeModel.gate = 0.0, None, None


def sample(seed: int = 1, count: int = 4) -> Request:
    return Request("fake-model", "sample", {"seed": seed, "count": count})


def test_job_moves_through_states_and_reports_events(make_engine):
    engine = make_engine()
    events = []
    engine.add_listener(lambda event, job, payload: events.append(event))
    job = engine.submit(sample())
    assert job.wait(10)
    assert job.state is JobState.DONE
    assert job.result is not None and job.result.images.shape == (4, 8, 8, 1)
    assert events[0] == "queued" and events[1] == "started" and events[-1] == "finished"
    assert "progress" in events and "preview" in events
    # the request in the result holds every parameter, defaults filled in
    assert job.result.request.params["temperature"] == 0.8


def test_synchronous_mode_runs_inline_and_is_deterministic(make_engine):
    engine = make_engine(synchronous=True)
    a = engine.submit(sample(seed=7))
    b = engine.submit(sample(seed=7))
    c = engine.submit(sample(seed=8))
    assert a.state is JobState.DONE  # no waiting: it ran inline
    assert np.array_equal(a.result.images, b.result.images)
    assert not np.array_equal(a.result.images, c.result.images)


def test_bad_parameters_are_refused_before_queueing(make_engine):
    engine = make_engine()
    with pytest.raises(ParamError, match="count"):
        engine.submit(Request("fake-model", "sample", {"count": 1000}))
    with pytest.raises(ParamError, match="no parameter"):
        engine.submit(Request("fake-model", "sample", {"colour": 3}))
    with pytest.raises(ParamError, match="needs an input"):
        engine.submit(Request("fake-model", "decode", {}))
    assert engine.idle()


def test_cancel_running_job_is_cooperative(make_engine):
    engine = make_engine()
    FakeModel.step_delay = 0.05
    started = threading.Event()
    engine.add_listener(lambda e, j, p: started.set() if e == "progress" else None)
    job = engine.submit(sample(count=64))
    assert started.wait(10)
    engine.cancel(job)
    assert job.wait(10)
    assert job.state is JobState.CANCELLED and job.result is None


def test_cancel_queued_job_never_runs(make_engine):
    engine = make_engine()
    FakeModel.gate = threading.Event()
    first = engine.submit(sample())
    second = engine.submit(sample(seed=2))
    engine.cancel(second)
    FakeModel.gate.set()
    assert first.wait(10) and second.wait(10)
    assert first.state is JobState.DONE
    assert second.state is JobState.CANCELLED and second.started_at == 0.0


def test_latest_wins_lane_drops_superseded_requests(make_engine):
    engine = make_engine()
    FakeModel.gate = threading.Event()
    dropped = []
    engine.add_listener(lambda e, j, p: dropped.append(j.id) if e == DROPPED else None)
    blocker = engine.submit(sample())  # holds the worker until the gate opens
    scrubs = [engine.submit(Request("fake-model", "decode", {},
                                    {"latent": np.full((4, 2, 2), t, np.float32)}),
                            lane="scrub", latest_wins=True) for t in (0.1, 0.2, 0.3)]
    FakeModel.gate.set()
    for job in [blocker, *scrubs]:
        assert job.wait(10)
    assert [j.state for j in scrubs] == [JobState.CANCELLED, JobState.CANCELLED, JobState.DONE]
    assert dropped == [scrubs[0].id, scrubs[1].id]
    assert scrubs[2].result.request.inputs["latent"][0, 0, 0] == pytest.approx(0.3)


def test_latest_wins_jobs_jump_ahead_of_batch_work(make_engine):
    engine = make_engine()
    FakeModel.gate = threading.Event()
    order = []
    blocker_started = threading.Event()

    def on_event(event, job, payload):
        if event == "started":
            order.append(job.label)
            blocker_started.set()

    engine.add_listener(on_event)
    engine.submit(sample(), label="blocker")
    assert blocker_started.wait(10)
    engine.submit(sample(seed=3), label="batch")
    engine.submit(Request("fake-model", "decode", {}, {"latent": np.zeros((4, 2, 2), np.float32)}),
                  lane="scrub", latest_wins=True, label="scrub")
    FakeModel.gate.set()
    assert engine.wait_idle(10)
    assert order == ["blocker", "scrub", "batch"]


def test_a_failing_job_fails_alone(make_engine):
    engine = make_engine()
    FakeModel.fail_with = RuntimeError("boom in the family")
    bad = engine.submit(sample())
    assert bad.wait(10)
    assert bad.state is JobState.FAILED and "boom in the family" in bad.error
    assert "Traceback" in bad.detail
    FakeModel.fail_with = None
    good = engine.submit(sample())
    assert good.wait(10) and good.state is JobState.DONE


def test_calls_run_on_the_worker_thread_with_the_cache(make_engine):
    engine = make_engine()
    seen = {}

    def task(ctx, cache):
        seen["thread"] = threading.current_thread().name
        cache.get("fake-model")
        return cache.loaded_ids()

    job = engine.submit_call(task, label="load")
    assert job.wait(10)
    assert job.value == ["fake-model"] and seen["thread"] == "studio-engine"


def test_run_sync_raises_on_failure(make_engine):
    engine = make_engine(synchronous=True)
    FakeModel.fail_with = ValueError("bad latent")
    with pytest.raises(RuntimeError, match="bad latent"):
        run_sync(engine, sample())


def test_the_worker_makes_torchs_lazy_imports_when_first_idle(make_engine):
    import sys

    engine = make_engine()  # threaded
    assert engine.warmed_up.wait(60)
    # torch._dynamo is what the first optimiser would otherwise import mid-job
    assert "torch._dynamo" in sys.modules
    job = engine.submit(sample())
    assert engine.wait_idle(30) and job.state is JobState.DONE
    assert make_engine(synchronous=True).warmed_up.is_set()


def test_a_held_engine_queues_until_started():
    library, registry = FakeLibrary(), fake_registry()
    engine = Engine(ModelCache(library, registry, device="cpu"), threads=1,
                    validate=validator_for(registry, library), start=False)
    try:
        job = engine.submit(sample())
        assert not job.wait(0.3) and job.state is JobState.QUEUED  # no worker yet
        engine.start()
        engine.start()  # once only
        assert job.wait(30) and job.state is JobState.DONE
    finally:
        engine.shutdown()
    never_started = Engine(ModelCache(library, registry, device="cpu"), start=False)
    never_started.shutdown()  # nothing to join


def test_load_unload_device_and_status_are_engine_commands(make_engine):
    engine = make_engine()
    loaded = engine.load("fake-model")
    assert loaded.wait(10) and loaded.label == "load fake-model" and loaded.lane == "calls"
    assert loaded.value == {"device": "cpu", "loaded": ["fake-model"],
                            "memory": engine.cache.memory_in_use()}
    status = engine.status()
    assert status.wait(10) and status.value["loaded"] == ["fake-model"]
    unloaded = engine.unload("fake-model")
    assert unloaded.wait(10) and unloaded.value["loaded"] == []
    moved = engine.set_device("cpu", label="device cpu")
    assert moved.wait(10) and moved.value["device"] == "cpu"


def test_a_device_that_does_not_work_falls_back_and_fails_with_the_reason(make_engine):
    engine = make_engine()
    job = engine.set_device("no-such-device", fallback="cpu")
    job.wait(10)
    assert job.state is JobState.FAILED and "no-such-device" in job.error
    assert engine.cache.device == "cpu"  # a working device stays in use


def test_the_cache_stays_within_its_budget_when_a_model_grows_after_loading(monkeypatch):
    """A diffusion model keeps the timelines of its last runs (for forks), so its memory
    grows after it has loaded; the budget was checked only at loads, and the soak
    benchmark found the cache over it after 96 of 1100 jobs. Now the engine settles the
    cache after every run: the least recent other models go, the one in use stays."""
    monkeypatch.setattr(FakeModel, "memory_bytes",
                        lambda self: self.weights.nbytes + getattr(self, "kept", 0))
    monkeypatch.setattr(FakeModel, "run", _growing_run(FakeModel.run))
    library = FakeLibrary(fake_card("a"), fake_card("b"), fake_card("c"))
    registry = fake_registry()
    size = FakeModel(fake_card("a"), "cpu").weights.nbytes
    cache = ModelCache(library, registry, device="cpu", budget_bytes=int(3.2 * size))
    engine = Engine(cache, synchronous=True, threads=1, validate=validator_for(registry, library))
    for model_id in ("a", "b"):
        run_sync(engine, Request(model_id, "sample", {"seed": 1, "count": 1}))
    assert cache.loaded_ids() == ["a", "b"]  # 1.5 + 1.5 sizes fit in 3.2
    run_sync(engine, Request("a", "sample", {"seed": 2, "count": 1}))  # a: 2, so 3.5 in all
    assert cache.memory_in_use() <= cache.budget_bytes
    assert cache.loaded_ids() == ["a"]  # b, the least recent, went; a, in use, stayed
    run_sync(engine, Request("c", "sample", {"seed": 1, "count": 1}))  # loads beside a, grows
    assert cache.memory_in_use() <= cache.budget_bytes
    assert cache.loaded_ids() == ["c"]


def _growing_run(run):
    def grow_then_run(self, op, params, inputs, ctx):
        # each run keeps half the size of its weights more (timelines, say)
        self.kept = getattr(self, "kept", 0) + self.weights.nbytes // 2
        return run(self, op, params, inputs, ctx)
    return grow_then_run
