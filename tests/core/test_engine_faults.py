"""A fault inside a job fails only that job: bugs are told apart from bad input, logged
with their traceback, and neither a job nor the worker's warm-up can stop the worker."""

from __future__ import annotations

import logging

import pytest

from studio.core.cache import ModelCache
from studio.core.engine import Engine, JobState, validator_for
from studio.core.requests import Request
from tests.fakes import FakeLibrary, FakeModel, fake_registry


@pytest.fixture
def engine():
    library, registry = FakeLibrary(), fake_registry()
    made = Engine(ModelCache(library, registry, device="cpu"), threads=1,
                  validate=validator_for(registry, library))
    yield made
    made.shutdown()
    FakeModel.fail_with = None


def sample() -> Request:
    return Request("fake-model", "sample", {"seed": 1, "count": 2})


@pytest.mark.parametrize("fault, unexpected", [
    (IndexError("index 9 is out of bounds"), True),
    (AttributeError("'NoneType' object has no attribute 'shape'"), True),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), True),
    (ValueError("the image is too small"), False),
    (OSError("disk full"), False),
])
def test_a_fault_fails_only_its_job_and_says_whether_it_is_a_bug(engine, fault, unexpected, caplog):
    FakeModel.fail_with = fault
    with caplog.at_level(logging.WARNING, logger="studio.core.engine"):
        bad = engine.submit(sample())
        assert bad.wait(10)
    assert bad.state is JobState.FAILED and bad.unexpected is unexpected
    assert str(fault) in bad.error and "Traceback" in bad.detail
    record = next(r for r in caplog.records if "failed" in r.getMessage())
    # a bug goes to the log with its traceback; bad input as one line
    assert (record.levelno, record.exc_info is not None) == (
        (logging.ERROR, True) if unexpected else (logging.WARNING, False))
    FakeModel.fail_with = None
    good = engine.submit(sample())
    assert good.wait(10) and good.state is JobState.DONE


def test_a_failing_warm_up_does_not_stop_the_worker(monkeypatch, caplog):
    import studio.core.runtime as runtime

    def broken() -> None:
        raise ImportError("no module named torch._dynamo in this bundle")

    monkeypatch.setattr(runtime, "warm_up", broken)
    library, registry = FakeLibrary(), fake_registry()
    with caplog.at_level(logging.ERROR, logger="studio.core.engine"):
        made = Engine(ModelCache(library, registry, device="cpu"), threads=1,
                      validate=validator_for(registry, library))
        try:
            assert made.warmed_up.wait(30)
            job = made.submit(sample())
            assert job.wait(10) and job.state is JobState.DONE
        finally:
            made.shutdown()
    assert "warm-up" in caplog.text and "torch._dynamo" in caplog.text
