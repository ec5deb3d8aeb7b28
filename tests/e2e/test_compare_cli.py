"""`studio compare`, run in-process on the shipped built-in models: every family's
figures for the shared dataset, and the time per image measured through the engine."""

from __future__ import annotations

import json

from studio.cli import main
from studio.core import compare
from studio.core.export import open_recipe
from studio.core.library import Library
from studio.core.registry import Registry
from studio.families import register_all

FAST = ("vae-glyphs", "gan-glyphs")  # one forward pass each: quick to time in a test


def shared_builtins():
    """What the library holds now (more models land over time: no fixed list)."""
    return compare.shared_models(Library(), register_all(Registry()))


def test_compare_prints_every_familys_figures_for_the_shared_dataset(capsys):
    entries = shared_builtins()
    assert {e.family for e in entries} >= {"vae", "gan", "diffusion", "latent_diffusion"}
    assert main(["compare", "--no-timing"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    registry = register_all(Registry())
    for entry in entries:
        line = next(line for line in lines if line.startswith(entry.id + " "))
        assert registry.get(entry.family).label in line
        for figure in compare.FIGURES:  # each figure of its card, as shown, or a dash
            value = entry.card.metrics.get(figure.key)
            if value is not None:
                assert figure.format(float(value)) in line, (entry.id, figure.key)
        dashes = sum(1 for f in compare.FIGURES if f.key not in entry.card.metrics)
        assert line.count(compare.MISSING) == dashes
        # the family's strengths and weaknesses are listed once per family
        assert any(row.startswith(registry.get(entry.family).label + ": +") for row in lines)
    assert "recognisability" in out and compare.TIME_LABEL not in out


def test_compare_times_each_model_and_writes_its_grid(tmp_path, capsys):
    grids = tmp_path / "grids"
    argv = ["compare", "--json", "--images", "2", "--grids", str(grids)]
    for model_id in FAST:
        argv += ["--model", model_id]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in data["models"]] == list(FAST)
    library = Library()
    for model in data["models"]:
        assert model["error"] == "" and model["device"] == "cpu"
        assert 0 < model["seconds_per_image"] < 5
        card = library.get(model["id"]).card.metrics
        assert model["figures"]["recognisability"] == card["recognisability"]
        assert model["figures"]["bits_per_dim"] is None  # neither family has it
        request = open_recipe(grids / f"{model['id']}.png")  # the grid re-renders
        assert (request.model_id, request.op, request.params["count"]) == (model["id"], "sample", 2)
    assert data["images_timed"] == 2


def test_compare_refuses_bad_input_in_one_line(capsys):
    assert main(["compare", "--model", "no-such-model", "--no-timing"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no-such-model" in err and "vae-glyphs" in err and len(err.splitlines()) == 1
    assert main(["compare", "--images", "0"]) == 2
    assert "--images" in capsys.readouterr().err
