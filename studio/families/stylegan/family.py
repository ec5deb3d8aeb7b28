"""Imported StyleGAN2 / StyleGAN3 models: the loaded model and the family class.

A model folder written by importer.py (model.safetensors with `G_ema` and the PCA
direction vectors, an optional discriminator.safetensors, card.json) loads into the
studio's own generator (networks.py). The ops are the GAN family's (seed grid,
truncation and directions, walks, interpolation, style mixing, projection, arithmetic),
with NVIDIA's conventions where they differ from the built-in GAN's:

- seed S draws `z = np.random.RandomState(S).randn(1, z_dim)`, as stylegan3's
  gen_images.py does; for a conditional model with no class given, the class is the next
  draw of the same RandomState; a class is one-hot;
- images go to uint8 as gen_images.py does: × 127.5 + 128, clamp, truncate;
- truncation is w_avg.lerp(w, ψ), ψ from −1 to 2;
- `noise_mode`: const (the stored noise), random (drawn from the seed) or none.

`preview_resolution` (sample only): when above 0 and below the model's size, StyleGAN2
stops the synthesis at that resolution and shows its ToRGB image, upscaled: the explorer
asks for it while a slider moves. StyleGAN3 has no intermediate image and ignores it.
Every render checks for cancel between synthesis blocks (StyleGAN2) or layers
(StyleGAN3), so a superseded render is abandoned midway.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from studio.core.cards import ModelCard
from studio.core.family import JobContext, ModelLoadError, Output
from studio.families.gan.model import LoadedGAN, load_style_generator, read_style_card
from studio.families.shared import (
    image_input,
)
from studio.families.stylegan.networks import Generator, StyleGANConfig, to_uint8
from studio.families.stylegan.spec import STYLEGAN as STYLEGAN_INFO

RENDER_CHUNK = 8


class LoadedStyleGAN(LoadedGAN):
    label = "StyleGAN"
    info = STYLEGAN_INFO  # the GAN's ops with NVIDIA's seed scheme and ranges

    def __init__(self, generator: Generator, vectors: torch.Tensor, directions: list[dict[str, Any]],
                 card: ModelCard, device: str, discriminator: Any = None) -> None:
        super().__init__(generator, vectors, directions, card, device, discriminator)  # type: ignore[arg-type]
        self._noise_mode = "const"
        self._noise_seed = 0
        self._preview_res = 0

    def run(self, op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
            ctx: JobContext) -> Any:
        self._noise_mode = str(params.get("noise_mode") or "const")
        seed = params.get("seed")
        self._noise_seed = int(seed) if isinstance(seed, (int, np.integer)) else 0
        self._preview_res = int(params.get("preview_resolution") or 0)
        return super().run(op, params, inputs, ctx)

    # -- NVIDIA's seed scheme, truncation and uint8 ----------------------------------

    def _seed_inputs(self, seeds: Sequence[int], class_index: int | None
                     ) -> tuple[torch.Tensor, torch.Tensor | None, list[int | None]]:
        fixed = self._class_of(class_index)
        zs, classes = [], []
        for seed in seeds:
            rs = np.random.RandomState(int(seed))
            zs.append(rs.randn(1, self.cfg.z_dim)[0])  # float64, as gen_images.py
            if self.cfg.conditional:
                classes.append(fixed if fixed is not None else int(rs.randint(self.cfg.num_classes)))
            else:
                classes.append(None)
        # (N, z_dim): float64 draws cast to float32 here, as NVIDIA's mapping casts them
        # (the same rounding on any device; MPS has no float64)
        z = torch.from_numpy(np.stack(zs)).to(torch.float32)
        c = None
        if self.cfg.conditional:
            c = F.one_hot(torch.tensor(classes), self.cfg.num_classes).float()
        return z, c, classes

    def _truncate(self, w: torch.Tensor, truncation: float) -> torch.Tensor:
        return self.G.mapping.truncate(w, float(truncation))  # (N, num_ws, w_dim)

    def _synthesis(self, ws: torch.Tensor, ctx: JobContext | None, stop_res: int | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
        should_stop = ctx.check_cancelled if ctx is not None else None
        return self.G.synthesis(ws, noise_mode=self._noise_mode, generator=generator,
                                stop_res=stop_res, should_stop=should_stop)

    @torch.inference_mode()
    def _render(self, ws: torch.Tensor, ctx: JobContext, chunk: int = RENDER_CHUNK) -> np.ndarray:
        R = self.cfg.resolution
        stop = None
        if 0 < self._preview_res < R and not self.cfg.stylegan3:
            stop = 1 << max(2, int(math.log2(self._preview_res)))
        gen = torch.Generator().manual_seed(self._noise_seed) if self._noise_mode == "random" else None
        out = []
        for i in range(0, len(ws), chunk):
            ctx.check_cancelled()
            images = self._synthesis(ws[i:i + chunk], ctx, stop, gen)
            if images.shape[-1] != R:  # a low-resolution preview, shown at full size
                images = F.interpolate(images, size=(R, R), mode="bilinear", align_corners=False)
            out.append(to_uint8(images))
            ctx.progress(min(len(ws), i + chunk), len(ws))
        return np.concatenate(out)

    def _op_sample(self, values, inputs, ctx) -> Output:
        output = super()._op_sample(values, inputs, ctx)
        if 0 < self._preview_res < self.cfg.resolution:
            extras = dict(output.extras)
            extras["preview"] = not self.cfg.stylegan3
            output.extras = extras
        return output

    # -- projection ---------------------------------------------------------------

    def _op_project(self, values, inputs, ctx) -> Output:
        """Optimise a w+ code so that its image matches the target: pixel distance plus,
        when the pickle had a discriminator, the distance of its block features."""
        fitted = image_input(inputs["image"], "image", self.cfg.resolution, self.cfg.channels)
        target = torch.from_numpy(np.ascontiguousarray(fitted)).permute(2, 0, 1)[None]
        target = ((target.float() - 128.0) / 127.5).to(self.device)  # (1, C, R, R)
        steps, lr = values["steps"], values["learning_rate"]
        with torch.no_grad():
            target_feats = self.D.features(target) if self.D is not None else []
        gen = torch.Generator("cpu").manual_seed(values["seed"])
        start = self.w_avg[None, None].repeat(1, self.cfg.num_ws, 1)
        sigma = float(np.mean([d["sigma"] for d in self.directions])) if self.directions else 1.0
        noise = torch.randn(start.shape, generator=gen).to(self.device) * (0.05 * sigma)
        ws = (start + noise).clone().requires_grad_(True)
        opt = torch.optim.Adam([ws], lr=lr * sigma, betas=(0.9, 0.999))

        def loss_of(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            pixel = F.mse_loss(images, target)
            if not target_feats:
                return pixel, pixel
            feats = self.D.features(images)
            feature = sum(F.mse_loss(f, t) for f, t in zip(feats, target_feats)) / len(feats)
            return pixel + 0.1 * feature, pixel

        losses: list[float] = []
        with torch.enable_grad():
            for i in range(steps):
                ctx.check_cancelled()
                t = i / steps
                ramp = 0.5 - 0.5 * math.cos(math.pi * min(1.0, (1.0 - t) / 0.25))
                for group in opt.param_groups:
                    group["lr"] = lr * sigma * ramp * min(1.0, (i + 1) / max(1.0, 0.05 * steps))
                images = self.G.synthesis(ws, noise_mode="const")
                loss, _ = loss_of(images)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.item()))
                ctx.progress(i + 1, steps, f"loss {losses[-1]:.4f}")
                if ctx.wants_preview():
                    ctx.preview(to_uint8(images.detach()))
        final = ws.detach()
        with torch.no_grad():
            images = self.G.synthesis(final, noise_mode="const")
            loss, pixel = loss_of(images)
        result = to_uint8(images)
        ctx.preview(result, force=True)
        return Output(images=result, latents=self._numpy(final), labels=("projection",),
                      extras={"target": fitted, "losses": losses, "initial_loss": losses[0],
                              "loss": float(loss), "pixel_mse": float(pixel),
                              "features": "discriminator" if target_feats else "pixels only"})


class StyleGANFamily:
    """The class the registry's loader names (studio.families.stylegan.family:StyleGANFamily)."""

    info = STYLEGAN_INFO

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedStyleGAN:
        folder = Path(folder)
        card_path = folder / "card.json"
        cfg, directions = read_style_card(folder, card, StyleGANConfig, "StyleGAN")
        generator, vectors = load_style_generator(folder, card, cfg, lambda: Generator(cfg),
                                                  directions, device)
        discriminator = None
        d_name = card.config.get("discriminator_file")
        if d_name:
            from studio.core import paths
            from studio.families.stylegan.discriminator import load_discriminator

            try:
                d_path = paths.confined(folder, d_name, "discriminator_file", card_path)
            except paths.PathEscapeError as exc:
                raise ModelLoadError(str(exc)) from None
            if d_path.is_file():
                discriminator = load_discriminator(d_path, cfg)
                if discriminator is not None:
                    discriminator = discriminator.to(device).eval().requires_grad_(False)
        return LoadedStyleGAN(generator, vectors, directions, card, device, discriminator)
