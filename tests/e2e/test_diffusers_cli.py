"""`studio import FOLDER` and `studio generate` with a tiny Stable Diffusion folder: the
id printed, the image equal to diffusers' own for the same settings, the recipe
re-rendering it, and a broken folder refused with its reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.core import media
from studio.core.export import open_recipe
from studio.families.diffusers.model import float_to_uint8
from tests.families.diffusers_tiny import make_pipeline_folder


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    return make_pipeline_folder("sd", tmp_path_factory.mktemp("pipelines") / "My Tiny SD")


def diffusers_own(folder, prompt: str, steps: int, guidance: float, seed: int) -> np.ndarray:
    from diffusers import DiffusionPipeline, DPMSolverMultistepScheduler

    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(  # the studio's default
        pipe.scheduler.config, algorithm_type="dpmsolver++")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the studio's engine (tiny ops crawl with two here)
    try:
        images = pipe(prompt, num_inference_steps=steps, guidance_scale=guidance,
                      generator=torch.Generator().manual_seed(seed), output_type="np").images
    finally:
        torch.set_num_threads(threads)
    return float_to_uint8(images)[0]


def test_import_prints_the_id_then_generate_matches_diffusers(sd_folder, tmp_path, capsys):
    assert main(["import", str(sd_folder)]) == 0
    model_id = capsys.readouterr().out.strip()
    assert model_id == "my-tiny-sd"
    assert main(["models"]) == 0
    assert "my-tiny-sd" in capsys.readouterr().out

    out = tmp_path / "cat.png"
    assert main(["generate", "--model", model_id, "--prompt", "the cat", "--steps", "3",
                 "--guidance", "4.5", "--seed", "9", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    image = media.load_image(out)
    expected = diffusers_own(sd_folder, "the cat", 3, 4.5, 9)
    assert image.shape == expected.shape == (32, 32, 3)
    assert np.abs(image.astype(int) - expected).max() <= 1

    request = open_recipe(out)
    assert (request.model_id, request.params["prompt"], request.params["steps"],
            request.params["guidance"], request.seed) == (model_id, "the cat", 3, 4.5, 9)
    again = tmp_path / "again.png"
    assert main(["generate", "--recipe", str(out), "-o", str(again)]) == 0
    np.testing.assert_array_equal(media.load_image(again), image)


def test_generate_help_lists_prompt_and_memory_switches(sd_folder, capsys):
    assert main(["import", str(sd_folder)]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--model", "my-tiny-sd", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--prompt", "--negative-prompt", "--scheduler", "--guidance", "--steps",
                 "--attention-slicing", "--vae-tiling", "--cpu-offload", "--dtype"):
        assert flag in text, flag


def test_import_of_a_broken_folder_says_what_is_missing(sd_folder, tmp_path, capsys):
    import shutil

    broken = shutil.copytree(sd_folder, tmp_path / "broken")
    (broken / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    assert main(["import", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "vae/diffusion_pytorch_model.safetensors missing" in err
    assert main(["models", "--json"]) == 0
    assert "broken" not in capsys.readouterr().out


def test_generate_refuses_fp16_on_the_cpu(sd_folder, tmp_path, capsys):
    assert main(["import", str(sd_folder)]) == 0
    capsys.readouterr()
    assert main(["generate", "--model", "my-tiny-sd", "--prompt", "x", "--steps", "1",
                 "--dtype", "fp16", "-o", str(tmp_path / "x.png")]) == 2
    assert "needs a GPU" in capsys.readouterr().err


def test_fork_from_the_command_line(sd_folder, tmp_path, capsys):
    assert main(["import", str(sd_folder)]) == 0
    common = ["--model", "my-tiny-sd", "--prompt", "the cat", "--steps", "3", "--seed", "5",
              "--guidance", "4"]
    assert main(["generate", *common, "-o", str(tmp_path / "a.png")]) == 0
    assert main(["generate", *common, "--op", "fork", "--fork-step", "2", "--fork-seed", "5",
                 "--fork-guidance", "4", "-o", str(tmp_path / "same.png")]) == 0
    assert main(["generate", *common, "--op", "fork", "--fork-step", "1", "--fork-seed", "6",
                 "-o", str(tmp_path / "branch.png")]) == 0
    original = media.load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(media.load_image(tmp_path / "same.png"), original)
    assert not np.array_equal(media.load_image(tmp_path / "branch.png"), original)
    assert open_recipe(tmp_path / "branch.png").params["fork_seed"] == 6
