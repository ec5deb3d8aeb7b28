"""Every expected error is one line on stderr and exit code 2; a bug is one line that says
where its traceback is (the log file), and exit code 1."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from studio.cli import main
from studio.core.paths import builtin_models_dir

ROOT = Path(__file__).resolve().parents[2]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("studio: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("change, said", [
    ({"model_id": "no-such-model"}, "unknown model 'no-such-model'"),
    ({"model_id": "../../etc"}, "a path, not a model id"),
    ({"model_id": "/etc"}, "a path, not a model id"),
    ({"model_id": ["vae-glyphs"]}, "is not a model id"),
    ({"version": "x"}, "recipe version 'x' is not a whole number"),
    ({"version": None}, "recipe version None is not a whole number"),
])
def test_a_bad_recipe_is_one_line_and_exit_2(tmp_path, capsys, change, said) -> None:
    recipe = {"format": "latent-studio/recipe", "version": 1, "model_id": "vae-glyphs",
              "op": "sample", "params": {"seed": 1, "count": 1}, **change}
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    assert main(["generate", "--recipe", str(path), "-o", str(tmp_path / "out.png")]) == 2
    assert said in one_error_line(capsys)
    assert not (tmp_path / "out.png").exists()


def _imported_copy(tmp_path: Path, model_id: str = "vae-copy") -> Path:
    folder = tmp_path / model_id
    shutil.copytree(builtin_models_dir() / "vae-glyphs", folder)
    card = json.loads((folder / "card.json").read_text())
    card["id"] = model_id
    (folder / "card.json").write_text(json.dumps(card))
    assert main(["import", str(folder)]) == 0
    return folder


def test_a_failed_job_prints_its_line_alone(tmp_path, capsys, studio_home) -> None:
    folder = _imported_copy(tmp_path)
    capsys.readouterr()
    # replaced since by a sound file of other tensors: the load fails, inside the job
    save_file({"other": np.zeros(2, np.float32)}, str(folder / "model.safetensors"))
    assert main(["generate", "--model", "vae-copy", "-o", str(tmp_path / "out.png")]) == 2
    line = one_error_line(capsys)  # no logging line before it
    assert "model.safetensors" in line
    log = (studio_home / "logs" / "studio.log").read_text(encoding="utf-8")
    assert "job cli failed" in log  # the record is kept, in the log file


def test_a_bug_says_where_its_traceback_is(tmp_path, capsys, studio_home, monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("a bug in a family")

    monkeypatch.setattr("studio.core.engine.Engine._run_request", broken)
    assert main(["generate", "--model", "vae-glyphs", "-o", str(tmp_path / "out.png")]) == 1
    line = one_error_line(capsys)
    log_path = studio_home / "logs" / "studio.log"
    assert "a bug in a family" in line and str(log_path) in line
    log = log_path.read_text(encoding="utf-8")
    assert "Traceback" in log and "ZeroDivisionError: a bug in a family" in log


def test_a_bug_in_a_command_goes_to_the_log_too(capsys, studio_home, monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise KeyError("oops")

    monkeypatch.setattr("studio.core.library.Library.entries", broken)
    assert main(["models"]) == 1
    line = one_error_line(capsys)
    assert "KeyError" in line and "studio.log" in line
    assert "Traceback" in (studio_home / "logs" / "studio.log").read_text(encoding="utf-8")


def _tiny_recipe(tmp_path: Path, model_id: str = "tiny-vae") -> Path:
    recipe = json.loads((ROOT / "resources/recipes/vae-glyphs.json").read_text())
    recipe.update(id=model_id, name="Tiny VAE")
    recipe["dataset"] = {"name": "glyphs", "train_per_class": 3, "held_out_per_class": 2,
                         "fonts": [], "cache": False}
    recipe["config"] = {**recipe["config"], "widths": [8, 8, 8]}
    recipe["train"] = {**recipe["train"], "steps": 3, "batch_size": 8}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(recipe))
    return path


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_malicious_checkpoint_is_refused_in_one_line(tmp_path, capsys, studio_home,
                                                       monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    checkpoints = studio_home / "training" / "tiny-vae"
    checkpoints.mkdir(parents=True)
    bad = checkpoints / "step-00000002.pt"
    bad.write_bytes(pickle.dumps({"step": 2, "trainable": _Payload()}))
    assert main(["train", "--recipe", str(_tiny_recipe(tmp_path))]) == 2
    line = one_error_line(capsys)
    assert str(bad) in line and "refused" in line and "--no-resume" in line
    assert not (tmp_path / "pwned.txt").exists()


@pytest.mark.parametrize("model_id", ["../../escaped", "/tmp/escaped", "a/b", ".."])
def test_a_recipe_id_cannot_lead_training_out_of_the_data_folder(tmp_path, capsys, studio_home,
                                                                 model_id) -> None:
    assert main(["train", "--recipe", str(_tiny_recipe(tmp_path, model_id))]) == 2
    line = one_error_line(capsys)
    assert repr(model_id) in line
    assert not (studio_home.parent / "escaped").exists() and not Path("/tmp/escaped").exists()
    assert not (studio_home / "training").exists() or not any((studio_home / "training").iterdir())


def test_eval_of_weights_that_do_not_fit_their_card_is_one_line(tmp_path, capsys) -> None:
    folder = tmp_path / "pixelcnn-copy"
    shutil.copytree(builtin_models_dir() / "pixelcnn-glyphs", folder)
    card = json.loads((folder / "card.json").read_text())
    card["id"] = "pixelcnn-copy"
    card["config"]["hidden"] = 48
    (folder / "card.json").write_text(json.dumps(card))
    assert main(["import", str(folder)]) == 0
    capsys.readouterr()
    assert main(["eval", "--model", "pixelcnn-copy", "--samples", "4"]) == 2
    line = one_error_line(capsys)
    assert str(folder / "model.safetensors") in line and "but the model expects" in line
