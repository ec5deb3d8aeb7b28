"""Your own autoencoders: a diffusers AutoencoderKL (or VQModel) in the VAE explorer.

The folder is a standalone one as diffusers saves it, or the vae/ of an imported Stable
Diffusion or SDXL pipeline (studio/core/diffusers_vae_folder.py makes the card, no torch).
It loads with local files only and safetensors only, as pipelines do.

Read top to bottom: images in and out, the loaded model with its ops, the family class.

- Photos are fitted to a working size (default 256 px: a CPU decodes that in seconds,
  512 px in half a minute), centre-cropped to its aspect first (studio/core/autoencoder.py).
- `encode` gives diffusers' `latent_dist.mean`, unscaled; the card records the
  `scaling_factor`. `reconstruct` is `decode(encode(x).latent_dist.mean)`, rounded as
  diffusers' image processor rounds.
- `traverse` and `map` move along principal directions of latents the user has encoded
  with this model (remembered per latent shape while it stays loaded), or of a folder of
  images the user chooses (encoded with progress, and kept for the next run).
- The decoder is slow, so every grid (interpolation, traverse, map) is previewed at once
  through a linear latent → RGB map fitted at load, then decoded cell by cell, each
  sent as a preview when it lands; a cancel stops before the next cell, and hooks on the
  autoencoder's blocks stop a decode already running.
- Above 512 px the autoencoder decodes and encodes in tiles (diffusers' VAE tiling).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core import autoencoder as ae
from studio.core import diffusers_vae_folder
from studio.core import latent as latent_math
from studio.core.cards import ModelCard
from studio.core.family import JobContext, ModelLoadError, Output
from studio.core.params import ParamError
from studio.families.diffusers.model import _CancelHooks, fit_latent_rgb, quiet_loading
from studio.families.diffusers_vae.spec import DIFFUSERS_VAE as INFO
from studio.families.shared import OpDispatch

TILE_ABOVE = 512  # working sizes above this decode in tiles
REMEMBER = 256  # encoded latents kept per latent shape for the directions


# -----------------------------------------------------------------------------
# images in and out


def image_tensor(image: np.ndarray, size: int) -> tuple[np.ndarray, torch.Tensor]:
    """A canvas image → (the fitted (S, S, 3) uint8, (1, 3, S, S) in [-1, 1]), as diffusers'
    VaeImageProcessor normalises (x / 255 · 2 − 1)."""
    fitted = ae.fit_to_size(image, size, size)
    x = torch.from_numpy(np.ascontiguousarray(fitted)).permute(2, 0, 1)[None].float() / 255.0
    return fitted, x * 2.0 - 1.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] → (B, H, W, 3) uint8, rounded as diffusers' numpy_to_pil."""
    array = (images.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return (array * 255).round().astype(np.uint8)


# -----------------------------------------------------------------------------
# the loaded model and its ops


class LoadedDiffusersVAE(OpDispatch):
    label = "autoencoder"
    inference = True
    info = INFO  # the family base takes the ops from the spec

    def __init__(self, vae: Any, card: ModelCard, device: str) -> None:
        self.vae = vae.eval().requires_grad_(False)
        self.card, self.device = card, device
        self.dtype = next(vae.parameters()).dtype
        self.factor = int(card.config.get("vae_scale_factor", 8))
        self.channels = int(card.config.get("latent_channels", 4))
        self.scaling = float(card.config.get("scaling_factor", 1.0))
        self.shift = float(card.config.get("shift_factor") or 0.0)
        # latents of the images encoded with this model, by latent shape: the directions
        self.encoded: dict[tuple[int, ...], list[np.ndarray]] = {}
        self._folders: dict[tuple[str, int, tuple[tuple[str, float], ...]], np.ndarray] = {}
        # a cancel stops inside a decode too, at the next block
        blocks = [m for m in vae.modules() if type(m).__name__ in ("ResnetBlock2D", "Attention")]
        self._hooks = _CancelHooks(blocks)
        self._tiling = False
        with torch.inference_mode():
            weights, bias = fit_latent_rgb(self._encode_tensor, self.channels, device, self.dtype)
        self.preview_map = ae.preview_map_extras(weights, bias, self.factor)

    def release(self) -> None:
        self._hooks.remove()

    def run(self, op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
            ctx: JobContext) -> Output:
        with self._hooks.watching(ctx):
            out = super().run(op, params, inputs, ctx)
        # every result carries the preview map: the explorer previews its next scrub with it
        out.extras = {**out.extras, "preview_map": self.preview_map}
        return out

    # -- torch helpers ----------------------------------------------------------------------
    def _encode_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] → the latents diffusers' decode takes: latent_dist.mean
        for an AutoencoderKL, the unquantised latents for a VQModel."""
        out = self.vae.encode(x.to(self.device, self.dtype))
        dist = getattr(out, "latent_dist", None)
        return dist.mean if dist is not None else out.latents

    def _decode_tensor(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z.to(self.device, self.dtype)).sample

    def _working_size(self, values: Mapping[str, Any]) -> int:
        size = ae.check_working_size(values["working_size"])
        if size % self.factor:
            raise ParamError(f"working_size: {size} is not a multiple of this autoencoder's "
                             f"downsampling ({self.factor})")
        tiled = size > TILE_ABOVE
        if tiled != self._tiling and hasattr(self.vae, "enable_tiling"):
            (self.vae.enable_tiling if tiled else self.vae.disable_tiling)()
            self._tiling = tiled
        return size

    def _encode_image(self, image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(fitted image, latent (C, h, w) float32); the latent is remembered."""
        fitted, x = image_tensor(image, size)
        z = self._encode_tensor(x)[0].float().cpu().numpy()
        bucket = self.encoded.setdefault(z.shape, [])
        bucket.append(z)
        del bucket[:-REMEMBER]
        return fitted, z

    def _latent(self, latent: np.ndarray, name: str) -> np.ndarray:
        z = np.asarray(latent, np.float32)
        if z.ndim == 4 and len(z) == 1:
            z = z[0]
        if z.ndim != 3 or z.shape[0] != self.channels:
            raise ParamError(f"{name}: expected a latent ({self.channels}, h, w), got {z.shape}")
        if not np.isfinite(z).all():
            raise ParamError(f"{name}: the latent holds NaN or infinite values")
        return z

    def _decode_cells(self, latents: np.ndarray, ctx: JobContext) -> np.ndarray:
        """Decode (N, C, h, w) one cell at a time: first the whole grid through the
        preview map, then each decoded cell replaces its preview as it lands."""
        images = ae.preview(latents, self.preview_map)
        ctx.preview(images.copy(), force=True)
        for i in range(len(latents)):
            ctx.check_cancelled()
            decoded = self._decode_tensor(torch.from_numpy(latents[i:i + 1]))
            images[i] = to_uint8(decoded)[0]
            ctx.preview(images.copy(), force=True)
            ctx.progress(i + 1, len(latents), f"decoded {i + 1}/{len(latents)}")
        return images

    # -- ops ----------------------------------------------------------------------------------
    def _op_sample(self, values, inputs, ctx) -> Output:
        size = self._working_size(values)
        gen = torch.Generator("cpu").manual_seed(int(values["seed"]))
        h = size // self.factor
        # what a diffusion model hands the decoder: unit noise, unscaled
        z = torch.randn((values["count"], self.channels, h, h), generator=gen) / self.scaling
        z = (z + self.shift).numpy().astype(np.float32)
        return Output(images=self._decode_cells(z, ctx), latents=z)

    def _op_encode(self, values, inputs, ctx) -> Output:
        _, z = self._encode_image(inputs["image"], self._working_size(values))
        ctx.check_cancelled()
        images = to_uint8(self._decode_tensor(torch.from_numpy(z[None])))
        return Output(images=images, latents=z[None], extras={"scaling_factor": self.scaling})

    def _op_reconstruct(self, values, inputs, ctx) -> Output:
        fitted, z = self._encode_image(inputs["image"], self._working_size(values))
        ctx.check_cancelled()
        recon = to_uint8(self._decode_tensor(torch.from_numpy(z[None])))[0]
        mse = float((((recon.astype(np.float32) - fitted) / 255.0) ** 2).mean())
        return Output(images=np.stack([fitted, recon]), latents=z[None],
                      labels=("input", "reconstruction"), columns=2, extras={"mse": mse})

    def _op_decode(self, values, inputs, ctx) -> Output:
        z = self._latent(inputs["latent"], "latent")
        return Output(images=to_uint8(self._decode_tensor(torch.from_numpy(z[None]))),
                      latents=z[None])

    def _endpoint(self, side: str, values, inputs, size: int) -> np.ndarray:
        if inputs.get(f"latent_{side}") is not None:
            return self._latent(inputs[f"latent_{side}"], f"latent_{side}")
        if inputs.get(f"image_{side}") is not None:
            return self._encode_image(inputs[f"image_{side}"], size)[1]
        raise ParamError(f"image_{side}: drop or pick two images to interpolate between")

    def _op_interpolate(self, values, inputs, ctx) -> Output:
        size = self._working_size(values)
        a = self._endpoint("a", values, inputs, size)
        b = self._endpoint("b", values, inputs, size)
        if a.shape != b.shape:
            raise ParamError(f"latent_b: its shape {b.shape} differs from the start's {a.shape} "
                             f"(encode both at one working size)")
        path = latent_math.path([a, b], values["frames"], values["method"]).astype(np.float32)
        return Output(images=self._decode_cells(path, ctx), latents=path,
                      columns=values["frames"])

    # -- directions -----------------------------------------------------------------------------
    def _folder_latents(self, folder: str, size: int, ctx: JobContext) -> np.ndarray:
        from studio.core.datasets import IMAGE_SUFFIXES
        from studio.core.media import MediaError, load_image

        root = Path(folder).expanduser()
        if not root.is_dir():
            raise ParamError(f"directions_folder: {root} is not a folder")
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) < 2:
            raise ParamError(f"directions_folder: {root} holds {len(files)} image(s); "
                             f"the directions need at least two")
        key = (str(root.resolve()), size, tuple((p.name, os.stat(p).st_mtime) for p in files))
        if key not in self._folders:
            latents = []
            for i, path in enumerate(files):
                ctx.check_cancelled()
                try:
                    image = load_image(path)
                except MediaError as exc:
                    raise ParamError(f"directions_folder: {exc}") from None
                latents.append(self._encode_tensor(image_tensor(image, size)[1])[0].float().cpu().numpy())
                ctx.progress(i + 1, len(files), f"encoding {path.name} ({i + 1}/{len(files)})")
            self._folders = {key: np.stack(latents)}  # one folder kept: they are large
        return self._folders[key]

    def _basis(self, values, inputs, ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(centre (C, h, w), mean, components (K, D), stds (K,)) for traverse and map."""
        size = self._working_size(values)
        if values["directions_folder"]:
            latents = self._folder_latents(values["directions_folder"], size, ctx)
        else:
            h = size // self.factor
            encoded = self.encoded.get((self.channels, h, h), [])
            if len(encoded) < 2:
                raise ParamError(f"directions: {len(encoded)} image(s) encoded at {size} px; "
                                 f"encode at least two (or choose a folder of images)")
            latents = np.stack(encoded)
        mean, components, stds = ae.principal_directions(latents)
        shape = latents.shape[1:]
        center = mean.reshape(shape)
        if inputs.get("latent") is not None:
            center = self._latent(inputs["latent"], "latent")
            if center.shape != shape:
                raise ParamError(f"latent: its shape {center.shape} differs from the directions' "
                                 f"{shape} (working size {size})")
        return center, mean, components, stds

    @staticmethod
    def _axis(components: np.ndarray, stds: np.ndarray, index: int, name: str,
              shape: tuple[int, ...]) -> np.ndarray:
        if not 0 <= index < len(components):
            raise ParamError(f"{name}: {index} is outside 0..{len(components) - 1}; the "
                             f"latents give {len(components)} directions (encode more images)")
        return (components[index] * stds[index]).reshape(shape).astype(np.float32)

    def _op_traverse(self, values, inputs, ctx) -> Output:
        center, _, components, stds = self._basis(values, inputs, ctx)
        first, steps = values["first_direction"], values["steps"]
        axes = [self._axis(components, stds, first, "first_direction", center.shape)]
        rows = min(values["directions"], len(components) - first)
        axes += [self._axis(components, stds, first + r, "direction", center.shape)
                 for r in range(1, rows)]
        ts = np.linspace(-values["extent"], values["extent"], steps, dtype=np.float32)
        latents = np.stack([center + t * axis for axis in axes for t in ts]).astype(np.float32)
        labels = tuple(f"PC{first + r} {t:+.2f}σ" for r in range(rows) for t in ts)
        return Output(images=self._decode_cells(latents, ctx), latents=latents, labels=labels,
                      columns=steps, extras={"center": center,
                                             "directions": list(range(first, first + rows)),
                                             "extent": float(values["extent"])})

    def _op_map(self, values, inputs, ctx) -> Output:
        center, _, components, stds = self._basis(values, inputs, ctx)
        axis_x = self._axis(components, stds, values["direction_x"], "direction_x", center.shape)
        axis_y = self._axis(components, stds, values["direction_y"], "direction_y", center.shape)
        size, extent = values["size"], float(values["extent"])
        us = np.linspace(-extent, extent, size)  # column 0 = −extent on x
        vs = np.linspace(extent, -extent, size)  # row 0 (top) = +extent on y
        latents = np.stack([latent_math.grid_point(center, axis_x, axis_y, u, v)
                            for v in vs for u in us]).astype(np.float32)
        return Output(images=self._decode_cells(latents, ctx), latents=latents, columns=size,
                      extras={"center": center.astype(np.float32), "axis_x": axis_x,
                              "axis_y": axis_y, "extent": extent, "size": int(size)})


# -----------------------------------------------------------------------------
# the family class the registry points at


class DiffusersVAEFamily:
    """studio.families.diffusers_vae.model:DiffusersVAEFamily."""

    info = INFO

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedDiffusersVAE:
        import diffusers

        folder = Path(folder)
        try:
            config = diffusers_vae_folder.read_config(folder)
        except diffusers_vae_folder.NotAnAutoencoderError as exc:
            raise ModelLoadError(str(exc)) from None
        if config is None:
            raise ModelLoadError(f"{folder / 'config.json'}: not a diffusers autoencoder config")
        model_class = getattr(diffusers, config["_class_name"])  # one of CLASSES, checked above
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        try:
            with quiet_loading():
                vae = model_class.from_pretrained(str(folder), local_files_only=True,
                                                  use_safetensors=True, torch_dtype=dtype)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"{folder}: could not load the {config['_class_name']} ({first})") from exc
        return LoadedDiffusersVAE(vae.to(device), card, device)


__all__ = ["DiffusersVAEFamily", "LoadedDiffusersVAE"]
