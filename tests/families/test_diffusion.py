"""The pixel diffusion family: the shared contract on a tiny seeded UNet, then steering,
previews, cancel and the timeline/fork."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from safetensors.torch import load_file, save_file

from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import Split, make_glyphs
from studio.core.family import Cancelled, JobContext, ModelLoadError
from studio.core.params import ParamError
from studio.families.diffusion.model import DiffusionFamily
from studio.families.diffusion.spec import DIFFUSION, SCHEDULERS
from tests.families.contract import FamilyContract

SIZE = 8


def tiny_data() -> dict[str, Split]:
    train = make_glyphs(2, seed=0, fonts=[], size=SIZE, cache=False)
    held = make_glyphs(1, seed=1, fonts=[], size=SIZE, cache=False)
    return {"train": Split(*train), "held_out": Split(*held)}


def tiny_recipe() -> dict:
    return {
        "id": "diffusion-tiny", "name": "Tiny diffusion", "family": "diffusion", "seed": 0,
        "dataset": {"name": "glyphs", "fonts": [], "size": SIZE, "cache": False},
        "config": {"resolution": SIZE, "channels": 1, "classes": 10, "widths": [8, 16],
                   "norm_groups": 4},
        "train": {"steps": 2, "batch_size": 8},
    }


def train_two_steps(trainable, data: dict[str, Split]) -> None:
    train = data["train"]
    for i in range(2):
        index = np.arange(i * 8, (i + 1) * 8)
        trainable.step({"images": torch.from_numpy(train.images[index]).permute(0, 3, 1, 2).float() / 255.0,
                        "labels": torch.from_numpy(train.labels[index])})


def make_tiny_diffusion(folder: Path) -> Path:
    torch.manual_seed(0)
    data = tiny_data()
    trainable = DiffusionFamily.make_trainable(tiny_recipe(), data)
    train_two_steps(trainable, data)
    # a random untrained UNet would give near-identical outputs for every class; scale
    # the class embedding up so that the class visibly matters in the tests
    with torch.no_grad():
        trainable.ema.class_embedding.weight.mul_(20.0)
    trainable.export(folder, {})
    return folder


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny UNets run fastest on one thread, and two threads on a busy 2-core machine
    spin against each other (a 25-step sample took 15 s instead of 0.4 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TestDiffusionContract(FamilyContract):
    family = DIFFUSION

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_tiny_diffusion(tmp_path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_tiny_diffusion(tmp_path_factory.mktemp("diffusion"))


def load(folder: Path):
    return DiffusionFamily.load(folder, ModelCard.read(folder), "cpu")


@pytest.fixture()
def model(folder: Path):
    return load(folder)  # fresh per test: no stored timelines carried over


def run(model, op, params=None, ctx=None, **inputs):
    return model.run(op, params or {}, inputs, ctx or JobContext())


def count_calls(module: torch.nn.Module) -> list[int]:
    """Batch sizes of every forward call of `module`, appended as they happen."""
    calls: list[int] = []
    module.register_forward_hook(lambda m, args, out: calls.append(int(args[0].shape[0])))
    return calls


def a_glyph(seed: int = 3) -> np.ndarray:
    return make_glyphs(1, seed=seed, fonts=[], size=SIZE, cache=False)[0][4]  # (8, 8, 1)


# -- steering -----------------------------------------------------------------------------


def test_every_scheduler_runs_and_switching_leaves_no_state(model) -> None:
    params = {"seed": 4, "count": 3, "steps": 6, "class_index": 2}
    outs = {}
    for name in SCHEDULERS:
        out = run(model, "sample", {**params, "scheduler": name})
        assert out.images.shape == (3, SIZE, SIZE, 1) and np.isfinite(out.latents).all(), name
        outs[name] = out.latents
    # each scheduler is its own sampler ...
    for a in SCHEDULERS:
        for b in SCHEDULERS:
            if a < b:
                assert not np.array_equal(outs[a], outs[b]), (a, b)
    # ... and switching back gives exactly what it gave before
    for name in ("ddim", "dpm++", "euler_a"):
        np.testing.assert_array_equal(run(model, "sample", {**params, "scheduler": name}).latents,
                                      outs[name], err_msg=name)


def test_guidance_one_is_the_conditional_model_alone(model) -> None:
    seeds, label, steps = [7, 8], 3, 5
    calls = count_calls(model.unet)
    out = run(model, "sample", {"seed": 7, "count": 2, "steps": steps, "scheduler": "ddim",
                                "guidance": 1.0, "class_index": label})
    assert calls == [2] * steps  # one call per step, the conditional batch only
    # the same run by hand: diffusers' DDIM and the UNet with the class label, no guidance
    scheduler = DDIMScheduler.from_config(model.scheduler_config)
    scheduler.set_timesteps(steps)
    x = torch.stack([torch.randn((1, SIZE, SIZE), generator=torch.Generator().manual_seed(s))
                     for s in seeds])
    labels = torch.full((2,), label)
    with torch.no_grad():
        for t in scheduler.timesteps:
            x = scheduler.step(model.unet(x, t, class_labels=labels).sample, t, x).prev_sample
    np.testing.assert_allclose(out.latents, x.numpy(), rtol=0, atol=1e-5)
    # guidance above 1: one batched [uncond, cond] call per step, another image
    calls.clear()
    guided = run(model, "sample", {"seed": 7, "count": 2, "steps": steps, "scheduler": "ddim",
                                   "guidance": 4.0, "class_index": label})
    assert calls == [4] * steps
    assert np.abs(guided.latents - out.latents).max() > 1e-3


def test_negative_class_replaces_the_null_label(model) -> None:
    base = {"seed": 1, "count": 2, "steps": 4, "guidance": 3.0, "class_index": 1}
    plain = run(model, "sample", base).latents
    negative = run(model, "sample", {**base, "negative_class_index": 5}).latents
    assert np.abs(plain - negative).max() > 1e-3
    with pytest.raises(ParamError, match="negative_class_index"):
        run(model, "sample", {**base, "negative_class_index": 10})
    with pytest.raises(ParamError, match="class_index"):
        run(model, "sample", {**base, "class_index": 10})


def test_random_class_comes_from_each_images_seed(model) -> None:
    common = {"steps": 3, "scheduler": "ddim"}  # image i depends only on seed + i
    many = run(model, "sample", {**common, "seed": 20, "count": 6})
    one = run(model, "sample", {**common, "seed": 23, "count": 1})
    assert many.extras["classes"][3] == one.extras["classes"][0]
    # same batch shape: exact by construction
    shifted = run(model, "sample", {**common, "seed": 23, "count": 6})
    assert shifted.extras["classes"][0] == many.extras["classes"][3]
    np.testing.assert_array_equal(many.latents[3], shifted.latents[0])
    # another batch shape: float32 rounding of the GEMMs, a tenth of an 8-bit level at most
    np.testing.assert_allclose(many.latents[3], one.latents[0], rtol=0, atol=1e-3)
    assert len(set(many.extras["classes"])) > 1


@pytest.mark.parametrize("scheduler", ["dpm++", "euler_a", "ddpm"])
def test_inpaint_keeps_unmasked_pixels_exactly(model, scheduler: str) -> None:
    image = np.repeat(a_glyph(), 3, axis=2)  # RGB in: fitted to the model's 1 channel
    mask = np.zeros((SIZE, SIZE, 1), np.uint8)
    mask[2:6, 1:5] = 255
    out = run(model, "inpaint", {"seed": 2, "count": 4, "steps": 6, "scheduler": scheduler},
              image=image, mask=mask)
    keep = mask[..., 0] < 128
    for picture in out.images:
        np.testing.assert_array_equal(picture[keep], a_glyph()[keep])
    assert (out.images[:, ~keep] != a_glyph()[~keep]).any()  # the hole was repainted


def test_img2img_strength(model) -> None:
    image = a_glyph()
    calls = count_calls(model.unet)
    kept = run(model, "img2img", {"strength": 0.0, "steps": 10, "count": 2}, image=image)
    assert calls == [] and kept.extras["start_step"] == 10
    np.testing.assert_array_equal(kept.images, np.stack([image, image]))
    half = run(model, "img2img", {"strength": 0.5, "steps": 10, "count": 2, "guidance": 1.0},
               image=image)
    assert len(calls) == 5 and half.extras["timeline"]["steps"] == 5
    full = run(model, "img2img", {"strength": 1.0, "steps": 10, "count": 2, "guidance": 1.0},
               image=image)
    assert len(calls) == 15
    assert not np.array_equal(half.images, full.images)


def test_interpolate_ends_are_the_two_seeds_samples(model) -> None:
    common = {"steps": 5, "scheduler": "ddim", "class_index": 4}
    out = run(model, "interpolate", {**common, "seed": 3, "seed_b": 9, "frames": 4})
    assert out.images.shape == (4, SIZE, SIZE, 1) and out.columns == 4
    # Exact by construction: a batch of the same shape (4) whose first image is seed 3's
    # and whose last is seed 9's runs the same kernels on the same rows.
    a = run(model, "sample", {**common, "seed": 3, "count": 4}).latents[0]
    b = run(model, "sample", {**common, "seed": 6, "count": 4}).latents[3]
    np.testing.assert_array_equal(out.latents[0], a)
    np.testing.assert_array_equal(out.latents[-1], b)
    # As a user meets them, one image at a time: another batch shape rounds differently
    # on some CPUs (up to 5e-5 measured after 5 steps with MKL's SSE4.2/AVX2 kernels), so
    # float32 justifies 1e-3 here: a tenth of one 8-bit level (2/255 in [-1, 1]).
    for seed, end in ((3, out.latents[0]), (9, out.latents[-1])):
        single = run(model, "sample", {**common, "seed": seed, "count": 1}).latents[0]
        np.testing.assert_allclose(end, single, rtol=0, atol=1e-3)
    noise = out.extras["noise"]  # slerp keeps the norm of Gaussian noise roughly constant
    norms = np.linalg.norm(noise.reshape(4, -1), axis=1)
    assert norms.min() > 0.8 * norms.max()


# -- previews, progress, cancel -------------------------------------------------------


def test_previews_and_step_counter_every_step(model) -> None:
    previews, messages = [], []
    ctx = JobContext(on_progress=lambda f, m: messages.append(m),
                     on_preview=lambda images: previews.append(images), min_interval=0.0)
    out = run(model, "sample", {"seed": 1, "count": 3, "steps": 7}, ctx=ctx)
    assert messages == [f"step {k}/7" for k in range(1, 8)]
    assert len(previews) == 7 and all(p.shape == (3, SIZE, SIZE, 1) and p.dtype == np.uint8
                                      for p in previews)
    timeline = out.extras["timeline"]
    assert timeline["steps"] == 7
    assert timeline["x0"].shape == timeline["xt"].shape == (7, SIZE, SIZE, 1)
    np.testing.assert_array_equal(timeline["x0"], np.stack([p[0] for p in previews]))
    np.testing.assert_array_equal(timeline["xt"][-1], out.images[0])  # x_t at the end is the image


@pytest.mark.parametrize("op", ["sample", "inpaint", "fork"])
def test_cancel_mid_run_stops_every_unet_call(model, op: str) -> None:
    event = threading.Event()
    calls = count_calls(model.unet)
    at_cancel: list[int] = []

    def on_progress(fraction: float, message: str) -> None:
        if message == "step 3/8":
            event.set()
            at_cancel.append(len(calls))

    ctx = JobContext(cancel_event=event, on_progress=on_progress, min_interval=0.0)
    inputs = {}
    if op == "inpaint":
        inputs = {"image": a_glyph(), "mask": np.full((SIZE, SIZE, 1), 255, np.uint8)}
    params = {"seed": 1, "count": 2, "steps": 8, "guidance": 2.0}
    if op == "fork":
        params.update(fork_step=1, fork_guidance=5.0)
    with pytest.raises(Cancelled):
        model.run(op, params, inputs, ctx)
    assert at_cancel == [3] and len(calls) == 3  # none after the cancel


# -- timeline and fork ----------------------------------------------------------------


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_fork_with_identical_settings_reproduces_the_original(folder: Path, scheduler: str) -> None:
    params = {"seed": 11, "count": 3, "steps": 6, "scheduler": scheduler, "eta": 0.5,
              "guidance": 2.5, "class_index": -1}
    same = {"fork_seed": 11, "fork_guidance": 2.5, "fork_class_index": -1}
    model = load(folder)
    original = run(model, "sample", params)
    calls = count_calls(model.unet)
    for k in (0, 2, 5, 6):
        fork = run(model, "fork", {**params, **same, "fork_step": k})
        assert fork.extras["reused_timeline"] and fork.extras["fork_step"] == k
        np.testing.assert_array_equal(fork.latents, original.latents, err_msg=f"{scheduler} k={k}")
        np.testing.assert_array_equal(fork.images, original.images)
        np.testing.assert_array_equal(fork.extras["timeline"]["x0"], original.extras["timeline"]["x0"])
    assert len(calls) == 6 + 4 + 1 + 0  # only the steps after k ran
    # without the stored timeline: the original is re-run to step k first
    fresh = load(folder)
    fork = run(fresh, "fork", {**params, **same, "fork_step": 3})
    assert not fork.extras["reused_timeline"]
    np.testing.assert_array_equal(fork.latents, original.latents, err_msg=scheduler)


def test_fork_branches_share_the_steps_before_k(model) -> None:
    params = {"seed": 5, "count": 2, "steps": 8, "scheduler": "dpm++", "guidance": 2.0,
              "class_index": 1}
    original = run(model, "sample", params)
    same = {"fork_seed": 5, "fork_guidance": 2.0, "fork_class_index": 1}
    k = 4
    branches = {
        "guidance": run(model, "fork", {**params, **same, "fork_step": k, "fork_guidance": 6.0}),
        "class": run(model, "fork", {**params, **same, "fork_step": k, "fork_class_index": 7}),
        "seed": run(model, "fork", {**params, **same, "fork_step": k, "fork_seed": 99}),
    }
    first = original.extras["timeline"]
    for name, branch in branches.items():
        timeline = branch.extras["timeline"]
        assert timeline["x0"].shape == first["x0"].shape, name
        np.testing.assert_array_equal(timeline["x0"][:k], first["x0"][:k], err_msg=name)
        assert np.abs(branch.latents - original.latents).max() > 1e-3, name
    assert branches["class"].extras["classes"] == [7, 7]


def test_fork_from_step_zero_with_a_new_seed_is_a_new_sample(model) -> None:
    params = {"seed": 5, "count": 2, "steps": 5, "scheduler": "euler", "class_index": 2,
              "guidance": 2.0}
    fork = run(model, "fork", {**params, "fork_step": 0, "fork_seed": 40, "fork_guidance": 2.0,
                               "fork_class_index": 2})
    other = run(model, "sample", {**params, "seed": 40})
    np.testing.assert_allclose(fork.latents, other.latents, atol=1e-5)


def test_timelines_kept_are_bounded(model) -> None:
    for seed in range(6):
        run(model, "sample", {"seed": seed, "count": 1, "steps": 3})
    assert len(model._timelines) == 4
    assert model.memory_bytes() > sum(p.numel() * 4 for p in model.unet.parameters())


# -- loading --------------------------------------------------------------------------


def test_card(folder: Path) -> None:
    card = ModelCard.read(folder)
    assert card.family == "diffusion" and card.latent_shape == [1, SIZE, SIZE]
    assert card.classes == [str(k) for k in range(10)] and card.weights_sha256
    model = load(folder)
    assert model.scheduler_config["clip_sample"] is True  # pixels: x0 clipped to [−1, 1]
    loop = model._loop(model._settings({**DIFFUSION.op("sample").defaults(), "scheduler": "dpm++"}),
                       JobContext())
    assert loop.scheduler.config.thresholding and loop.scheduler.config.sample_max_value == 1.0


def test_wrong_shaped_tensor_is_named(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "card.json").write_bytes((folder / "card.json").read_bytes())
    tensors = load_file(str(folder / WEIGHTS_FILE))
    tensors["class_embedding.weight"] = torch.zeros(3, 3)
    save_file(tensors, str(bad / WEIGHTS_FILE))
    with pytest.raises(ModelLoadError) as err:
        load(bad)
    message = str(err.value)
    assert str(bad / WEIGHTS_FILE) in message and "'class_embedding.weight'" in message
    assert "(3, 3)" in message and "expects" in message


def test_corrupt_or_missing_weights_are_named(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "corrupt"
    bad.mkdir()
    (bad / "card.json").write_bytes((folder / "card.json").read_bytes())
    data = (folder / WEIGHTS_FILE).read_bytes()
    for blob in (data[: len(data) // 2], b"not a safetensors file at all"):
        (bad / WEIGHTS_FILE).write_bytes(blob)
        with pytest.raises(ModelLoadError, match=str(bad / WEIGHTS_FILE)):
            load(bad)
    (bad / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        load(bad)
