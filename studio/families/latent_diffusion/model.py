"""Latent diffusion: the pixel family's denoiser and steering, run in the spatial latent
(4 × 8 × 8 for 32 × 32 glyphs) of the built-in VAE (studio/families/vae/model.py).

Everything but the space is diffusion.py's: the UNet (UNet2DModel with a class
embedding and a null label), the trainable (ε-prediction, label dropout, EMA), the ops
and the shared loop (diffusion_loop.py). `LatentSpace` maps images to the VAE's
posterior mean, normalised per channel (shift and scale measured on the training set,
like Stable Diffusion's scaling factor), and back through the VAE decoder.

- The VAE is named by the config's `vae`: a folder inside the model folder, or the id of
  a built-in or library model (never an absolute path or `..`); `vae_sha256` pins its
  weights, so a retrained VAE cannot silently pair with a UNet trained on another one.
- Inpainting masks are max-pooled to the latent grid (a latent cell is repainted when
  any of its pixels is); the unmasked pixels are pasted back after the decode, as
  AUTOMATIC1111's inpaint overlay does, since a VAE round trip is not exact.
- Previews decode x0 through the VAE decoder every step: at 8 × 8 that is cheaper than
  one UNet call. Cancel is checked before every UNet and VAE call.

What the latent buys over pixel space (time per image, evaluator figures) is measured
at export when the pixel model is in the library (`compare_with_pixel`) and recorded in
the card.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import Split
from studio.core.family import ModelLoadError
from studio.core.library import Library, sha256_file
from studio.core.paths import PathEscapeError, builtin_models_dir, confined
from studio.families.diffusion.model import (
    DiffusionConfig,
    DiffusionTrainable,
    LoadedDiffusion,
    build_unet,
    read_config,
    seconds_per_image,
)
from studio.families.latent_diffusion.spec import LATENT_DIFFUSION as LATENT_DIFFUSION_INFO
from studio.families.shared import card_file, check_shapes_first, load_module, load_tensors
from studio.families.vae.model import VAE, VAEFamily

# -----------------------------------------------------------------------------
# config


@dataclass
class LatentDiffusionConfig(DiffusionConfig):
    widths: tuple[int, ...] = (64, 128)  # at 8 × 8 and 4 × 4
    vae: str = "vae-glyphs"
    vae_sha256: str = ""
    latent_shift: list[float] = field(default_factory=list)  # per channel; set at training
    latent_scale: list[float] = field(default_factory=list)


def resolve_vae(ref: str, folder: Path | None = None) -> Path:
    """The VAE's folder. `ref` (from a card or a recipe) is a folder inside the model's
    folder, or the id of a built-in or library model; never an absolute path or one with
    `..`, which would make the studio read (and hash) files outside its folders."""
    source = Path(folder) / "card.json" if folder is not None else None
    try:
        if folder is not None:
            inside = confined(folder, ref, "VAE", source)
            if (inside / "card.json").is_file():
                return inside
        builtin = confined(builtin_models_dir(), ref, "VAE", source, single=True)
    except PathEscapeError as exc:
        raise ModelLoadError(str(exc)) from None
    if (builtin / "card.json").is_file():
        return builtin
    library = Library()
    if ref in library and library.get(ref).family == "vae":
        return library.get(ref).folder
    raise ModelLoadError(f"{source or ref}: the latent model's VAE {ref!r} is not there (not in "
                         f"the model's folder, nor a VAE in the library)")


def load_vae(ref: str, folder: Path | None, sha256: str, device: str) -> VAE:
    path = resolve_vae(ref, folder)
    card = ModelCard.read(path)
    weights = card_file(path, card)
    if sha256 and weights.is_file() and sha256_file(weights) != sha256:
        raise ModelLoadError(f"{weights}: not the VAE this latent model was trained with "
                             f"(its sha256 differs from the card's vae_sha256)")
    return VAEFamily.load(path, card, device).model


# -----------------------------------------------------------------------------
# the space


class LatentSpace:
    """Images (B, C, H, W) in [0, 1] ↔ normalised VAE latents (B, zc, h, w)."""

    clip_sample = False  # unit-variance latents: clipping x0 to [−1, 1] would cut them

    def __init__(self, cfg: LatentDiffusionConfig, vae: VAE, device: str = "cpu") -> None:
        self.cfg = cfg
        self.vae = vae.eval().requires_grad_(False)
        self.shape = vae.cfg.latent_shape  # (zc, h, w)
        zc = self.shape[0]
        shift = cfg.latent_shift or [0.0] * zc
        scale = cfg.latent_scale or [1.0] * zc
        assert len(shift) == len(scale) == zc, (shift, scale, zc)
        self.shift = torch.tensor(shift, dtype=torch.float32, device=device).view(1, zc, 1, 1)
        self.scale = torch.tensor(scale, dtype=torch.float32, device=device).view(1, zc, 1, 1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        mean, _ = self.vae.encoder(images)  # posterior mean (B, zc, h, w)
        return (mean - self.shift) / self.scale

    def decode(self, z: torch.Tensor) -> np.ndarray:
        from studio.families.vae.model import to_uint8

        with torch.inference_mode():
            return to_uint8(self.vae.decoder(z * self.scale + self.shift))  # (B, H, W, C)

    def mask(self, mask: torch.Tensor) -> torch.Tensor:
        factor = mask.shape[-1] // self.shape[-1]
        return F.max_pool2d(mask, factor)  # (1, 1, h, w): any repainted pixel repaints its cell

    def memory_bytes(self) -> int:
        tensors = list(self.vae.parameters()) + list(self.vae.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)

    def modules(self) -> list[torch.nn.Module]:
        return [self.vae]


@torch.inference_mode()
def latent_statistics(vae: VAE, images: np.ndarray, batch: int = 512) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the VAE's posterior means over uint8 NHWC images."""
    vae.eval()
    z = torch.cat([vae.encoder(torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2).float() / 255.0)[0]
                   for i in range(0, len(images), batch)])  # (N, zc, h, w)
    return ([round(float(v), 6) for v in z.mean((0, 2, 3))],
            [round(float(v), 6) for v in z.std((0, 2, 3))])


# -----------------------------------------------------------------------------
# training and the loaded model


class LatentDiffusionTrainable(DiffusionTrainable):
    family = "latent_diffusion"

    @property
    def loaded_class(self) -> type:
        return LoadedLatentDiffusion

    def card_fields(self) -> dict[str, Any]:
        return {"latent_shape": list(self.space.shape), "config": _config_dict(self.cfg)}

    def extra_metrics(self, evaluator: Any) -> dict[str, float]:
        """Seconds per image of this model, and, when the pixel model is in the library,
        its figures and seconds per image measured the same way here and now."""
        return compare_with_pixel(self._loaded())

    def _loaded(self) -> LoadedLatentDiffusion:
        card = ModelCard(id=self.recipe["id"], name=self.recipe["id"], family=self.family,
                         resolution=self.cfg.resolution, channels=self.cfg.channels)
        return LoadedLatentDiffusion(self.ema, self.space, self.cfg, card, "cpu")


def _config_dict(cfg: LatentDiffusionConfig) -> dict[str, Any]:
    out = cfg.to_dict()
    out["latent_shift"], out["latent_scale"] = list(cfg.latent_shift), list(cfg.latent_scale)
    return out


class LoadedLatentDiffusion(LoadedDiffusion):
    info = LATENT_DIFFUSION_INFO

    def _overlay(self, images: np.ndarray, fitted: np.ndarray, repaint: np.ndarray) -> np.ndarray:
        out = images.copy()
        out[:, ~repaint] = fitted[~repaint]
        return out


def compare_with_pixel(latent: LoadedLatentDiffusion, pixel_id: str = "diffusion-glyphs") -> dict[str, float]:
    """This model's seconds per image and, when the pixel model `pixel_id` is in the
    built-in library, its figures and its seconds per image measured here and now, the
    same way (sample at its defaults, the current torch thread count)."""
    out = {"seconds_per_image": round(seconds_per_image(latent), 5),
           "threads": float(torch.get_num_threads())}
    folder = builtin_models_dir() / pixel_id
    if (folder / "card.json").is_file():
        from studio.families.diffusion.model import DiffusionFamily

        card = ModelCard.read(folder)
        pixel = DiffusionFamily.load(folder, card, "cpu")
        out["pixel_seconds_per_image"] = round(seconds_per_image(pixel), 5)
        out["speedup_over_pixel"] = round(out["pixel_seconds_per_image"] / out["seconds_per_image"], 2)
        for key in ("class_accuracy", "recognisability", "nn_distance_samples"):
            if key in card.metrics:
                out[f"pixel_{key}"] = card.metrics[key]
    return out


def latent_note(m: Mapping[str, float]) -> str:
    """The card's sentence on what the latent buys, from measured figures only."""
    if "pixel_seconds_per_image" not in m:
        return ""
    return (f" What the latent buys over the pixel model (diffusion-glyphs, the same 32×32 glyphs, "
            f"sample at its defaults, {int(m['threads'])} thread, measured together): "
            f"{m['seconds_per_image']:.3f} s per image against {m['pixel_seconds_per_image']:.3f} s "
            f"({m['speedup_over_pixel']:.1f}× faster: the UNet sees a 4×8×8 tensor, not 1×32×32), "
            f"class accuracy {m.get('class_accuracy', float('nan')):.3f} against "
            f"{m.get('pixel_class_accuracy', float('nan')):.3f}, recognisability "
            f"{m.get('recognisability', float('nan')):.3f} against "
            f"{m.get('pixel_recognisability', float('nan')):.3f}.")


def record_comparison(folder: Path) -> ModelCard:
    """Measure `compare_with_pixel` for the latent model in `folder` now and write the
    figures (and the card's sentence on them) into its card."""
    from studio.core.training import write_card

    card = ModelCard.read(folder)
    model = LatentDiffusionFamily.load(folder, card, "cpu")
    card.metrics = {**card.metrics, **compare_with_pixel(model)}
    base = card.description.split(" What the latent buys")[0]
    card.description = base + latent_note(card.metrics)
    write_card(card, Path(folder))
    return card


# -----------------------------------------------------------------------------
# the family


class LatentDiffusionFamily:
    """The registry's loader: studio.families.latent_diffusion.model:LatentDiffusionFamily."""

    info = LATENT_DIFFUSION_INFO

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedLatentDiffusion:
        folder = Path(folder)
        base = read_config(folder, card)  # checks resolution/channels against the card
        try:
            cfg = LatentDiffusionConfig.from_dict(card.config)
        except (TypeError, ValueError, AssertionError) as exc:
            raise ModelLoadError(f"{folder / 'card.json'}: bad latent diffusion config ({exc})") from None
        assert base.resolution == cfg.resolution
        vae = load_vae(cfg.vae, folder, cfg.vae_sha256, device)
        if vae.cfg.resolution != cfg.resolution or vae.cfg.channels != cfg.channels:
            raise ModelLoadError(f"{folder / 'card.json'}: the VAE {cfg.vae!r} makes "
                                 f"{vae.cfg.resolution}px/{vae.cfg.channels}ch images, the card says "
                                 f"{cfg.resolution}px/{cfg.channels}ch")
        try:
            space = LatentSpace(cfg, vae, device)
        except AssertionError:
            raise ModelLoadError(f"{folder / 'card.json'}: latent_shift/latent_scale do not match "
                                 f"the VAE's {vae.cfg.latent_channels} latent channels") from None
        path = card_file(folder, card)
        zc, h, _ = space.shape
        check_shapes_first(path, lambda: build_unet(cfg, zc, h))
        tensors = load_tensors(path)
        unet = build_unet(cfg, zc, h)
        load_module(unet, tensors, path, strict=False)
        unexpected = sorted(set(tensors) - set(unet.state_dict()))
        if unexpected:
            raise ModelLoadError(f"{path}: unexpected tensors {', '.join(unexpected[:5])}")
        return LoadedLatentDiffusion(unet.to(device), space, cfg, card, device)

    @classmethod
    def make_trainable(cls, recipe: Mapping[str, Any],
                       data: Mapping[str, Split]) -> LatentDiffusionTrainable:
        cfg = LatentDiffusionConfig.from_dict(recipe.get("config", {}))
        path = resolve_vae(cfg.vae)
        card = ModelCard.read(path)
        weights = path / (card.weights_file or WEIGHTS_FILE)
        cfg.vae_sha256 = sha256_file(weights)  # in chunks: weights never sit whole in memory
        vae = VAEFamily.load(path, card, "cpu").model
        train = data["train"]
        assert train.images.shape[1:] == (cfg.resolution, cfg.resolution, cfg.channels), (
            train.images.shape, cfg)
        assert train.labels is not None, "latent diffusion here is class-conditional: it needs labels"
        cfg.latent_shift, cfg.latent_scale = latent_statistics(vae, train.images[:5000])
        return LatentDiffusionTrainable(cfg, LatentSpace(cfg, vae), recipe.get("train", {}), data, recipe)
