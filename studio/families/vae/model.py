"""VAE family: a convolutional β-VAE with a spatial latent (C × h × w).

Read top to bottom: config, modules, the trainable (for the training driver), then the
loaded model with its ops (sample, encode, reconstruct, decode, interpolate, traverse,
map) and the family class the registry points at.

The latent is spatial (4 × 8 × 8 for 32 × 32 glyphs) so that latent diffusion can reuse
this autoencoder later. Traversals and the map move along principal directions of the
flattened latent; that PCA basis (mean, components, stds) is computed from held-out data
at export and ships in model.safetensors next to the weights.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

from studio.core import atomic
from studio.core import latent as latent_math
from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import GLYPH_CLASSES, Split
from studio.core.family import JobContext, ModelLoadError, Output, run_in_chunks
from studio.core.params import ParamError
from studio.core.training import EMATrainable
from studio.families.config import CardConfig
from studio.families.shared import (
    OpDispatch,
    card_file,
    check_shapes_first,
    held_out_batch,
    image_input,
    load_tensors,
)
from studio.families.vae.spec import VAE as VAE_INFO

# -----------------------------------------------------------------------------
# config


@dataclass
class VAEConfig(CardConfig):
    resolution: int = 32
    channels: int = 1  # 1 = grayscale, 3 = RGB
    latent_channels: int = 4
    # channel width at each resolution level, from full size down; every step after the
    # first halves the size, so (32, 64, 128) on 32 × 32 gives an 8 × 8 latent
    widths: tuple[int, ...] = (32, 64, 128)
    beta: float = 1.0  # weight of the KL term (β-VAE)
    # What `sample` draws from. "standard": N(0, I), the training prior. "fitted": an
    # ex-post prior (Ghosh et al. 2020, "From variational to deterministic autoencoders"):
    # a mixture of full-covariance Gaussians fitted after training to the posterior means
    # of the training set, one per class (one in all for unlabelled data), shipped with
    # the weights. A spatial latent's 256 numbers are strongly correlated in the data and
    # clustered by class; independent N(0, 1) draws ignore both and decode to stroke
    # soup or ghosts of two digits, draws from the fitted mixture decode to glyphs.
    prior: str = "standard"

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        assert len(self.widths) >= 1 and self.channels in (1, 3), self
        assert self.prior in ("standard", "fitted"), self.prior
        assert self.resolution % self.downsample == 0, (self.resolution, self.downsample)

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.widths) - 1)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        h = self.resolution // self.downsample
        return (self.latent_channels, h, h)

    @property
    def latent_dim(self) -> int:
        c, h, w = self.latent_shape
        return c * h * w



# -----------------------------------------------------------------------------
# modules


class ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        w = cfg.widths
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, w[0], 3, padding=1)]
        for prev, nxt in zip(w[:-1], w[1:]):
            layers += [nn.SiLU(), nn.Conv2d(prev, nxt, 4, stride=2, padding=1)]  # halve H, W
        layers += [ResBlock(w[-1]), nn.SiLU(), nn.Conv2d(w[-1], 2 * cfg.latent_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (B, C, H, W) in [0, 1] → mean, logvar: (B, zc, h, w)
        mean, logvar = self.net(x * 2.0 - 1.0).chunk(2, dim=1)
        return mean, logvar.clamp(-12.0, 8.0)  # keep exp() finite early in training


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        w = cfg.widths[::-1]
        # two residual blocks at latent size: their receptive field spans the 8 × 8 grid, so
        # independent prior draws are made into one coherent glyph
        layers: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, w[0], 3, padding=1),
                                   ResBlock(w[0]), ResBlock(w[0])]
        for prev, nxt in zip(w[:-1], w[1:]):
            layers += [nn.SiLU(), nn.ConvTranspose2d(prev, nxt, 4, stride=2, padding=1)]  # double H, W
        layers += [nn.SiLU(), nn.Conv2d(w[-1], cfg.channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # z: (B, zc, h, w) → logits (B, C, H, W); pixels are sigmoid(logits)
        return self.net(z)


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, logvar = self.encoder(x)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()  # reparameterisation
        return self.decoder(z), mean, logvar


def vae_loss(model: VAE, x: torch.Tensor, beta: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Negative ELBO per image: Bernoulli reconstruction (glyphs are near-binary) + β·KL."""
    logits, mean, logvar = model(x)
    b = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum() / b
    loss = recon + beta * kl
    return loss, {"loss": loss.item(), "recon": recon.item(), "kl": kl.item(), "beta": beta}


def to_uint8(logits: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) logits → (B, H, W, C) uint8."""
    pixels = torch.sigmoid(logits.float()).mul(255.0).round().clamp_(0, 255)
    return pixels.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


# -----------------------------------------------------------------------------
# training (the driver in studio/core/training.py calls this)


def compute_pca(model: VAE, images: np.ndarray, batch: int = 256) -> dict[str, torch.Tensor]:
    """Principal directions of the flattened posterior means of `images` (uint8 NHWC).

    Always a full basis (D × D, from the covariance), so every direction index up to D
    exists even when there are fewer images than dimensions."""
    model.eval()
    means = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2).float() / 255.0
            means.append(model.encoder(x)[0].flatten(1).double())
    z = torch.cat(means)  # (N, D)
    mean = z.mean(0)
    zc = z - mean
    cov = zc.T @ zc / max(1, len(z) - 1)  # (D, D)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    order = torch.argsort(evals, descending=True)
    stds = evals[order].clamp_min(0.0).sqrt()
    components = evecs[:, order].T.contiguous()  # (D, D), row k = direction k, unit norm
    return {"pca.mean": mean.float(), "pca.components": components.float(), "pca.stds": stds.float()}


@torch.inference_mode()
def fit_prior(model: VAE, images: np.ndarray, labels: np.ndarray | None, batch: int = 512,
              ridge: float = 1e-4) -> dict[str, torch.Tensor]:
    """The "fitted" prior: per class (or for all images), the mean and the Cholesky
    factor of the covariance of the flattened posterior means of uint8 NHWC `images`."""
    model.eval()
    z = torch.cat([model.encoder(torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2).float()
                                 / 255.0)[0].flatten(1) for i in range(0, len(images), batch)])
    z = z.double()  # (N, D)
    groups = [np.arange(len(z))] if labels is None else [
        np.flatnonzero(labels == k) for k in np.unique(labels)]
    d = z.shape[1]
    means, scales, weights = [], [], []
    for index in groups:
        zk = z[torch.from_numpy(index)]
        mu = zk.mean(0)
        cov = (zk - mu).T @ (zk - mu) / max(1, len(zk) - 1)
        # a small ridge keeps the factorisation defined for rarely used latent dims
        scales.append(torch.linalg.cholesky(cov + ridge * torch.eye(d, dtype=cov.dtype)))
        means.append(mu)
        weights.append(len(index))
    w = torch.tensor(weights, dtype=torch.float64)
    return {"prior.means": torch.stack(means).float(),  # (K, D)
            "prior.scales": torch.stack(scales).float(),  # (K, D, D) lower-triangular
            "prior.weights": (w / w.sum()).float()}  # (K,)


class VAETrainable(EMATrainable):
    """Adam + EMA weights + a linear KL warm-up (avoids posterior collapse early on)."""

    def __init__(self, cfg: VAEConfig, train: Mapping[str, Any], data: Mapping[str, Split],
                 recipe: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self.recipe = dict(recipe)
        self.data = data
        self.model = VAE(cfg)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.ema_decay = float(train.get("ema", 0.999))
        self.kl_warmup = int(train.get("kl_warmup", 1000))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(train.get("lr", 1e-3)))
        steps = int(train.get("steps", 1000))
        # cosine decay to 10% of the learning rate over the planned steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps)))))
        self.steps_done = 0

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        warm = min(1.0, (self.steps_done + 1) / max(1, self.kl_warmup))
        loss, logs = vae_loss(self.model, batch["images"], self.cfg.beta * warm)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 100.0)
        self.opt.step()
        self.sched.step()
        self.steps_done += 1
        self.update_ema()
        return logs

    def held_out_logs(self) -> dict[str, float]:
        """The training loss (negative ELBO at the current β) of the EMA weights on
        held-out images: beside the training loss, it shows when the model overfits."""
        self.ema.eval()
        warm = min(1.0, self.steps_done / max(1, self.kl_warmup))
        _, logs = vae_loss(self.ema, held_out_batch(self.data)["images"], self.cfg.beta * warm)
        return {"held_out_loss": logs["loss"]}

    def extra_metrics(self, evaluator: Any) -> dict[str, float]:
        """Figures the driver records beside the evaluator's: with a fitted prior, the
        training prior's recognisability too, so the card shows what the fit adds."""
        if self.cfg.prior != "fitted":
            return {}
        standard = self.sample_images(256, temperature=0.8, seed=0)
        return {"recognisability_standard_prior": round(evaluator.recognisability(standard), 5)}

    @torch.inference_mode()
    def sample_images(self, n: int, temperature: float = 0.8, seed: int = 0) -> np.ndarray:
        self.ema.eval()
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn((n, *self.cfg.latent_shape), generator=gen) * temperature
        return to_uint8(self.ema.decoder(z))

    def export(self, folder: Path, metrics: Mapping[str, float]) -> ModelCard:
        """Write model.safetensors (EMA weights + PCA basis, no optimiser) and card.json."""
        held = self.data["held_out"].images
        tensors = {k: v.detach().float().contiguous() for k, v in self.ema.state_dict().items()}
        tensors.update(compute_pca(self.ema, held))
        if self.cfg.prior == "fitted":
            train = self.data["train"]
            tensors.update(fit_prior(self.ema, train.images, train.labels))
        recon = reconstruction_mse(self.ema, held)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(folder / WEIGHTS_FILE) as tmp:
            save_file(tensors, str(tmp),
                      metadata={"format": "latent-studio/vae", "config": json.dumps(self.cfg.to_dict())})
        digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
        r = self.recipe
        card = ModelCard(
            id=r["id"], name=r.get("name", r["id"]), family="vae",
            resolution=self.cfg.resolution, channels=self.cfg.channels,
            latent_shape=list(self.cfg.latent_shape),
            classes=list(GLYPH_CLASSES) if r["dataset"].get("name") == "glyphs" else None,
            dataset=r["dataset"].get("name", ""), description=r.get("description", ""),
            weights_sha256=digest, config=self.cfg.to_dict(),
            metrics={"reconstruction_mse": round(recon, 5), **metrics},
            training={"dataset": {k: v for k, v in r["dataset"].items() if k != "name"},
                      "train": dict(r.get("train", {})), "steps_done": self.steps_done},
        )
        from studio.core.training import write_card

        write_card(card, folder)
        return card


@torch.inference_mode()
def reconstruction_mse(model: VAE, images: np.ndarray, batch: int = 256) -> float:
    """Per-pixel MSE in [0, 1] units of the posterior-mean reconstruction, via uint8
    outputs (what a user sees), so it matches the evaluator's figure."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch]
        x = torch.from_numpy(chunk).permute(0, 3, 1, 2).float() / 255.0
        out = to_uint8(model.decoder(model.encoder(x)[0])).astype(np.float32) / 255.0
        total += float(((out - chunk.astype(np.float32) / 255.0) ** 2).sum())
        count += chunk.size
    return total / max(1, count)


# -----------------------------------------------------------------------------
# the loaded model and its ops


@dataclass
class _PCA:
    mean: np.ndarray  # (D,) float32
    components: np.ndarray  # (D, D), row k = direction k (unit norm)
    stds: np.ndarray  # (D,)


class LoadedVAE(OpDispatch):
    label, info = "VAE", VAE_INFO

    def __init__(self, model: VAE, pca: _PCA, card: ModelCard, device: str,
                 prior: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> None:
        self.model = model.eval().requires_grad_(False)
        self.pca = pca
        self.prior = prior  # (means (K, D), scales (K, D, D), weights (K,)) on the CPU, or None
        self.card = card
        self.device = device
        self.cfg = model.cfg

    def memory_bytes(self) -> int:
        tensors = list(self.model.parameters()) + list(self.model.buffers()) + list(self.prior or ())
        return sum(t.numel() * t.element_size() for t in tensors) + sum(
            a.nbytes for a in (self.pca.mean, self.pca.components, self.pca.stds))

    # -- helpers ------------------------------------------------------------------

    def _prior(self, seed: int, count: int, temperature: float) -> torch.Tensor:
        # noise from a CPU generator, made on the CPU, then moved: the same seed gives the
        # same latents on every device
        gen = torch.Generator("cpu").manual_seed(int(seed))
        shape = self.cfg.latent_shape
        if self.prior is not None:  # the fitted mixture: pick a component, then draw from it
            means, scales, weights = self.prior
            k = torch.multinomial(weights, count, replacement=True, generator=gen)  # (count,)
            eps = torch.randn((count, self.cfg.latent_dim, 1), generator=gen) * float(temperature)
            z = (means[k] + (scales[k] @ eps)[..., 0]).view(count, *shape)  # (count, D) → (count, zc, h, w)
        else:
            z = torch.randn((count, *shape), generator=gen) * float(temperature)
        return z.to(self.device)  # (count, zc, h, w)

    def _default_temperature(self) -> float:
        return float(self.ops["sample"].param("temperature").default)

    @torch.inference_mode()
    def _decode(self, z: torch.Tensor, ctx: JobContext, chunk: int = 64) -> np.ndarray:
        return run_in_chunks(lambda zs: to_uint8(self.model.decoder(zs)), z, ctx, chunk)

    def _image_tensor(self, image: np.ndarray, name: str) -> tuple[np.ndarray, torch.Tensor]:
        fitted = image_input(image, name, self.cfg.resolution, self.cfg.channels)  # (R, R, C) uint8
        x = torch.from_numpy(np.ascontiguousarray(fitted)).permute(2, 0, 1)[None].float() / 255.0
        return fitted, x.to(self.device)  # (1, C, R, R)

    @torch.inference_mode()
    def _encode(self, image: np.ndarray, name: str) -> tuple[np.ndarray, torch.Tensor]:
        fitted, x = self._image_tensor(image, name)
        return fitted, self.model.encoder(x)[0]  # posterior mean (1, zc, h, w)

    def _latent_tensor(self, latent: np.ndarray, name: str) -> torch.Tensor:
        z = np.asarray(latent, dtype=np.float32)
        shape = self.cfg.latent_shape
        if z.shape == shape:
            z = z[None]
        if z.ndim != 4 or z.shape[1:] != shape:
            raise ParamError(f"{name}: expected a latent of shape {shape} or (N, *{shape}), got {z.shape}")
        if not np.isfinite(z).all():
            raise ParamError(f"{name}: the latent holds NaN or infinite values")
        return torch.from_numpy(np.ascontiguousarray(z)).to(self.device)

    def _center(self, values: Mapping[str, Any], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The given latent, else the first prior sample of `seed` at the default
        temperature: the image `sample` shows first for that seed."""
        if inputs.get("latent") is not None:
            z = self._latent_tensor(inputs["latent"], "latent")
            if len(z) != 1:
                raise ParamError("latent: expected one latent as the centre")
            return z[0].cpu().numpy()
        return self._prior(values["seed"], 1, self._default_temperature())[0].cpu().numpy()

    def _axis(self, index: int, name: str) -> np.ndarray:
        d = self.cfg.latent_dim
        if not 0 <= index < d:
            raise ParamError(f"{name}: {index} is outside 0..{d - 1} (the latent has {d} directions)")
        # scaled by that direction's std: ±1 on the axis is ±1σ of the held-out data
        axis = self.pca.components[index] * self.pca.stds[index]
        return axis.reshape(self.cfg.latent_shape).astype(np.float32)

    # -- ops ----------------------------------------------------------------------

    def _op_sample(self, values, inputs, ctx) -> Output:
        z = self._prior(values["seed"], values["count"], values["temperature"])
        images = self._decode(z, ctx)
        return Output(images=images, latents=z.cpu().numpy().astype(np.float32))

    def _op_encode(self, values, inputs, ctx) -> Output:
        _, mean = self._encode(inputs["image"], "image")
        images = self._decode(mean, ctx)
        return Output(images=images, latents=mean.cpu().numpy().astype(np.float32))

    def _op_reconstruct(self, values, inputs, ctx) -> Output:
        fitted, mean = self._encode(inputs["image"], "image")
        recon = self._decode(mean, ctx)[0]
        diff = (recon.astype(np.float32) - fitted.astype(np.float32)) / 255.0
        mse = float((diff ** 2).mean())
        return Output(images=np.stack([fitted, recon]), latents=mean.cpu().numpy().astype(np.float32),
                      labels=("input", "reconstruction"), columns=2, extras={"mse": mse})

    @torch.inference_mode()
    def _op_decode(self, values, inputs, ctx) -> Output:
        # the hot path while a slider drags: no chunking, no progress, one forward pass
        z = self._latent_tensor(inputs["latent"], "latent")
        return Output(images=to_uint8(self.model.decoder(z)), latents=z.cpu().numpy())

    def _endpoint(self, which: str, values, inputs, prior: np.ndarray) -> np.ndarray:
        latent, image = inputs.get(f"latent_{which}"), inputs.get(f"image_{which}")
        if latent is not None:
            z = self._latent_tensor(latent, f"latent_{which}")
            return z[0].cpu().numpy()
        if image is not None:
            return self._encode(image, f"image_{which}")[1][0].cpu().numpy()
        return prior[0 if which == "a" else 1]

    def _op_interpolate(self, values, inputs, ctx) -> Output:
        # two prior samples from the seed: the first two images `sample` shows for it
        prior = self._prior(values["seed"], 2, self._default_temperature()).cpu().numpy()
        a = self._endpoint("a", values, inputs, prior)
        b = self._endpoint("b", values, inputs, prior)
        path = latent_math.path([a, b], values["frames"], values["method"])  # (F, zc, h, w)
        images = self._decode(torch.from_numpy(path).to(self.device), ctx)
        return Output(images=images, latents=path, columns=values["frames"])

    def _op_traverse(self, values, inputs, ctx) -> Output:
        center = self._center(values, inputs)
        first, rows, steps = values["first_direction"], values["directions"], values["steps"]
        rows = min(rows, self.cfg.latent_dim - first)  # the last directions run out
        self._axis(first, "first_direction")
        ts = np.linspace(-values["extent"], values["extent"], steps, dtype=np.float32)
        latents = np.stack([center + t * self._axis(first + r, "direction")
                            for r in range(rows) for t in ts]).astype(np.float32)
        images = self._decode(torch.from_numpy(latents).to(self.device), ctx)
        labels = tuple(f"PC{first + r} {t:+.2f}σ" for r in range(rows) for t in ts)
        return Output(images=images, latents=latents, labels=labels, columns=steps,
                      extras={"center": center, "directions": list(range(first, first + rows)),
                              "extent": float(values["extent"])})

    def _op_map(self, values, inputs, ctx) -> Output:
        center = self._center(values, inputs)
        axis_x = self._axis(values["direction_x"], "direction_x")
        axis_y = self._axis(values["direction_y"], "direction_y")
        size, extent = values["size"], float(values["extent"])
        us = np.linspace(-extent, extent, size)  # column 0 = −extent on x
        vs = np.linspace(extent, -extent, size)  # row 0 (top) = +extent on y
        latents = np.stack([latent_math.grid_point(center, axis_x, axis_y, u, v)
                            for v in vs for u in us]).astype(np.float32)  # (size², zc, h, w)
        images = self._decode(torch.from_numpy(latents).to(self.device), ctx)
        extras = {"center": center.astype(np.float32), "axis_x": axis_x, "axis_y": axis_y,
                  "extent": extent, "size": int(size)}
        return Output(images=images, latents=latents, columns=size, extras=extras)


# -----------------------------------------------------------------------------
# the family


class VAEFamily:
    """The class the registry's loader names (studio.families.vae.model:VAEFamily)."""

    info = VAE_INFO

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedVAE:
        path = card_file(Path(folder), card)
        try:
            cfg = VAEConfig.from_dict(card.config)
        except (TypeError, ValueError, AssertionError) as exc:
            raise ModelLoadError(f"{Path(folder) / 'card.json'}: bad VAE config ({exc})") from None
        if (cfg.resolution, cfg.channels) != (card.resolution, card.channels):
            raise ModelLoadError(f"{Path(folder) / 'card.json'}: config and card disagree on "
                                 f"resolution/channels")
        check_shapes_first(path, lambda: VAE(cfg), strict=False)  # PCA and prior checked below
        tensors = load_tensors(path)
        model = VAE(cfg)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        d = cfg.latent_dim
        expected.update({"pca.mean": (d,), "pca.components": (d, d), "pca.stds": (d,)})
        if cfg.prior == "fitted":
            weights = tensors.get("prior.weights")  # K, the number of components, is free
            k = int(weights.shape[0]) if weights is not None and weights.ndim == 1 else 1
            expected.update({"prior.means": (k, d), "prior.scales": (k, d, d), "prior.weights": (k,)})
        for name, shape in expected.items():
            if name not in tensors:
                raise ModelLoadError(f"{path}: tensor '{name}' is missing")
            got = tuple(tensors[name].shape)
            if got != shape:
                raise ModelLoadError(f"{path}: tensor '{name}' has shape {got} "
                                     f"but the model expects {shape}")
            if not torch.isfinite(tensors[name]).all():
                raise ModelLoadError(f"{path}: tensor '{name}' holds NaN or infinite values")
        unexpected = sorted(set(tensors) - set(expected))
        if unexpected:
            raise ModelLoadError(f"{path}: unexpected tensors {', '.join(unexpected[:5])}")
        model.load_state_dict({k: tensors[k].float() for k in model.state_dict()})
        pca = _PCA(*(tensors[f"pca.{k}"].float().numpy() for k in ("mean", "components", "stds")))
        prior = None
        if cfg.prior == "fitted":
            prior = tuple(tensors[f"prior.{k}"].float() for k in ("means", "scales", "weights"))
            if not (prior[2] >= 0).all() or float(prior[2].sum()) <= 0:
                raise ModelLoadError(f"{path}: tensor 'prior.weights' is not a distribution")
        return LoadedVAE(model.to(device), pca, card, device, prior)

    @classmethod
    def make_trainable(cls, recipe: Mapping[str, Any], data: Mapping[str, Split]) -> VAETrainable:
        cfg = VAEConfig.from_dict(recipe.get("config", {}))
        train = data["train"]
        assert train.images.shape[1:] == (cfg.resolution, cfg.resolution, cfg.channels), (
            train.images.shape, cfg)
        return VAETrainable(cfg, recipe.get("train", {}), data, recipe)
