"""The feature blocks of StyleGAN2's residual discriminator (the one stylegan2-ada-pytorch
and stylegan3 train with), for projection: the distance between an image's and the
target's block activations is a perceptual distance learned on the model's own data.

Only the blocks are built (from RGB, then per resolution conv → conv ↓2 plus a 1 × 1
↓2 skip, summed at gain √½); the epilogue that scores realism is not needed. Tensor
names follow the pickle's `D` (`b256.conv0.weight`, `b256.skip.weight`, ...), and the
block widths are read from the saved tensors' shapes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open

from studio.core.family import ModelLoadError
from studio.families.shared import load_tensors
from studio.families.stylegan.ops import bias_act, make_filter, upfirdn2d

SQRT_HALF = math.sqrt(0.5)


class DConv(nn.Module):
    """Conv2dLayer: equalised k × k conv, optional 2× filtered downsampling, bias-act."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True, act: str = "lrelu",
                 down: bool = False, clamp: float | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.register_buffer("resample_filter", make_filter([1, 3, 3, 1]))
        self.weight_gain = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.kernel, self.act, self.down, self.clamp = kernel, act, down, clamp

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        fw = self.resample_filter.shape[-1]
        if self.down and self.kernel == 1:
            p0 = (fw - 1) // 2
            p1 = (fw - 2) // 2
            x = upfirdn2d(x, self.resample_filter, down=2, padding=(p0, p1, p0, p1))
            x = F.conv2d(x, w)
        elif self.down:
            p0 = self.kernel // 2 + (fw - 1) // 2
            p1 = self.kernel // 2 + (fw - 2) // 2
            x = upfirdn2d(x, self.resample_filter, padding=(p0, p1, p0, p1))
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.kernel // 2)
        act_gain = (math.sqrt(2.0) if self.act == "lrelu" else 1.0) * gain
        clamp = self.clamp * gain if self.clamp is not None else None
        return bias_act(x, self.bias, act=self.act, gain=act_gain, clamp=clamp)


class DBlock(nn.Module):
    def __init__(self, tmp_ch: int, out_ch: int, img_channels: int, first: bool, clamp: float | None) -> None:
        super().__init__()
        if first:
            self.fromrgb = DConv(img_channels, tmp_ch, 1, clamp=clamp)
        self.conv0 = DConv(tmp_ch, tmp_ch, 3, clamp=clamp)
        self.conv1 = DConv(tmp_ch, out_ch, 3, down=True, clamp=clamp)
        self.skip = DConv(tmp_ch, out_ch, 1, bias=False, act="linear", down=True)
        self.first = first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.first:
            x = self.fromrgb(x)
        y = self.skip(x, gain=SQRT_HALF)
        x = self.conv1(self.conv0(x), gain=SQRT_HALF)
        return y + x


class DiscriminatorFeatures(nn.Module):
    def __init__(self, widths: dict[int, tuple[int, int]], img_channels: int, clamp: float | None) -> None:
        super().__init__()
        self.resolutions = sorted(widths, reverse=True)
        for i, res in enumerate(self.resolutions):
            tmp_ch, out_ch = widths[res]
            setattr(self, f"b{res}", DBlock(tmp_ch, out_ch, img_channels, i == 0, clamp))

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """img (B, C, R, R) in [-1, 1] → each block's output."""
        x, out = img, []
        for res in self.resolutions:
            x = getattr(self, f"b{res}")(x)
            out.append(x)
        return out


def load_discriminator(path: Path, cfg) -> DiscriminatorFeatures | None:
    """The feature blocks from a discriminator.safetensors written at import, or None when
    its layout is not the residual discriminator (then projection matches pixels only)."""
    tensors = load_tensors(Path(path))
    try:
        with safe_open(str(path), "pt") as f:
            kwargs = json.loads((f.metadata() or {}).get("kwargs", "{}"))
    except (OSError, ValueError):
        kwargs = {}
    arch = kwargs.get("architecture", "resnet")
    clamp = kwargs.get("conv_clamp", 256)
    if arch != "resnet":
        return None
    widths: dict[int, tuple[int, int]] = {}
    res = cfg.img_resolution
    while res > 4:
        conv1 = tensors.get(f"b{res}.conv1.weight")
        if conv1 is None:
            return None
        widths[res] = (int(conv1.shape[1]), int(conv1.shape[0]))
        res //= 2
    model = DiscriminatorFeatures(widths, cfg.img_channels, None if clamp is None else float(clamp))
    state = model.state_dict()
    try:
        model.load_state_dict({k: tensors[k].float() for k in state if not k.endswith("resample_filter")},
                              strict=False)
        for k in state:
            if k.endswith("resample_filter") and k in tensors:
                state[k].copy_(tensors[k])
    except (KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"{path}: the discriminator's tensors do not fit ({exc})") from None
    missing = [k for k in state if k not in tensors]
    if missing:
        raise ModelLoadError(f"{path}: tensor '{missing[0]}' is missing")
    return model
