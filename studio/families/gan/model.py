"""GAN family: a small style-based GAN (after StyleGAN2), read top to bottom.

Config, modules (mapping z → w, modulated-convolution synthesis, discriminator), the
trainable for the training driver, then the loaded model with its ops (sample,
interpolate, walk, mix, project, arithmetic) and the family class the registry names.

- Mapping: z (and, for a class-conditional model, an embedded one-hot class) through a
  small MLP to w. The running mean of w is tracked in training and recomputed from many
  samples at export: truncation ψ pulls styles towards it.
- Synthesis: a learned 4 × 4 constant, then per resolution an upsampling modulated conv
  and a modulated conv; every conv takes its own w, so a latent is a w+ code of shape
  (num_ws, w_dim) and style mixing and per-layer edits are exact. Weights are modulated
  by the style and demodulated (each output channel rescaled to unit expected norm).
  An RGB (or gray) skip branch sums the toRGB output of every resolution. No per-pixel
  noise inputs: an image is a function of its w+ code alone.
- Discriminator: residual downsampling blocks, minibatch std, and for a conditional
  model a projection term (Miyato & Koyama 2018). Its block features also serve
  `project` as a perceptual distance (no pretrained VGG/LPIPS can be fetched).
- Training: non-saturating logistic loss, lazy R1 on reals, style-mixing
  regularisation, an EMA generator, optional DiffAugment-style translation.
- Directions: PCA of mapped w (GANSpace), computed at export; unit vectors ship in
  model.safetensors, their names, layer ranges and σ in card.config["directions"].

Weights: model.safetensors holds only what sampling needs (the EMA generator with its
mapping, mean w and the direction vectors); the discriminator, used by `project`, ships
beside it in discriminator.safetensors.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
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
from studio.core.directions import VECTORS_TENSOR, Edit, card_directions, parse_edits
from studio.core.family import JobContext, ModelLoadError, Output, run_in_chunks
from studio.core.params import ParamError
from studio.families.config import CardConfig
from studio.families.gan.spec import GAN as GAN_INFO
from studio.families.shared import (
    OpDispatch,
    card_file,
    check_shapes_first,
    check_tensors,
    image_input,
    load_tensors,
)

DISCRIMINATOR_FILE = "discriminator.safetensors"
SQRT2 = math.sqrt(2.0)

# -----------------------------------------------------------------------------
# config


@dataclass
class GANConfig(CardConfig):
    resolution: int = 32
    channels: int = 1  # 1 = grayscale, 3 = RGB
    z_dim: int = 64
    w_dim: int = 128
    mapping_layers: int = 4
    mapping_lr_mul: float = 0.01  # the mapping learns 100× slower (StyleGAN's choice)
    num_classes: int = 0  # > 0: class-conditional generator and projection discriminator
    # synthesis widths per resolution, from 4 × 4 up; each step doubles the size, so four
    # widths make 32 × 32 images
    g_widths: tuple[int, ...] = (128, 128, 64, 32)
    # discriminator widths per resolution, from full size down to 4 × 4
    d_widths: tuple[int, ...] = (32, 64, 128, 128)
    num_directions: int = 8  # PCA directions found at export

    def __post_init__(self) -> None:
        self.g_widths = tuple(int(w) for w in self.g_widths)
        self.d_widths = tuple(int(w) for w in self.d_widths)
        assert self.channels in (1, 3), self
        assert len(self.g_widths) >= 1 and len(self.d_widths) == len(self.g_widths), self
        assert self.resolution == 4 * 2 ** (len(self.g_widths) - 1), (
            f"resolution {self.resolution} needs {int(math.log2(max(4, self.resolution))) - 1} widths")
        assert 1 <= self.num_directions <= self.w_dim, self
        assert self.num_classes >= 0 and self.mapping_layers >= 1, self

    @property
    def num_ws(self) -> int:
        """Synthesis layers, one w each: one conv at 4 × 4, two per doubling."""
        return 2 * len(self.g_widths) - 1

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def latent_shape(self) -> tuple[int, int]:
        return (self.num_ws, self.w_dim)

    def layer_ranges(self) -> dict[str, list[int]]:
        """Coarse / middle / fine layer ranges ([first, last], inclusive) for style
        mixing: the resolutions split in three, the low ones coarse."""
        levels = np.array_split(np.arange(len(self.g_widths)), 3)
        levels = [lv for lv in levels if len(lv)] or [np.arange(len(self.g_widths))]
        while len(levels) < 3:  # tiny models: reuse the last group
            levels.append(levels[-1])

        def first_layer(level: int) -> int:
            return max(0, 2 * level - 1)

        return {name: [first_layer(int(lv[0])), 2 * int(lv[-1])]
                for name, lv in zip(("coarse", "middle", "fine"), levels)}



# -----------------------------------------------------------------------------
# modules
#
# Equalised learning rate (StyleGAN): weights are stored as N(0, 1) / lr_mul and scaled
# at run time by lr_mul / sqrt(fan_in), so Adam's steps are alike for every layer.


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2  # gain √2 keeps activations at unit scale


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.w_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        x = F.linear(x, self.weight * self.w_gain, bias)
        return lrelu(x) if self.act else x


class EqualConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.gain = 1.0 / math.sqrt(in_channels * kernel * kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.gain, self.bias, padding=self.weight.shape[-1] // 2)


class MappingNetwork(nn.Module):
    """z (B, z_dim) [+ class vector (B, num_classes)] → w (B, w_dim)."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        width = cfg.z_dim
        self.embed = None
        if cfg.conditional:
            self.embed = EqualLinear(cfg.num_classes, cfg.w_dim)
            width += cfg.w_dim
        self.net = nn.Sequential(*[
            EqualLinear(width if i == 0 else cfg.w_dim, cfg.w_dim, lr_mul=cfg.mapping_lr_mul, act=True)
            for i in range(cfg.mapping_layers)])
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))  # mean w, for truncation

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = normalize_2nd_moment(z)
        if self.embed is not None:
            assert c is not None and c.shape == (z.shape[0], self.cfg.num_classes), (
                "a conditional mapping needs class vectors (B, num_classes)")
            x = torch.cat([x, normalize_2nd_moment(self.embed(c))], dim=1)
        return self.net(x)


class ModulatedConv(nn.Module):
    """A conv whose weights are scaled per input channel by a style from w (modulation),
    then per output channel back to unit expected norm (demodulation). Done on the
    activations (scale, shared conv, scale), which is the same maths as per-sample
    weights and runs as one ordinary convolution over the batch."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel: int = 3,
                 up: bool = False, demodulate: bool = True, act: bool = True) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.gain = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.up, self.demodulate, self.act = up, demodulate, act

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # x: (B, Cin, H, W), w: (B, w_dim) → (B, Cout, H', W')
        styles = self.affine(w)  # (B, Cin)
        weight = self.weight * self.gain  # (Cout, Cin, k, k)
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.conv2d(x * styles[:, :, None, None], weight, padding=weight.shape[-1] // 2)
        if self.demodulate:
            # norm of each sample's modulated weights per output channel: (B, Cout)
            norm2 = styles.square() @ weight.square().sum(dim=(2, 3)).T
            x = x * (norm2 + 1e-8).rsqrt()[:, :, None, None]
        x = x + self.bias[None, :, None, None]
        return lrelu(x) if self.act else x


class Synthesis(nn.Module):
    """w+ (B, num_ws, w_dim) → images (B, C, R, R), roughly in [-1, 1]."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.g_widths
        self.const = nn.Parameter(torch.randn(w[0], 4, 4))
        convs = [ModulatedConv(w[0], w[0], cfg.w_dim)]
        for prev, nxt in zip(w[:-1], w[1:]):
            convs += [ModulatedConv(prev, nxt, cfg.w_dim, up=True), ModulatedConv(nxt, nxt, cfg.w_dim)]
        self.convs = nn.ModuleList(convs)
        self.to_rgbs = nn.ModuleList(
            ModulatedConv(width, cfg.channels, cfg.w_dim, kernel=1, demodulate=False, act=False)
            for width in w)
        assert len(self.convs) == cfg.num_ws

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        assert ws.shape[1:] == (self.cfg.num_ws, self.cfg.w_dim), ws.shape
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)  # (B, C0, 4, 4)
        x = self.convs[0](x, ws[:, 0])
        rgb = self.to_rgbs[0](x, ws[:, 0])  # each toRGB shares the w of its level's last conv
        for level in range(1, len(self.to_rgbs)):
            i = 2 * level
            x = self.convs[i - 1](x, ws[:, i - 1])  # (B, C, 2H, 2W)
            x = self.convs[i](x, ws[:, i])
            rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False)
            rgb = rgb + self.to_rgbs[level](x, ws[:, i])
        return rgb


class Generator(nn.Module):
    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mapping = MappingNetwork(cfg)
        self.synthesis = Synthesis(cfg)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        w = self.mapping(z, c)  # (B, w_dim)
        return self.synthesis(w[:, None].expand(-1, self.cfg.num_ws, -1))


class DBlock(nn.Module):
    """conv → halve → conv, with a downsampled 1 × 1 skip (a residual block)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        x = F.avg_pool2d(lrelu(self.conv0(x)), 2)
        x = lrelu(self.conv1(x))
        return (x + skip) / SQRT2


def minibatch_std(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Append one channel: the std of the features over groups of the batch, so the
    discriminator can see a lack of variety."""
    b, c, h, w = x.shape
    g = min(group, b)
    while b % g:
        g -= 1
    y = x.reshape(g, b // g, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/g,)
    y = y.repeat(g).reshape(b, 1, 1, 1).expand(b, 1, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_widths
        self.from_rgb = EqualConv2d(cfg.channels, d[0], 1)
        self.blocks = nn.ModuleList(DBlock(a, b) for a, b in zip(d[:-1], d[1:]))
        self.conv = EqualConv2d(d[-1] + 1, d[-1], 3)
        self.fc = EqualLinear(d[-1] * 16, d[-1], act=True)
        self.out = EqualLinear(d[-1], 1)
        self.embed = EqualLinear(cfg.num_classes, d[-1], bias=False) if cfg.conditional else None

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations after each resolution: x (B, C, R, R) in [-1, 1]."""
        feats = [lrelu(self.from_rgb(x))]
        for block in self.blocks:
            feats.append(block(feats[-1]))
        return feats

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.features(x)[-1]  # (B, d[-1], 4, 4)
        x = lrelu(self.conv(minibatch_std(x)))
        h = self.fc(x.flatten(1))  # (B, d[-1])
        out = self.out(h)[:, 0]  # (B,)
        if self.embed is not None:  # projection: how well h matches the class embedding
            assert c is not None
            out = out + (self.embed(c) * h).sum(dim=1) / math.sqrt(h.shape[1])
        return out


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] → (B, H, W, C) uint8."""
    pixels = images.float().clamp(-1.0, 1.0).add(1.0).mul(127.5).round()
    return pixels.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def translate(x: torch.Tensor, ratio: float, fill: float = -1.0) -> torch.Tensor:
    """DiffAugment's translation: shift each image by up to `ratio` of its size, filling
    with black. Differentiable, so it is applied to reals and fakes alike."""
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    if sy == 0 and sx == 0:
        return x
    dy = torch.randint(-sy, sy + 1, (b, 1, 1))
    dx = torch.randint(-sx, sx + 1, (b, 1, 1))
    rows = (torch.arange(h)[None, :, None] + dy + sy).expand(b, h, w)
    cols = (torch.arange(w)[None, None, :] + dx + sx).expand(b, h, w)
    padded = F.pad(x, [sx, sx, sy, sy], value=fill)  # (B, C, H + 2sy, W + 2sx)
    batch = torch.arange(b)[:, None, None].expand(b, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


# -----------------------------------------------------------------------------
# training (the driver in studio/core/training.py calls this)


@torch.inference_mode()
def w_statistics(mapping: MappingNetwork, cfg: GANConfig, count: int = 8192, seed: int = 0,
                 batch: int = 1024) -> dict[str, torch.Tensor]:
    """Mean w and PCA directions (GANSpace) of `count` mapped samples, classes uniform.

    Returns {"w_avg": (w_dim,), "vectors": (K, w_dim) unit rows, "sigmas": (K,)}."""
    mapping.eval()
    gen = torch.Generator().manual_seed(seed)
    ws = []
    for i in range(0, count, batch):
        n = min(batch, count - i)
        z = torch.randn((n, cfg.z_dim), generator=gen)
        c = None
        if cfg.conditional:
            c = F.one_hot(torch.randint(cfg.num_classes, (n,), generator=gen), cfg.num_classes).float()
        ws.append(mapping(z, c).double())
    w = torch.cat(ws)  # (N, w_dim)
    mean = w.mean(0)
    cov = (w - mean).T @ (w - mean) / max(1, len(w) - 1)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    order = torch.argsort(evals, descending=True)[:cfg.num_directions]
    vectors = evecs[:, order].T.contiguous()  # (K, w_dim)
    # a fixed sign: the largest entry of each vector is positive
    signs = torch.sign(vectors.gather(1, vectors.abs().argmax(1, keepdim=True)))
    vectors = vectors * torch.where(signs == 0, torch.ones_like(signs), signs)
    return {"w_avg": mean.float(), "vectors": vectors.float(),
            "sigmas": evals[order].clamp_min(0.0).sqrt().float()}


class GANTrainable:
    """Adam (β1 = 0, β2 = 0.99) on both networks, one generator forward per step: the
    discriminator learns on the detached fakes, then the generator on its updated
    judgement. Lazy R1 every `r1_interval` steps; an EMA copy of the generator."""

    def __init__(self, cfg: GANConfig, train: Mapping[str, Any], data: Mapping[str, Split],
                 recipe: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self.recipe = dict(recipe)
        self.data = data
        self.G = Generator(cfg)
        self.D = Discriminator(cfg)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        lr = float(train.get("lr", 0.002))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=lr, betas=(0.0, 0.99), eps=1e-8)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=lr, betas=(0.0, 0.99), eps=1e-8)
        self.r1_gamma = float(train.get("r1_gamma", 0.5))
        self.r1_interval = int(train.get("r1_interval", 16))
        self.mixing_prob = float(train.get("mixing_prob", 0.5))
        self.translation = float(train.get("augment_translation", 0.0))
        self.ema_kimg = float(train.get("ema_kimg", 5.0))  # EMA half-life, thousands of images
        self.ema_rampup = float(train.get("ema_rampup", 0.05))
        self.w_avg_beta = 0.995
        self.steps_done = 0
        self.images_seen = 0
        self.last_r1 = 0.0

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        return translate(x, self.translation) if self.translation > 0 else x

    def _classes(self, labels: torch.Tensor | None, b: int) -> torch.Tensor | None:
        if not self.cfg.conditional:
            return None
        if labels is None:  # unlabelled data: random classes
            labels = torch.randint(self.cfg.num_classes, (b,))
        return F.one_hot(labels, self.cfg.num_classes).float()

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.cfg
        self.G.train()
        self.D.train()
        real = batch["images"] * 2.0 - 1.0  # (B, C, H, W) in [-1, 1]
        b = real.shape[0]
        c = self._classes(batch.get("labels"), b)  # fakes take the batch's classes

        # generator forward, with style mixing: a random cut-off switches to a second w
        w = self.G.mapping(torch.randn(b, cfg.z_dim), c)  # (B, w_dim)
        ws = w[:, None].repeat(1, cfg.num_ws, 1)  # (B, num_ws, w_dim)
        if self.mixing_prob > 0 and cfg.num_ws > 1:
            w2 = self.G.mapping(torch.randn(b, cfg.z_dim), c)
            cutoff = int(torch.randint(1, cfg.num_ws, ()))
            mix = (torch.rand(b) < self.mixing_prob)[:, None, None]
            layer = (torch.arange(cfg.num_ws) >= cutoff)[None, :, None]
            ws = torch.where(mix & layer, w2[:, None], ws)
        with torch.no_grad():
            self.G.mapping.w_avg.lerp_(w.detach().mean(0), 1.0 - self.w_avg_beta)
        fake = self.G.synthesis(ws)  # (B, C, H, W)

        # discriminator: logistic loss, plus lazy R1 on the reals every r1_interval steps
        do_r1 = self.r1_gamma > 0 and self.steps_done % self.r1_interval == 0
        real_in = real.detach().requires_grad_(do_r1)
        d_real = self.D(self._augment(real_in), c)
        d_fake = self.D(self._augment(fake.detach()), c)
        loss_d = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
        if do_r1:
            (grad,) = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
            r1 = grad.square().sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + r1 * (self.r1_gamma / 2) * self.r1_interval
            self.last_r1 = r1.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # generator: non-saturating loss against the updated discriminator
        self.D.requires_grad_(False)
        loss_g = F.softplus(-self.D(self._augment(fake), c)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)

        self.steps_done += 1
        self.images_seen += b
        self._update_ema(b)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "r1": self.last_r1,
                "real": torch.sigmoid(d_real).mean().item(), "fake": torch.sigmoid(d_fake).mean().item()}

    @torch.no_grad()
    def _update_ema(self, batch: int) -> None:
        half_life = self.ema_kimg * 1000.0
        if self.ema_rampup > 0:  # early on, follow the raw weights closely
            half_life = min(half_life, self.images_seen * self.ema_rampup)
        beta = 0.5 ** (batch / max(half_life, 1e-8))
        for e, p in zip(self.G_ema.parameters(), self.G.parameters()):
            e.lerp_(p, 1.0 - beta)
        for e, p in zip(self.G_ema.buffers(), self.G.buffers()):
            e.copy_(p)

    def state_dict(self) -> dict[str, Any]:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "steps_done": self.steps_done, "images_seen": self.images_seen}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.steps_done = int(state["steps_done"])
        self.images_seen = int(state["images_seen"])

    @torch.inference_mode()
    def sample_images(self, n: int, truncation: float = 1.0, seed: int = 0) -> np.ndarray:
        """A preview grid from the EMA generator: fixed noise, classes in turn."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn((n, self.cfg.z_dim), generator=gen)
        c = None
        if self.cfg.conditional:
            c = F.one_hot(torch.arange(n) % self.cfg.num_classes, self.cfg.num_classes).float()
        self.G_ema.eval()
        w = self.G_ema.mapping(z, c)
        w_avg = self.G_ema.mapping.w_avg
        w = w_avg + truncation * (w - w_avg)
        return to_uint8(self.G_ema.synthesis(w[:, None].expand(-1, self.cfg.num_ws, -1)))

    def extra_metrics(self, evaluator: Any) -> dict[str, float]:
        """Recognisability without truncation (ψ = 1): the full variety, next to the
        evaluator's figure at sample's default ψ."""
        return {"recognisability_psi1": round(evaluator.recognisability(self.sample_images(256)), 5)}

    def export(self, folder: Path, metrics: Mapping[str, float]) -> ModelCard:
        """model.safetensors: the EMA generator (mapping with mean w, synthesis) and the
        direction vectors; discriminator.safetensors beside it; card.json."""
        cfg = self.cfg
        stats = w_statistics(self.G_ema.mapping, cfg)
        with torch.no_grad():
            self.G_ema.mapping.w_avg.copy_(stats["w_avg"])
        tensors = {k: v.detach().float().contiguous() for k, v in self.G_ema.state_dict().items()}
        tensors[VECTORS_TENSOR] = stats["vectors"].contiguous()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": "latent-studio/gan", "config": json.dumps(cfg.to_dict())}
        _save_atomic(tensors, folder / WEIGHTS_FILE, meta)
        _save_atomic({k: v.detach().float().contiguous() for k, v in self.D.state_dict().items()},
                     folder / DISCRIMINATOR_FILE, meta)
        digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
        last = cfg.num_ws - 1
        directions = [{"name": f"Direction {k + 1}", "layers": [0, last], "sigma": round(float(s), 6)}
                      for k, s in enumerate(stats["sigmas"])]
        r = self.recipe
        glyphs = r["dataset"].get("name") == "glyphs"
        card = ModelCard(
            id=r["id"], name=r.get("name", r["id"]), family="gan",
            resolution=cfg.resolution, channels=cfg.channels, latent_shape=list(cfg.latent_shape),
            classes=list(GLYPH_CLASSES) if glyphs and cfg.conditional else None,
            dataset=r["dataset"].get("name", ""), description=r.get("description", ""),
            weights_sha256=digest,
            config={**cfg.to_dict(), "directions": directions, "layer_ranges": cfg.layer_ranges(),
                    "discriminator_file": DISCRIMINATOR_FILE},
            metrics=dict(metrics),
            training={"dataset": {k: v for k, v in r["dataset"].items() if k != "name"},
                      "train": dict(r.get("train", {})), "steps_done": self.steps_done,
                      "images_seen": self.images_seen},
        )
        from studio.core.training import write_card

        write_card(card, folder)
        return card


def _save_atomic(tensors: Mapping[str, torch.Tensor], path: Path, metadata: Mapping[str, str]) -> None:
    with atomic.atomic_path(path) as tmp:
        save_file(dict(tensors), str(tmp), metadata=dict(metadata))


# -----------------------------------------------------------------------------
# the loaded model and its ops
#
# Every op's Output.latents are the w+ codes its images were rendered from (after
# truncation and edits), so any latent renders back to its image. Truncation pulls the
# styles drawn from seeds towards the mean w; given latents are used as they are.

PROJECT_FEATURE_WEIGHT = 0.1  # discriminator-feature distance beside the pixel distance
MAPPED_CACHE = 64  # batches of seeds whose mapped w is kept
MAX_MIX_SEEDS = 16


class LoadedGAN(OpDispatch):
    label = "GAN"
    info = GAN_INFO  # the family base takes the ops from the spec

    def __init__(self, generator: Generator, vectors: torch.Tensor, directions: list[dict[str, Any]],
                 card: ModelCard, device: str, discriminator: Discriminator | None = None) -> None:
        self.G = generator.eval().requires_grad_(False)
        self.D = discriminator.eval().requires_grad_(False) if discriminator is not None else None
        self.cfg = generator.cfg
        self.vectors = vectors  # (K, w_dim) unit rows, on the device
        self.directions = directions  # [{"name", "layers", "sigma"}], from the card
        self.card = card
        self.device = device
        self._mapped: OrderedDict[tuple, tuple[torch.Tensor, list[int | None]]] = OrderedDict()

    @property
    def class_conditional(self) -> bool:
        return self.cfg.conditional

    @property
    def w_avg(self) -> torch.Tensor:
        return self.G.mapping.w_avg  # (w_dim,)

    def memory_bytes(self) -> int:
        modules = [self.G] + ([self.D] if self.D is not None else [])
        tensors = [t for m in modules for t in list(m.parameters()) + list(m.buffers())]
        return sum(t.numel() * t.element_size() for t in tensors + [self.vectors])

    # -- helpers ------------------------------------------------------------------

    def _class_of(self, class_index: int | None) -> int | None:
        if not self.cfg.conditional or class_index is None or class_index < 0:
            return None
        if class_index >= self.cfg.num_classes:
            raise ParamError(f"class_index: {class_index} is outside -1..{self.cfg.num_classes - 1} "
                             f"(the model has {self.cfg.num_classes} classes)")
        return class_index

    def _seed_inputs(self, seeds: Sequence[int], class_index: int | None
                     ) -> tuple[torch.Tensor, torch.Tensor | None, list[int | None]]:
        """Per seed its z (from a CPU generator, so every device draws the same) and,
        for a conditional model, its class: the given one, else drawn after z."""
        fixed = self._class_of(class_index)
        zs, classes = [], []
        for seed in seeds:
            gen = torch.Generator("cpu").manual_seed(int(seed))
            zs.append(torch.randn((self.cfg.z_dim,), generator=gen))
            if self.cfg.conditional:
                drawn = int(torch.randint(self.cfg.num_classes, (1,), generator=gen))
                classes.append(fixed if fixed is not None else drawn)
            else:
                classes.append(None)
        z = torch.stack(zs)  # (N, z_dim)
        c = None
        if self.cfg.conditional:
            c = F.one_hot(torch.tensor(classes), self.cfg.num_classes).float()  # (N, K)
        return z, c, classes

    @torch.inference_mode()
    def _map(self, z: torch.Tensor, c: torch.Tensor | None, truncation: float) -> torch.Tensor:
        """z (N, z_dim), c (N, K) → truncated w+ (N, num_ws, w_dim) on the device."""
        w = self.G.mapping(z.to(self.device), None if c is None else c.to(self.device))
        return self._truncate(w, truncation)

    def _truncate(self, w: torch.Tensor, truncation: float) -> torch.Tensor:
        w = self.w_avg + truncation * (w - self.w_avg)  # ψ = 0: exactly the mean w
        return w[:, None].repeat(1, self.cfg.num_ws, 1)

    @torch.inference_mode()
    def _seed_codes(self, seeds: Sequence[int], class_index: int | None, truncation: float
                    ) -> tuple[torch.Tensor, list[int | None]]:
        # The mapped w of a batch of seeds is kept (keyed by the whole batch, so a seed
        # maps exactly as it did in the same batch before): a truncation drag then costs
        # a lerp and the synthesis, not the mapping and the seeds' noise every frame.
        key = (tuple(int(s) for s in seeds), class_index)
        hit = self._mapped.get(key)
        if hit is None:
            z, c, classes = self._seed_inputs(seeds, class_index)
            # One seed at a time: a GEMM's rounding depends on the batch's shape (on some
            # CPUs by an ulp), and a seed must map to the same w in every op and grid.
            # The mapping network is small; this costs well under a millisecond a seed.
            w = torch.cat([self.G.mapping(z[i:i + 1].to(self.device),
                                          None if c is None else c[i:i + 1].to(self.device))
                           for i in range(len(seeds))])
            hit = self._mapped[key] = (w, classes)
            while len(self._mapped) > MAPPED_CACHE:
                self._mapped.popitem(last=False)
        else:
            self._mapped.move_to_end(key)
        w, classes = hit
        return self._truncate(w, truncation), list(classes)

    def _latent_tensor(self, latent: np.ndarray, name: str) -> torch.Tensor:
        ws = np.asarray(latent, dtype=np.float32)
        shape = self.cfg.latent_shape
        if ws.shape == shape:
            ws = ws[None]
        if ws.ndim != 3 or ws.shape[1:] != shape:
            raise ParamError(f"{name}: expected a w+ latent of shape {shape} or (N, *{shape}), "
                             f"got {ws.shape}")
        if not np.isfinite(ws).all():
            raise ParamError(f"{name}: the latent holds NaN or infinite values")
        return torch.from_numpy(np.ascontiguousarray(ws)).to(self.device)  # (N, num_ws, w_dim)

    def _one_latent(self, latent: np.ndarray, name: str) -> torch.Tensor:
        ws = self._latent_tensor(latent, name)
        if len(ws) != 1:
            raise ParamError(f"{name}: expected one w+ latent, got {len(ws)}")
        return ws[0]  # (num_ws, w_dim)

    def _parse_edits(self, text: str) -> list[Edit]:
        return parse_edits(text, len(self.vectors), self.cfg.num_ws, self.cfg.w_dim,
                           default_layers=[tuple(d["layers"]) for d in self.directions],
                           sigmas=[d["sigma"] for d in self.directions])

    def _apply_edits(self, ws: torch.Tensor, edits: Sequence[Edit]) -> torch.Tensor:
        ws = ws.clone()
        for edit in edits:
            if edit.direction is not None:
                vector = self.vectors[edit.direction]
            else:
                vector = torch.from_numpy(edit.vector).to(self.device)
            first, last = edit.layers
            ws[:, first:last + 1] += (edit.amount * edit.sigma) * vector
        return ws

    @torch.inference_mode()
    def _render(self, ws: torch.Tensor, ctx: JobContext, chunk: int = 64) -> np.ndarray:
        return run_in_chunks(lambda w: to_uint8(self.G.synthesis(w)), ws, ctx, chunk)

    def _class_name(self, k: int | None) -> str:
        if k is None:
            return ""
        names = self.card.classes or []
        return names[k] if k < len(names) else str(k)

    def _seed_label(self, seed: int, k: int | None) -> str:
        return f"seed {seed}" + (f" · {self._class_name(k)}" if k is not None else "")

    def _endpoint(self, name: str, seed: int, inputs: Mapping[str, np.ndarray], truncation: float,
                  class_index: int | None) -> tuple[torch.Tensor, bool]:
        """A w+ code from input `name`, else from `seed`; and whether it came from the seed."""
        if inputs.get(name) is not None:
            return self._one_latent(inputs[name], name), False
        return self._seed_codes([seed], class_index, truncation)[0][0], True

    @staticmethod
    def _numpy(ws: torch.Tensor) -> np.ndarray:
        return ws.detach().float().cpu().numpy().astype(np.float32)

    # -- ops ----------------------------------------------------------------------

    def _op_sample(self, values, inputs, ctx) -> Output:
        edits = self._parse_edits(values["edits"])
        extras: dict[str, Any] = {}
        if inputs.get("latent") is not None:  # the given codes instead of the seeds
            ws = self._latent_tensor(inputs["latent"], "latent")
            labels: tuple[str, ...] = ()
        else:
            seeds = [values["seed"] + i for i in range(values["count"])]
            ws, classes = self._seed_codes(seeds, values["class_index"], values["truncation"])
            labels = tuple(self._seed_label(s, k) for s, k in zip(seeds, classes))
            extras = {"seeds": seeds, "classes": classes}
        ws = self._apply_edits(ws, edits)
        images = self._render(ws, ctx)
        return Output(images=images, latents=self._numpy(ws), labels=labels, extras=extras)

    def _op_interpolate(self, values, inputs, ctx) -> Output:
        frames, psi, k = values["frames"], values["truncation"], values["class_index"]
        space = values["space"]
        given = inputs.get("latent_a") is not None or inputs.get("latent_b") is not None
        if space == "z" and not given:  # slerp the Gaussian inputs (and lerp the classes)
            z, c, _ = self._seed_inputs([values["seed"], values["seed_b"]], k)
            zs = latent_math.path(list(z.numpy()), frames, "slerp")  # (F, z_dim)
            cs = None if c is None else torch.from_numpy(latent_math.path(list(c.numpy()), frames, "lerp"))
            ws = self._map(torch.from_numpy(zs), cs, psi)
        else:  # a straight line in w+ (latents have no z to slerp)
            a, _ = self._endpoint("latent_a", values["seed"], inputs, psi, k)
            b, _ = self._endpoint("latent_b", values["seed_b"], inputs, psi, k)
            path = latent_math.path([self._numpy(a), self._numpy(b)], frames, "lerp")
            ws = torch.from_numpy(path).to(self.device)
            space = "w"
        images = self._render(ws, ctx)
        return Output(images=images, latents=self._numpy(ws), columns=frames,
                      extras={"space": space})

    def _op_walk(self, values, inputs, ctx) -> Output:
        points, per, loop = values["points"], values["frames_per_point"], values["loop"]
        psi, k = values["truncation"], values["class_index"]
        seeds = [values["seed"] + i for i in range(points)]
        # a loop returns to the first point without repeating it: frame 0 follows the last
        frames = points * per if loop else (points - 1) * per + 1
        if values["space"] == "z":
            z, c, _ = self._seed_inputs(seeds, k)
            zs = latent_math.path(list(z.numpy()), frames, "slerp", closed=loop)
            cs = None if c is None else torch.from_numpy(
                latent_math.path(list(c.numpy()), frames, "lerp", closed=loop))
            ws = self._map(torch.from_numpy(zs), cs, psi)
        else:
            keys, _ = self._seed_codes(seeds, k, psi)
            ws = torch.from_numpy(latent_math.path(list(self._numpy(keys)), frames, "lerp",
                                                   closed=loop)).to(self.device)
        images = self._render(ws, ctx)
        return Output(images=images, latents=self._numpy(ws), columns=per,
                      extras={"seeds": seeds, "key_frames": list(range(0, frames, per)),
                              "loop": bool(loop)})

    def _parse_seeds(self, text: str, name: str) -> list[int]:
        from studio.core.params import SEED_MAX

        try:
            seeds = [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise ParamError(f"{name}: {text!r} is not a comma-separated list of seeds") from None
        if not 1 <= len(seeds) <= MAX_MIX_SEEDS:
            raise ParamError(f"{name}: give 1 to {MAX_MIX_SEEDS} seeds, not {len(seeds)}")
        if not all(0 <= s <= SEED_MAX for s in seeds):
            raise ParamError(f"{name}: seeds must be within 0..{SEED_MAX}")
        return seeds

    def _op_mix(self, values, inputs, ctx) -> Output:
        rows = self._parse_seeds(values["row_seeds"], "row_seeds")
        cols = self._parse_seeds(values["column_seeds"], "column_seeds")
        psi, k = values["truncation"], values["class_index"]
        first, last = self.cfg.layer_ranges()[values["layers"]]
        row_ws, row_classes = self._seed_codes(rows, k, psi)  # (R, L, D)
        col_ws, col_classes = self._seed_codes(cols, k, psi)  # (C, L, D)
        # the matrix: the top-left corner is the mean w, the first row the column seeds,
        # the first column the row seeds; each cell its row's codes with the column's
        # codes in layers first..last
        corner = self.w_avg[None].repeat(self.cfg.num_ws, 1)
        cells = [corner] + list(col_ws)
        labels = ["mean w"] + [self._seed_label(s, c) for s, c in zip(cols, col_classes)]
        for r, (seed, cls) in enumerate(zip(rows, row_classes)):
            cells.append(row_ws[r])
            labels.append(self._seed_label(seed, cls))
            for col in col_ws:
                mixed = row_ws[r].clone()
                mixed[first:last + 1] = col[first:last + 1]
                cells.append(mixed)
                labels.append("")
        ws = torch.stack(cells)  # ((R + 1)(C + 1), L, D)
        images = self._render(ws, ctx)
        return Output(images=images, latents=self._numpy(ws), labels=tuple(labels),
                      columns=len(cols) + 1,
                      extras={"row_seeds": rows, "column_seeds": cols, "layers": [first, last]})

    def _op_project(self, values, inputs, ctx) -> Output:
        fitted = image_input(inputs["image"], "image", self.cfg.resolution, self.cfg.channels)
        target = torch.from_numpy(np.ascontiguousarray(fitted)).permute(2, 0, 1)[None]
        target = (target.float() / 127.5 - 1.0).to(self.device)  # (1, C, R, R) in [-1, 1]
        steps, lr = values["steps"], values["learning_rate"]
        with torch.no_grad():
            target_feats = self.D.features(target) if self.D is not None else []
        # start at the mean w, nudged by a little seeded noise (so seeds can differ)
        gen = torch.Generator("cpu").manual_seed(values["seed"])
        start = self.w_avg[None, None].repeat(1, self.cfg.num_ws, 1)
        sigma = float(np.mean([d["sigma"] for d in self.directions]))  # a typical spread of w
        noise = torch.randn(start.shape, generator=gen).to(self.device) * (0.05 * sigma)
        ws = (start + noise).requires_grad_(True)
        opt = torch.optim.Adam([ws], lr=lr, betas=(0.9, 0.999))

        def loss_of(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            pixel = F.mse_loss(images, target)
            if not target_feats:
                return pixel, pixel
            feats = self.D.features(images)
            feature = sum(F.mse_loss(f, t) for f, t in zip(feats, target_feats)) / len(feats)
            return pixel + PROJECT_FEATURE_WEIGHT * feature, pixel

        losses = []
        with torch.enable_grad():
            for i in range(steps):
                ctx.check_cancelled()
                # learning rate: a short warm-up, then a cosine ramp down over the last quarter
                t = i / steps
                ramp = 0.5 - 0.5 * math.cos(math.pi * min(1.0, (1.0 - t) / 0.25))
                for group in opt.param_groups:
                    group["lr"] = lr * ramp * min(1.0, (i + 1) / max(1.0, 0.05 * steps))
                images = self.G.synthesis(ws)
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
            images = self.G.synthesis(final)
            loss, pixel = loss_of(images)
        result = to_uint8(images)
        ctx.preview(result, force=True)
        return Output(images=result, latents=self._numpy(final), labels=("projection",),
                      extras={"target": fitted, "losses": losses, "initial_loss": losses[0],
                              "loss": float(loss), "pixel_mse": float(pixel),
                              "features": "discriminator" if target_feats else "pixels only"})

    def _op_arithmetic(self, values, inputs, ctx) -> Output:
        psi = values["truncation"]
        a, _ = self._endpoint("latent_a", values["seed"], inputs, psi, -1)
        b, _ = self._endpoint("latent_b", values["seed_b"], inputs, psi, -1)
        c, _ = self._endpoint("latent_c", values["seed_c"], inputs, psi, -1)
        ws = torch.stack([a, b, c, a - b + c])  # (4, L, D)
        images = self._render(ws, ctx)
        return Output(images=images, latents=self._numpy(ws), labels=("a", "b", "c", "a − b + c"),
                      columns=4)


# -----------------------------------------------------------------------------
# the family


def read_style_card(folder: Path, card: ModelCard, config_cls: Any, label: str
                    ) -> tuple[Any, list[dict[str, Any]]]:
    """A style-based generator's config and directions from its card, checked against the
    card's resolution and channels (the built-in GAN and imported StyleGANs)."""
    card_path = Path(folder) / "card.json"
    try:
        cfg = config_cls.from_dict(card.config)
        directions = card_directions(card.config)
    except (TypeError, ValueError, KeyError, IndexError, AssertionError) as exc:
        raise ModelLoadError(f"{card_path}: bad {label} config ({exc})") from None
    if (cfg.resolution, cfg.channels) != (card.resolution, card.channels):
        raise ModelLoadError(f"{card_path}: config and card disagree on resolution/channels")
    return cfg, directions


def load_style_generator(folder: Path, card: ModelCard, cfg: Any,
                         make_generator: Callable[[], nn.Module], directions: list[dict[str, Any]],
                         device: str) -> tuple[nn.Module, torch.Tensor]:
    """A style-based generator and its direction vectors from a card's weights file, on
    `device`: the directions' layer ranges and σ checked against the config, the tensor
    shapes checked before anything is allocated. The built-in GAN and imported StyleGANs
    share it."""
    card_path = Path(folder) / "card.json"
    for d in directions:
        first, last = d["layers"]
        if not (0 <= first <= last < cfg.num_ws and math.isfinite(d["sigma"]) and d["sigma"] > 0):
            raise ModelLoadError(f"{card_path}: direction {d['name']!r} has a bad layer range or σ")
    path = card_file(folder, card)
    check_shapes_first(path, make_generator, strict=False)  # + the direction vectors
    tensors = load_tensors(path)
    generator = make_generator()
    expected = {k: tuple(v.shape) for k, v in generator.state_dict().items()}
    expected[VECTORS_TENSOR] = (len(directions), cfg.w_dim)
    check_tensors(path, tensors, expected)
    generator.load_state_dict({k: tensors[k].float() for k in generator.state_dict()})
    return generator.to(device), tensors[VECTORS_TENSOR].float().to(device)


class GANFamily:
    """The class the registry's loader names (studio.families.gan.model:GANFamily)."""

    info = GAN_INFO

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedGAN:
        folder = Path(folder)
        card_path = folder / "card.json"
        cfg, directions = read_style_card(folder, card, GANConfig, "GAN")
        if len(directions) != cfg.num_directions:
            raise ModelLoadError(f"{card_path}: {len(directions)} directions described, "
                                 f"the config says {cfg.num_directions}")
        generator, vectors = load_style_generator(folder, card, cfg, lambda: Generator(cfg),
                                                  directions, device)

        discriminator = None
        d_path = card_file(folder, card, card.config.get("discriminator_file", DISCRIMINATOR_FILE),
                           "discriminator_file")
        if d_path.exists():  # optional: without it, project matches pixels only
            check_shapes_first(d_path, lambda: Discriminator(cfg))
            d_tensors = load_tensors(d_path)
            discriminator = Discriminator(cfg)
            check_tensors(d_path, d_tensors, {k: tuple(v.shape) for k, v in discriminator.state_dict().items()})
            discriminator.load_state_dict({k: v.float() for k, v in d_tensors.items()})
            discriminator = discriminator.to(device)
        return LoadedGAN(generator, vectors, directions, card, device, discriminator)

    @classmethod
    def make_trainable(cls, recipe: Mapping[str, Any], data: Mapping[str, Split]) -> GANTrainable:
        cfg = GANConfig.from_dict(recipe.get("config", {}))
        train = data["train"]
        assert train.images.shape[1:] == (cfg.resolution, cfg.resolution, cfg.channels), (
            train.images.shape, cfg)
        if cfg.conditional and train.labels is not None:
            assert int(train.labels.max()) < cfg.num_classes, (int(train.labels.max()), cfg.num_classes)
        return GANTrainable(cfg, recipe.get("train", {}), data, recipe)
