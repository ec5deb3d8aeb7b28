"""Settings that mean the same across a model's ops (seed, count, class) are shared by
them when the user edits one; an explorer's own write stays in its op (issue 13, point 4)."""

from __future__ import annotations

from studio.core.session import Session
from tests.fakes import fake_registry

PANEL = object()  # the parameter panel, as the window passes it


def diffusion_session() -> Session:
    session = Session(fake_registry(), family_of=lambda model_id: "fake-diffusion")
    session.select_model("pixels")
    return session


def test_a_users_seed_count_and_class_follow_into_the_other_ops():
    session = diffusion_session()
    session.set_value("count", 4, "inpaint", source=PANEL)
    session.set_value("seed", 77, "inpaint", source=PANEL)
    session.set_value("class_index", 2, "inpaint", source=PANEL)
    for op in ("img2img", "sample", "fork"):
        values = session.values(op)
        assert (values["count"], values["seed"], values["class_index"]) == (4, 77, 2), op
    assert session.value("steps", "img2img") == session.value("steps", "inpaint")  # untouched


def test_an_explorers_own_write_stays_in_its_op():
    session = diffusion_session()
    session.set_values({"count": 1, "seed": 5}, "fork")  # a fork of one picked image
    assert session.value("count", "sample") != 1
    session.set_value("seed", 9, "interpolate")
    assert session.value("seed", "sample") != 9


def test_a_value_out_of_another_ops_range_leaves_that_op_alone():
    session = Session(fake_registry(), family_of=lambda model_id: "fake")
    session.select_model("m")
    session.set_value("seed", 123, "sample", source=PANEL)
    assert session.value("seed", "map") == 123 and session.value("seed", "interpolate") == 123
