"""Imported diffusers folders: the family contract, exactness against each pipeline's own
`__call__` through the engine, broken folders, and cancel.

Every pipeline is tiny (32 × 32 px, two blocks) and built from configs in
tests/families/diffusers_tiny.py, saved as safetensors to a temporary folder.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from studio.core import diffusers_folder
from studio.core.engine import PREVIEW, Engine, JobState, validator_for
from studio.core.family import Cancelled, JobContext
from studio.core.library import Library, LibraryError
from studio.core.params import ParamError
from studio.core.registry import Registry
from studio.core.requests import Request
from studio.families import register_all
from studio.families.diffusers.model import DiffusersFamily, fit_latent_rgb, float_to_uint8
from studio.families.diffusers.spec import DIFFUSERS
from studio.families.diffusion.loop import Timeline, make_scheduler
from tests.families.contract import FamilyContract
from tests.families.diffusers_tiny import KINDS, make_pipeline_folder

PROMPT = "the cat"
NEGATIVE = "a red thing"


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/families/conftest.py


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipelines")
    return {kind: make_pipeline_folder(kind, root / f"tiny-{kind}") for kind in KINDS}


def load(folder: Path):
    return DiffusersFamily.load(folder, diffusers_folder.make_card(folder), "cpu")


def plain_pipeline(folder: Path, scheduler: str):
    """The folder as plain diffusers loads it, with the same scheduler swapped in."""
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = make_scheduler(scheduler, pipe.scheduler.config)
    return pipe


def reference(folder: Path, kind: str, values: dict[str, Any], output_type: str = "np"):
    """What the pipeline's own __call__ returns for these settings (image i: seed + i)."""
    pipe = plain_pipeline(folder, values["scheduler"])
    count = values["count"]
    gens = [torch.Generator().manual_seed(values["seed"] + i) for i in range(count)]
    generator = gens if count > 1 else gens[0]
    if kind in ("sd", "sdxl"):
        return pipe(prompt=values["prompt"], negative_prompt=values.get("negative_prompt") or None,
                    num_inference_steps=values["steps"], guidance_scale=values["guidance"],
                    num_images_per_prompt=count, generator=generator,
                    eta=values.get("eta", 0.0), output_type=output_type).images
    extra = {} if kind == "ddpm" else {"eta": values.get("eta", 0.0)}
    return pipe(batch_size=count, num_inference_steps=values["steps"], generator=generator,
                output_type=output_type, **extra).images


@pytest.fixture(scope="module")
def engine_services(folders, tmp_path_factory):
    """The studio as the GUI runs it: the library (each folder imported), the model cache
    and the engine's own worker thread."""
    from studio.core.cache import ModelCache

    home = tmp_path_factory.mktemp("home")
    library = Library(home=home, builtin_dir=home / "none")
    ids = {kind: library.import_folder(folder).id for kind, folder in folders.items()}
    registry = register_all(Registry())
    cache = ModelCache(library, registry, device="cpu")
    engine = Engine(cache, validate=validator_for(registry, library))
    yield engine, ids
    engine.shutdown()


# -- the contract ------------------------------------------------------------------------
class TestStableDiffusionContract(FamilyContract):
    family = DIFFUSERS

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_pipeline_folder("sd", tmp_path / "tiny-sd")

    def load(self, folder: Path) -> Any:
        return load(folder)

    def run_op(self, model, op, params=None, ctx=None):  # fewer steps: the contract runs a lot
        return super().run_op(model, op, {"steps": 3, **(params or {})}, ctx)


class TestLatentDiffusionContract(TestStableDiffusionContract):
    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_pipeline_folder("ldm", tmp_path / "tiny-ldm")


# -- exactness -----------------------------------------------------------------------------
EXACT_CASES = [
    ("ddpm", {"scheduler": "ddpm"}),
    ("ddim", {"scheduler": "ddim", "eta": 0.5}),  # eta draws noise from the generators
    ("ldm", {"scheduler": "ddim"}),  # LDMPipeline hands its scheduler no generator: eta 0
    ("sd", {"scheduler": "dpm++"}),
    ("sd", {"scheduler": "euler_a", "negative_prompt": NEGATIVE}),
    ("sd", {"scheduler": "ddim", "guidance": 1.0}),
    ("sdxl", {"scheduler": "euler"}),
    ("sdxl", {"scheduler": "euler_a", "count": 1}),
]


@pytest.mark.parametrize(("kind", "settings"), EXACT_CASES,
                         ids=[f"{k}-{s['scheduler']}" for k, s in EXACT_CASES])
def test_engine_output_equals_the_pipelines_own_call(engine_services, folders, kind, settings):
    engine, ids = engine_services
    values = {"seed": 11, "steps": 3, "guidance": 4.0, "prompt": PROMPT, "count": 2,
              "timeline": True, **settings}
    previews: list[np.ndarray] = []

    def listen(event, job, payload):
        if event == PREVIEW:
            previews.append(payload)

    engine.add_listener(listen)
    try:
        job = engine.submit(Request(ids[kind], "sample", values))
        assert job.wait(60)
    finally:
        engine.remove_listener(listen)
    assert job.state is JobState.DONE, job.error
    result = job.result
    expected = float_to_uint8(reference(folders[kind], kind, values))
    assert result.images.shape == expected.shape == (values["count"], 32, 32, 3)
    diff = np.abs(result.images.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.01, (diff.max(), diff.mean())
    # previews came, each of the image's size, and every step is on the timeline
    assert previews and previews[0].shape == expected.shape and previews[0].dtype == np.uint8
    film = result.extras["timeline"]  # the filmstrip: x0 and x_t frames of the first image
    steps = values["steps"]
    assert film["steps"] == steps and film["x0"].shape == film["xt"].shape == (steps, 32, 32, 3)
    timeline = engine.cache.get(ids[kind]).last_timeline  # the states a fork resumes from
    assert isinstance(timeline, Timeline) and timeline.states[-1].index == steps
    if kind in ("sd", "sdxl", "ldm"):  # the final latent too, within float tolerance
        if kind != "ldm":
            latents = reference(folders[kind], kind, values, output_type="latent")
            np.testing.assert_allclose(result.latents, latents.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(result.latents, timeline.states[-1].latents.numpy(),
                                   atol=1e-6)


def test_image_i_is_seed_plus_i(folders):
    model = load(folders["ddim"])
    batch = model.run("sample", {"seed": 4, "count": 2, "steps": 2}, {}, JobContext())
    alone = model.run("sample", {"seed": 5, "count": 1, "steps": 2}, {}, JobContext())
    np.testing.assert_array_equal(batch.images[1], alone.images[0])


def test_scheduler_switching_changes_the_image_and_back(folders):
    model = load(folders["sd"])
    base = {"seed": 1, "steps": 3, "prompt": PROMPT}
    ddim = model.run("sample", {**base, "scheduler": "ddim"}, {}, JobContext()).images
    euler = model.run("sample", {**base, "scheduler": "euler"}, {}, JobContext()).images
    again = model.run("sample", {**base, "scheduler": "ddim"}, {}, JobContext()).images
    assert not np.array_equal(ddim, euler)
    np.testing.assert_array_equal(ddim, again)


def test_img2img_and_inpaint_equal_the_sd_pipelines(folders):
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline
    from PIL import Image

    model = load(folders["sd"])
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32, 1), np.uint8)
    mask[8:24, 8:24] = 255
    values = {"seed": 2, "steps": 4, "prompt": PROMPT, "guidance": 3.0, "scheduler": "euler"}
    base = plain_pipeline(folders["sd"], "euler")
    common = dict(prompt=PROMPT, num_inference_steps=4, guidance_scale=3.0, output_type="np")
    img2img = model.run("img2img", {**values, "strength": 0.5}, {"image": image}, JobContext())
    expected = StableDiffusionImg2ImgPipeline.from_pipe(base)(
        image=Image.fromarray(image), strength=0.5, generator=torch.Generator().manual_seed(2),
        **common).images
    assert np.abs(img2img.images.astype(int) - float_to_uint8(expected)).max() <= 1
    with pytest.raises(ParamError, match="not one step"):  # the pipeline would fail
        model.run("img2img", {**values, "strength": 0.2}, {"image": image}, JobContext())
    inpaint = model.run("inpaint", values, {"image": image, "mask": mask}, JobContext())
    expected = StableDiffusionInpaintPipeline.from_pipe(base)(
        image=Image.fromarray(image), mask_image=Image.fromarray(mask[..., 0]), strength=1.0,
        generator=torch.Generator().manual_seed(2), height=32, width=32, **common).images
    assert np.abs(inpaint.images.astype(int) - float_to_uint8(expected)).max() <= 1


@pytest.mark.parametrize("kind", ["ddpm", "ldm", "sd", "sdxl"])
@pytest.mark.parametrize("op,strength", [("img2img", 0.6), ("inpaint", 1.0), ("inpaint", 0.75)])
def test_image_i_of_an_img2img_or_inpaint_batch_is_a_run_of_seed_plus_i(folders, kind, op,
                                                                        strength):
    """The README's promise for every op: image i of a batch is the one-image run with seed
    + i. Exact pixels would need the same batch shape; a batch of 3 runs the UNet and VAE on
    other shapes than a batch of 1, so 2/255 allows the float32 noise of that. diffusers'
    batched inpaint pipeline drew image 1's source encoding from generator 0 (off by
    180/255); euler_a draws noise every step too, so every draw is checked."""
    model = load(folders[kind])
    rng = np.random.default_rng(3)
    inputs = {"image": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)}
    if op == "inpaint":
        inputs["mask"] = np.zeros((32, 32, 1), np.uint8)
        inputs["mask"][4:20, 10:30] = 255
    values = {"steps": 5, "scheduler": "euler_a", "strength": strength}
    if kind in ("sd", "sdxl"):
        values.update(prompt=PROMPT, guidance=3.0)
    batch = model.run(op, {**values, "seed": 10, "count": 3}, inputs, JobContext())
    assert batch.images.shape[0] == 3
    for i in range(3):
        alone = model.run(op, {**values, "seed": 10 + i, "count": 1}, inputs, JobContext())
        diff = np.abs(batch.images[i].astype(int) - alone.images[0].astype(int)).max()
        assert diff <= 2, f"image {i}: {diff}/255 from the run of seed {10 + i} alone"
    assert not np.array_equal(batch.images[0], batch.images[1])


def test_pixel_inpaint_keeps_the_unmasked_pixels_exactly(folders):
    model = load(folders["ddpm"])
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32, 1), np.uint8)
    mask[4:20, 10:30] = 255
    for scheduler in ("ddpm", "euler_a"):
        out = model.run("inpaint", {"seed": 3, "steps": 3, "scheduler": scheduler},
                        {"image": image, "mask": mask}, JobContext()).images[0]
        keep = mask[..., 0] == 0
        np.testing.assert_array_equal(out[keep], image[keep], err_msg=scheduler)
        assert not np.array_equal(out[~keep], image[~keep])


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_width_and_height_set_the_size_of_images_previews_and_frames(folders, kind):
    model = load(folders[kind])
    previews: list[np.ndarray] = []
    out = model.run("sample", {"steps": 2, "prompt": PROMPT, "width": 48, "height": 32}, {},
                    JobContext(on_preview=previews.append, min_interval=0.0))
    assert out.images.shape == (1, 32, 48, 3) and out.latents.shape == (1, 4, 16, 24)
    assert [p.shape for p in previews] == [(1, 32, 48, 3)] * 2
    assert out.extras["timeline"]["xt"].shape == (2, 32, 48, 3)


def test_pixel_img2img_strength_runs_the_tail_of_the_schedule(folders):
    """SDEdit on the studio's own loop: strength 0 gives the image back untouched, a
    little strength changes it a little, strength s runs the last s of the steps."""
    model = load(folders["ddim"])
    image = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    base = {"seed": 6, "steps": 10, "scheduler": "ddim"}
    calls = count_calls(model)

    def run(strength):
        return model.run("img2img", {**base, "strength": strength}, {"image": image},
                         JobContext()).images[0].astype(int)

    np.testing.assert_array_equal(run(0.0), image)
    assert calls == []  # no step ran
    light, heavy = np.abs(run(0.2) - image).mean(), np.abs(run(0.9) - image).mean()
    assert calls.count("unet") == 2 + 9
    assert 0 < light < heavy
    # strength 1 runs every step, from the image noised to the first step's level (as
    # diffusers' img2img: √ᾱ_T ≈ 0.006 of the image is left)
    run(1.0)
    assert calls.count("unet") == 2 + 9 + 10


def test_latent_preview_map_is_fitted_through_the_encoder():
    """fit_latent_rgb finds the linear map back from an encoder's latents to colours:
    with an encoder that is linear (pool, then mix 3 colours into 4 channels), exactly."""
    torch.manual_seed(0)
    mix, offset = torch.randn(4, 3), torch.randn(4)

    def encode(images):  # (B, 3, H, W) → (B, 4, H/4, W/4)
        pooled = torch.nn.functional.avg_pool2d(images, 4)
        return torch.einsum("bchw,lc->blhw", pooled, mix) + offset.view(1, 4, 1, 1)

    weights, bias = fit_latent_rgb(encode, 4, "cpu", torch.float32)
    red = torch.tensor([0.8, -0.6, -0.5]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    rgb = torch.einsum("blhw,lr->brhw", encode(red), torch.from_numpy(weights))
    rgb = rgb + torch.from_numpy(bias).view(1, 3, 1, 1)
    np.testing.assert_allclose(rgb.numpy(), red[:, :, :2, :2].numpy(), atol=1e-4)


def test_previews_of_latent_models_use_the_map_not_the_vae(folders):
    model = load(folders["sd"])
    calls = count_calls(model)
    weights, bias = model.preview_map
    assert weights.shape == (4, 3) and np.isfinite(weights).all() and np.isfinite(bias).all()
    x0 = torch.randn(2, 4, 16, 16)
    preview = model._preview(x0)
    assert preview.shape == (2, 32, 32, 3) and preview.dtype == np.uint8
    assert calls == []  # no autoencoder call for a preview
    expected = np.einsum("bchw,cr->bhwr", x0.numpy(), weights) + bias
    expected = (np.clip(expected / 2 + 0.5, 0, 1) * 255).round()
    np.testing.assert_allclose(preview[:, ::2, ::2], expected, atol=1)


# -- fork ----------------------------------------------------------------------------------
SCHEDULER_NAMES = ("ddpm", "ddim", "dpm++", "euler", "euler_a")


@pytest.mark.parametrize("kind", ["sd", "ddpm"])
def test_fork_with_identical_settings_reproduces_the_original(folders, kind):
    model = load(folders[kind])
    calls = count_calls(model)
    for scheduler in SCHEDULER_NAMES:
        values = {"seed": 3, "steps": 4, "scheduler": scheduler, "prompt": PROMPT,
                  "guidance": 3.0, "count": 2, "eta": 0.3}
        original = model.run("sample", values, {}, JobContext())
        calls.clear()
        fork = model.run("fork", {**values, "fork_step": 2, "fork_seed": 3, "fork_guidance": 3.0},
                         {}, JobContext())
        np.testing.assert_array_equal(fork.images, original.images, err_msg=scheduler)
        # the first two steps came from the sample's timeline: only the last two ran
        assert fork.extras["reused_timeline"] and calls.count("unet") == 2, (scheduler, calls)
        film, original_film = fork.extras["timeline"], original.extras["timeline"]
        np.testing.assert_array_equal(film["x0"], original_film["x0"], err_msg=scheduler)


def test_fork_without_a_kept_timeline_runs_the_original_to_step_k(folders):
    model = load(folders["sd"])
    values = {"seed": 4, "steps": 4, "scheduler": "euler_a", "prompt": PROMPT, "guidance": 3.0}
    original = model.run("sample", {**values, "timeline": False}, {}, JobContext())
    fork = model.run("fork", {**values, "fork_step": 3, "fork_seed": 4, "fork_guidance": 3.0},
                     {}, JobContext())
    assert not fork.extras["reused_timeline"] and fork.extras["fork_step"] == 3
    np.testing.assert_array_equal(fork.images, original.images)


def test_fork_from_step_0_with_new_settings_is_a_sample_with_them(folders):
    model = load(folders["sd"])
    values = {"seed": 4, "steps": 3, "scheduler": "dpm++", "prompt": PROMPT, "guidance": 3.0}
    fork = model.run("fork", {**values, "fork_step": 0, "fork_seed": 9, "fork_guidance": 6.0,
                              "fork_prompt": "a red thing"}, {}, JobContext())
    other = model.run("sample", {**values, "seed": 9, "guidance": 6.0, "prompt": "a red thing"},
                      {}, JobContext())
    np.testing.assert_array_equal(fork.images, other.images)
    branch = model.run("fork", {**values, "fork_step": 2, "fork_seed": 9, "fork_guidance": 3.0},
                       {}, JobContext())
    original = model.run("sample", values, {}, JobContext())
    assert not np.array_equal(branch.images, original.images)


# -- memory switches and dtype -------------------------------------------------------------
def test_memory_switches_keep_the_image_and_gpu_only_options_are_refused(folders):
    model = load(folders["sd"])
    base = {"seed": 5, "steps": 2, "prompt": PROMPT}
    plain = model.run("sample", base, {}, JobContext()).images
    switched = model.run("sample", {**base, "attention_slicing": True, "vae_tiling": True},
                         {}, JobContext()).images
    assert np.abs(plain.astype(int) - switched).max() <= 1
    for bad in ({"dtype": "fp16"}, {"dtype": "bf16"}, {"cpu_offload": True}):
        with pytest.raises(ParamError, match="GPU"):
            model.run("sample", {**base, **bad}, {}, JobContext())


@pytest.mark.parametrize("kind", ["ddpm", "ldm"])
def test_vae_tiling_is_refused_where_there_is_nothing_to_tile(folders, kind):
    model = load(folders[kind])
    base = {"seed": 5, "steps": 2}
    plain = model.run("sample", base, {}, JobContext()).images
    sliced = model.run("sample", {**base, "attention_slicing": True}, {}, JobContext()).images
    np.testing.assert_array_equal(plain, sliced)
    with pytest.raises(ParamError, match="vae_tiling: this model"):
        model.run("sample", {**base, "vae_tiling": True}, {}, JobContext())
    np.testing.assert_array_equal(model.run("sample", base, {}, JobContext()).images, plain)


# -- cancel ----------------------------------------------------------------------------------
def count_calls(model) -> list[str]:
    """Forward hooks on the UNet and every part of the autoencoder: the calls, in order."""
    calls: list[str] = []
    model.unet.register_forward_hook(lambda *a: calls.append("unet"))
    if model.autoencoder is not None:
        for name, child in model.autoencoder.named_children():
            child.register_forward_hook(lambda *a, name=name: calls.append(f"vae.{name}"))
    return calls


@pytest.mark.parametrize("kind", ["sd", "ldm"])
@pytest.mark.parametrize("cancel_after", [2, 4])  # 4: after the last step, before decode
def test_cancel_mid_run_stops_every_unet_and_vae_call(folders, kind, cancel_after):
    model = load(folders[kind])
    calls = count_calls(model)
    event = threading.Event()
    at_cancel: list[int] = []

    def on_progress(fraction: float, message: str) -> None:
        if message == f"step {cancel_after}/4" and not event.is_set():
            event.set()  # as the GUI's Cancel button, between two steps
            at_cancel.append(len(calls))

    ctx = JobContext(event, on_progress=on_progress, min_interval=0.0)
    with pytest.raises(Cancelled):
        model.run("sample", {"seed": 1, "steps": 4, "prompt": PROMPT, "guidance": 2.0}, {}, ctx)
    assert at_cancel, "the cancel never fired"
    assert calls[:at_cancel[0]].count("unet") == cancel_after
    assert len(calls) == at_cancel[0], f"calls after the cancel: {calls[at_cancel[0]:]}"
    assert not any(c.startswith("vae.") for c in calls)
    # the model is fine afterwards
    out = model.run("sample", {"seed": 1, "steps": 2}, {}, JobContext())
    assert out.images.shape == (1, 32, 32, 3)


def test_cancel_from_another_thread_during_a_unet_call(folders):
    """A cancel that lands while the UNet runs: the next UNet call never starts."""
    model = load(folders["sd"])
    calls = count_calls(model)
    event = threading.Event()
    at_cancel: list[int] = []

    def cancel_while_running(module, args):
        if not calls and not event.is_set():  # the first call has passed its cancel check
            event.set()
            at_cancel.append(len(calls))

    model.unet.register_forward_pre_hook(cancel_while_running)
    with pytest.raises(Cancelled):
        model.run("sample", {"seed": 1, "steps": 4, "prompt": PROMPT},
                  {}, JobContext(event, min_interval=0.0))
    assert calls == ["unet"] and at_cancel == [0]  # the call under way ends; no other starts


def test_a_folder_of_fp16_variant_files_loads_as_the_plain_one(folders, tmp_path):
    """Folders saved with variant="fp16" (only *.fp16.safetensors) import and run."""
    plain = load(folders["sd"])
    variant = tmp_path / "sd-fp16-variant"
    plain.pipe.save_pretrained(variant, safe_serialization=True, variant="fp16")
    assert not (variant / "unet" / "diffusion_pytorch_model.safetensors").exists()
    card = Library(home=tmp_path / "home", builtin_dir=tmp_path / "none").import_folder(variant).card
    assert card.config["variant"] == "fp16"
    values = {"seed": 8, "steps": 2, "prompt": PROMPT}
    np.testing.assert_array_equal(
        DiffusersFamily.load(variant, card, "cpu").run("sample", values, {}, JobContext()).images,
        plain.run("sample", values, {}, JobContext()).images)


def test_a_named_safety_checker_is_not_loaded(folders, tmp_path):
    """Real SD 1.x folders name a safety checker and its feature extractor; the studio
    loads neither (their folders may be absent), as AUTOMATIC1111 and ComfyUI do."""
    folder = broken_copy(folders, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    index.update(safety_checker=["stable_diffusion", "StableDiffusionSafetyChecker"],
                 feature_extractor=["transformers", "CLIPImageProcessor"],
                 requires_safety_checker=True)
    (folder / "model_index.json").write_text(json.dumps(index))
    model = load(folder)
    assert model.pipe.safety_checker is None and model.pipe.feature_extractor is None
    values = {"seed": 8, "steps": 2, "prompt": PROMPT}
    np.testing.assert_array_equal(model.run("sample", values, {}, JobContext()).images,
                                  load(folders["sd"]).run("sample", values, {}, JobContext()).images)


# -- broken folders ------------------------------------------------------------------------------
def broken_copy(folders, tmp_path, kind: str = "sd") -> Path:
    import shutil

    return Path(shutil.copytree(folders[kind], tmp_path / f"broken-{kind}"))


@pytest.mark.parametrize(("breakage", "message"), [
    ("unet-weights", "unet/diffusion_pytorch_model.safetensors missing"),
    ("bin-only", "only safetensors are loaded"),
    ("class", "names class 'StableDiffusion3Pipeline', which the studio does not support"),
    ("component", "needs a component 'text_encoder', which it does not name"),
    ("merges", "tokenizer/merges.txt missing"),
    ("scheduler", "scheduler/scheduler_config.json missing"),
    ("truncated", "not a valid safetensors file"),
    ("index", "model_index.json: unreadable"),
])
def test_a_broken_folder_gets_a_clear_message(folders, tmp_path, breakage, message):
    folder = broken_copy(folders, tmp_path)
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    if breakage == "unet-weights":
        weights.unlink()
    elif breakage == "bin-only":
        weights.rename(weights.with_suffix(".bin"))
    elif breakage == "class":
        index["_class_name"] = "StableDiffusion3Pipeline"
    elif breakage == "component":
        index["text_encoder"] = [None, None]
    elif breakage == "merges":
        (folder / "tokenizer" / "merges.txt").unlink()
    elif breakage == "scheduler":
        (folder / "scheduler" / "scheduler_config.json").unlink()
    elif breakage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif breakage == "index":
        index = "{not json"
    index_path.write_text(index if isinstance(index, str) else json.dumps(index))
    library = Library(home=tmp_path / "home", builtin_dir=tmp_path / "none")
    with pytest.raises(LibraryError) as info:
        library.import_folder(folder)
    assert message in str(info.value)
    assert "diffusers" not in [e.family for e in library.entries()]
    with pytest.raises(Exception, match="missing|support|not name|safetensors|unreadable"):
        DiffusersFamily.load(folder, diffusers_folder.make_card(folder), "cpu")


def test_cards_of_each_kind(folders, tmp_path):
    library = Library(home=tmp_path / "home", builtin_dir=tmp_path / "none")
    for kind, folder in folders.items():
        entry = library.import_folder(folder)
        assert (entry.id, entry.family, entry.card.resolution) == (f"tiny-{kind}", "diffusers", 32)
        assert entry.card.config["kind"] == {"ddpm": "pixel", "ddim": "pixel", "ldm": "latent"}.get(
            kind, kind)
        assert entry.card.latent_shape == (None if kind in ("ddpm", "ddim") else [4, 16, 16])
        assert entry.size_bytes > 0
    again = Library(home=tmp_path / "home", builtin_dir=tmp_path / "none")
    # each Stable Diffusion / SDXL pipeline also lists its vae/ as `<id>-vae` (issue 15),
    # an entry that comes and goes with the pipeline
    vaes = [f"tiny-{k}-vae" for k in KINDS if k in ("sd", "sdxl")]
    assert vaes
    assert sorted(e.id for e in again.entries()) == sorted([f"tiny-{k}" for k in KINDS] + vaes)
    assert all(again.get(v).family == "diffusers_vae" for v in vaes)
    assert not again.problems
