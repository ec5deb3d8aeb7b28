"""Flow family: a multi-scale normalizing flow in the Glow style, read top to bottom.

Config, the invertible layers (actnorm, invertible 1 × 1 convolution with an LU
factorisation, affine coupling, squeeze), the multi-scale flow with its priors, the
trainable, then the loaded model with its ops (sample, encode, decode, reconstruct,
interpolate, likelihood) and the family class the registry names.

- An image x (uint8) is dequantised to y = (x + u) / 256 − ½ with u ~ U[0, 1)^D in
  training. The bits/dim of the continuous density at y, plus the 8 bits/dim of the bin
  width, bound the discrete NLL from above (Theis et al. 2016); `likelihood` averages
  that bound over a few seeded draws of u, so it is deterministic.
- Every level squeezes (2 × 2 pixels → 4 × channels), runs K steps of actnorm → 1 × 1
  invertible conv → affine coupling, then splits off half its channels as a latent with
  a learned Gaussian prior that depends on the kept half. The last level's latent has a
  learned prior per class. Only the priors see the class: the bijection x ↔ z is the
  same for every class, so encode, decode and interpolate need no label, and the
  unconditional likelihood p(x) = mean_c p(x | c) is exact.
- Every layer reports its log-determinant per spatial location, so together with the
  priors' per-location terms the NLL splits exactly over scales and locations: the map
  of "where the bits are spent" sums to the bits/dim.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from studio.core import latent as latent_math
from studio.core.cards import ModelCard
from studio.core.datasets import Split
from studio.core.family import JobContext, Output, run_in_chunks
from studio.core.heatmap import gray_to_rgb, heatmap_rgb
from studio.core.params import ParamError
from studio.core.training import EMATrainable
from studio.families import shared
from studio.families.config import CardConfig
from studio.families.flow.spec import FLOW as FLOW_INFO

LOG2 = math.log(2.0)

# -----------------------------------------------------------------------------
# config


@dataclass
class FlowConfig(CardConfig):
    resolution: int = 32
    channels: int = 1
    levels: int = 3  # each halves the size; 3 on 32 × 32 ends at 4 × 4
    steps_per_level: int = 8
    hidden: tuple[int, ...] = (64, 96, 128)  # coupling network width per level
    num_classes: int = 0  # > 0: class-conditional priors
    dequant_draws: int = 4  # draws of u that `likelihood` averages over

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        assert len(self.hidden) == self.levels and self.levels >= 1, self
        assert self.resolution % (2 ** self.levels) == 0, self

    @property
    def dims(self) -> int:
        return self.channels * self.resolution ** 2

    def level_shapes(self) -> list[tuple[int, int, int]]:
        """The latent shape each level splits off (the last: all it has left)."""
        shapes, c, r = [], self.channels, self.resolution
        for level in range(self.levels):
            c, r = c * 4, r // 2
            if level < self.levels - 1:
                shapes.append((c // 2, r, r))
                c = c - c // 2
            else:
                shapes.append((c, r, r))
        return shapes


# -----------------------------------------------------------------------------
# invertible layers: forward(x) → (y, logdet map (B, h, w)); inverse(y) → x


class ActNorm(nn.Module):
    """Per-channel affine, initialised from the first batch to zero mean, unit variance."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.init_pending = False  # set by data_init; not part of the weights

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.init_pending:
            with torch.no_grad():
                self.loc.copy_(-x.mean((0, 2, 3), keepdim=True))
                self.log_scale.copy_(-torch.log(x.std((0, 2, 3), keepdim=True) + 1e-6))
            self.init_pending = False
        y = (x + self.loc) * self.log_scale.exp()
        b, _, h, w = x.shape
        return y, self.log_scale.sum().expand(b, h, w)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * (-self.log_scale).exp() - self.loc


class InvConv1x1(nn.Module):
    """W = P L (U + diag(sign · exp(log_s))): log|det W| = Σ log_s, cheap and stable."""

    def __init__(self, channels: int, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        q = torch.linalg.qr(torch.randn(channels, channels, generator=gen))[0]
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower * self.lower_mask)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))
        self._inverse_cache: torch.Tensor | None = None

    def weight(self) -> torch.Tensor:
        eye = torch.eye(self.lower.shape[0], device=self.lower.device)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
        return self.perm @ lower @ upper

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._inverse_cache = None  # weights may change in training
        c = x.shape[1]
        y = F.conv2d(x, self.weight().view(c, c, 1, 1))
        b, _, h, w = x.shape
        return y, self.log_s.sum().expand(b, h, w)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if self._inverse_cache is None or self.training:
            # inverted in float64: the round trip stays well inside 1e-3
            self._inverse_cache = torch.linalg.inv(self.weight().double()).float()
        c = y.shape[1]
        return F.conv2d(y, self._inverse_cache.view(c, c, 1, 1))


class Coupling(nn.Module):
    """Affine coupling: the second half of the channels is scaled and shifted by a
    function of the first half; the scale is a sigmoid (Glow), so it never explodes."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.keep = channels // 2
        change = channels - self.keep
        out = nn.Conv2d(hidden, 2 * change, 3, padding=1)
        nn.init.zeros_(out.weight)  # starts as the identity: a stable beginning
        nn.init.zeros_(out.bias)
        self.net = nn.Sequential(
            nn.Conv2d(self.keep, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(), out)

    def _shift_scale(self, xa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(xa)
        shift, raw = h[:, 0::2], h[:, 1::2]
        return shift, torch.sigmoid(raw + 2.0)  # scale in (0, 1), about 0.88 at the start

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xa, xb = x[:, :self.keep], x[:, self.keep:]
        shift, scale = self._shift_scale(xa)
        yb = (xb + shift) * scale
        return torch.cat([xa, yb], 1), scale.log().sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        ya, yb = y[:, :self.keep], y[:, self.keep:]
        shift, scale = self._shift_scale(ya)
        return torch.cat([ya, yb / scale - shift], 1)


class FlowStep(nn.Module):
    def __init__(self, channels: int, hidden: int, seed: int) -> None:
        super().__init__()
        self.norm = ActNorm(channels)
        self.mix = InvConv1x1(channels, seed)
        self.coupling = Coupling(channels, hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, ld1 = self.norm(x)
        x, ld2 = self.mix(x)
        x, ld3 = self.coupling(x)
        return x, ld1 + ld2 + ld3

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return self.norm.inverse(self.mix.inverse(self.coupling.inverse(y)))


def squeeze(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape  # each 2 × 2 block of pixels becomes 4 channels
    x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, c * 4, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    x = x.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c // 4, h * 2, w * 2)


def gaussian_nll(z: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Per-element −log N(z; mean, exp(log_std)²), (B, C, h, w)."""
    return 0.5 * ((z - mean) * (-log_std).exp()).pow(2) + log_std + 0.5 * math.log(2 * math.pi)


class SplitPrior(nn.Module):
    """The prior of a split-off latent: a Gaussian whose mean and log-std are a function
    of the kept channels (zero-initialised: N(0, 1) at the start), plus a class bias."""

    def __init__(self, keep: int, split: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(keep, 2 * split, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.embed = nn.Embedding(num_classes, 2 * split) if num_classes > 0 else None
        if self.embed is not None:
            nn.init.zeros_(self.embed.weight)

    def forward(self, kept: torch.Tensor, classes: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(kept)
        if self.embed is not None and classes is not None:
            h = h + self.embed(classes)[:, :, None, None]
        return h[:, 0::2], h[:, 1::2]


class Glow(nn.Module):
    def __init__(self, cfg: FlowConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.shapes = cfg.level_shapes()
        self.levels = nn.ModuleList()
        self.priors = nn.ModuleList()
        c = cfg.channels
        for level in range(cfg.levels):
            c = c * 4
            steps = [FlowStep(c, cfg.hidden[level], seed=100 * level + k)
                     for k in range(cfg.steps_per_level)]
            self.levels.append(nn.ModuleList(steps))
            if level < cfg.levels - 1:
                split = self.shapes[level][0]
                self.priors.append(SplitPrior(c - split, split, cfg.num_classes))
                c = c - split
        top = self.shapes[-1]
        n = max(1, cfg.num_classes)  # one learned prior per class (or one in all)
        self.top_mean = nn.Parameter(torch.zeros(n, *top))
        self.top_log_std = nn.Parameter(torch.zeros(n, *top))

    def _top(self, classes: torch.Tensor | None, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cfg.num_classes <= 0 or classes is None:
            if self.cfg.num_classes > 0:
                raise ValueError("a class-conditional flow needs classes")
            return self.top_mean.expand(batch, -1, -1, -1), self.top_log_std.expand(batch, -1, -1, -1)
        return self.top_mean[classes], self.top_log_std[classes]

    def encode(self, y: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """y (B, C, H, W) → (latents per level, kept tensors the priors condition on,
        log-det maps per level (B, h_l, w_l))."""
        zs, kept, logdets = [], [], []
        h = y
        for level, steps in enumerate(self.levels):
            h = squeeze(h)
            ld = torch.zeros(h.shape[0], h.shape[2], h.shape[3], device=h.device)
            for step in steps:
                h, d = step(h)
                ld = ld + d
            logdets.append(ld)
            if level < len(self.levels) - 1:
                split = self.shapes[level][0]
                keep = h.shape[1] - split
                kept.append(h[:, :keep])
                zs.append(h[:, keep:])
                h = h[:, :keep]
            else:
                zs.append(h)
        return zs, kept, logdets

    def prior_nll(self, zs: list[torch.Tensor], kept: list[torch.Tensor],
                  classes: torch.Tensor | None) -> list[torch.Tensor]:
        """Per level, −log p(z_l | ·) per spatial location (B, h_l, w_l), in nats."""
        out = []
        for level, z in enumerate(zs):
            if level < len(zs) - 1:
                mean, log_std = self.priors[level](kept[level], classes)
            else:
                mean, log_std = self._top(classes, z.shape[0])
            out.append(gaussian_nll(z, mean, log_std).sum(1))
        return out

    def nll_maps(self, y: torch.Tensor, classes: torch.Tensor | None) -> list[torch.Tensor]:
        """The continuous NLL of y (nats) split over levels and locations: per level
        (B, h_l, w_l). Their total is −log p(y)."""
        zs, kept, logdets = self.encode(y)
        return [p - d for p, d in zip(self.prior_nll(zs, kept, classes), logdets)]

    def log_prob(self, y: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
        return -sum(m.sum((1, 2)) for m in self.nll_maps(y, classes))  # (B,)

    def decode(self, zs: list[torch.Tensor]) -> torch.Tensor:
        h = zs[-1]
        for level in reversed(range(len(self.levels))):
            if level < len(self.levels) - 1:
                h = torch.cat([h, zs[level]], 1)
            for step in reversed(self.levels[level]):
                h = step.inverse(h)
            h = unsqueeze(h)
        return h

    def sample(self, classes: torch.Tensor | None, batch: int, temperature: float,
               gen: torch.Generator) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(y, latents per level): noise from the CPU generator `gen` in a fixed order
        (top level first), so a seed gives the same image on every device."""
        device = self.top_mean.device
        mean, log_std = self._top(classes, batch)
        eps = torch.randn((batch, *self.shapes[-1]), generator=gen).to(device)
        zs: list[torch.Tensor | None] = [None] * len(self.levels)
        zs[-1] = mean + temperature * log_std.exp() * eps
        h = zs[-1]
        for level in reversed(range(len(self.levels))):
            if level < len(self.levels) - 1:
                pm, pl = self.priors[level](h, classes)
                eps = torch.randn((batch, *self.shapes[level]), generator=gen).to(device)
                zs[level] = pm + temperature * pl.exp() * eps
                h = torch.cat([h, zs[level]], 1)
            for step in reversed(self.levels[level]):
                h = step.inverse(h)
            h = unsqueeze(h)
        return h, [z for z in zs if z is not None]


def data_init(model: Glow, y: torch.Tensor, classes: torch.Tensor | None) -> None:
    """Actnorm's data-dependent initialisation: one forward pass over a first batch."""
    for module in model.modules():
        if isinstance(module, ActNorm):
            module.init_pending = True
    with torch.no_grad():
        model.encode(y)


def dequantise(x01: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """x in [0, 1] (uint8 / 255) → y = (x·255 + u) / 256 − ½, u ~ U[0, 1)."""
    u = torch.rand(x01.shape, generator=gen).to(x01.device) if gen is not None else torch.rand_like(x01)
    return (torch.round(x01 * 255.0) + u) / 256.0 - 0.5


def to_uint8(y: torch.Tensor) -> np.ndarray:
    """y (B, C, H, W), the flow's space → (B, H, W, C) uint8: the bin y falls in."""
    pixels = torch.floor((y.float() + 0.5) * 256.0).clamp_(0, 255)
    return pixels.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def from_uint8(images: np.ndarray, device: str) -> torch.Tensor:
    """(B, H, W, C) uint8 → y at the centres of the bins (what encode inverts)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return ((x + 0.5) / 256.0 - 0.5).to(device)


def flatten_latents(zs: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([z.flatten(1) for z in zs], 1)  # (B, D)


def split_latents(flat: torch.Tensor, shapes: list[tuple[int, int, int]]) -> list[torch.Tensor]:
    out, i = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(flat[:, i:i + n].reshape(-1, *shape))
        i += n
    return out


# -----------------------------------------------------------------------------
# training


class FlowTrainable(EMATrainable):
    """Adam with a linear warm-up and cosine decay on the dequantised NLL, EMA weights."""

    def __init__(self, cfg: FlowConfig, train: Mapping[str, Any], data: Mapping[str, Split],
                 recipe: Mapping[str, Any]) -> None:
        self.cfg, self.recipe, self.data = cfg, dict(recipe), data
        self.model = Glow(cfg)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.ema_decay = float(train.get("ema", 0.999))
        lr = float(train.get("lr", 1e-3))
        steps = int(train.get("steps", 1000))
        warmup = int(train.get("warmup", 200))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / warmup) * (
            0.05 + 0.475 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps))))))
        self.steps_done = 0

    def _classes(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        return batch.get("labels") if self.cfg.num_classes > 0 else None

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        y = dequantise(batch["images"])
        classes = self._classes(batch)
        if self.steps_done == 0:
            data_init(self.model, y, classes)
            self.ema.load_state_dict(self.model.state_dict())
        nll = -self.model.log_prob(y, classes).mean()
        bpd = (nll / self.cfg.dims + math.log(256.0)) / LOG2
        self.opt.zero_grad(set_to_none=True)
        bpd.backward()
        grad = nn.utils.clip_grad_norm_(self.model.parameters(), 50.0)
        self.opt.step()
        self.sched.step()
        self.steps_done += 1
        self.update_ema()
        return {"bpd": bpd.item(), "grad": float(grad)}

    def held_out_logs(self) -> dict[str, float]:
        """Bits/dim of the EMA weights (what is saved) on held-out images, with fixed
        dequantisation noise: one figure per step that only the weights move."""
        self.ema.eval()
        batch = shared.held_out_batch(self.data)
        y = dequantise(batch["images"], torch.Generator().manual_seed(0))
        nll = -self.ema.log_prob(y, self._classes(batch)).mean()
        return {"held_out_bpd": float((nll / self.cfg.dims + math.log(256.0)) / LOG2)}

    @torch.inference_mode()
    def sample_images(self, n: int, temperature: float = 0.7, seed: int = 0) -> np.ndarray:
        self.ema.eval()
        gen = torch.Generator().manual_seed(seed)
        classes = shared.seed_classes(gen, n, -1, self.cfg.num_classes)
        y, _ = self.ema.sample(classes, n, temperature, gen)
        return to_uint8(y)

    def export(self, folder: Path, metrics: Mapping[str, float]) -> ModelCard:
        digest = shared.save_weights(self.ema, Path(folder), "latent-studio/flow", self.cfg.to_dict())
        return shared.export_card(Path(folder), self.recipe, "flow", self.cfg, digest, metrics,
                                  self.steps_done, latent_shape=[self.cfg.dims])


# -----------------------------------------------------------------------------
# the loaded model and its ops


class LoadedFlow(shared.OpDispatch):
    label, inference, info = "flow", True, FLOW_INFO

    def __init__(self, model: Glow, card: ModelCard, device: str) -> None:
        self.model = model.eval().requires_grad_(False)
        self.card, self.device, self.cfg = card, device, model.cfg
        self.class_conditional = self.cfg.num_classes > 0

    # -- helpers ------------------------------------------------------------------

    def _image(self, image: np.ndarray, name: str) -> np.ndarray:
        return shared.image_input(image, name, self.cfg.resolution, self.cfg.channels)

    def _encode_images(self, images: np.ndarray) -> torch.Tensor:
        zs, _, _ = self.model.encode(from_uint8(images, self.device))
        return flatten_latents(zs)  # (B, D)

    def _decode_flat(self, flat: torch.Tensor, ctx: JobContext) -> np.ndarray:
        shapes = self.cfg.level_shapes()
        return run_in_chunks(lambda f: to_uint8(self.model.decode(split_latents(f, shapes))),
                             flat, ctx, 64)

    def _latent_tensor(self, latent: np.ndarray, name: str) -> torch.Tensor:
        z = np.asarray(latent, dtype=np.float32)
        d = self.cfg.dims
        if z.shape == (d,):
            z = z[None]
        if z.ndim != 2 or z.shape[1] != d:
            raise ParamError(f"{name}: expected a flow latent of shape ({d},) or (N, {d}), got {z.shape}")
        if not np.isfinite(z).all():
            raise ParamError(f"{name}: the latent holds NaN or infinite values")
        return torch.from_numpy(np.ascontiguousarray(z)).to(self.device)

    def _sample_flat(self, seed: int, count: int, temperature: float, class_index: int
                     ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        gen = torch.Generator("cpu").manual_seed(int(seed))
        classes = shared.seed_classes(gen, count, class_index, self.cfg.num_classes)
        y, zs = self.model.sample(None if classes is None else classes.to(self.device),
                                  count, float(temperature), gen)
        return y, classes, flatten_latents(zs)

    # -- ops ----------------------------------------------------------------------

    def _op_sample(self, values, inputs, ctx) -> Output:
        y, classes, flat = self._sample_flat(values["seed"], values["count"], values["temperature"],
                                             values["class_index"])
        labels = () if classes is None else tuple(self._class_name(int(k)) for k in classes)
        return Output(images=to_uint8(y), latents=flat.cpu().numpy(), labels=labels)

    def _class_name(self, k: int) -> str:
        names = self.card.classes or []
        return names[k] if k < len(names) else str(k)

    def _op_encode(self, values, inputs, ctx) -> Output:
        image = self._image(inputs["image"], "image")
        flat = self._encode_images(image[None])
        return Output(images=self._decode_flat(flat, ctx), latents=flat.cpu().numpy())

    def _op_decode(self, values, inputs, ctx) -> Output:
        flat = self._latent_tensor(inputs["latent"], "latent")
        return Output(images=self._decode_flat(flat, ctx), latents=flat.cpu().numpy())

    def _op_reconstruct(self, values, inputs, ctx) -> Output:
        image = self._image(inputs["image"], "image")
        y = from_uint8(image[None], self.device)
        zs, _, _ = self.model.encode(y)
        back = self.model.decode(zs)
        error = float((back - y).abs().max())
        recon = to_uint8(back)[0]
        diff = (recon.astype(np.float32) - image.astype(np.float32)) / 255.0
        return Output(images=np.stack([image, recon]), latents=flatten_latents(zs).cpu().numpy(),
                      labels=("input", "decoded"), columns=2,
                      extras={"max_abs_error": error, "mse": float((diff ** 2).mean())})

    def _endpoint(self, which: str, inputs: Mapping[str, np.ndarray], fallback: torch.Tensor
                  ) -> torch.Tensor:
        latent, image = inputs.get(f"latent_{which}"), inputs.get(f"image_{which}")
        if latent is not None:
            return self._latent_tensor(latent, f"latent_{which}")[0]
        if image is not None:
            return self._encode_images(self._image(image, f"image_{which}")[None])[0]
        return fallback

    def _op_interpolate(self, values, inputs, ctx) -> Output:
        _, _, prior = self._sample_flat(values["seed"], 2, values["temperature"], values["class_index"])
        a = self._endpoint("a", inputs, prior[0]).cpu().numpy()
        b = self._endpoint("b", inputs, prior[1]).cpu().numpy()
        path = latent_math.path([a, b], values["frames"], values["method"]).astype(np.float32)
        images = self._decode_flat(torch.from_numpy(path).to(self.device), ctx)
        return Output(images=images, latents=path, columns=values["frames"])

    def _class_log_likelihoods(self, y: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """log p(y | c) for every class (K,) and, per class, the NLL maps per level."""
        zs, kept, logdets = self.model.encode(y)
        k = max(1, self.cfg.num_classes)
        per_class_maps = []
        for c in range(k):
            classes = torch.full((y.shape[0],), c, device=self.device) if self.cfg.num_classes else None
            priors = self.model.prior_nll(zs, kept, classes)
            per_class_maps.append([p - d for p, d in zip(priors, logdets)])
        log_p = torch.stack([-sum(m.sum((1, 2)) for m in maps) for maps in per_class_maps])  # (K, B)
        return log_p, per_class_maps

    def _op_likelihood(self, values, inputs, ctx) -> Output:
        image = self._image(inputs["image"], "image")
        draws = max(1, self.cfg.dequant_draws)
        gen = torch.Generator().manual_seed(0)  # fixed u draws: the same image, the same figure
        x01 = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255.0).repeat(draws, 1, 1, 1)
        y = dequantise(x01, gen).to(self.device)
        log_p, maps = self._class_log_likelihoods(y)  # (K, draws)
        k = values["class_index"]
        d = self.cfg.dims
        # each draw's bound, then their mean: E_u[−log p(y)] + D log 256 ≥ −log P(x)
        likeliest = int(log_p.mean(1).argmax())
        if self.cfg.num_classes > 0 and k >= 0:
            if k >= self.cfg.num_classes:
                raise ParamError(f"class_index: {k} is outside -1..{self.cfg.num_classes - 1}")
            nll, best = -log_p[k], k
        else:
            nll, best = -(torch.logsumexp(log_p, 0) - math.log(log_p.shape[0])), likeliest
        bpd = shared.bits_per_dim(float(nll.mean()) + d * math.log(256.0), d)
        _, posterior = shared.marginal_log_likelihood(log_p.mean(1))
        # where the bits go, under the asked class or else the most likely one (the same
        # total up to the class term): per level, bits per location, plus 8 bits per pixel for the bins
        per_level = [(m.mean(0) / LOG2).cpu().numpy() for m in maps[best]]
        res = self.cfg.resolution
        pixel_bits = np.full((res, res), 8.0 * self.cfg.channels)
        for m in per_level:  # spread each coarse cell's bits evenly over the pixels it covers
            k_up = res // m.shape[0]
            pixel_bits += np.kron(m, np.ones((k_up, k_up))) / (k_up * k_up)
        level_bits = [float(m.sum()) / d for m in per_level]
        images = [gray_to_rgb(image), heatmap_rgb(pixel_bits, size=res)]
        labels = [f"input · {bpd:.3f} bits/dim", "bits per pixel (all scales)"]
        for level, m in enumerate(per_level):
            images.append(heatmap_rgb(m, size=res))
            labels.append(f"scale {m.shape[0]}×{m.shape[1]} · {level_bits[level]:+.3f} bits/dim")
        extras = {"bits_per_dim": bpd, "bits_per_level": level_bits, "pixel_bits": pixel_bits,
                  "level_maps": per_level, "class_posterior": posterior.tolist(),
                  "most_likely_class": self._class_name(likeliest) if self.cfg.num_classes else None,
                  "map_class": self._class_name(best) if self.cfg.num_classes else None}
        return Output(images=np.stack(images), labels=tuple(labels), columns=len(images),
                      extras=extras)


# -----------------------------------------------------------------------------
# the family


class FlowFamily:
    """The class the registry's loader names (studio.families.flow.model:FlowFamily)."""

    info = FLOW_INFO

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedFlow:
        model = shared.load_network(folder, card, FlowConfig, Glow, "flow")
        return LoadedFlow(model.to(device), card, device)

    @classmethod
    def make_trainable(cls, recipe: Mapping[str, Any], data: Mapping[str, Split]) -> FlowTrainable:
        cfg = shared.recipe_config(FlowConfig, recipe, data)
        return FlowTrainable(cfg, recipe.get("train", {}), data, recipe)
