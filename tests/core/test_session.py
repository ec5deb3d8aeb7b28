"""Session: parameters per op, seed lock, inputs, requests, restore, undo/redo."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.params import ParamError
from studio.core.requests import Request, Result
from studio.core.session import Session
from tests.fakes import fake_registry


@pytest.fixture
def session() -> Session:
    s = Session(fake_registry(), family_of=lambda model_id: "fake")
    s.select_model("fake-model")
    return s


def test_params_start_at_defaults_per_op(session):
    assert session.op == "sample"
    assert session.values() == {"seed": 0, "count": 16, "temperature": 0.8}
    session.set_view("map")
    assert session.op == "map"
    assert session.value("extent") == 2.5
    session.set_value("extent", 1.0)
    session.set_view("samples")
    assert "extent" not in session.values()
    assert session.value("extent", "map") == 1.0


def test_set_value_coerces_and_rejects_out_of_range(session):
    session.set_value("count", "4")
    assert session.value("count") == 4
    with pytest.raises(ParamError):
        session.set_value("count", 1000)
    assert session.value("count") == 4


def test_request_carries_params_and_the_ops_inputs(session):
    a, b = np.zeros((4, 2, 2), np.float32), np.ones((4, 2, 2), np.float32)
    session.set_input("latent_a", a)
    session.set_input("latent_b", b)
    session.set_input("center", b)
    request = session.request("interpolate")
    assert request.op == "interpolate" and request.model_id == "fake-model"
    assert set(request.inputs) == {"latent_a", "latent_b"}
    assert request.params["frames"] == 9
    # traversals and maps are centred on the session's centre
    assert np.array_equal(session.request("map").inputs["latent"], b)
    assert session.request("sample").inputs == {}
    # keyword arrays override for one request
    assert np.array_equal(session.request("decode", latent=a).inputs["latent"], a)


def test_seed_unlocked_draws_a_new_seed_locked_keeps_it(session):
    session.set_value("seed", 7)
    session.seed_locked = True
    assert session.next_seed() == 7
    session.seed_locked = False
    seeds = {session.next_seed() for _ in range(5)}
    assert len(seeds) > 1


def test_restore_takes_model_view_op_params_inputs_and_locks_seed(session):
    latent = np.full((4, 2, 2), 0.5, np.float32)
    request = Request("fake-model", "traverse", {"seed": 42, "extent": 1.5}, {"latent": latent})
    session.restore(request)
    assert session.view == "traverse" and session.op == "traverse"
    assert session.value("seed") == 42 and session.value("extent") == 1.5
    assert session.value("steps") == 9  # missing params keep their defaults
    assert session.seed_locked
    again = session.request()
    assert again.params["seed"] == 42 and np.array_equal(again.inputs["latent"], latent)


def test_recipe_round_trip_gives_the_same_request(session):
    session.set_value("seed", 3)
    request = session.request()
    other = Session(fake_registry(), family_of=lambda model_id: "fake")
    other.restore(Request.from_recipe(request.to_recipe()))
    assert other.request().same_recipe(request)


def test_undo_redo_merges_consecutive_edits_of_one_parameter(session):
    session.set_value("temperature", 0.5)
    session.set_value("temperature", 0.6)  # a slider drag: one step
    session.set_value("count", 4)
    assert session.undo() == ("fake", "sample")
    assert session.value("count") == 16 and session.value("temperature") == 0.6
    session.undo()
    assert session.value("temperature") == 0.8
    assert not session.can_undo() and session.undo() is None
    session.redo()
    assert session.value("temperature") == 0.6
    session.set_value("count", 2)  # a new edit clears the redo stack
    assert not session.can_redo()


def test_reset_all_is_one_undo_step(session):
    session.set_value("count", 4)
    session.set_value("temperature", 1.5)
    session.reset_all()
    assert session.values() == session.op_spec().defaults()
    session.undo()
    assert session.value("count") == 4 and session.value("temperature") == 1.5


def test_switching_model_clears_inputs():
    session = Session(fake_registry(), family_of=lambda model_id: "fake")
    session.select_model("m1")
    session.set_input("latent_a", np.zeros(3, np.float32))
    session.select_model("m1")
    assert "latent_a" in session.inputs
    session.select_model("m2")
    assert session.inputs == {} and session.model_id == "m2"


def test_each_model_keeps_its_own_state_and_switching_back_restores_it():
    session = Session(fake_registry(), family_of=lambda model_id: "fake")
    session.select_model("m1")
    session.set_view("map")
    session.set_value("extent", 1.0)
    session.set_input("center", np.ones(3, np.float32))
    session.select_model("m2")
    assert session.view == "samples" and session.value("extent", "map") == 2.5
    assert not session.can_undo()  # undo is per model too
    session.select_model("m1")
    assert session.view == "map" and session.value("extent") == 1.0
    assert np.array_equal(session.inputs["center"], np.ones(3))
    assert set(session.states()) == {"m1", "m2"}


def test_views_subscribe_to_the_session_instead_of_being_told(session):
    seen = []
    for event in session.events:
        event.connect(lambda *args, name=event.name: seen.append((name, *args)))
    panel = object()
    session.set_value("count", 4, source=panel)
    session.set_values({"count": 5, "temperature": 0.5})
    session.reset_all()
    session.undo()
    session.redo()
    session.seed_locked = True
    session.set_view("map")
    session.set_input("center", np.zeros(3, np.float32))
    assert seen == [
        ("values_changed", "sample", "edit", panel), ("values_changed", "sample", "batch", None),
        ("values_changed", "sample", "reset", None), ("values_changed", "sample", "undo", None),
        ("values_changed", "sample", "redo", None), ("seed_lock_changed", True),
        ("view_changed", "map"), ("inputs_changed", "center")]
    seen.clear()
    session.set_value("count", session.value("count", "sample"), op="sample")  # no change
    session.set_view("map")
    session.select_model("fake-model")
    assert seen == []


def test_results_are_kept_per_view_with_the_request_that_made_them(session):
    shown = []
    session.events.result_added.connect(lambda view, result: shown.append((view, result)))
    request = session.request("sample")
    result = Result(request, np.zeros((1, 2, 2, 1), np.uint8))
    session.add_result(result, "samples")
    assert session.result("samples") is result and shown == [("samples", result)]
    session.select_model("another")
    assert session.result("samples") is None
    session.select_model("fake-model")
    assert session.result("samples").request == request


def test_a_restore_announces_its_values_last_as_one_restore(session):
    causes = []
    session.events.values_changed.connect(lambda op, cause, source: causes.append((op, cause)))
    session.restore(Request("fake-model", "traverse", {"seed": 3}, {"latent": np.zeros(3)}))
    assert causes == [("traverse", "restore")]
