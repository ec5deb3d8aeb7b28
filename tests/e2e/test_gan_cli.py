"""The `studio` command line with a GAN, in-process, on a tiny GAN made in the test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.cli import main
from studio.core import media
from studio.core.export import open_recipe
from studio.core.paths import resources_dir
from tests.families.test_gan import SIZE, make_tiny_gan

MODEL = "gan-tiny"
ROOT = resources_dir().parent


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return make_tiny_gan(tmp_path_factory.mktemp("tiny-gan"))


@pytest.fixture
def imported(tiny_folder, capsys):
    """The tiny GAN imported into this test's (temporary) user library."""
    assert main(["import", str(tiny_folder)]) == 0
    assert capsys.readouterr().out.strip() == MODEL
    return tiny_folder


def test_models_lists_the_gan(imported, capsys):
    assert main(["models", "--json"]) == 0
    models = {m["id"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert models[MODEL]["family"] == "gan" and models[MODEL]["resolution"] == SIZE


def test_walk_to_gif_then_rerender_from_the_sidecar(imported, tmp_path, capsys):
    out = tmp_path / "walk.gif"
    assert main(["generate", "--model", MODEL, "--op", "walk", "--seed", "3", "--points", "3",
                 "--frames-per-point", "4", "--loop", "true", "--space", "z", "-o", str(out)]) == 0
    frames = media.read_animation(out)
    assert 2 <= len(frames) <= 12 and frames[0].shape == (SIZE, SIZE, 3)
    request = open_recipe(out)  # from the JSON sidecar
    assert (request.model_id, request.op) == (MODEL, "walk")
    assert request.params["points"] == "3" or int(request.params["points"]) == 3
    again = tmp_path / "again.gif"
    assert main(["generate", "--recipe", str(out), "-o", str(again)]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(frames, media.read_animation(again)))
    assert len(media.read_animation(again)) == len(frames)


def test_sample_with_truncation_and_edits_rerenders_identically(imported, tmp_path):
    first = tmp_path / "edited.png"
    edits = '[{"direction": 0, "amount": 2.5, "layers": [1, 2]}]'
    assert main(["generate", "--model", MODEL, "--seed", "7", "--count", "4", "--truncation", "0.5",
                 "--class-index", "3", "--edits", edits, "-o", str(first)]) == 0
    request = open_recipe(first)
    assert request.params["edits"] == edits and float(request.params["truncation"]) == 0.5
    again = tmp_path / "again.png"
    assert main(["generate", "--recipe", str(first), "-o", str(again)]) == 0
    assert np.array_equal(media.load_image(first), media.load_image(again))
    plain = tmp_path / "plain.png"
    assert main(["generate", "--model", MODEL, "--seed", "7", "--count", "4", "--truncation", "0.5",
                 "--class-index", "3", "-o", str(plain)]) == 0
    assert not np.array_equal(media.load_image(first), media.load_image(plain))


def test_mix_and_arithmetic_write_their_grids(imported, tmp_path):
    mix = tmp_path / "mix.png"
    assert main(["generate", "--model", MODEL, "--op", "mix", "--row-seeds", "1,2",
                 "--column-seeds", "3,4,5", "--layers", "coarse", "-o", str(mix)]) == 0
    grid = media.load_image(mix)  # 3 × 4 cells of SIZE with 1-pixel gaps
    assert grid.shape[:2] == (3 * SIZE + 4, 4 * SIZE + 5)
    arithmetic = tmp_path / "arith.png"
    assert main(["generate", "--model", MODEL, "--op", "arithmetic", "-o", str(arithmetic)]) == 0
    assert media.load_image(arithmetic).shape[:2] == (SIZE + 2, 4 * SIZE + 5)


def test_project_writes_its_latent_which_sample_then_edits(imported, tmp_path):
    source = tmp_path / "target.png"
    image = np.zeros((40, 40, 3), np.uint8)
    image[8:32, 16:24] = 255
    media.save_png(source, image)
    projected = tmp_path / "projected.png"
    assert main(["generate", "--model", MODEL, "--op", "project", "--image", str(source),
                 "--steps", "20", "-o", str(projected)]) == 0
    latent = np.load(projected.with_suffix(".npy"))
    assert latent.shape == (1, 3, 8)
    rendered = tmp_path / "rendered.png"
    assert main(["generate", "--model", MODEL, "--latent", str(projected.with_suffix(".npy")),
                 "-o", str(rendered)]) == 0
    assert np.array_equal(media.load_image(rendered), media.load_image(projected))


@pytest.mark.parametrize("argv, message", [
    (["--edits", "[{"], "edits: not valid JSON"),
    (["--edits", '[{"direction": 99, "amount": 1}]'], "direction 99 is outside"),
    (["--truncation", "2"], "above the maximum"),
    (["--class-index", "12"], "class_index: 12 is outside -1..9"),
    (["--op", "mix", "--row-seeds", "a,b"], "row_seeds"),
])
def test_bad_gan_input_exits_2_with_one_line(imported, argv, message, tmp_path, capsys):
    assert main(["generate", "--model", MODEL, *argv, "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_train_a_tiny_gan_recipe_then_eval_it(tmp_path, capsys):
    """`studio train` end to end on the shipped recipe, shrunk to a few tiny steps."""
    recipe = json.loads((ROOT / "resources/recipes/gan-glyphs.json").read_text())
    recipe.update(id="tiny-gan", name="Tiny GAN")
    recipe["dataset"] = {"name": "glyphs", "train_per_class": 2, "held_out_per_class": 1,
                         "fonts": [], "cache": False, "size": SIZE}
    recipe["config"] = {**recipe["config"], "resolution": SIZE, "z_dim": 8, "w_dim": 8,
                        "mapping_layers": 2, "g_widths": [8, 8], "d_widths": [8, 8],
                        "num_directions": 4}
    recipe["train"] = {**recipe["train"], "steps": 3, "batch_size": 8, "log_every": 1,
                       "sample_every": 0, "checkpoint_every": 2}
    recipe["evaluate"] = {"samples": 20}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(recipe))
    assert main(["train", "--recipe", str(path), "--no-resume"]) == 0
    assert "trained tiny-gan" in capsys.readouterr().out
    assert main(["models", "--json"]) == 0
    card_metrics = {m["id"]: m for m in json.loads(capsys.readouterr().out)["models"]}["tiny-gan"]["metrics"]
    for key in ("recognisability", "recognisability_psi1", "class_accuracy", "nn_distance_samples"):
        assert key in card_metrics, key
    assert main(["eval", "--model", "tiny-gan", "--samples", "20", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["figures"]
    assert 0.0 <= figures["class_accuracy"] <= 1.0 and 0.0 <= figures["recognisability"] <= 1.0
