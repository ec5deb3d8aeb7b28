"""Imported diffusers pipelines: DDPM, DDIM, unconditional LDM, Stable Diffusion and SDXL.

A user's own local diffusers folder (model_index.json + one subfolder per component),
loaded with local files only, safetensors only and no remote code; the safety checker is
not loaded (as in AUTOMATIC1111 and ComfyUI). studio.core.diffusers_folder recognises
the folder and makes its card without torch; this file runs it.

Two ways to run, and both give what the pipeline's own `__call__` gives for the same
seed, steps, scheduler and guidance (tests/families/test_diffusers_import.py):
- The studio's own loop (studio/families/diffusion/loop.py, shared with the built-in
  diffusion models) drives the UNet and scheduler for DDPM, DDIM and LDM (which have no
  step callback; the loop also gives them img2img and inpainting) and for Stable
  Diffusion and SDXL text-to-image, conditioned by the pipeline's own `encode_prompt`
  (and SDXL's size ids). Its timeline can be resumed: `fork` branches from step k.
- SD and SDXL img2img and inpainting run their own pipelines, watched through
  `callback_on_step_end`.

Either way the studio sees every step: a preview of the predicted x0 (for latent models a
linear latent→RGB map fitted at load by encoding colour fields through the model's own
autoencoder: no VAE decode per step), the step timeline, and cancel. The timeline is
kept as the built-in diffusion family keeps it: Output.extras["timeline"] is the
filmstrip the UI shows ({"steps": n, "x0": (n, H, W, C) uint8, "xt": the same}, first
image), and `last_timeline` holds the states (x_t, scheduler and RNG) before every step. Cancel stops at once: the loop checks before every UNet
and VAE call, and forward pre-hooks on the UNet and on every part of the autoencoder
raise as soon as the job is cancelled, so no UNet or VAE call starts after it.

Seeds draw their noise from a CPU generator, as the pipeline does when handed
`torch.Generator().manual_seed(seed)`: the same recipe gives the same noise on any device.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from studio.core import diffusers_folder
from studio.core import latent as latent_math
from studio.core.cards import ModelCard
from studio.core.family import JobContext, ModelLoadError, Output
from studio.core.params import ParamError
from studio.families.diffusers.spec import DIFFUSERS as DIFFUSERS_INFO
from studio.families.diffusion.loop import (
    SCHEDULERS,
    DiffusionLoop,
    Guidance,
    Inpaint,
    StepState,
    StoredRun,
    Timeline,
    TimelineStore,
    generators,
    initial_noise,
    is_sigma_space,
    make_scheduler,
    noise_to,
    scheduler_state,
    x0_estimate,
)
from studio.families.shared import OpDispatch

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# colour fields encoded at load to fit the latent→RGB preview map
PREVIEW_FIT_IMAGES = 16
PREVIEW_FIT_SIZE = 64


# -----------------------------------------------------------------------------
# steps: previews, progress and the timeline


def scheduler_for(name: str, config: Mapping[str, Any]) -> Any:
    if name not in SCHEDULERS:
        raise ParamError(f"scheduler: {name!r} is not one of {', '.join(SCHEDULERS)}")
    return make_scheduler(name, config)


def img2img_start(steps: int, strength: float) -> int:
    """The first step SDEdit runs for `strength`, as diffusers' img2img pipelines cut the
    schedule: strength 1 runs every step, 0.5 the second half."""
    return max(steps - min(int(steps * strength), steps), 0)


class StepWatcher:
    """After each step (the loop's `on_step`): the x0 preview, the counter and, with the
    timeline on, the filmstrip frames of the first image (x0 and x_t, through the same
    fast preview: no VAE call)."""

    def __init__(self, ctx: JobContext, preview: Callable[[torch.Tensor], np.ndarray],
                 scheduler: Any, timeline: bool, image_shape: tuple[int, int, int]) -> None:
        self.ctx, self.preview, self.scheduler = ctx, preview, scheduler
        self.image_shape = image_shape  # (H, W, C) of a frame
        self.x0_frames: list[np.ndarray] | None = [] if timeline else None
        self.xt_frames: list[np.ndarray] = []

    def __call__(self, index: int, total: int, latents: torch.Tensor,
                 x0: torch.Tensor | None) -> None:
        if x0 is not None and self.ctx.wants_preview():
            self.ctx.preview(self.preview(x0))
        if self.x0_frames is not None:
            xt = latents[:1]
            if is_sigma_space(self.scheduler):  # x0 + σ·ε → unit variance, as the UNet sees it
                sigmas = self.scheduler.sigmas
                sigma = float(sigmas[min(index + 1, len(sigmas) - 1)])
                xt = xt / (sigma * sigma + 1.0) ** 0.5
            frames = self.preview(torch.cat([x0[:1] if x0 is not None else xt, xt]))
            self.x0_frames.append(frames[0])
            self.xt_frames.append(frames[1])
        self.ctx.progress(index + 1, total, f"step {index + 1}/{total}")

    def extras(self) -> dict[str, Any]:
        """The filmstrip, as the built-in diffusion models give it to the UI:
        {"steps": n, "x0": (n, H, W, C) uint8, "xt": the same} for the first image."""
        if self.x0_frames is None:
            return {}
        empty = np.zeros((0, *self.image_shape), np.uint8)  # img2img at strength 0: no step
        return {"timeline": {"steps": len(self.x0_frames),
                             "x0": np.stack(self.x0_frames) if self.x0_frames else empty,
                             "xt": np.stack(self.xt_frames) if self.xt_frames else empty}}


# -----------------------------------------------------------------------------
# the latent → RGB preview map


def fit_latent_rgb(encode: Callable[[torch.Tensor], torch.Tensor], channels: int,
                   device: str, dtype: torch.dtype, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A linear map from latent pixels to RGB in [-1, 1], fitted by least squares.

    `encode` takes images (B, 3, H, W) in [-1, 1] and returns latents as the pipeline's
    UNet sees them (scaled). The images are smooth random colour fields, so each latent
    pixel's colour is well defined; the target is the image average-pooled to the
    latent's size. Returns (weights (C, 3), bias (3,)).
    """
    rng = np.random.default_rng(seed)
    corners = rng.uniform(-1, 1, (PREVIEW_FIT_IMAGES, 3, 3, 3)).astype(np.float32)
    corners[:8] = np.sign(corners[:8, :, :1, :1])  # a few flat saturated colours
    images = F.interpolate(torch.from_numpy(corners), size=(PREVIEW_FIT_SIZE,) * 2,
                           mode="bilinear", align_corners=True)
    with torch.no_grad():
        latents = encode(images.to(device, dtype)).float().cpu()  # (B, C, h, w)
    if not torch.isfinite(latents).all():  # an fp16 autoencoder can overflow
        log.warning("latent preview map: the autoencoder gave non-finite latents; grey previews")
        return np.zeros((channels, 3), np.float32), np.zeros(3, np.float32)
    target = F.adaptive_avg_pool2d(images, latents.shape[-2:])  # (B, 3, h, w)
    x = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1]).numpy().astype(np.float64)
    y = target.permute(0, 2, 3, 1).reshape(-1, 3).numpy().astype(np.float64)
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    weights, bias = solution[:-1].astype(np.float32), solution[-1].astype(np.float32)
    assert weights.shape == (channels, 3), weights.shape
    return weights, bias


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] → (B, H, W, C) uint8, rounded as diffusers' numpy_to_pil."""
    array = (images.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return (array * 255).round().astype(np.uint8)


def float_to_uint8(images: np.ndarray) -> np.ndarray:
    """A pipeline's numpy output (B, H, W, C) in [0, 1] → uint8, as numpy_to_pil rounds."""
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


# -----------------------------------------------------------------------------
# loading


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No progress bars or advice while diffusers and transformers load a folder."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    levels = (diffusers.utils.logging.get_verbosity(), transformers.utils.logging.get_verbosity())
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers.utils.logging.set_verbosity(levels[0])
        transformers.utils.logging.set_verbosity(levels[1])


def load_pipeline(folder: Path, kind: str, dtype: torch.dtype, variant: str | None = None) -> Any:
    """The folder's pipeline: local files only, safetensors only, no remote code, no
    safety checker, progress bars off. `variant` "fp16": a folder of *.fp16.safetensors."""
    import diffusers

    kwargs: dict[str, Any] = dict(local_files_only=True, use_safetensors=True,
                                  dtype=dtype, variant=variant)
    if kind == "sd":
        kwargs.update(safety_checker=None, feature_extractor=None,
                      requires_safety_checker=False)
    if kind in ("sd", "sdxl"):
        kwargs.update(image_encoder=None)
    with quiet_loading():
        pipe = diffusers.DiffusionPipeline.from_pretrained(str(folder), **kwargs)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class _CancelHooks:
    """Forward pre-hooks that stop a cancelled job before the module runs."""

    def __init__(self, modules: list[torch.nn.Module]) -> None:
        self.ctx: JobContext | None = None
        self.handles = [m.register_forward_pre_hook(self._check) for m in modules]

    def _check(self, module: torch.nn.Module, args: Any) -> None:
        if self.ctx is not None:
            self.ctx.check_cancelled()

    @contextlib.contextmanager
    def watching(self, ctx: JobContext) -> Iterator[None]:
        self.ctx = ctx
        try:
            yield
        finally:
            self.ctx = None

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


# -----------------------------------------------------------------------------
# the loaded model and its ops

# the settings that make a sample's timeline: a fork with the same ones resumes from it
SAMPLE_KEYS = ("prompt", "negative_prompt", "seed", "steps", "scheduler", "eta", "guidance",
               "count", "width", "height")
KEEP_TIMELINES = 2


_Stored = StoredRun  # a sample's timeline and filmstrip, kept for forks


class LoadedDiffusers(OpDispatch):
    """An imported pipeline: the family base dispatches its ops; each op runs with the
    memory switches applied and the cancel hooks watching (`running`)."""

    info = DIFFUSERS_INFO
    label = "diffusers pipeline"
    inference = True

    def __init__(self, pipe: Any, card: ModelCard, device: str, kind: str) -> None:
        self.pipe, self.card, self.device, self.kind = pipe, card, device, kind
        self.unet = pipe.unet
        self.autoencoder = getattr(pipe, "vqvae", None) or getattr(pipe, "vae", None)
        self.dtype = self.unet.dtype
        self._scheduler_config = dict(pipe.scheduler.config)
        self._schedulers: dict[str, Any] = {}
        self._variants: dict[str, Any] = {}  # op → pipeline sharing the components (SD)
        self._switches: dict[str, Any] = {"attention_slicing": False, "vae_tiling": False,
                                          "cpu_offload": False}
        watched: list[torch.nn.Module] = [self.unet]
        if self.autoencoder is not None:
            watched += list(self.autoencoder.children())
        self._hooks = _CancelHooks(watched)
        self.preview_map: tuple[np.ndarray, np.ndarray] | None = None
        # the whole timeline of the last run (x_t, scheduler and RNG states before every
        # step): what a fork from step k would resume from
        self.last_timeline: Timeline | None = None
        self._timelines = TimelineStore(KEEP_TIMELINES)  # for fork
        if kind != "pixel":
            self.preview_map = self._fit_preview()

    # -- the engine's interface ---------------------------------------------------------
    def memory_bytes(self) -> int:
        total = 0
        for component in self.pipe.components.values():
            if isinstance(component, torch.nn.Module):
                total += sum(p.numel() * p.element_size() for p in component.parameters())
        return total

    def release(self) -> None:
        self._hooks.remove()
        self._variants.clear()
        self.pipe = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    @contextlib.contextmanager
    def running(self, values: Mapping[str, Any], ctx: JobContext) -> Iterator[None]:
        self._apply_switches(values)
        with self._hooks.watching(ctx):
            yield

    def _op_sample(self, values: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                   ctx: JobContext) -> Output:
        return self._run_loop("sample", values, inputs, ctx)

    def _op_img2img(self, values: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                    ctx: JobContext) -> Output:
        return self._run_edit("img2img", values, inputs, ctx)

    def _op_inpaint(self, values: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                    ctx: JobContext) -> Output:
        return self._run_edit("inpaint", values, inputs, ctx)

    def _run_edit(self, op: str, values: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                  ctx: JobContext) -> Output:
        """Stable Diffusion's own img2img and inpaint pipelines where it has them; the
        shared loop for the rest."""
        if self.kind in ("sd", "sdxl"):
            return self._run_pipeline(op, values, inputs, ctx)
        return self._run_loop(op, values, inputs, ctx)

    def _op_fork(self, values: Mapping[str, Any], _inputs: Mapping[str, np.ndarray],
                 ctx: JobContext) -> Output:
        return self._run_fork(values, ctx)

    def _op_interpolate(self, values: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                        ctx: JobContext) -> Output:
        return self._run_interpolate(values, inputs, ctx)

    # -- memory switches ----------------------------------------------------------------
    def _apply_switches(self, values: Mapping[str, Any]) -> None:
        cuda = self.device.startswith("cuda")
        name = values["dtype"]
        dtype = (torch.float16 if cuda else torch.float32) if name == "auto" else DTYPES[name]
        if dtype != torch.float32 and self.device == "cpu":
            raise ParamError(f"dtype: {name} needs a GPU; this model runs on the CPU (use fp32)")
        if values["cpu_offload"] and not cuda:
            raise ParamError("cpu_offload: needs a CUDA GPU; this model runs on "
                             f"{self.device}")
        if dtype != self.dtype:
            self.pipe.to(dtype=dtype)
            self.dtype = dtype
            if self.preview_map is not None:
                self.preview_map = self._fit_preview()
        if values["attention_slicing"] != self._switches["attention_slicing"]:
            if values["attention_slicing"]:
                self.pipe.enable_attention_slicing()
            else:
                self.pipe.disable_attention_slicing()
            self._switches["attention_slicing"] = values["attention_slicing"]
        if values["vae_tiling"] != self._switches["vae_tiling"]:
            if self.autoencoder is None:
                raise ParamError("vae_tiling: this model has no autoencoder to tile")
            try:
                if values["vae_tiling"]:
                    self.autoencoder.enable_tiling()
                else:
                    self.autoencoder.disable_tiling()
            except (AttributeError, NotImplementedError):
                raise ParamError(f"vae_tiling: this model's autoencoder "
                                 f"({type(self.autoencoder).__name__}) cannot tile") from None
            self._switches["vae_tiling"] = values["vae_tiling"]
        if values["cpu_offload"] != self._switches["cpu_offload"]:
            if values["cpu_offload"]:
                self.pipe.enable_model_cpu_offload(device=self.device)
            else:
                self.pipe.remove_all_hooks()
                self.pipe.to(self.device)
            self._switches["cpu_offload"] = values["cpu_offload"]

    # -- shared pieces ------------------------------------------------------------------
    def _scheduler(self, name: str) -> Any:
        if name not in self._schedulers:
            self._schedulers[name] = scheduler_for(name, self._scheduler_config)
        return self._schedulers[name]

    @property
    def _execution_device(self) -> torch.device:
        return self.pipe._execution_device

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [-1, 1] → latents as the UNet sees them (the posterior
        mean for a KL autoencoder, the unquantised latent for a VQ one)."""
        ae = self.autoencoder
        images = images.to(self._execution_device, ae.dtype)
        if self.kind == "latent":
            return ae.encode(images).latents * ae.config.scaling_factor
        latents = ae.encode(images).latent_dist.mean
        mean, std = getattr(ae.config, "latents_mean", None), getattr(ae.config, "latents_std", None)
        if mean is not None and std is not None:
            shape = (1, -1, 1, 1)
            mean = torch.tensor(mean, device=latents.device, dtype=latents.dtype).view(shape)
            std = torch.tensor(std, device=latents.device, dtype=latents.dtype).view(shape)
            return (latents - mean) * ae.config.scaling_factor / std
        return latents * ae.config.scaling_factor

    def _frame_shape(self) -> tuple[int, int, int]:
        return (self.card.resolution, self.card.resolution, self.card.channels)

    def _fit_preview(self) -> tuple[np.ndarray, np.ndarray]:
        """The latent→RGB map, fitted in fp32 where the autoencoder asks for it (SDXL's
        overflows in fp16, which is why its pipeline upcasts it too)."""
        ae = self.autoencoder
        upcast = ae.dtype == torch.float16 and bool(getattr(ae.config, "force_upcast", False))
        if upcast:
            ae.to(torch.float32)
        try:
            return fit_latent_rgb(self._encode, self.unet.config.in_channels, self.device,
                                  ae.dtype)
        finally:
            if upcast:
                ae.to(torch.float16)

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents → images (B, 3, H, W) in [-1, 1], as the pipelines decode them: an fp16
        autoencoder that asks for it runs in fp32 (SDXL's), and SDXL-style latents_mean /
        latents_std are undone."""
        ae = self.autoencoder
        upcast = ae.dtype == torch.float16 and bool(getattr(ae.config, "force_upcast", False))
        if upcast:
            ae.to(torch.float32)
        try:
            latents = latents.to(ae.dtype)
            mean = getattr(ae.config, "latents_mean", None)
            std = getattr(ae.config, "latents_std", None)
            if self.kind != "latent" and mean is not None and std is not None:
                shape = (1, -1, 1, 1)
                mean = torch.tensor(mean, device=latents.device, dtype=latents.dtype).view(shape)
                std = torch.tensor(std, device=latents.device, dtype=latents.dtype).view(shape)
                latents = latents * std / ae.config.scaling_factor + mean
            else:
                latents = latents / ae.config.scaling_factor
            return ae.decode(latents).sample
        finally:
            if upcast:
                ae.to(torch.float16)

    def _conditioning(self, values: Mapping[str, Any], count: int, height: int, width: int,
                      embedding: np.ndarray | None = None
                      ) -> tuple[Guidance, Callable[..., torch.Tensor]]:
        """The prompt's conditioning and the UNet call, as the SD and SDXL pipelines make
        them (their own encode_prompt and size ids); unconditional models: none. With
        `embedding` (count, D): each image's own prompt embedding, flattened as
        `_flat_embedding` gives it, instead of the prompt's (the negative prompt stays)."""
        unet = self.unet
        if self.kind not in ("sd", "sdxl"):
            return Guidance(cond=None), lambda x, t, cond: unet(x, t).sample
        pipe, device = self.pipe, self._execution_device
        guided = values["guidance"] > 1.0 and unet.config.time_cond_proj_dim is None
        negative = values["negative_prompt"] or None
        if self.kind == "sd":
            embeds, negative_embeds = pipe.encode_prompt(values["prompt"], device, count, guided,
                                                         negative)
            cond, uncond = {"encoder_hidden_states": embeds}, None
            if embedding is not None:
                cond = self._unflatten(embedding, cond)
            if guided:
                uncond = {"encoder_hidden_states": negative_embeds}
        else:
            embeds, negative_embeds, pooled, negative_pooled = pipe.encode_prompt(
                prompt=values["prompt"], device=device, num_images_per_prompt=count,
                do_classifier_free_guidance=guided, negative_prompt=negative)
            projection = (pipe.text_encoder_2.config.projection_dim
                          if pipe.text_encoder_2 is not None else int(pooled.shape[-1]))
            time_ids = pipe._get_add_time_ids((height, width), (0, 0), (height, width),
                                              dtype=embeds.dtype,
                                              text_encoder_projection_dim=projection)
            time_ids = time_ids.to(device).repeat(count, 1)
            cond = {"encoder_hidden_states": embeds, "text_embeds": pooled, "time_ids": time_ids}
            if embedding is not None:
                cond = self._unflatten(embedding, cond)
            uncond = None
            if guided:
                uncond = {"encoder_hidden_states": negative_embeds,
                          "text_embeds": negative_pooled, "time_ids": time_ids}

        def denoiser(x: torch.Tensor, t: torch.Tensor, c: dict[str, torch.Tensor]) -> torch.Tensor:
            added = ({"text_embeds": c["text_embeds"], "time_ids": c["time_ids"]}
                     if "time_ids" in c else None)
            return unet(x, t, encoder_hidden_states=c["encoder_hidden_states"],
                        added_cond_kwargs=added, return_dict=False)[0]

        # diffusers' pipelines run the conditional model alone at guidance ≤ 1
        scale = values["guidance"] if guided else 1.0
        return Guidance(cond=cond, uncond=uncond, scale=scale), denoiser

    @staticmethod
    def _flat_embedding(cond: Any) -> np.ndarray | None:
        """(count, D) float32: each image's prompt conditioning in one row (SD: the text
        encoder's hidden states; SDXL: those, then the pooled embedding). None: unconditional."""
        if not isinstance(cond, dict):
            return None
        parts = [cond["encoder_hidden_states"]] + ([cond["text_embeds"]] if "text_embeds" in cond else [])
        return torch.cat([p.float().reshape(len(p), -1) for p in parts], 1).cpu().numpy()

    @staticmethod
    def _unflatten(embedding: np.ndarray, cond: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`cond` with its hidden states (and SDXL's pooled embedding) taken from the rows of
        `embedding`, shaped as the prompt's own; a row of the wrong length is a ParamError."""
        hidden = cond["encoder_hidden_states"]
        pooled = cond.get("text_embeds")
        width = hidden[0].numel() + (0 if pooled is None else pooled[0].numel())
        rows = np.asarray(embedding, np.float32)
        if rows.ndim != 2 or rows.shape != (len(hidden), width):
            raise ParamError(f"prompt_embedding: expected ({len(hidden)}, {width}), one row per "
                             f"frame, got {rows.shape}")
        if not np.isfinite(rows).all():
            raise ParamError("prompt_embedding: the embeddings hold NaN or infinite values")
        given = torch.from_numpy(rows).to(hidden.device, hidden.dtype)
        out = dict(cond)
        out["encoder_hidden_states"] = given[:, : hidden[0].numel()].reshape(hidden.shape)
        if pooled is not None:
            out["text_embeds"] = given[:, hidden[0].numel():].reshape(pooled.shape)
        return out

    def _run_interpolate(self, values: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                         ctx: JobContext) -> Output:
        """Denoise a path of initial noises with the sampler settings fixed and the same step
        noise for every frame: the slerp between two seeds' noises, or the given noises
        (and prompt embeddings) of the Animator's frames."""
        unet, device = self.unet, self._execution_device
        shape = (unet.config.in_channels, *self._latent_size(values))
        given = inputs.get("latent")
        if given is not None:
            noise_np = np.asarray(given, dtype=np.float32)
            if noise_np.ndim != len(shape) + 1 or noise_np.shape[1:] != shape or not len(noise_np):
                raise ParamError(f"latent: expected noise of shape (N, {', '.join(map(str, shape))}), "
                                 f"got {noise_np.shape}")
            if not np.isfinite(noise_np).all():
                raise ParamError("latent: the noise holds NaN or infinite values")
        else:
            ends = [initial_noise(generators([s]), shape)[0].numpy()
                    for s in (values["seed"], values["seed_b"])]
            noise_np = latent_math.path(ends, values["frames"], "slerp")
        frames = len(noise_np)
        embedding = inputs.get("prompt_embedding")
        if embedding is not None and self.kind not in ("sd", "sdxl"):
            raise ParamError("prompt_embedding: this pipeline takes no prompt")
        run = {**values, "count": frames}
        h, w = self._latent_size(values)
        factor = int(self.card.config.get("vae_scale_factor", 1))
        guidance, denoiser = self._conditioning(run, frames, h * factor, w * factor, embedding)
        name = values["scheduler"]
        loop = DiffusionLoop(denoiser, self._scheduler(name), name, ctx.check_cancelled,
                             eta=values["eta"])
        loop.set_steps(values["steps"], device)
        gens = generators([values["seed"]] * frames)  # every frame gets the same step noise
        noise = torch.from_numpy(np.ascontiguousarray(noise_np)).to(device, unet.dtype)
        watcher = StepWatcher(ctx, self._preview, loop.scheduler, False, self._frame_shape())
        final = loop.run(loop.start(noise, gens), guidance, gens, on_step=watcher)
        out = self._finish(final.latents, ctx, self._keyframe_extras(noise, guidance))
        out.columns = frames
        return out

    def _keyframe_extras(self, noise: torch.Tensor, guidance: Guidance) -> dict[str, Any]:
        """What the Animator takes back from a result: each image's initial noise, and its
        prompt embedding when the pipeline has prompts."""
        extras: dict[str, Any] = {"noise": noise.float().cpu().numpy()}
        embedding = self._flat_embedding(guidance.cond)
        if embedding is not None:
            extras["prompt_embedding"] = embedding
        return extras

    def _preview(self, x0: torch.Tensor) -> np.ndarray:
        """A fast image of a predicted x0: as is for pixel models, through the fitted
        linear map (upsampled to the image size) for latent ones; never the VAE."""
        if self.preview_map is None:
            return to_uint8(x0)
        weights, bias = self.preview_map
        w = torch.from_numpy(weights).to(x0.device, torch.float32)
        b = torch.from_numpy(bias).to(x0.device, torch.float32)
        rgb = torch.einsum("bchw,cr->brhw", x0.float(), w) + b.view(1, 3, 1, 1)
        scale = int(self.card.config.get("vae_scale_factor", 1))  # latent → image pixels
        if scale > 1:
            rgb = F.interpolate(rgb, scale_factor=scale, mode="nearest")
        return to_uint8(rgb)

    @staticmethod
    def _pil_image(image: np.ndarray, size: tuple[int, int]) -> Any:
        """A canvas image (H, W, C) uint8 → an RGB PIL image of `size` (w, h)."""
        from PIL import Image

        image = np.asarray(image)
        if image.ndim == 2:
            image = image[..., None]
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        return Image.fromarray(np.ascontiguousarray(image[..., :3])).resize(size, Image.LANCZOS)

    def _image_tensor(self, image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """A canvas image (H, W, C) uint8 → (1, 3, h, w) in [-1, 1] at `size` (w, h)."""
        array = np.asarray(self._pil_image(image, size), dtype=np.float32) / 127.5 - 1.0
        return torch.from_numpy(array).permute(2, 0, 1)[None]

    @staticmethod
    def _mask_image(mask: np.ndarray, size: tuple[int, int]) -> Any:
        """A painted mask (H, W[, 1]) uint8, white = repaint → a PIL "L" image at `size`."""
        from PIL import Image

        mask = np.asarray(mask)
        if mask.ndim == 3:
            mask = mask[..., :3].max(axis=-1)
        return Image.fromarray(np.ascontiguousarray(mask.astype(np.uint8))).resize(
            size, Image.NEAREST)

    # -- DDPM, DDIM, LDM: the studio's own loop -------------------------------------------
    def _run_loop(self, op: str, values: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                  ctx: JobContext) -> Output:
        count, steps, name = values["count"], values["steps"], values["scheduler"]
        unet, device = self.unet, self._execution_device
        size = self._latent_size(values)
        gens = generators([values["seed"] + i for i in range(count)])  # image i: seed + i
        noise = initial_noise(gens, (unet.config.in_channels, *size)).to(device, unet.dtype)
        loop, guidance = self._loop(values, ctx)
        inpaint = None
        if op == "sample":
            state = loop.start(noise, gens)
        else:
            pixels = self.card.resolution
            image = self._image_tensor(inputs["image"], (pixels, pixels)).to(device, unet.dtype)
            ctx.check_cancelled()  # before the VAE call
            known = (self._encode(image) if self.kind == "latent" else image).expand_as(noise)
            start = img2img_start(steps, values["strength"])
            if op == "inpaint":
                painted = np.asarray(self._mask_image(inputs["mask"], (pixels, pixels)))
                mask = torch.from_numpy((painted >= 128).astype(np.float32))[None, None]
                # a latent pixel is repainted when any image pixel it covers is
                mask = F.adaptive_max_pool2d(mask, size).to(device, unet.dtype)
                inpaint = Inpaint(known=known, mask=mask, noise=noise)
            if op == "inpaint" and start == 0:  # strength 1: the masked part from noise
                state = loop.start(noise, gens)
            else:
                state = loop.start(noise, gens, index=start, image_x0=known)
        timeline = Timeline(name, steps) if values["timeline"] else None
        watcher = StepWatcher(ctx, self._preview, loop.scheduler, timeline is not None,
                              self._frame_shape())
        final = loop.run(state, guidance, gens, capture=timeline is not None,
                         inpaint=inpaint, on_step=watcher, timeline=timeline)
        self.last_timeline = timeline
        if op == "sample" and timeline is not None:
            self._remember(values, _Stored(timeline, watcher.x0_frames or [], watcher.xt_frames))
        extras = watcher.extras()
        if op == "sample":  # a sample's seeds can be the Animator's keyframes
            extras.update(self._keyframe_extras(noise, guidance))
        return self._finish(final.latents, ctx, extras)

    def _finish(self, latents: torch.Tensor, ctx: JobContext, extras: dict[str, Any]) -> Output:
        if self.kind != "pixel":
            ctx.check_cancelled()  # before the VAE call
            images = to_uint8(self._decode(latents))
            out_latents = latents.float().cpu().numpy()
        else:
            images = to_uint8(latents)
            out_latents = None
        ctx.progress(1, 1)
        return Output(images=images, latents=out_latents, extras=extras)

    def _latent_size(self, values: Mapping[str, Any]) -> tuple[int, int]:
        """(h, w) of what the UNet denoises: its own size, or for SD/SDXL the chosen image
        size over the autoencoder's factor."""
        size = self.unet.config.sample_size
        size = (size, size) if isinstance(size, int) else tuple(size)
        if self.kind not in ("sd", "sdxl"):
            return size
        factor = int(self.card.config.get("vae_scale_factor", 8))
        height = values["height"] or size[0] * factor
        width = values["width"] or size[1] * factor
        if height % 8 or width % 8:
            raise ParamError(f"width and height must be multiples of 8, not {width} × {height}")
        return (height // factor, width // factor)

    def _loop(self, values: Mapping[str, Any], ctx: JobContext) -> tuple[DiffusionLoop, Guidance]:
        """The loop for these settings (its schedule set) and their guidance."""
        h, w = self._latent_size(values)
        factor = int(self.card.config.get("vae_scale_factor", 1))
        guidance, denoiser = self._conditioning(values, values["count"], h * factor, w * factor)
        name = values["scheduler"]
        loop = DiffusionLoop(denoiser, self._scheduler(name), name, ctx.check_cancelled,
                             eta=values["eta"])
        loop.set_steps(values["steps"], self._execution_device)
        return loop, guidance

    def _remember(self, values: Mapping[str, Any], stored: _Stored) -> None:
        self._timelines.remember(tuple(values[k] for k in SAMPLE_KEYS), stored)

    def _run_fork(self, values: Mapping[str, Any], ctx: JobContext) -> Output:
        """Branch a sample at step k: the first k steps as `sample` ran them with these
        settings (from its stored timeline, or run again), then the rest with the branch's
        seed, guidance and prompt. With nothing changed, the branch is the original, bit
        for bit. A new seed re-draws the noise in x_k (keeping the predicted image) and
        every later step's noise."""
        n = values["steps"]
        k = min(values["fork_step"], n)
        count, seed = values["count"], values["seed"]
        stored = self._timelines.get(tuple(values[key] for key in SAMPLE_KEYS))
        reused = stored is not None and stored.timeline.at(k) is not None
        if not reused:  # run the original to step k, keeping its timeline
            loop, guidance = self._loop(values, ctx)
            gens = generators([seed + i for i in range(count)])
            noise = initial_noise(gens, (self.unet.config.in_channels, *self._latent_size(values)))
            watcher = StepWatcher(ctx, self._preview, loop.scheduler, True, self._frame_shape())
            timeline = Timeline(values["scheduler"], n)
            loop.run(loop.start(noise.to(self._execution_device, self.unet.dtype), gens),
                     guidance, gens, stop=k, capture=True, timeline=timeline, on_step=watcher)
            stored = _Stored(timeline, watcher.x0_frames or [], watcher.xt_frames)
        assert stored is not None
        state = stored.timeline.at(k)
        assert state is not None, (k, [s.index for s in stored.timeline.states])
        branch = {**values, "prompt": values["fork_prompt"] or values["prompt"],
                  "guidance": values["fork_guidance"]}
        loop, guidance = self._loop(branch, ctx)
        fork_seed = values["fork_seed"]
        gens = generators([fork_seed + i for i in range(count)])
        if fork_seed != seed:  # new noise: in x_k (keeping the predicted image) and after
            noise = initial_noise(gens, tuple(state.latents.shape[1:]))
            noise = noise.to(state.latents.device, state.latents.dtype)
            latents = (noise * loop.scheduler.init_noise_sigma if state.x0 is None
                       else noise_to(loop.scheduler, state.x0, noise, k))
            state = StepState(k, latents, state.scheduler, [g.get_state() for g in gens],
                              state.x0)
        watcher = StepWatcher(ctx, self._preview, loop.scheduler, values["timeline"],
                              self._frame_shape())
        if watcher.x0_frames is not None:  # the filmstrip: the original's first k steps
            watcher.x0_frames += stored.x0[:k]
            watcher.xt_frames += stored.xt[:k]
        final = loop.run(state, guidance, gens, on_step=watcher)
        return self._finish(final.latents, ctx, {**watcher.extras(), "fork_step": k,
                                                 "reused_timeline": reused})

    # -- Stable Diffusion and SDXL: their own pipelines, watched step by step -----------
    def _variant(self, op: str) -> Any:
        if op == "sample":
            return self.pipe
        if op not in self._variants:
            import diffusers

            names = {("sd", "img2img"): "StableDiffusionImg2ImgPipeline",
                     ("sd", "inpaint"): "StableDiffusionInpaintPipeline",
                     ("sdxl", "img2img"): "StableDiffusionXLImg2ImgPipeline",
                     ("sdxl", "inpaint"): "StableDiffusionXLInpaintPipeline"}
            cls = getattr(diffusers, names[(self.kind, op)])
            with quiet_loading():
                variant = cls.from_pipe(self.pipe)
            variant.set_progress_bar_config(disable=True)
            self._variants[op] = variant
        return self._variants[op]

    def pipeline_kwargs(self, op: str, values: Mapping[str, Any],
                        inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """The arguments the pipeline's own `__call__` gets for these values (less the
        generator and the callback): the exactness tests call it with the same."""
        width = values["width"] or self.card.resolution
        height = values["height"] or self.card.resolution
        kwargs: dict[str, Any] = dict(
            prompt=values["prompt"], negative_prompt=values["negative_prompt"] or None,
            num_inference_steps=values["steps"], guidance_scale=values["guidance"],
            num_images_per_prompt=values["count"], eta=values["eta"], output_type="np")
        if op == "sample":
            kwargs.update(width=width, height=height)
        else:
            # one copy of the source (and mask) per image: given a single source, diffusers'
            # inpaint pipelines encode it once with the first generator alone, so image i
            # of a batch drew from generator 0 and was not the run of seed + i
            count = values["count"]
            kwargs.update(image=[self._pil_image(inputs["image"], (width, height))] * count,
                          strength=values["strength"])
            if op == "inpaint":
                kwargs.update(mask_image=[self._mask_image(inputs["mask"], (width, height))] * count,
                              width=width, height=height)
        return kwargs

    def _run_pipeline(self, op: str, values: Mapping[str, Any],
                      inputs: Mapping[str, np.ndarray], ctx: JobContext) -> Output:
        if op != "sample" and img2img_start(values["steps"], values["strength"]) >= values["steps"]:
            raise ParamError(f"strength: {values['strength']} of {values['steps']} steps is not "
                             "one step; raise the strength or the steps")
        pipe = self._variant(op)
        name = values["scheduler"]
        scheduler = self._scheduler(name)
        pipe.scheduler = scheduler
        gens = generators([values["seed"] + i for i in range(values["count"])])
        kwargs = self.pipeline_kwargs(op, values, inputs)
        timeline = Timeline(name, values["steps"]) if values["timeline"] else None
        watcher = StepWatcher(ctx, self._preview, scheduler, timeline is not None,
                              self._frame_shape())
        self.last_timeline = timeline
        seen: dict[str, Any] = {}
        original_step = scheduler.step

        # catches the x0 each step predicts; wraps keeps the signature, which the pipeline
        # reads to decide whether to pass eta and the generator
        @functools.wraps(original_step)
        def step(model_output: torch.Tensor, t: Any, sample: torch.Tensor, *args: Any,
                 **kw: Any) -> Any:
            out = original_step(model_output, t, sample, *args, **kw)
            seen["x0"] = x0_estimate(scheduler, out, model_output, sample, t)
            return out

        def on_step_end(pipeline: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict:
            latents, x0 = tensors["latents"], seen.get("x0")
            seen["latents"] = latents
            if timeline is not None:
                seen["snap"] = scheduler_state(scheduler, seen.get("snap"))
                timeline.states.append(StepState(i + 1, latents, seen["snap"],
                                                 [g.get_state() for g in gens], x0))
            ctx.check_cancelled()  # no further UNet or VAE call after a cancel
            watcher(i, pipeline.num_timesteps, latents, x0)
            return tensors

        scheduler.step = step
        try:
            images = pipe(generator=gens if len(gens) > 1 else gens[0],
                          callback_on_step_end=on_step_end,
                          callback_on_step_end_tensor_inputs=["latents"], **kwargs).images
        finally:
            del scheduler.step  # the instance attribute; the class's method shows again
        latents = seen.get("latents")
        return Output(images=float_to_uint8(images),
                      latents=None if latents is None else latents.float().cpu().numpy(),
                      extras=watcher.extras())


# -----------------------------------------------------------------------------
# the family class the registry points at


class DiffusersFamily:
    """studio.families.diffusers.model:DiffusersFamily."""

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedDiffusers:
        try:
            index = diffusers_folder.check_folder(folder)
        except diffusers_folder.NotAPipelineError as exc:
            raise ModelLoadError(str(exc)) from None
        kind = diffusers_folder.pipeline_kind(index, folder)
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        try:
            pipe = load_pipeline(folder, kind, dtype, card.config.get("variant")).to(device)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise ModelLoadError(f"{folder}: could not load the {index['_class_name']} "
                                 f"({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})") from exc
        return LoadedDiffusers(pipe, card, device, kind)


__all__ = ["DiffusersFamily", "LoadedDiffusers"]
