"""Animating imported diffusers pipelines (issue 16): a keyframe is a seed's initial noise
and, for Stable Diffusion and SDXL, its prompt's text embedding; the frames slerp the noises,
lerp the embeddings and denoise with the sampler settings fixed. Tiny pipelines from
tests/families/diffusers_tiny.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core import animation as anim
from studio.core import diffusers_folder, video
from studio.core.animate import Animation, export, render_op_for, seed_keyframes
from studio.core.family import JobContext
from studio.core.requests import Request
from studio.families.diffusers.model import DiffusersFamily
from studio.families.diffusers.spec import DIFFUSERS
from tests.families.diffusers_tiny import make_pipeline_folder

FIXED = {"steps": 3, "scheduler": "ddim", "guidance": 4.0, "negative_prompt": "blurry"}
PROMPTS = ("the cat", "a red thing")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/families/conftest.py


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    out = {}
    for kind in ("sd", "sdxl", "ddim"):
        folder = make_pipeline_folder(kind, root / f"tiny-{kind}")
        out[kind] = DiffusersFamily.load(folder, diffusers_folder.make_card(folder), "cpu")
    return out


def sample(model, seed: int, **values):
    params = DIFFUSERS.op("sample").validate({**FIXED, **values, "seed": seed, "count": 1}, {})
    return model.run("sample", params, {}, JobContext())


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_a_prompt_walk_lands_on_its_keyframes_and_lerps_the_text_embeddings(models, kind,
                                                                              tmp_path):
    model, ctx = models[kind], JobContext()
    assert render_op_for(DIFFUSERS).name == "interpolate"
    keys = seed_keyframes(model, DIFFUSERS, [3, 17], ctx, FIXED,
                          [{"prompt": p} for p in PROMPTS])
    assert keys.labels == ("seed 3 · prompt the cat", "seed 17 · prompt a red thing")
    assert keys.conditions is not None and len(keys.conditions) == 2
    animation = Animation(f"tiny-{kind}", keys.latents, anim.PathSettings("slerp", 2),
                          render_op="interpolate", render_params=FIXED, labels=keys.labels,
                          conditions=keys.conditions)
    out = tmp_path / "walk"
    export(model, DIFFUSERS, animation, out, ctx)
    frames = video.read_frames(out)
    assert len(frames) == 3
    # each keyframe is its seed's sample with its prompt and the fixed settings (a batch of
    # three against a batch of one: within 1/255)
    for seed, prompt, frame in ((3, PROMPTS[0], frames[0]), (17, PROMPTS[1], frames[2])):
        alone = sample(model, seed, prompt=prompt).images[0]
        assert np.abs(alone.astype(int) - frame).max() <= 1
    # the middle frame: both prompts' embeddings half and half, not either prompt alone
    middle = Request(f"tiny-{kind}", "interpolate", {**FIXED, "seed": 3, "seed_b": 17,
                                                      "frames": 3})
    for prompt in PROMPTS:
        values = DIFFUSERS.op("interpolate").validate({**middle.params, "prompt": prompt}, {})
        one = model.run("interpolate", values, {}, ctx).images
        assert np.abs(one[1].astype(int) - frames[1]).max() > 1
    recipe = json.loads((tmp_path / "walk.recipe.json").read_text())
    assert recipe["params"]["render_params"] == FIXED and "conditions" in recipe["inputs"]
    again = Animation.from_request(Request.from_recipe(recipe))
    export(model, DIFFUSERS, again, tmp_path / "again", ctx)
    assert np.array_equal(video.read_frames(tmp_path / "again"), frames)


def test_an_unconditional_pipeline_animates_its_seeds_noise(models, tmp_path):
    model, ctx = models["ddim"], JobContext()
    keys = seed_keyframes(model, DIFFUSERS, [3, 17], ctx, FIXED)
    assert keys.conditions is None  # no prompt to lerp
    animation = Animation("tiny-ddim", keys.latents, anim.PathSettings("slerp", 2, loop=True),
                          render_op="interpolate", render_params=FIXED)
    export(model, DIFFUSERS, animation, tmp_path / "loop", ctx)
    frames = video.read_frames(tmp_path / "loop")
    assert len(frames) == 4
    assert np.abs(sample(model, 17).images[0].astype(int) - frames[2]).max() <= 1


def test_bad_prompt_embeddings_are_refused_in_one_line(models):
    model = models["sd"]
    noise = sample(model, 3).extras["noise"]
    values = DIFFUSERS.op("interpolate").validate(FIXED, {})
    from studio.core.params import ParamError

    with pytest.raises(ParamError, match="prompt_embedding: expected"):
        model.run("interpolate", values, {"latent": noise,
                                          "prompt_embedding": np.zeros((1, 5), np.float32)},
                  JobContext())
    with pytest.raises(ParamError, match="takes no prompt"):
        models["ddim"].run("interpolate", values,
                           {"latent": sample(models["ddim"], 3).extras["noise"],
                            "prompt_embedding": np.zeros((1, 5), np.float32)}, JobContext())
