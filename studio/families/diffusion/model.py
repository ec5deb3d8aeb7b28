"""Diffusion family: a class-conditional pixel-space denoiser on diffusers' UNet2DModel.

Read top to bottom: config, the network (diffusers' UNet2DModel with a class embedding;
label `classes` is the null label that classifier-free guidance uses), the trainable
(ε-prediction with label dropout and EMA, for the training driver), then the loaded
model with its ops (sample, img2img, inpaint, interpolate, fork) and the family class.

The sampling itself is studio/families/diffusion/loop.py (shared with imported diffusers
pipelines). This file says what the loop runs in: `_Space` maps images to the tensors
the UNet denoises and back. Here that is pixels in [−1, 1]; latent_diffusion.py swaps in
the built-in VAE's latent and reuses everything else.

Timeline: `sample` keeps its whole timeline (x_t, scheduler and RNG state before every
step) in memory for the last few settings, so `fork` with the same sample settings
restarts from step k without re-running the first k steps; Output.extras["timeline"]
carries the small part the UI needs: {"steps": n, "x0": (n, H, W, C) uint8, "xt": same}
for the first image.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel
from safetensors.torch import save_file

from studio.core import atomic
from studio.core import latent as latent_math
from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import GLYPH_CLASSES, Split
from studio.core.family import JobContext, ModelLoadError, Output
from studio.core.params import ParamError
from studio.core.training import EMATrainable
from studio.families.config import CardConfig
from studio.families.diffusion import loop as dl
from studio.families.diffusion.spec import DIFFUSION as DIFFUSION_INFO
from studio.families.shared import (
    OpDispatch,
    card_file,
    check_shapes_first,
    image_input,
    load_module,
    load_tensors,
)

# -----------------------------------------------------------------------------
# config


@dataclass
class DiffusionConfig(CardConfig):
    resolution: int = 32  # image size
    channels: int = 1  # image channels
    classes: int = 10  # class `classes` is the null label
    widths: tuple[int, ...] = (32, 64, 64)  # UNet block widths, full size down
    layers_per_block: int = 1
    attention: bool = False  # self-attention in the lowest-resolution block
    norm_groups: int = 8
    train_timesteps: int = 1000
    beta_schedule: str = "linear"
    label_dropout: float = 0.1  # p(label → null) in training: what makes CFG work

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        assert len(self.widths) >= 1 and all(w % self.norm_groups == 0 for w in self.widths), self
        assert self.classes >= 1 and 0.0 <= self.label_dropout < 1.0, self


    def scheduler_config(self, clip_sample: bool = True) -> dict[str, Any]:
        """The training noise schedule, from which every sampler is built. `clip_sample`:
        DDPM/DDIM clip the predicted x0 to [−1, 1] (right for pixels, wrong for latents)."""
        return dict(DDPMScheduler(num_train_timesteps=self.train_timesteps,
                                  beta_schedule=self.beta_schedule, clip_sample=clip_sample).config)


class ClassMixEmbedding(torch.nn.Embedding):
    """The UNet's class embedding that also takes a class mix: (B, classes + 1) float
    weights give the weighted sum of the class embeddings, so an animation can lerp from one
    class to another. A one-hot row gives that class's embedding exactly (1·w + 0·…), so a
    keyframe renders as its class does. Integer labels work as before."""

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        if labels.is_floating_point():
            return labels.to(self.weight.dtype) @ self.weight
        return super().forward(labels)


def build_unet(cfg: DiffusionConfig, in_channels: int, size: int) -> UNet2DModel:
    unet = _build_unet(cfg, in_channels, size)
    plain = unet.class_embedding  # the same parameter under the same name: weights load as before
    unet.class_embedding = ClassMixEmbedding(plain.num_embeddings, plain.embedding_dim,
                                             _weight=plain.weight)
    return unet


def _build_unet(cfg: DiffusionConfig, in_channels: int, size: int) -> UNet2DModel:
    n = len(cfg.widths)
    down = ["DownBlock2D"] * n
    up = ["UpBlock2D"] * n
    if cfg.attention:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=size, in_channels=in_channels, out_channels=in_channels,
        block_out_channels=cfg.widths, layers_per_block=cfg.layers_per_block,
        down_block_types=tuple(down), up_block_types=tuple(up), norm_num_groups=cfg.norm_groups,
        attention_head_dim=8, num_class_embeds=cfg.classes + 1,  # + the null label
    )


# -----------------------------------------------------------------------------
# the space the UNet works in (pixels here; the VAE latent in latent_diffusion.py)


class PixelSpace:
    """Images (B, C, H, W) in [0, 1] ↔ the tensors the UNet denoises."""

    clip_sample = True  # the data lives in [−1, 1]

    def __init__(self, cfg: DiffusionConfig) -> None:
        self.cfg = cfg
        self.shape = (cfg.channels, cfg.resolution, cfg.resolution)  # (C, h, w)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images * 2.0 - 1.0  # (B, C, H, W) in [−1, 1]

    def decode(self, z: torch.Tensor) -> np.ndarray:
        """(B, C, H, W) → (B, H, W, C) uint8: exact on values that came from uint8."""
        pixels = ((z.float().clamp(-1.0, 1.0) + 1.0) * 127.5).round()
        return pixels.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    def mask(self, mask: torch.Tensor) -> torch.Tensor:
        return mask  # (1, 1, H, W) 1 = repaint

    def memory_bytes(self) -> int:
        return 0

    def modules(self) -> list[torch.nn.Module]:
        return []


# -----------------------------------------------------------------------------
# training (the driver in studio/core/training.py calls this)


class DiffusionTrainable(EMATrainable):
    """ε-prediction, uniform t, label dropout, Adam with a cosine decay, EMA."""

    family = "diffusion"

    def __init__(self, cfg: DiffusionConfig, space: Any, train: Mapping[str, Any],
                 data: Mapping[str, Split], recipe: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self.space = space
        self.recipe = dict(recipe)
        self.data = data
        c, h, _ = space.shape
        self.model = build_unet(cfg, c, h)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.ema_decay = float(train.get("ema", 0.999))
        self.noise_sched = DDPMScheduler.from_config(cfg.scheduler_config())
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=float(train.get("lr", 5e-4)),
                                     weight_decay=0.0)
        steps = int(train.get("steps", 1000))
        warmup = int(train.get("warmup", 200))
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: min(1.0, (s + 1) / max(1, warmup)) * (
                0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))))
        self.export_dtype = str(train.get("export_dtype", "float32"))
        self.steps_done = 0

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        with torch.no_grad():
            x0 = self.space.encode(batch["images"])  # (B, c, h, w)
        b = x0.shape[0]
        labels = batch["labels"].clone()
        drop = torch.rand(b) < self.cfg.label_dropout
        labels[drop] = self.cfg.classes  # the null label
        noise = torch.randn_like(x0)
        t = torch.randint(0, self.cfg.train_timesteps, (b,))
        xt = self.noise_sched.add_noise(x0, noise, t)
        pred = self.model(xt, t, class_labels=labels).sample
        loss = F.mse_loss(pred, noise)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.sched.step()
        self.steps_done += 1
        self.update_ema()
        return {"loss": loss.item(), "grad": float(grad), "lr": self.sched.get_last_lr()[0]}

    @property
    def loaded_class(self) -> type:
        return LoadedDiffusion

    @torch.inference_mode()
    def sample_images(self, n: int, seed: int = 0) -> np.ndarray:
        """A quick look for the driver: 20 DPM-Solver++ steps, classes 0, 1, 2, ..."""
        model = self.loaded_class(self.ema, self.space, self.cfg, _preview_card(self), "cpu")
        labels = [k % self.cfg.classes for k in range(n)]
        return model.generate(list(range(seed, seed + n)), labels, 20, "dpm++", 0.0,
                              float(DIFFUSION_INFO.op("sample").param("guidance").default), -1,
                              JobContext())[0]

    def extra_metrics(self, evaluator: Any) -> dict[str, float]:
        """Time per image of `sample` at its defaults, beside the evaluator's figures."""
        loaded = self.loaded_class(self.ema, self.space, self.cfg, _preview_card(self), "cpu")
        return {"seconds_per_image": round(seconds_per_image(loaded), 5),
                "threads": float(torch.get_num_threads())}

    def tensors(self) -> dict[str, torch.Tensor]:
        dtype = getattr(torch, self.export_dtype)
        return {k: v.detach().to(dtype).contiguous() for k, v in self.ema.state_dict().items()}

    def card_fields(self) -> dict[str, Any]:
        return {"latent_shape": list(self.space.shape), "config": self.cfg.to_dict()}

    def export(self, folder: Path, metrics: Mapping[str, float]) -> ModelCard:
        """model.safetensors (EMA weights only) and card.json."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(folder / WEIGHTS_FILE) as tmp:
            save_file(self.tensors(), str(tmp), metadata={"format": f"latent-studio/{self.family}"})
        digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
        r = self.recipe
        card = ModelCard(
            id=r["id"], name=r.get("name", r["id"]), family=self.family,
            resolution=self.cfg.resolution, channels=self.cfg.channels,
            classes=list(GLYPH_CLASSES[:self.cfg.classes]) if r["dataset"].get("name") == "glyphs" else None,
            dataset=r["dataset"].get("name", ""), description=r.get("description", ""),
            weights_sha256=digest, metrics=dict(metrics),
            training={"dataset": {k: v for k, v in r["dataset"].items() if k != "name"},
                      "train": dict(r.get("train", {})), "steps_done": self.steps_done},
            **self.card_fields(),
        )
        from studio.core.training import write_card

        write_card(card, folder)
        return card


def seconds_per_image(model: Any, count: int = 16, repeats: int = 2) -> float:
    """Wall time per image of `sample` at its defaults (best of `repeats` runs)."""
    best = float("inf")
    for r in range(repeats):
        started = time.perf_counter()
        model.run("sample", {"seed": 100 + r, "count": count}, {}, JobContext())
        best = min(best, time.perf_counter() - started)
    return best / count


def _preview_card(trainable: DiffusionTrainable) -> ModelCard:
    return ModelCard(id="preview", name="preview", family=trainable.family,
                     resolution=trainable.cfg.resolution, channels=trainable.cfg.channels)


# -----------------------------------------------------------------------------
# the loaded model and its ops

_SAMPLE_KEYS = ("seed", "count", "steps", "scheduler", "eta", "guidance", "class_index",
                "negative_class_index")
_KEEP_TIMELINES = 4


@dataclass
class _Run:
    """One sampling run's settings, as the loop needs them."""

    seeds: list[int]
    labels: list[int]
    steps: int
    scheduler: str
    eta: float
    guidance: float
    negative: int


_Stored = dl.StoredRun  # a sample's timeline and filmstrip, kept for forks


class LoadedDiffusion(OpDispatch):
    info = DIFFUSION_INFO

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"{self.info.label} model"

    def __init__(self, unet: UNet2DModel, space: Any, cfg: DiffusionConfig, card: ModelCard,
                 device: str) -> None:
        self.unet = unet.eval().requires_grad_(False)
        self.space = space
        self.cfg = cfg
        self.card = card
        self.device = device
        self.scheduler_config = cfg.scheduler_config(clip_sample=space.clip_sample)
        self._timelines = dl.TimelineStore(_KEEP_TIMELINES)

    def memory_bytes(self) -> int:
        tensors = list(self.unet.parameters()) + list(self.unet.buffers())
        return (sum(t.numel() * t.element_size() for t in tensors) + self.space.memory_bytes()
                + self._timelines.nbytes())

    # -- helpers ------------------------------------------------------------------

    def _class(self, name: str, value: int) -> int:
        if value >= self.cfg.classes:
            raise ParamError(f"{name}: {value} is outside −1..{self.cfg.classes - 1} "
                             f"(the model has {self.cfg.classes} classes)")
        return value

    def _labels(self, class_index: int, seeds: list[int], name: str = "class_index") -> list[int]:
        """The asked class for every image, or (−1) a class drawn from each image's seed."""
        class_index = self._class(name, class_index)
        if class_index >= 0:
            return [class_index] * len(seeds)
        return [int(np.random.default_rng([s, 1]).integers(self.cfg.classes)) for s in seeds]

    def _settings(self, values: Mapping[str, Any], count: int | None = None) -> _Run:
        seed, count = values["seed"], count or values.get("count", 1)
        seeds = [seed + i for i in range(count)]
        self._class("negative_class_index", values["negative_class_index"])
        return _Run(seeds, self._labels(values["class_index"], seeds), values["steps"],
                    values["scheduler"], values["eta"], values["guidance"],
                    values["negative_class_index"])

    def _guidance(self, labels: list[int], negative: int, scale: float) -> dl.Guidance:
        cond = torch.tensor(labels, dtype=torch.long, device=self.device)
        null = self.cfg.classes if negative < 0 else negative
        return dl.Guidance(cond, torch.full_like(cond, null), float(scale))

    def _one_hot(self, labels: list[int]) -> np.ndarray:
        """(N, classes) class mixes of whole classes: each image's class as a one-hot row."""
        return np.eye(self.cfg.classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]

    def _class_mix(self, given: Any, frames: int) -> np.ndarray | None:
        """The Animator's per-frame class mix, checked: (frames, classes) finite weights."""
        if given is None:
            return None
        mix = np.asarray(given, dtype=np.float32)
        if mix.shape != (frames, self.cfg.classes):
            raise ParamError(f"class_mix: expected ({frames}, {self.cfg.classes}) weights, one row "
                             f"per frame over the model's classes, got {mix.shape}")
        if not np.isfinite(mix).all():
            raise ParamError("class_mix: the weights hold NaN or infinite values")
        return mix

    def _mixed_guidance(self, mix: np.ndarray, negative: int, scale: float) -> dl.Guidance:
        """Guidance towards a class mix (its embedding is the weighted sum of the classes'),
        away from the null label (or the negative class), as one-hot rows of the embedding."""
        rows = len(mix)
        cond = torch.zeros(rows, self.cfg.classes + 1)
        cond[:, : self.cfg.classes] = torch.from_numpy(mix)
        uncond = torch.zeros(rows, self.cfg.classes + 1)
        uncond[:, self.cfg.classes if negative < 0 else negative] = 1.0
        return dl.Guidance(cond.to(self.device), uncond.to(self.device), float(scale))

    def _denoise(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t, class_labels=labels).sample

    def _loop(self, run: _Run, ctx: JobContext) -> dl.DiffusionLoop:
        extra: dict[str, Any] = {}
        if run.scheduler == "dpm++" and self.space.clip_sample:
            # DPM-Solver++'s thresholding, as its authors advise for pixel-space models:
            # the x0 it extrapolates from stays in the data range, like DDIM's clipping
            extra = {"thresholding": True, "sample_max_value": 1.0}
        scheduler = dl.make_scheduler(run.scheduler, self.scheduler_config, **extra)
        loop = dl.DiffusionLoop(self._denoise, scheduler, run.scheduler, ctx.check_cancelled, run.eta)
        loop.set_steps(run.steps, self.device)
        return loop

    def _start(self, loop: dl.DiffusionLoop, gens: list[torch.Generator]) -> dl.StepState:
        noise = dl.initial_noise(gens, self.space.shape).to(self.device)
        return loop.start(noise, gens)

    def _display_xt(self, loop: dl.DiffusionLoop, x: torch.Tensor, index: int) -> torch.Tensor:
        if dl.is_sigma_space(loop.scheduler):  # x0 + σ·ε → unit variance, as the UNet sees it
            sigma = float(loop.scheduler.sigmas[min(index, len(loop.scheduler.sigmas) - 1)])
            return x / math.sqrt(sigma * sigma + 1.0)
        return x

    def _on_step(self, loop: dl.DiffusionLoop, ctx: JobContext, stored: _Stored | None):
        """Per step: the x0 preview (every image), the filmstrip frames (first image) and
        the counter. One decode call for all of them."""
        def on_step(i: int, n: int, x: torch.Tensor, x0: torch.Tensor) -> None:
            want_preview = ctx.wants_preview()
            parts = [x0 if want_preview else x0[:1], self._display_xt(loop, x[:1], i + 1)]
            ctx.check_cancelled()  # before the (VAE) decode
            images = self.space.decode(torch.cat(parts))
            previews, xt = images[:-1], images[-1]
            if stored is not None:
                stored.x0.append(previews[0])
                stored.xt.append(xt)
            if want_preview:
                ctx.preview(previews)
            ctx.progress(i + 1, n, f"step {i + 1}/{n}")
        return on_step

    @staticmethod
    def _timeline_extra(stored: _Stored, steps: int, shape: tuple[int, ...]) -> dict[str, Any]:
        empty = np.zeros((0, *shape), np.uint8)
        return {"steps": steps, "x0": np.stack(stored.x0) if stored.x0 else empty,
                "xt": np.stack(stored.xt) if stored.xt else empty}

    def _image_shape(self) -> tuple[int, int, int]:
        return (self.cfg.resolution, self.cfg.resolution, self.cfg.channels)

    def _finish(self, final: torch.Tensor, ctx: JobContext) -> tuple[np.ndarray, np.ndarray]:
        ctx.check_cancelled()  # before the final (VAE) decode
        return self.space.decode(final), final.float().cpu().numpy().astype(np.float32)

    def generate(self, seeds: list[int], labels: list[int], steps: int, scheduler: str, eta: float,
                 guidance: float, negative: int, ctx: JobContext) -> tuple[np.ndarray, np.ndarray]:
        """Plain sampling, no timeline (the trainer's previews)."""
        run = _Run(seeds, labels, steps, scheduler, eta, guidance, negative)
        loop = self._loop(run, ctx)
        gens = dl.generators(seeds)
        final = loop.run(self._start(loop, gens), self._guidance(labels, negative, guidance), gens)
        return self._finish(final.latents, ctx)

    def _key(self, values: Mapping[str, Any]) -> tuple:
        return tuple(values[k] for k in _SAMPLE_KEYS)

    def _remember(self, key: tuple, stored: _Stored) -> None:
        self._timelines.remember(key, stored)

    def _fit(self, image: np.ndarray, name: str, channels: int) -> np.ndarray:
        return image_input(image, name, self.cfg.resolution, channels)  # (R, R, channels) uint8

    def _to_tensor(self, fitted: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(fitted)).permute(2, 0, 1)[None].float() / 255.0
        return x.to(self.device)  # (1, C, R, R) in [0, 1]

    # -- ops ----------------------------------------------------------------------

    def _sample(self, values, ctx: JobContext, capture: bool) -> tuple[_Stored, dl.StepState, _Run]:
        run = self._settings(values)
        loop = self._loop(run, ctx)
        gens = dl.generators(run.seeds)
        stored = _Stored(dl.Timeline(run.scheduler, run.steps), [], [])
        final = loop.run(self._start(loop, gens), self._guidance(run.labels, run.negative, run.guidance),
                         gens, capture=capture, timeline=stored.timeline,
                         on_step=self._on_step(loop, ctx, stored))
        return stored, final, run

    def _op_sample(self, values, inputs, ctx) -> Output:
        stored, final, run = self._sample(values, ctx, capture=True)
        images, latents = self._finish(final.latents, ctx)
        self._remember(self._key(values), stored)
        # each image's initial noise (drawn first from its seed's generator): the Animator's
        # keyframe of that seed
        noise = dl.initial_noise(dl.generators(run.seeds), self.space.shape).numpy()
        return Output(images=images, latents=latents, labels=tuple(str(k) for k in run.labels),
                      extras={"timeline": self._timeline_extra(stored, run.steps, self._image_shape()),
                              "classes": list(run.labels), "noise": noise,
                              "class_mix": self._one_hot(run.labels)})

    def _op_img2img(self, values, inputs, ctx) -> Output:
        run = self._settings(values)
        fitted = self._fit(inputs["image"], "image", self.cfg.channels)
        with torch.inference_mode():
            x0 = self.space.encode(self._to_tensor(fitted)).expand(len(run.seeds), *self.space.shape)
        loop = self._loop(run, ctx)
        n = loop.steps
        start = n - min(int(n * values["strength"]), n)  # diffusers' img2img rule
        gens = dl.generators(run.seeds)
        noise = dl.initial_noise(gens, self.space.shape).to(self.device)
        stored = _Stored(dl.Timeline(run.scheduler, n), [], [])
        final = loop.run(loop.start(noise, gens, start, x0),
                         self._guidance(run.labels, run.negative, run.guidance), gens,
                         on_step=self._on_step(loop, ctx, stored))
        images, latents = self._finish(final.latents, ctx)
        return Output(images=images, latents=latents, labels=tuple(str(k) for k in run.labels),
                      extras={"timeline": self._timeline_extra(stored, n - start, self._image_shape()),
                              "start_step": start})

    def _op_inpaint(self, values, inputs, ctx) -> Output:
        run = self._settings(values)
        fitted = self._fit(inputs["image"], "image", self.cfg.channels)
        mask_img = self._fit(inputs["mask"], "mask", 1)
        mask = torch.from_numpy((mask_img[..., 0] >= 128).astype(np.float32))[None, None].to(self.device)
        with torch.inference_mode():
            known = self.space.encode(self._to_tensor(fitted)).expand(len(run.seeds), *self.space.shape)
        loop = self._loop(run, ctx)
        gens = dl.generators(run.seeds)
        start = self._start(loop, gens)
        blend_noise = dl.initial_noise(gens, self.space.shape).to(self.device)  # after the start noise
        start.rng = [g.get_state() for g in gens]
        stored = _Stored(dl.Timeline(run.scheduler, run.steps), [], [])
        final = loop.run(start, self._guidance(run.labels, run.negative, run.guidance), gens,
                         inpaint=dl.Inpaint(known, self.space.mask(mask), blend_noise),
                         on_step=self._on_step(loop, ctx, stored))
        images, latents = self._finish(final.latents, ctx)
        images = self._overlay(images, fitted, mask_img[..., 0] >= 128)
        return Output(images=images, latents=latents, labels=tuple(str(k) for k in run.labels),
                      extras={"timeline": self._timeline_extra(stored, run.steps, self._image_shape())})

    def _overlay(self, images: np.ndarray, fitted: np.ndarray, repaint: np.ndarray) -> np.ndarray:
        """Pixel space keeps the unmasked pixels exactly already (the loop's last blend);
        the latent model pastes them back after its decode."""
        return images

    def _op_interpolate(self, values, inputs, ctx) -> Output:
        seed = values["seed"]
        if inputs.get("latent") is not None:  # given noises, one per frame (the Animator's)
            given = np.asarray(inputs["latent"], dtype=np.float32)
            shape = tuple(self.space.shape)
            if given.ndim != len(shape) + 1 or given.shape[1:] != shape or not len(given):
                raise ParamError(f"latent: expected noise of shape (N, {', '.join(map(str, shape))}), "
                                 f"got {given.shape}")
            if not np.isfinite(given).all():
                raise ParamError("latent: the noise holds NaN or infinite values")
            noise = torch.from_numpy(np.ascontiguousarray(given)).to(self.device)
        else:
            a = dl.initial_noise(dl.generators([seed]), self.space.shape)[0].numpy()
            b = dl.initial_noise(dl.generators([values["seed_b"]]), self.space.shape)[0].numpy()
            noise = torch.from_numpy(latent_math.path([a, b], values["frames"], "slerp")).to(self.device)
        frames = len(noise)
        label = self._labels(values["class_index"], [seed])[0]
        self._class("negative_class_index", values["negative_class_index"])
        run = _Run([seed] * frames, [label] * frames, values["steps"], values["scheduler"],
                   values["eta"], values["guidance"], values["negative_class_index"])
        mix = self._class_mix(inputs.get("class_mix"), frames)
        guidance = self._guidance(run.labels, run.negative, run.guidance) if mix is None \
            else self._mixed_guidance(mix, run.negative, run.guidance)
        loop = self._loop(run, ctx)
        gens = dl.generators(run.seeds)  # every frame gets the same step noise
        stored = _Stored(dl.Timeline(run.scheduler, run.steps), [], [])
        final = loop.run(loop.start(noise, gens), guidance, gens,
                         on_step=self._on_step(loop, ctx, stored))
        images, latents = self._finish(final.latents, ctx)
        return Output(images=images, latents=latents, columns=frames,
                      extras={"timeline": self._timeline_extra(stored, run.steps, self._image_shape()),
                              "noise": noise.cpu().numpy(),
                              "class_mix": self._one_hot(run.labels) if mix is None else mix})

    def _op_fork(self, values, inputs, ctx) -> Output:
        key = self._key(values)
        run = self._settings(values)
        n = run.steps
        k = min(values["fork_step"], n)
        stored = self._timelines.get(key)
        reused = stored is not None and stored.timeline.at(k) is not None
        if reused:
            self._timelines.touch(key)
        else:  # re-run the original to step k, keeping its timeline
            loop = self._loop(run, ctx)
            gens = dl.generators(run.seeds)
            stored = _Stored(dl.Timeline(run.scheduler, n), [], [])
            loop.run(self._start(loop, gens), self._guidance(run.labels, run.negative, run.guidance),
                     gens, stop=k, capture=True, timeline=stored.timeline,
                     on_step=self._on_step(loop, ctx, stored))
        state = stored.timeline.at(k)
        assert state is not None, (k, [s.index for s in stored.timeline.states])
        # the branch
        loop = self._loop(run, ctx)
        seed = values["fork_seed"]
        seeds = [seed + i for i in range(len(run.seeds))]
        labels = self._labels(values["fork_class_index"], seeds, "fork_class_index")
        gens = dl.generators(seeds)
        if seed != values["seed"]:  # new noise: in x_k (keeping the predicted image) and after
            noise = dl.initial_noise(gens, self.space.shape).to(self.device)
            latents = (noise * loop.scheduler.init_noise_sigma if state.x0 is None
                       else dl.noise_to(loop.scheduler, state.x0, noise, k))
            state = dl.StepState(k, latents, state.scheduler, [g.get_state() for g in gens], state.x0)
        branch = _Stored(dl.Timeline(run.scheduler, n), list(stored.x0[:k]), list(stored.xt[:k]))
        final = loop.run(state, self._guidance(labels, run.negative, values["fork_guidance"]), gens,
                         on_step=self._on_step(loop, ctx, branch))
        images, latents = self._finish(final.latents, ctx)
        return Output(images=images, latents=latents, labels=tuple(str(c) for c in labels),
                      extras={"timeline": self._timeline_extra(branch, n, self._image_shape()),
                              "fork_step": k, "reused_timeline": reused, "classes": labels})


# -----------------------------------------------------------------------------
# the family


def read_config(folder: Path, card: ModelCard) -> DiffusionConfig:
    try:
        cfg = DiffusionConfig.from_dict(card.config)
    except (TypeError, ValueError, AssertionError) as exc:
        raise ModelLoadError(f"{Path(folder) / 'card.json'}: bad diffusion config ({exc})") from None
    if (cfg.resolution, cfg.channels) != (card.resolution, card.channels):
        raise ModelLoadError(f"{Path(folder) / 'card.json'}: config and card disagree on "
                             f"resolution/channels")
    return cfg


class DiffusionFamily:
    """The class the registry's loader names (studio.families.diffusion.model:DiffusionFamily)."""

    info = DIFFUSION_INFO

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedDiffusion:
        folder = Path(folder)
        cfg = read_config(folder, card)
        path = card_file(folder, card)
        check_shapes_first(path, lambda: build_unet(cfg, cfg.channels, cfg.resolution))
        tensors = load_tensors(path)
        unet = build_unet(cfg, cfg.channels, cfg.resolution)
        load_module(unet, tensors, path, strict=False)
        unexpected = sorted(set(tensors) - set(unet.state_dict()))
        if unexpected:
            raise ModelLoadError(f"{path}: unexpected tensors {', '.join(unexpected[:5])}")
        return LoadedDiffusion(unet.to(device), PixelSpace(cfg), cfg, card, device)

    @classmethod
    def make_trainable(cls, recipe: Mapping[str, Any], data: Mapping[str, Split]) -> DiffusionTrainable:
        cfg = DiffusionConfig.from_dict(recipe.get("config", {}))
        train = data["train"]
        assert train.images.shape[1:] == (cfg.resolution, cfg.resolution, cfg.channels), (
            train.images.shape, cfg)
        assert train.labels is not None, "the diffusion model is class-conditional: it needs labels"
        return DiffusionTrainable(cfg, PixelSpace(cfg), recipe.get("train", {}), data, recipe)

