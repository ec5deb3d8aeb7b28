"""The `studio` command line, run in-process, with the shipped built-in VAE."""

from __future__ import annotations

import io
import json
import os
import sys

import numpy as np
import pytest

from studio.cli import main
from studio.core import media
from studio.core.export import open_recipe
from studio.core.paths import resources_dir

MODEL = "vae-glyphs"
ROOT = resources_dir().parent


def test_models_lists_the_builtin_vae_as_json(capsys):
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    vae = next(m for m in data["models"] if m["id"] == MODEL)
    assert vae["family"] == "vae" and vae["builtin"] and vae["resolution"] == 32
    assert main(["models"]) == 0
    assert MODEL in capsys.readouterr().out


def test_generate_then_rerender_from_the_recipe_gives_identical_pixels(tmp_path, capsys):
    first = tmp_path / "grid.png"
    assert main(["generate", "--model", MODEL, "--seed", "5", "--count", "4",
                 "--temperature", "0.7", "-o", str(first)]) == 0
    request = open_recipe(first)
    assert (request.model_id, request.op, request.seed) == (MODEL, "sample", 5)
    assert request.params["temperature"] == 0.7
    again = tmp_path / "again.png"
    assert main(["generate", "--recipe", str(first), "-o", str(again)]) == 0
    assert np.array_equal(media.load_image(first), media.load_image(again))
    assert "wrote" in capsys.readouterr().out


def test_interpolate_between_two_images_writes_an_animation(tmp_path):
    for name, value in (("a.png", 40), ("b.png", 220)):
        image = np.zeros((48, 48, 3), np.uint8)
        image[8:40, 20:28] = value  # a bar, brighter in b
        media.save_png(tmp_path / name, image)
    out = tmp_path / "path.gif"
    assert main(["generate", "--model", MODEL, "--op", "interpolate", "--image-a",
                 str(tmp_path / "a.png"), "--image-b", str(tmp_path / "b.png"),
                 "--frames", "5", "-o", str(out)]) == 0
    frames = media.read_animation(out)
    assert 2 <= len(frames) <= 5  # identical neighbours may merge in GIF
    # the recipe embeds the (small, fitted) input images: no need for the originals
    recipe = open_recipe(out)
    assert recipe.inputs["image_a"].shape[:2] == (48, 48) or recipe.inputs["image_a"].size > 0


def test_generate_help_lists_the_op_parameters(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--model", MODEL, "--op", "map", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--direction-x" in out and "--extent" in out


@pytest.mark.parametrize("argv, message", [
    (["generate", "--model", "nope", "-o", "x.png"], "unknown model"),
    (["generate", "--model", MODEL, "--op", "fly", "-o", "x.png"], "no op 'fly'"),
    (["generate", "--model", MODEL, "--count", "9999", "-o", "x.png"], "above the maximum"),
    (["generate", "--model", MODEL, "--op", "decode", "-o", "x.png"], "needs an input latent"),
    (["generate", "--model", MODEL, "-o", "x.bmp"], "unsupported output"),
    (["frobnicate"], "unknown command"),
])
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_files_exit_2_naming_the_file(tmp_path, capsys):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert main(["generate", "--recipe", str(garbage), "-o", str(tmp_path / "o.png")]) == 2
    assert "garbage.png" in capsys.readouterr().err
    assert main(["generate", "--model", MODEL, "--op", "encode", "--image", str(garbage),
                 "-o", str(tmp_path / "o.png")]) == 2
    assert "garbage.png" in capsys.readouterr().err


def test_encode_writes_the_latent_beside_the_image(tmp_path):
    source = tmp_path / "seven.png"
    image = np.zeros((32, 32, 3), np.uint8)
    image[6:10, 8:24] = 255
    image[10:28, 18:22] = 255
    media.save_png(source, image)
    out = tmp_path / "enc.png"
    assert main(["generate", "--model", MODEL, "--op", "encode", "--image", str(source), "-o", str(out)]) == 0
    latent = np.load(out.with_suffix(".npy"))
    assert latent.shape == (1, 4, 8, 8)
    decoded = tmp_path / "dec.png"
    np.save(tmp_path / "z.npy", latent[0])
    assert main(["generate", "--model", MODEL, "--op", "decode", "--latent", str(tmp_path / "z.npy"),
                 "-o", str(decoded)]) == 0
    assert np.array_equal(media.load_image(out), media.load_image(decoded))


def test_encode_whose_latent_cannot_be_written_writes_nothing(tmp_path, capsys):
    """The image and its .npy latent are one export: both land, or neither does."""
    source = tmp_path / "bar.png"
    image = np.zeros((32, 32, 3), np.uint8)
    image[8:24, 14:18] = 255
    media.save_png(source, image)
    (tmp_path / "out.npy").mkdir()  # the latent's name is taken by a folder
    assert main(["generate", "--model", MODEL, "--op", "encode", "--image", str(source),
                 "-o", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("studio: error:") and "out.npy" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bar.png", "out.npy"]


def test_a_non_utf8_output_name_prints_under_a_strict_locale(tmp_path, monkeypatch):
    """A name with undecodable bytes arrives as surrogates; printing it must not crash
    after the file is written (a strict stdout, as under LANG=C.UTF-8 without UTF-8 mode)."""
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", strict)
    out = tmp_path / os.fsdecode(b"caf\xe9-\xff.png")
    assert main(["generate", "--model", MODEL, "--seed", "1", "--count", "1", "-o", str(out)]) == 0
    strict.flush()
    printed = strict.buffer.getvalue().decode("utf-8")
    assert printed.startswith("wrote ") and "caf" in printed
    assert media.load_image(out).shape[:2] == (32, 32)


def test_train_a_tiny_recipe_then_eval_it(tmp_path, capsys):
    """`studio train` end to end on a tiny seeded recipe (a few steps, Pillow's font)."""
    recipe = json.loads((ROOT / "resources/recipes/vae-glyphs.json").read_text())
    recipe.update(id="tiny-vae", name="Tiny VAE")
    recipe["dataset"] = {"name": "glyphs", "train_per_class": 3, "held_out_per_class": 2,
                         "fonts": [], "cache": False}
    recipe["config"] = {**recipe["config"], "widths": [8, 8, 8]}
    recipe["train"] = {**recipe["train"], "steps": 3, "batch_size": 8, "log_every": 1,
                       "sample_every": 0, "checkpoint_every": 2}
    recipe["evaluate"] = {"samples": 16}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(recipe))
    assert main(["train", "--recipe", str(path), "--no-resume"]) == 0
    assert "trained tiny-vae" in capsys.readouterr().out
    # without --out it lands in the user library, ready to use
    assert main(["models", "--json"]) == 0
    models = {m["id"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert not models["tiny-vae"]["builtin"] and "recognisability" in models["tiny-vae"]["metrics"]
    assert main(["eval", "--model", "tiny-vae", "--samples", "16", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["figures"]
    assert 0.0 <= figures["recognisability"] <= 1.0
    # the ceiling: the evaluator on the training images themselves
    assert 0.5 < figures["dataset_ceiling"] <= 1.0


def test_train_refuses_a_missing_or_broken_recipe(tmp_path, capsys):
    assert main(["train", "--recipe", str(tmp_path / "nope.json")]) == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["train", "--recipe", str(broken)]) == 2
    assert "broken.json" in capsys.readouterr().err
