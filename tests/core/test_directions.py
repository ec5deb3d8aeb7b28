"""Latent directions without torch: edits text, the directions file and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.directions import (
    Direction,
    DirectionsError,
    edits_text,
    load_directions,
    parse_edits,
    save_directions,
)
from studio.core.params import ParamError


def some_directions(w_dim: int = 5) -> list[Direction]:
    rng = np.random.default_rng(0)
    return [Direction(f"Direction {k + 1}", rng.standard_normal(w_dim), (0, 6), 0.5 + k)
            for k in range(3)]


def test_round_trip_keeps_names_layers_sigmas_and_vectors(tmp_path: Path) -> None:
    directions = some_directions()
    directions[0].name = "Slant ✓"  # renamed by the user, any script
    directions[2].layers = (3, 4)
    path = save_directions(tmp_path / "d.directions.json", directions, model="gan-x", num_layers=7)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "latent-studio/directions" and doc["model"] == "gan-x"
    assert doc["w_dim"] == 5 and doc["num_layers"] == 7
    again = load_directions(path, w_dim=5, num_layers=7)
    assert [(d.name, d.layers, d.sigma) for d in again] == [
        ("Slant ✓", (0, 6), 0.5), ("Direction 2", (0, 6), 1.5), ("Direction 3", (3, 4), 2.5)]
    for a, b in zip(again, directions):
        assert a.vector.dtype == np.float32
        np.testing.assert_array_equal(a.vector, b.vector)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="something else"), "not a Latent Studio directions file"),
    (lambda d: d.update(version=9), "unsupported version 9"),
    (lambda d: d.update(directions={}), "'directions' must be a list"),
    (lambda d: d["directions"][1].pop("vector"), "direction 2 lacks 'vector'"),
    (lambda d: d["directions"][0].update(name=" "), "direction 1: the name must be"),
    (lambda d: d["directions"][0].update(vector=[1, "x"]), "'vector' must be a list of numbers"),
    (lambda d: d["directions"][0].update(layers=[0]), "'layers' must be [first, last]"),
    (lambda d: d["directions"][0].update(layers=[4, 2]), "layers [4, 2] are not a range"),
    (lambda d: d["directions"][0].update(sigma=0), "sigma must be a positive number"),
    (lambda d: d["directions"][0].update(vector=[1.0, 2.0]), "different lengths"),
])
def test_bad_files_are_refused_naming_the_file(tmp_path: Path, mutate, message) -> None:
    path = save_directions(tmp_path / "d.json", some_directions())
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DirectionsError) as err:
        load_directions(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_unreadable_files_and_foreign_models(tmp_path: Path) -> None:
    with pytest.raises(DirectionsError, match="no such directions file"):
        load_directions(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(DirectionsError, match="broken.json: unreadable"):
        load_directions(broken)
    path = save_directions(tmp_path / "d.json", some_directions(), num_layers=7)
    with pytest.raises(DirectionsError, match="vectors of length 5, but this model's w has 8"):
        load_directions(path, w_dim=8)
    with pytest.raises(DirectionsError, match="made for a model with 7 layers, this one has 5"):
        load_directions(path, num_layers=5)
    with pytest.raises(DirectionsError, match=r"layers \[0, 6\] are not a range within 0..4"):
        save_directions(tmp_path / "e.json", some_directions(), num_layers=5)


def test_parse_edits_fills_defaults_from_the_model() -> None:
    assert parse_edits("", 3, 7, 5) == [] and parse_edits("  ", 3, 7, 5) == []
    edits = parse_edits('[{"direction": 1, "amount": -2}, {"direction": 2, "amount": 0.5, '
                        '"layers": [5, 6]}]', 3, 7, 5,
                        default_layers=[(0, 6), (0, 2), (1, 3)], sigmas=[1.0, 2.0, 3.0])
    assert [(e.direction, e.amount, e.layers, e.sigma) for e in edits] == [
        (1, -2.0, (0, 2), 2.0), (2, 0.5, (5, 6), 3.0)]
    single = parse_edits('{"vector": [1, 0, 0, 0, 0], "amount": 1}', 3, 7, 5)  # one object is fine
    assert single[0].direction is None and single[0].layers == (0, 6) and single[0].sigma == 1.0
    np.testing.assert_array_equal(single[0].vector, [1, 0, 0, 0, 0])
    with pytest.raises(ParamError, match=r"edits\[1\]: direction 3 is outside 0..2"):
        parse_edits('[{"direction": 0, "amount": 1}, {"direction": 3, "amount": 1}]', 3, 7, 5)
    with pytest.raises(ParamError, match="amount"):
        parse_edits('[{"direction": 0, "amount": NaN}]', 3, 7, 5)


def test_edits_text_leaves_out_untouched_sliders_and_parses_back() -> None:
    assert edits_text([{"direction": 0, "amount": 0.0}]) == ""
    text = edits_text([{"direction": 0, "amount": 0.0},
                       {"direction": 2, "amount": 1.25, "layers": (1, 3)},
                       {"vector": np.ones(5, np.float32), "amount": -1.0, "sigma": 2.0}])
    edits = parse_edits(text, 3, 7, 5)
    assert [(e.direction, e.amount, e.layers) for e in edits] == [(2, 1.25, (1, 3)), (None, -1.0, (0, 6))]
    assert edits[1].sigma == 2.0


def test_directions_module_imports_no_torch() -> None:
    code = ("import sys, studio.core.directions as d; "
            "assert 'torch' not in sys.modules and 'PySide6' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_model_directions_read_no_file_outside_the_model_folder(tmp_path) -> None:
    from safetensors.numpy import save_file

    from studio.core.directions import DirectionsError, model_directions

    outside = tmp_path / "outside.safetensors"
    save_file({"directions": np.zeros((1, 4), np.float32)}, str(outside))
    folder = tmp_path / "model"
    folder.mkdir()
    config = {"directions": [{"name": "a", "layers": [0, 1], "sigma": 1.0}]}
    for ref in ("../outside.safetensors", str(outside)):
        with pytest.raises(DirectionsError, match="weights_file .* leaves the folder"):
            model_directions(folder, config, ref)
