"""Captions come from the request of the result shown; "changed" names what differs."""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.requests import Request
from studio.core.shown import caption, changed_settings

SPEC = OpSpec("sample", (
    ParamSpec("seed", "seed", default=0),
    ParamSpec("count", "int", default=16, minimum=1, maximum=64, label="Images"),
    ParamSpec("truncation", "float", default=0.7, label="ψ"),
    ParamSpec("class_index", "int", default=-1, minimum=-1, maximum=9, label="Class"),
), label="Sample")


def request(**params) -> Request:
    return Request("gan", "sample", {"seed": 3, "count": 16, "truncation": 0.7,
                                     "class_index": -1, **params}, {})


def test_the_caption_says_what_the_request_made():
    assert caption(request(), SPEC) == "Sample · seed 3 · images 16 · ψ 0.7 · class random"
    assert "ψ 1.5" in caption(request(truncation=1.5), SPEC)
    assert "class 4" in caption(request(class_index=4), SPEC)
    negative = OpSpec("sample", (ParamSpec("negative_class_index", "int", default=-1, minimum=-1,
                                           maximum=9, label="Negative class"),), label="Sample")
    assert caption(Request("m", "sample", {"negative_class_index": -1}, {}), negative) \
        == "Sample · negative class none"  # as the panel's list names it, never "-1"


def test_changed_names_the_settings_the_shown_result_was_not_made_with():
    shown = request()
    now = dict(shown.params)
    assert changed_settings(shown, now, SPEC, seed_locked=False) == []
    now.update(truncation=1.5, seed=99)  # the seed is drawn anew when unlocked: not a change
    assert changed_settings(shown, now, SPEC, seed_locked=False) == ["ψ"]
    assert changed_settings(shown, now, SPEC, seed_locked=True) == ["Seed", "ψ"]
