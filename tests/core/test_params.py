"""Parameter specs: coercion, ranges, defaults, validation of requests."""

from __future__ import annotations

import math

import pytest

from studio.core.params import SEED_MAX, OpSpec, ParamError, ParamSpec
from studio.families.vae.spec import VAE


def test_float_and_int_are_coerced_and_range_checked():
    spec = ParamSpec("temperature", "float", default=0.8, minimum=0.0, maximum=2.0)
    assert spec.coerce("1.5") == 1.5
    with pytest.raises(ParamError, match="above the maximum"):
        spec.coerce(2.5)
    with pytest.raises(ParamError, match="NaN"):
        spec.coerce(math.nan)
    count = ParamSpec("count", "int", default=4, minimum=1, maximum=64)
    assert count.coerce("7") == 7
    with pytest.raises(ParamError, match="whole number"):
        count.coerce(2.5)
    with pytest.raises(ParamError, match="count"):
        count.coerce("many")


def test_seed_choice_and_bool():
    seed = ParamSpec("seed", "seed")
    assert seed.coerce("42") == 42
    with pytest.raises(ParamError, match="outside"):
        seed.coerce(SEED_MAX + 1)
    method = ParamSpec("method", "choice", default="slerp", choices=("slerp", "lerp"))
    with pytest.raises(ParamError, match="one of slerp, lerp"):
        method.coerce("cubic")
    flag = ParamSpec("loop", "bool", default=True)
    assert flag.coerce("no") is False and flag.coerce("on") is True
    with pytest.raises(ParamError):
        flag.coerce("maybe")


def test_validate_fills_defaults_and_rejects_unknown_names():
    op = OpSpec("sample", (ParamSpec("seed", "seed", default=None), ParamSpec("count", "int", default=4)))
    params = op.validate({"count": "8"}, {})
    assert params["count"] == 8
    assert 0 <= params["seed"] <= SEED_MAX  # a missing seed is drawn, then recorded
    with pytest.raises(ParamError, match="no parameter colour"):
        op.validate({"colour": 1}, {})


def test_required_inputs_are_enforced():
    decode = VAE.op("decode")
    with pytest.raises(ParamError, match="needs an input latent"):
        decode.validate({}, {})


def test_spec_json_describes_the_parameter():
    data = VAE.op("sample").param("temperature").to_json()
    assert data["kind"] == "float" and data["minimum"] == 0.0 and data["help"]


def test_every_declared_op_has_labels_and_help():
    for op in VAE.ops:
        assert op.help, op.name
        for spec in op.params:
            assert spec.help and spec.label, (op.name, spec.name)
