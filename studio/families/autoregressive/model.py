"""Autoregressive family: a gated PixelCNN (van den Oord et al. 2016), read top to bottom.

Config, the gated layer with its vertical and horizontal stacks, the network, the two
samplers, the trainable, then the loaded model with its ops (sample, complete,
likelihood) and the family class the registry names.

- Pixels are drawn in raster order; each is a 256-way softmax over its grey level, so
  the likelihood of any image is exact: the sum of the per-pixel terms.
- Causality without a blind spot: the vertical stack sees the rows above (and, at row r,
  row r itself, but it reaches the horizontal stack only shifted down by one row); the
  horizontal stack sees the pixels to the left in the current row. The first horizontal
  layer sees the input shifted right by one pixel, so a pixel never sees itself.
- Class conditioning: a learned bias per class on every gate.
- Two samplers give the same samples for the same seed: `plain` runs the whole network
  over the whole image for every pixel; `cached` keeps every layer's vertical-stack
  rows as they are finished (one new row per layer per image row, computed from the
  previous layer's cached rows) and runs the horizontal stack over the current row up
  to the new pixel only. Both draw pixel (r, c) from the same uniform u[r, c] by
  inverting the CDF, so only the logits' last float bits could tell them apart.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from studio.core.cards import ModelCard
from studio.core.datasets import Split
from studio.core.family import JobContext, Output
from studio.core.heatmap import gray_to_rgb, heatmap_rgb
from studio.core.params import ParamError
from studio.core.training import EMATrainable
from studio.families import shared
from studio.families.autoregressive.spec import AUTOREGRESSIVE as AR_INFO
from studio.families.config import CardConfig

UNDRAWN = 64  # grey level the live preview shows for pixels not drawn yet

# -----------------------------------------------------------------------------
# config


@dataclass
class PixelCNNConfig(CardConfig):
    resolution: int = 32
    channels: int = 1  # grey only: RGB would need the channels drawn in order too
    levels: int = 256
    hidden: int = 32  # channels of each stack
    layers: int = 12
    kernel: int = 3  # later layers: vertical (k//2 + 1) × k, horizontal 1 × (k//2 + 1)
    first_kernel: int = 7
    head: int = 128  # width of the 1 × 1 output network
    num_classes: int = 0  # > 0: class-conditional gates

    def __post_init__(self) -> None:
        assert self.channels == 1, "the PixelCNN models grey images"
        assert self.kernel % 2 == 1 and self.first_kernel % 2 == 1 and self.layers >= 1, self

    @property
    def dims(self) -> int:
        return self.channels * self.resolution ** 2


# -----------------------------------------------------------------------------
# the network


def gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    def __init__(self, in_channels: int, width: int, kernel: int, num_classes: int,
                 first: bool) -> None:
        super().__init__()
        self.pad = kernel // 2
        self.first = first
        self.v_conv = nn.Conv2d(in_channels, 2 * width, (self.pad + 1, kernel))
        self.h_conv = nn.Conv2d(in_channels, 2 * width, (1, self.pad + 1))
        self.v_to_h = nn.Conv2d(2 * width, 2 * width, 1)
        self.h_out = nn.Conv2d(width, width, 1)
        self.cond_v = nn.Embedding(num_classes, 2 * width) if num_classes > 0 else None
        self.cond_h = nn.Embedding(num_classes, 2 * width) if num_classes > 0 else None

    def conds(self, classes: torch.Tensor | None) -> tuple[Any, Any]:
        """Per-class biases (B, 2w, 1, 1) of the two stacks, or 0 for no class."""
        if self.cond_v is None or classes is None:
            return 0.0, 0.0
        return self.cond_v(classes)[:, :, None, None], self.cond_h(classes)[:, :, None, None]

    def vertical(self, rows: torch.Tensor, cond_v: Any) -> torch.Tensor:
        """Vertical pre-activations. `rows` must carry `pad` rows of context above the
        first output row (zeros above the image); the output has pad fewer rows."""
        return self.v_conv(F.pad(rows, (self.pad, self.pad, 0, 0))) + cond_v

    def horizontal(self, h: torch.Tensor, from_v: torch.Tensor) -> torch.Tensor:
        """The horizontal stack's output from its input `h` and the vertical stack's
        contribution `from_v` (v_to_h of the row above, plus the class bias)."""
        pre = self.h_conv(F.pad(h, (self.pad, 0, 0, 0))) + from_v
        out = self.h_out(gate(pre))
        return out if self.first else out + h

    def forward(self, v: torch.Tensor, h: torch.Tensor, classes: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        cond_v, cond_h = self.conds(classes)
        v_pre = self.vertical(F.pad(v, (0, 0, self.pad, 0)), cond_v)  # (B, 2w, H, W)
        shifted = F.pad(v_pre, (0, 0, 1, 0))[:, :, :-1]  # row r sees rows < r only
        return gate(v_pre), self.horizontal(h, self.v_to_h(shifted) + cond_h)


class PixelCNN(nn.Module):
    def __init__(self, cfg: PixelCNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.hidden
        self.layers = nn.ModuleList(
            [GatedLayer(cfg.channels, w, cfg.first_kernel, cfg.num_classes, first=True)]
            + [GatedLayer(w, w, cfg.kernel, cfg.num_classes, first=False) for _ in range(cfg.layers - 1)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(w, cfg.head, 1), nn.ReLU(),
                                  nn.Conv2d(cfg.head, cfg.levels, 1))

    def forward(self, x: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
        """x (B, 1, H, W) in the input scale (see to_input) → logits (B, levels, H, W)."""
        v, h = x, shift_right(x)
        for layer in self.layers:
            v, h = layer(v, h, classes)
        return self.head(h)


def shift_right(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x, (1, 0, 0, 0))[..., :-1]


def to_input(levels: torch.Tensor) -> torch.Tensor:
    """Grey levels 0..255 (any dtype) → the network's input scale [−1, 1]."""
    return levels.float() / 127.5 - 1.0


def pixel_nll(model: PixelCNN, images: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
    """uint8-valued (B, 1, H, W) → per-pixel NLL in nats (B, H, W)."""
    logits = model(to_input(images), classes)
    return F.cross_entropy(logits, images[:, 0].long(), reduction="none")


# -----------------------------------------------------------------------------
# sampling


def draw(logits: torch.Tensor, u: torch.Tensor, temperature: float, top_k: int) -> torch.Tensor:
    """One grey level per row of `logits` (B, levels), by inverting the CDF at u (B,)
    (float64): the same u and logits give the same level, whichever sampler asks."""
    z = logits.double() / max(1e-6, float(temperature))
    if 0 < top_k < z.shape[1]:
        kth = z.topk(top_k, dim=1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    cdf = torch.softmax(z, dim=1).cumsum(1)
    return (cdf < u[:, None].to(cdf)).sum(1).clamp_(max=z.shape[1] - 1)


@dataclass
class DrawRequest:
    images: torch.Tensor  # (B, 1, H, W) grey levels (float), kept pixels filled in; changed in place
    fill: torch.Tensor  # (H, W) bool: the pixels to draw
    classes: torch.Tensor | None
    u: torch.Tensor  # (B, H, W) float64 uniforms
    temperature: float
    top_k: int


RowHook = Callable[[int], None]  # called after each image row, with its index


@torch.inference_mode()
def sample_plain(model: PixelCNN, req: DrawRequest, on_row: RowHook | None = None) -> torch.Tensor:
    """The reference: the full network over the whole image for every drawn pixel."""
    x = req.images
    for r in range(x.shape[2]):
        for c in torch.nonzero(req.fill[r]).flatten().tolist():
            logits = model(to_input(x), req.classes)[:, :, r, c]
            x[:, 0, r, c] = draw(logits, req.u[:, r, c], req.temperature, req.top_k).to(x)
        if on_row:
            on_row(r)
    return x


@torch.inference_mode()
def sample_cached(model: PixelCNN, req: DrawRequest, on_row: RowHook | None = None) -> torch.Tensor:
    """The same samples as sample_plain, computing each vertical-stack row once per
    layer and the horizontal stack over the current row only."""
    x = req.images
    b, _, height, _ = x.shape
    layers = model.layers
    conds = [layer.conds(req.classes) for layer in layers]
    inp = to_input(x)  # kept in step with x as pixels are drawn
    # v_in[i]: the input rows of layer i's vertical stack; v_in[0] is the image itself
    v_in = [inp] + [inp.new_zeros(b, model.cfg.hidden, *x.shape[2:]) for _ in layers[1:]]
    above: list[torch.Tensor] = [inp.new_zeros(b, 2 * model.cfg.hidden, 1, x.shape[3])
                                 for _ in layers]  # vertical pre-activations of row r − 1
    for r in range(height):
        if r > 0:  # row r − 1 is final now: extend every layer's vertical stack by it
            for i, layer in enumerate(layers):
                lo = r - 1 - layer.pad
                rows = v_in[i][:, :, max(0, lo):r]
                if lo < 0:
                    rows = F.pad(rows, (0, 0, -lo, 0))  # the zeros above the image
                above[i] = layer.vertical(rows, conds[i][0])  # (B, 2w, 1, W)
                if i + 1 < len(layers):
                    v_in[i + 1][:, :, r - 1:r] = gate(above[i])
        from_v = [layer.v_to_h(above[i]) + conds[i][1] for i, layer in enumerate(layers)]
        for c in torch.nonzero(req.fill[r]).flatten().tolist():
            h = shift_right(inp[:, :, r:r + 1, :c + 1])  # the row up to the new pixel
            for i, layer in enumerate(layers):
                h = layer.horizontal(h, from_v[i][..., :c + 1])
            logits = model.head(h[..., c:c + 1])[:, :, 0, 0]
            level = draw(logits, req.u[:, r, c], req.temperature, req.top_k).to(x)
            x[:, 0, r, c] = level
            inp[:, 0, r, c] = to_input(level)
        if on_row:
            on_row(r)
    return x


SAMPLERS = {"cached": sample_cached, "plain": sample_plain}


# -----------------------------------------------------------------------------
# training


class PixelCNNTrainable(EMATrainable):
    """Adam with cosine decay on the per-pixel cross-entropy (bits/dim), EMA weights."""

    def __init__(self, cfg: PixelCNNConfig, train: Mapping[str, Any], data: Mapping[str, Split],
                 recipe: Mapping[str, Any]) -> None:
        self.cfg, self.recipe, self.data = cfg, dict(recipe), data
        self.model = PixelCNN(cfg)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.ema_decay = float(train.get("ema", 0.999))
        steps = int(train.get("steps", 1000))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(train.get("lr", 1e-3)))
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: 0.05 + 0.475 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps)))))
        self.steps_done = 0

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        images = torch.round(batch["images"] * 255.0)
        classes = batch.get("labels") if self.cfg.num_classes > 0 else None
        loss = pixel_nll(self.model, images, classes).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
        self.opt.step()
        self.sched.step()
        self.steps_done += 1
        self.update_ema()
        return {"bpd": loss.item() / math.log(2.0), "grad": float(grad)}

    def held_out_logs(self) -> dict[str, float]:
        """Bits/dim of the EMA weights (what is saved) on held-out images: exact, no noise."""
        self.ema.eval()
        batch = shared.held_out_batch(self.data)
        classes = batch.get("labels") if self.cfg.num_classes > 0 else None
        nll = pixel_nll(self.ema, torch.round(batch["images"] * 255.0), classes).mean()
        return {"held_out_bpd": float(nll) / math.log(2.0)}

    def sample_images(self, n: int, seed: int = 0) -> np.ndarray:
        self.ema.eval()
        req = new_request(self.cfg, n, seed, -1, 1.0, 0, "cpu")
        return to_uint8(sample_cached(self.ema, req))

    def export(self, folder: Path, metrics: Mapping[str, float]) -> ModelCard:
        digest = shared.save_weights(self.ema, Path(folder), "latent-studio/pixelcnn", self.cfg.to_dict())
        return shared.export_card(Path(folder), self.recipe, "autoregressive", self.cfg, digest,
                                  metrics, self.steps_done)


def new_request(cfg: PixelCNNConfig, count: int, seed: int, class_index: int, temperature: float,
                top_k: int, device: str, image: np.ndarray | None = None,
                fill: np.ndarray | None = None) -> DrawRequest:
    """A draw of `count` images from `seed`: classes first, then one uniform per pixel,
    all from a CPU generator, so a seed gives the same images on every device."""
    gen = torch.Generator("cpu").manual_seed(int(seed))
    classes = shared.seed_classes(gen, count, class_index, cfg.num_classes)
    res = cfg.resolution
    u = torch.rand((count, res, res), generator=gen, dtype=torch.float64)
    if image is None:
        images = torch.zeros((count, 1, res, res))
    else:  # (R, R, 1) uint8: every image starts as it, the fill region to be drawn
        images = torch.from_numpy(image[..., 0].astype(np.float32))[None, None].repeat(count, 1, 1, 1)
    fill_t = torch.ones((res, res), dtype=torch.bool) if fill is None else torch.from_numpy(fill)
    return DrawRequest(images.to(device), fill_t, None if classes is None else classes.to(device),
                       u.to(device), float(temperature), int(top_k))


def to_uint8(levels: torch.Tensor, undrawn: torch.Tensor | None = None) -> np.ndarray:
    """(B, 1, H, W) grey levels → (B, H, W, 1) uint8; `undrawn` (H, W) bool shows grey."""
    out = levels.clamp(0, 255).round().to(torch.uint8)
    if undrawn is not None:
        out = torch.where(undrawn.to(out.device), torch.full_like(out, UNDRAWN), out)
    return out.permute(0, 2, 3, 1).cpu().numpy()


# -----------------------------------------------------------------------------
# the loaded model and its ops


class LoadedPixelCNN(shared.OpDispatch):
    label, inference, info = "PixelCNN", True, AR_INFO

    def __init__(self, model: PixelCNN, card: ModelCard, device: str) -> None:
        self.model = model.eval().requires_grad_(False)
        self.card, self.device, self.cfg = card, device, model.cfg
        self.class_conditional = self.cfg.num_classes > 0

    # -- helpers ------------------------------------------------------------------

    def _class_name(self, k: int) -> str:
        names = self.card.classes or []
        return names[k] if k < len(names) else str(k)

    def _check_class(self, k: int) -> None:
        if self.cfg.num_classes > 0 and k >= self.cfg.num_classes:
            raise ParamError(f"class_index: {k} is outside -1..{self.cfg.num_classes - 1} "
                             f"(the model has {self.cfg.num_classes} classes)")

    def _draw(self, req: DrawRequest, sampler: str, ctx: JobContext) -> torch.Tensor:
        """Run a sampler with a live preview (rate-limited by ctx), progress and cancel
        after every row."""
        height = req.images.shape[2]
        todo = req.fill.clone()

        def on_row(r: int) -> None:
            todo[r] = False
            ctx.progress(r + 1, height, f"row {r + 1} of {height}")
            if ctx.wants_preview():
                ctx.preview(to_uint8(req.images, todo & req.fill))
            ctx.check_cancelled()

        return SAMPLERS[sampler](self.model, req, on_row)

    def _per_class_nll(self, image: np.ndarray) -> torch.Tensor:
        """Per-pixel NLL (nats) of one (R, R, 1) uint8 image under every class (K, H, W)."""
        x = torch.from_numpy(image[..., 0].astype(np.float32))[None, None].to(self.device)
        k = max(1, self.cfg.num_classes)
        classes = torch.arange(k, device=self.device) if self.cfg.num_classes > 0 else None
        return pixel_nll(self.model, x.repeat(k, 1, 1, 1), classes)

    # -- ops ----------------------------------------------------------------------

    def _op_sample(self, values, inputs, ctx) -> Output:
        self._check_class(values["class_index"])
        req = new_request(self.cfg, values["count"], values["seed"], values["class_index"],
                          values["temperature"], values["top_k"], self.device)
        images = to_uint8(self._draw(req, values["sampler"], ctx))
        labels = () if req.classes is None else tuple(self._class_name(int(k)) for k in req.classes)
        return Output(images=images, labels=labels)

    def _op_complete(self, values, inputs, ctx) -> Output:
        image = shared.image_input(inputs["image"], "image", self.cfg.resolution, self.cfg.channels)
        fill = shared.mask_input(inputs["mask"], "mask", self.cfg.resolution)
        if not fill.any():
            raise ParamError("mask: nothing is marked; paint the part to repaint first")
        k = values["class_index"]
        self._check_class(k)
        chosen = None
        first = int(np.flatnonzero(fill.ravel())[0])  # the first erased pixel, raster order
        if self.cfg.num_classes > 0 and k < 0 and first > 0:
            # the class that best explains the kept pixels before the hole: only those are
            # scored, as the pixels after it were conditioned on what the user erased
            seen = torch.zeros(fill.size, dtype=torch.bool, device=self.device)
            seen[:first] = True
            chosen = int((self._per_class_nll(image) * seen.view(fill.shape)).sum((1, 2)).argmin())
        n = values["variations"]
        req = new_request(self.cfg, n, values["seed"], k if chosen is None else chosen,
                          values["temperature"], values["top_k"], self.device, image, fill)
        done = self._draw(req, "cached", ctx)
        nll = pixel_nll(self.model, done, req.classes).sum((1, 2))  # (n,) the whole image
        order = torch.argsort(nll).tolist()  # most likely first
        bpd = [shared.bits_per_dim(float(nll[i]), self.cfg.dims) for i in order]
        variations = to_uint8(done)[order]
        erased = np.where(fill[..., None], np.uint8(UNDRAWN), image)
        labels = ("kept pixels",) + tuple(f"{b:.3f} bits/dim" for b in bpd)
        extras = {"bits_per_dim": bpd, "order": order, "fill_fraction": float(fill.mean())}
        if req.classes is not None:
            extras["class"] = self._class_name(int(req.classes[0]))
        return Output(images=np.concatenate([erased[None], variations]), labels=labels,
                      columns=n + 1, extras=extras)

    def _op_likelihood(self, values, inputs, ctx) -> Output:
        image = shared.image_input(inputs["image"], "image", self.cfg.resolution, self.cfg.channels)
        k = values["class_index"]
        self._check_class(k)
        per_class = self._per_class_nll(image)  # (K, H, W) nats
        log_p = -per_class.sum((1, 2))
        log_px, posterior = shared.marginal_log_likelihood(log_p)
        likeliest = int(log_p.argmax())
        if self.cfg.num_classes > 0 and k >= 0:
            nll, shown = float(-log_p[k]), k
        else:
            nll, shown = -log_px, likeliest
        bpd = shared.bits_per_dim(nll, self.cfg.dims)
        pixel_bits = (per_class[shown] / math.log(2.0)).cpu().numpy()
        images = np.stack([gray_to_rgb(image), heatmap_rgb(pixel_bits, vmin=0.0)])
        conditional = self.cfg.num_classes > 0
        extras = {"bits_per_dim": bpd, "pixel_bits": pixel_bits, "class_posterior": posterior.tolist(),
                  "most_likely_class": self._class_name(likeliest) if conditional else None,
                  "map_class": self._class_name(shown) if conditional else None,
                  "max_pixel_bits": float(pixel_bits.max())}
        return Output(images=images, labels=(f"input · {bpd:.3f} bits/dim", "bits per pixel"),
                      columns=2, extras=extras)


# -----------------------------------------------------------------------------
# the family


class AutoregressiveFamily:
    """The class the registry's loader names (studio.families.autoregressive.model:AutoregressiveFamily)."""

    info = AR_INFO

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> LoadedPixelCNN:
        model = shared.load_network(folder, card, PixelCNNConfig, PixelCNN, "PixelCNN")
        return LoadedPixelCNN(model.to(device), card, device)

    @classmethod
    def make_trainable(cls, recipe: Mapping[str, Any], data: Mapping[str, Split]) -> PixelCNNTrainable:
        cfg = shared.recipe_config(PixelCNNConfig, recipe, data)
        return PixelCNNTrainable(cfg, recipe.get("train", {}), data, recipe)
