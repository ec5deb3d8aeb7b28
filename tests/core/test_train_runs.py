"""Runs on the user's own images: recipes, run ids, presets, the CLI and the spawned
training process. Tiny seeded models and a handful of steps only."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import load_file

from studio.cli import main
from studio.core.library import Library
from studio.core.train_data import FolderSettings
from studio.core.train_runs import (
    RunSettings,
    TrainProcess,
    has_checkpoint,
    make_recipe,
    model_dir,
    run_dir,
    write_recipe,
)


def image_folder(root: Path, count: int = 12, classes: bool = False) -> Path:
    for i in range(count):
        sub = root / (f"k{i % 2}" if classes else "")
        sub.mkdir(parents=True, exist_ok=True)
        a = np.zeros((20, 20, 3), np.uint8)
        a[..., i % 3] = 180
        a[2:2 + i, 3:12] = 255
        Image.fromarray(a).save(sub / f"{i}.png")
    return root


def settings(folder: Path, **kw) -> RunSettings:
    data = FolderSettings(str(folder), size=32, channels=kw.pop("channels", 3),
                          classes=kw.pop("classes", False))
    return RunSettings(data, **{"family": "vae", "size": "tiny", "steps": 4, "batch_size": 4,
                                "log_every": 1, "sample_every": 2, "checkpoint_every": 2, **kw})


def test_run_id_is_the_folder_name_and_a_hash_of_the_settings(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "My Pictures")
    recipe = make_recipe(settings(folder))
    name, digest = recipe["id"].rsplit("-", 1)
    assert name == "my-pictures" and len(digest) == 8 and int(digest, 16) >= 0
    assert make_recipe(settings(folder))["id"] == recipe["id"]
    # how often it reports is not part of the run; what shapes the model or schedule is
    assert make_recipe(settings(folder, sample_every=7))["id"] == recipe["id"]
    assert make_recipe(settings(folder, steps=40))["id"] != recipe["id"]
    assert make_recipe(settings(folder, size="small"))["id"] != recipe["id"]
    assert make_recipe(settings(folder, seed=1))["id"] != recipe["id"]
    assert recipe["config"]["resolution"] == 32 and recipe["config"]["channels"] == 3
    assert recipe["train"]["steps"] == 4 and recipe["dataset"]["name"] == "folder"


def test_presets_fit_the_data(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "imgs", classes=True)
    gan32 = make_recipe(settings(folder, family="gan"))["config"]
    gan64 = make_recipe(RunSettings(FolderSettings(str(folder), size=64), family="gan",
                                    size="tiny"))["config"]
    assert len(gan64["g_widths"]) == len(gan32["g_widths"]) + 1 == 5
    assert gan64["d_widths"][1:] == gan32["d_widths"] and gan32["num_classes"] == 0
    assert make_recipe(settings(folder, family="gan", classes=True))["config"]["num_classes"] == 2
    # the diffusion model is class-conditional only: unlabelled data is one class
    diffusion = make_recipe(settings(folder, family="diffusion"))
    assert diffusion["config"]["classes"] == 1 and diffusion["dataset"]["single_label"]
    with pytest.raises(ValueError, match="grey images only"):
        make_recipe(settings(folder, family="autoregressive"))
    with pytest.raises(ValueError, match="32, 64 px"):
        make_recipe(RunSettings(FolderSettings(str(folder), size=128, channels=1),
                                family="autoregressive"))
    with pytest.raises(ValueError, match="needs a VAE"):
        make_recipe(settings(folder, family="latent_diffusion"))


def _weights(model_id: str) -> dict[str, np.ndarray]:
    return load_file(str(model_dir(model_id) / "model.safetensors"))


def test_cli_trains_a_folder_resumes_and_lands_the_model_in_the_library(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = image_folder(tmp_path / "shapes")
    args = ["train", "--data", str(folder), "--family", "vae", "--size", "tiny",
            "--resolution", "32", "--batch", "4", "--sample-every", "0", "--checkpoint-every", "2",
            "--threads", "1"]
    recipe = make_recipe(settings(folder, sample_every=0, log_every=None))  # as the GUI and CLI
    # a run stopped at step 2 (the GUI's recipe runs with --recipe; --steps caps it)
    assert main(["train", "--recipe", str(write_recipe(recipe)), "--steps", "2", "--no-resume",
                 "--threads", "1"]) == 0
    assert has_checkpoint(recipe["id"]) == 2
    capsys.readouterr()
    # rerunning the same command resumes from step 2 ...
    assert main([*args, "--steps", "4"]) == 0
    out, err = capsys.readouterr()
    model_id = out.strip().splitlines()[-1]
    assert model_id == recipe["id"] and " 25%" not in err and "100%" in err
    # ... having written the recipe the GUI writes
    assert json.loads((run_dir(model_id) / "recipe.json").read_text()) == recipe
    entry = Library().get(model_id)
    metrics = entry.card.metrics
    assert {"nn_distance_samples", "nn_distance_held_out", "reconstruction_mse"} <= set(metrics)
    assert "recognisability" not in metrics  # the glyph classifier says nothing about these
    assert entry.card.training["steps"] == 4
    resumed = _weights(model_id)
    # ... and ends exactly where an uninterrupted run does
    assert main([*args, "--steps", "4", "--no-resume"]) == 0
    assert " 25%" in capsys.readouterr().err
    fresh = _weights(model_id)
    assert resumed.keys() == fresh.keys()
    for key in fresh:  # same seed, batches, thread count and kernels: exactly equal
        np.testing.assert_array_equal(resumed[key], fresh[key])


def test_cli_refuses_bad_settings_in_one_line(tmp_path: Path, capsys) -> None:
    folder = image_folder(tmp_path / "imgs")
    assert main(["train", "--data", str(tmp_path / "nope")]) == 2
    assert main(["train", "--data", str(folder), "--family", "autoregressive"]) == 2
    assert "grey images only" in capsys.readouterr().err


def _drain(process: TrainProcess, until: str, timeout: float = 120.0) -> list[tuple]:
    seen: list[tuple] = []
    deadline = time.monotonic() + timeout  # a guard against a hang, not a timed assertion
    while time.monotonic() < deadline:
        for message in process.poll():
            seen.append(message)
            if message[0] == "error":
                raise AssertionError(message)
            if message[0] == until:
                return seen
        time.sleep(0.02)
    raise AssertionError(f"no {until!r} message; got {[m[0] for m in seen]}")


def test_the_spawned_process_streams_stops_and_resumes_bit_for_bit(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "shapes")
    recipe = make_recipe(settings(folder, steps=6, sample_every=2, checkpoint_every=2))
    recipe["evaluate"] = {"samples": 4}
    path = write_recipe(recipe)

    first = TrainProcess("run", recipe_path=str(path), resume=False, threads=1)
    first.start()
    seen = _drain(first, "checkpoint")
    first.stop()  # pause: the child checkpoints and ends
    seen += _drain(first, "stopped")
    first.join(30)
    kinds = [m[0] for m in seen]
    assert "log" in kinds and "samples" in kinds
    samples = next(m for m in seen if m[0] == "samples")
    assert samples[2].shape == (16, 32, 32, 3) and samples[2].dtype == np.uint8
    stopped_at = seen[-1][1]
    assert 2 <= stopped_at <= 6 and has_checkpoint(recipe["id"]) == stopped_at

    second = TrainProcess("run", recipe_path=str(path), resume=True, threads=1)
    second.start()
    logs = [m for m in _drain(second, "done") if m[0] == "log"]
    second.join(30)
    assert logs[0][1] == stopped_at + 1 or stopped_at == 6  # it continued, not restarted
    resumed = _weights(recipe["id"])

    whole = TrainProcess("run", recipe_path=str(path), resume=False, threads=1)
    whole.start()
    done = _drain(whole, "done")[-1][1]
    whole.join(30)
    assert done["model_id"] == recipe["id"] and "nn_distance_samples" in done["metrics"]
    fresh = _weights(recipe["id"])
    for key in fresh:
        np.testing.assert_array_equal(resumed[key], fresh[key])


def test_the_estimate_measures_parameters_and_time_per_step(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "imgs")
    process = TrainProcess("estimate", recipe=make_recipe(settings(folder)), steps=1, threads=1)
    process.start()
    figures = _drain(process, "estimate")[-1][1]
    process.join(30)
    assert figures["parameters"] > 1000 and figures["seconds_per_step"] > 0
    assert figures["estimate_seconds"] == pytest.approx(figures["seconds_per_step"] * 4)


def test_every_family_trains_on_a_folder_and_is_evaluated(tmp_path: Path) -> None:
    """Each family's tiny preset, two steps, in-process: it lands in the library with the
    distances (and the flow's bits/dim). Latent diffusion works in
    a VAE trained here on the same images."""
    from studio.train_worker import train_and_land

    folder = image_folder(tmp_path / "shapes", count=16)
    landed = {}
    for family in ("vae", "gan", "diffusion", "flow", "autoregressive", "latent_diffusion"):
        kw = {"family": family, "steps": 2, "sample_every": 0, "checkpoint_every": 2}
        if family == "autoregressive":
            kw["channels"] = 1
        if family == "latent_diffusion":
            kw["vae"] = landed["vae"]
        recipe = make_recipe(settings(folder, **kw))
        recipe["evaluate"] = {"samples": 4}
        # PixelCNN samples pixel by pixel: its evaluation alone would take half a minute here
        evaluate = family != "autoregressive"
        model_id, _, metrics = train_and_land(write_recipe(recipe), resume=False, evaluate=evaluate)
        landed[family] = model_id
        card = Library().get(model_id).card
        assert card.family == family and card.resolution == 32
        if evaluate:
            assert {"nn_distance_samples", "nn_distance_held_out"} <= set(metrics), family
        if family == "flow":
            assert metrics["bits_per_dim"] > 0
    assert len(set(landed.values())) == 6


def test_the_built_in_glyphs_are_a_data_source(tmp_path: Path) -> None:
    """`--data builtin:glyphs`: the digits at 32 px grey, their 10 classes, and the
    evaluator's figures in the card (the recipe names the glyph dataset)."""
    from studio.core.train_data import BUILTIN_GLYPHS

    glyphs = FolderSettings(BUILTIN_GLYPHS, size=32, channels=1)
    recipe = make_recipe(RunSettings(glyphs, family="gan", size="tiny"))
    assert recipe["id"].startswith("glyphs-") and recipe["dataset"]["name"] == "glyphs"
    assert recipe["config"]["num_classes"] == 10 and recipe["config"]["channels"] == 1
    with pytest.raises(ValueError, match="32 px grey"):
        make_recipe(RunSettings(FolderSettings(BUILTIN_GLYPHS, size=32, channels=3)))


def test_unfinished_runs_are_offered_newest_first(tmp_path: Path) -> None:
    from studio.core.train_runs import unfinished_runs

    folder = image_folder(tmp_path / "imgs")
    assert unfinished_runs() == []
    stopped = make_recipe(settings(folder, steps=10))
    finished = make_recipe(settings(folder, steps=4))
    for recipe, step in ((stopped, 6), (finished, 4)):
        write_recipe(recipe)
        (run_dir(recipe["id"]) / f"step-{step:08d}.pt").write_bytes(b"")  # only the name counts
    never = make_recipe(settings(folder, steps=12))
    write_recipe(never)  # no checkpoint yet: nothing to resume
    runs = unfinished_runs()
    assert [(r[0], r[1], r[2]) for r in runs] == [(stopped["id"], 6, 10)]
    assert runs[0][3] == run_dir(stopped["id"]) / "recipe.json"


def _trained_weights(family: str, recipe: dict, data: dict, **kw) -> dict:
    import torch

    from studio.core.training import TrainConfig, train_loop
    from studio.wiring import family_registry

    torch.manual_seed(0)
    trainable = family_registry().get(family).implementation().make_trainable(recipe, data)
    train_loop(trainable, data["train"], TrainConfig.from_recipe(recipe), **kw)
    return trainable.state_dict()["model"]


def test_held_out_figures_stream_are_logged_and_change_nothing_trained(tmp_path: Path) -> None:
    """The flow and PixelCNN report bits/dim on held-out images (the VAE its held-out loss)
    at every log interval, to on_log and to the run's log; a resumed run keeps the log up
    to its checkpoint; and computing them leaves the trained weights exactly as they are."""
    from studio.core.datasets import build_dataset
    from studio.core.train_runs import read_log

    folder = image_folder(tmp_path / "shapes", count=16)
    for family, key, channels in (("flow", "held_out_bpd", 3), ("autoregressive", "held_out_bpd", 1),
                                  ("vae", "held_out_loss", 3)):
        recipe = make_recipe(settings(folder, family=family, steps=4, channels=channels))
        data = build_dataset(recipe["dataset"])
        logged: list[tuple[int, dict]] = []
        reported = _trained_weights(family, recipe, data, checkpoint_dir=run_dir(recipe["id"]),
                                    resume=False, on_log=lambda step, logs, out=logged: out.append(
                                        (step, dict(logs))))
        assert [s for s, _ in logged] == [1, 2, 3, 4], family
        figures = [logs[key] for _, logs in logged]
        assert all(np.isfinite(figures)) and len(set(figures)) > 1, (family, figures)
        if key == "held_out_bpd":  # 8-bit images: about 8 bits/dim untrained, never below 0
            assert all(0 < f < 20 for f in figures), (family, figures)
        log = read_log(recipe["id"])
        assert [r["step"] for r in log] == [1, 2, 3, 4]
        assert [r[key] for r in log] == pytest.approx(figures)
        silent = _trained_weights(family, recipe, data)  # no log, no held-out figures
        for name in silent:
            np.testing.assert_array_equal(silent[name].numpy(), reported[name].numpy())

    # a resumed run drops the records after its checkpoint (it logs those steps again)
    recipe = make_recipe(settings(folder, family="flow", steps=4, checkpoint_every=2))
    path = write_recipe(recipe)
    assert main(["train", "--recipe", str(path), "--steps", "3", "--no-resume", "--threads", "1"]) == 0
    assert [r["step"] for r in read_log(recipe["id"])] == [1, 2, 3] and has_checkpoint(recipe["id"]) == 3
    (run_dir(recipe["id"]) / "step-00000003.pt").unlink()  # as if killed before step 3's checkpoint
    assert main(["train", "--recipe", str(path), "--threads", "1"]) == 0
    assert [r["step"] for r in read_log(recipe["id"])] == [1, 2, 3, 4]


def test_train_help_lists_the_data_form_too(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--recipe", "--data", "--family", "--size", "--resolution", "--grey", "--classes",
                 "--flip", "--held-out", "--batch", "--lr", "--seed", "--vae", "--sample-every",
                 "--checkpoint-every", "--steps", "--no-resume", "--threads"):
        assert flag in out, flag
    assert "training on your own images (with --data)" in out


def test_train_refuses_flags_of_the_other_form(tmp_path: Path, capsys) -> None:
    folder = image_folder(tmp_path / "imgs")
    recipe = write_recipe(make_recipe(settings(folder)))
    assert main(["train", "--recipe", str(recipe), "--family", "gan", "--grey"]) == 2
    assert "--family, --grey: only with --data" in capsys.readouterr().err
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "m")]) == 2
    assert "--out goes with --recipe" in capsys.readouterr().err
    for argv in (["--data", str(folder), "--recipe", str(recipe)], []):  # one or the other
        with pytest.raises(SystemExit) as exit_:
            main(["train", *argv])
        assert exit_.value.code == 2
    assert "one of the arguments --recipe --data is required" in capsys.readouterr().err


def test_class_subfolders_name_the_models_classes(tmp_path: Path) -> None:
    from studio.train_worker import train_and_land

    folder = image_folder(tmp_path / "imgs", classes=True)
    recipe = make_recipe(settings(folder, family="gan", classes=True, steps=1, sample_every=0))
    assert recipe["class_names"] == ["k0", "k1"] and recipe["config"]["num_classes"] == 2
    model_id, _, _ = train_and_land(write_recipe(recipe), resume=False, evaluate=False)
    assert Library().get(model_id).card.classes == ["k0", "k1"]
