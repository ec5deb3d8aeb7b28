"""The studio's own StyleGAN2 and StyleGAN3 (T and R) generators, read top to bottom.

Written for this studio from the papers (Karras et al. 2020, "Analyzing and Improving the
Image Quality of StyleGAN"; 2021, "Alias-Free Generative Adversarial Networks"). The
module and tensor names follow the layout of the network pickles that NVIDIA's training
code writes (`mapping.fc0.weight`, `synthesis.b64.conv0.affine.bias`,
`synthesis.L3_52_512.magnitude_ema`, ...), so an imported `G_ema` state dict loads as it
is. Every op is plain torch (see ops.py): CPU or CUDA, nothing compiled.

- Config: `StyleGANConfig`, built from the construction kwargs a pickle records.
- Mapping: z (+ an embedded one-hot class) → w, with the running mean `w_avg`.
- StyleGAN2 synthesis: a learned 4 × 4 constant, per resolution an upsampling modulated
  conv and a modulated conv with per-pixel noise, and a ToRGB skip branch summed over
  resolutions. `forward(ws, stop_res=R)` stops after resolution R and returns that
  branch's image (the live preview while a slider moves).
- StyleGAN3 synthesis: Fourier-feature input, then `num_layers` alias-free layers
  (modulated conv, filtered leaky ReLU), a final ToRGB, × output_scale.
- `Generator`: mapping + synthesis. Every synthesis takes `noise_mode` (const, random,
  none) and `should_stop`, a callable checked between blocks or layers: a render in
  flight is abandoned by raising from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from studio.families.config import CardConfig
from studio.families.stylegan.ops import (
    bias_act,
    conv_up2,
    filtered_lrelu,
    lowpass_filter,
    make_filter,
    up_matrix,
    upsample2d,
)

ARCHITECTURES = ("stylegan2", "stylegan3-t", "stylegan3-r")
# what one slider event may cost on one CPU thread (~20–40 ms at 25–50 GFLOP/s, less than
# half the 100 ms a drag may take to show, so a loaded machine still keeps up)
LIVE_BUDGET_MACS = 1.0e9
NOISE_MODES = ("const", "random", "none")

# -----------------------------------------------------------------------------
# config


@dataclass
class StyleGANConfig(CardConfig):
    architecture: str = "stylegan2"
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0
    img_resolution: int = 256
    img_channels: int = 3
    channel_base: int = 32768
    channel_max: int = 512
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01
    mapping_embed_features: int | None = None  # StyleGAN2: label embedding width (None = w_dim)
    mapping_layer_features: int | None = None  # StyleGAN2: hidden mapping width (None = w_dim)
    conv_clamp: float | None = 256.0
    # StyleGAN2
    sg2_architecture: str = "skip"  # only the skip generator is supported (NVIDIA's default)
    resample_filter: list[int] = field(default_factory=lambda: [1, 3, 3, 1])
    use_noise: bool = True  # per-pixel noise inputs (NVIDIA's default)
    # StyleGAN3
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2 ** 2.1
    last_stopband_rel: float = 2 ** 0.3
    margin_size: int = 10
    output_scale: float = 0.25
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: int = 2
    num_directions: int = 16  # PCA directions found at import

    def __post_init__(self) -> None:
        assert self.architecture in ARCHITECTURES, self.architecture
        assert self.img_resolution >= 4 and self.img_resolution & (self.img_resolution - 1) == 0, self
        assert self.img_channels in (1, 3), self
        assert self.sg2_architecture == "skip", "only StyleGAN2's skip generator is supported"
        assert 1 <= self.num_directions <= self.w_dim, self

    @classmethod
    def from_init_kwargs(cls, architecture: str, kwargs: Mapping[str, Any]) -> StyleGANConfig:
        """The config from the construction kwargs a network pickle records for its G."""
        kw = dict(kwargs)
        mapping = dict(kw.pop("mapping_kwargs", {}) or {})
        out: dict[str, Any] = {"architecture": architecture}
        for name in ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels", "channel_base",
                     "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                     "last_stopband_rel", "margin_size", "output_scale", "conv_kernel",
                     "filter_size", "lrelu_upsampling"):
            if name in kw:
                out[name] = kw[name]
        if "conv_clamp" in kw:
            out["conv_clamp"] = None if kw["conv_clamp"] is None else float(kw["conv_clamp"])
        if "architecture" in kw:
            out["sg2_architecture"] = kw["architecture"]
        if "use_noise" in kw:
            out["use_noise"] = bool(kw["use_noise"])
        if "resample_filter" in kw:
            out["resample_filter"] = list(kw["resample_filter"])
        out["mapping_layers"] = int(mapping.get("num_layers", 8 if architecture == "stylegan2" else 2))
        out["mapping_lr_mul"] = float(mapping.get("lr_multiplier", 0.01))
        out["mapping_embed_features"] = mapping.get("embed_features")
        out["mapping_layer_features"] = mapping.get("layer_features")
        return cls(**out)

    @property
    def stylegan3(self) -> bool:
        return self.architecture != "stylegan2"

    @property
    def radial(self) -> bool:
        return self.architecture == "stylegan3-r"

    # the names the studio's GAN ops read
    @property
    def resolution(self) -> int:
        return self.img_resolution

    @property
    def channels(self) -> int:
        return self.img_channels

    @property
    def num_classes(self) -> int:
        return self.c_dim

    @property
    def conditional(self) -> bool:
        return self.c_dim > 0

    @property
    def block_resolutions(self) -> list[int]:
        return [2 ** i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    @property
    def num_ws(self) -> int:
        if self.stylegan3:
            return self.num_layers + 2  # the input, every layer, the ToRGB
        return 2 * len(self.block_resolutions)  # 1 + 2 per doubling + the last ToRGB

    @property
    def latent_shape(self) -> tuple[int, int]:
        return (self.num_ws, self.w_dim)

    def layer_ranges(self) -> dict[str, list[int]]:
        """Coarse / middle / fine ranges of ws ([first, last], inclusive) for style mixing.
        StyleGAN2: by resolution, 4–8 coarse, 16–32 middle, 64 and up fine (the papers'
        split), in thirds for small models; StyleGAN3: the layers in thirds."""
        n = self.num_ws
        if self.stylegan3:
            parts = [p for p in np.array_split(np.arange(n), 3) if len(p)]
            while len(parts) < 3:
                parts.append(parts[-1])
            return {k: [int(p[0]), int(p[-1])] for k, p in zip(("coarse", "middle", "fine"), parts)}
        res = self.block_resolutions
        if len(res) >= 5:
            groups = [[r for r in res if r <= 8], [r for r in res if 16 <= r <= 32], [r for r in res if r >= 64]]
        else:
            groups = [list(map(int, g)) for g in np.array_split(np.array(res), 3) if len(g)]
            while len(groups) < 3:
                groups.append(groups[-1])

        def first_w(r: int) -> int:
            i = res.index(r)
            return max(0, 2 * i - 1)

        def last_w(r: int) -> int:
            i = res.index(r)
            return 2 * i + 1 if r == res[-1] else 2 * i

        return {k: [first_w(g[0]), last_w(g[-1])] for k, g in zip(("coarse", "middle", "fine"), groups)}

    def sg2_channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def synthesis_macs(self, stop_res: int | None = None) -> float:
        """Multiply-adds of the synthesis convolutions for one image (up to `stop_res`,
        StyleGAN2): what a live drag can afford is judged from it."""
        if self.stylegan3:
            lay = sg3_layout(self)
            total = 0.0
            for i in range(1, self.num_layers + 2):
                k = 1 if i == self.num_layers + 1 else self.conv_kernel
                total += lay["channels"][i - 2 if i > 1 else 0] * lay["channels"][i - 1] * k * k \
                    * float(lay["sizes"][i - 1]) ** 2
            return float(total)
        total = 0.0
        for res in self.block_resolutions:
            if stop_res is not None and res > stop_res:
                break
            out = self.sg2_channels(res)
            inp = self.sg2_channels(res // 2) if res > 4 else 0
            total += (inp * out * 9 + out * out * 9 + out * self.img_channels) * res * res
        return total

    def live_drag(self, budget_macs: float = LIVE_BUDGET_MACS) -> tuple[str, int]:
        """How the explorer renders a slider drag on this model: ("", 0) when a full frame
        fits the budget; StyleGAN2 ("progressive", R): previews from the largest level R
        that fits, the full frame when the drag pauses; StyleGAN3 ("abandon", 0): full
        frames only (no intermediate image), superseded ones abandoned midway."""
        if self.synthesis_macs() <= budget_macs:
            return "", 0
        if self.stylegan3:
            return "abandon", 0
        fitting = [r for r in self.block_resolutions[:-1] if self.synthesis_macs(r) <= budget_macs]
        return "progressive", (fitting[-1] if fitting else self.block_resolutions[1])


# -----------------------------------------------------------------------------
# shared modules


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """A linear layer with equalised learning rate: weights scaled by lr_mul / √fan_in
    and the bias by lr_mul at run time."""

    def __init__(self, in_features: int, out_features: int, act: str = "linear", lr_mul: float = 1.0,
                 bias_init: float | list[float] = 0.0, weight_init: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * (weight_init / lr_mul))
        bias = torch.as_tensor(np.broadcast_to(np.asarray(bias_init, np.float32), [out_features]).copy())
        self.bias = nn.Parameter(bias / lr_mul)
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias_gain != 1 else self.bias
        if self.act == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.act)


class MappingNetwork(nn.Module):
    """z (B, z_dim) [, c (B, c_dim)] → w (B, w_dim). StyleGAN2 and StyleGAN3 map alike."""

    def __init__(self, cfg: StyleGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        embed = 0
        if cfg.c_dim > 0:
            embed = cfg.mapping_embed_features or cfg.w_dim
            self.embed = FullyConnectedLayer(cfg.c_dim, embed)
        hidden = cfg.mapping_layer_features or cfg.w_dim
        widths = [cfg.z_dim + embed] + [hidden] * (cfg.mapping_layers - 1) + [cfg.w_dim]
        for i in range(cfg.mapping_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(widths[i], widths[i + 1], act="lrelu",
                                                        lr_mul=cfg.mapping_lr_mul))
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32))
        if self.cfg.c_dim > 0:
            assert c is not None and c.shape == (z.shape[0], self.cfg.c_dim), "a class vector is needed"
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1)
        for i in range(self.cfg.mapping_layers):
            x = getattr(self, f"fc{i}")(x)
        return x  # (B, w_dim)

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """w (B, w_dim) → w+ (B, num_ws, w_dim), pulled towards w_avg by ψ."""
        ws = w.unsqueeze(1).repeat(1, self.cfg.num_ws, 1)
        return ws if psi == 1 else self.w_avg.lerp(ws, psi)


# -----------------------------------------------------------------------------
# StyleGAN2 synthesis


class SG2Layer(nn.Module):
    """Modulated 3 × 3 conv (optionally upsampling 2×), demodulated, plus scaled noise,
    bias, leaky ReLU and clamp. Runs as scale → one shared conv → scale, which is the
    same maths as per-sample weights."""

    def __init__(self, cfg: StyleGANConfig, in_ch: int, out_ch: int, res: int, up: bool) -> None:
        super().__init__()
        self.affine = FullyConnectedLayer(cfg.w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.register_buffer("resample_filter", make_filter(cfg.resample_filter))
        self.use_noise = cfg.use_noise
        if self.use_noise:
            self.register_buffer("noise_const", torch.randn(res, res))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.up, self.res, self.clamp = up, res, cfg.conv_clamp
        self._wsq: tuple[int, torch.Tensor] | None = None
        self._wup: tuple[int, torch.Tensor] | None = None

    def _up_matrix(self) -> torch.Tensor | None:
        """up_matrix(weight), made contiguous once and kept while the weights are unchanged."""
        if self.weight.requires_grad or torch.is_grad_enabled():
            return None
        version = self.weight._version
        if self._wup is None or self._wup[0] != version or self._wup[1].device != self.weight.device:
            with torch.no_grad():
                self._wup = (version, up_matrix(self.weight).contiguous())
        return self._wup[1]

    def _weight_sq(self) -> torch.Tensor:
        """Σ_k w² per (Cin, Cout), kept while the weights are unchanged (every frame of a
        drag needs it; the weights never change outside training)."""
        if self.weight.requires_grad or torch.is_grad_enabled():  # training, projection
            return self.weight.square().sum(dim=(2, 3)).t()
        version = self.weight._version
        if self._wsq is None or self._wsq[0] != version or self._wsq[1].device != self.weight.device:
            with torch.no_grad():
                self._wsq = (version, self.weight.square().sum(dim=(2, 3)).t().contiguous())
        return self._wsq[1]

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str,
                generator: torch.Generator | None = None) -> torch.Tensor:
        # x: (B, Cin, H, W) → (B, Cout, res, res)
        styles = self.affine(w)  # (B, Cin)
        x = x * styles[:, :, None, None]
        if self.up:
            x = conv_up2(x, self.weight, self.resample_filter, self._up_matrix())
        else:
            x = F.conv2d(x, self.weight, padding=1)
        # demodulation: 1 / ‖style-scaled weights‖ per sample and output channel
        dcoefs = (styles.square() @ self._weight_sq() + 1e-8).rsqrt()  # (B, Cout)
        x = x * dcoefs[:, :, None, None]
        if not self.use_noise:
            pass
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        elif noise_mode == "random":
            noise = torch.randn((x.shape[0], 1, self.res, self.res), generator=generator,
                                device="cpu").to(x.device)
            x = x + noise * self.noise_strength
        return bias_act(x, self.bias, act="lrelu", clamp=self.clamp)


class SG2ToRGB(nn.Module):
    def __init__(self, cfg: StyleGANConfig, in_ch: int) -> None:
        super().__init__()
        self.affine = FullyConnectedLayer(cfg.w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cfg.img_channels, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(cfg.img_channels))
        self.weight_gain = 1.0 / math.sqrt(in_ch)
        self.clamp = cfg.conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain  # (B, Cin); no demodulation
        x = F.conv2d(x * styles[:, :, None, None], self.weight)
        return bias_act(x, self.bias, clamp=self.clamp)


class SG2Block(nn.Module):
    """One resolution: (conv0 ↑2), conv1, ToRGB; the skip image is upsampled and summed."""

    def __init__(self, cfg: StyleGANConfig, res: int) -> None:
        super().__init__()
        out_ch = cfg.sg2_channels(res)
        self.res = res
        self.first = res == 4
        self.register_buffer("resample_filter", make_filter(cfg.resample_filter))
        if self.first:
            self.const = nn.Parameter(torch.randn(out_ch, 4, 4))
        else:
            self.conv0 = SG2Layer(cfg, cfg.sg2_channels(res // 2), out_ch, res, up=True)
        self.conv1 = SG2Layer(cfg, out_ch, out_ch, res, up=False)
        self.torgb = SG2ToRGB(cfg, out_ch)
        self.num_conv = 1 if self.first else 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        # ws: (B, num_conv + 1, w_dim); the ToRGB takes the w after this block's convs
        if self.first:
            x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)  # (B, C, 4, 4)
            x = self.conv1(x, ws[:, 0], noise_mode, generator)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode, generator)  # (B, C, res, res)
            x = self.conv1(x, ws[:, 1], noise_mode, generator)
        y = self.torgb(x, ws[:, self.num_conv])
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


class SG2Synthesis(nn.Module):
    def __init__(self, cfg: StyleGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.block_resolutions = cfg.block_resolutions
        for res in self.block_resolutions:
            setattr(self, f"b{res}", SG2Block(cfg, res))

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", generator: torch.Generator | None = None,
                stop_res: int | None = None, should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
        """ws (B, num_ws, w_dim) → images (B, C, R, R), about [-1, 1]. With `stop_res`,
        the skip branch's image at that resolution (B, C, stop_res, stop_res)."""
        assert ws.shape[1:] == self.cfg.latent_shape, ws.shape
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            if should_stop is not None:
                should_stop()
            block = getattr(self, f"b{res}")
            x, img = block(x, img, ws.narrow(1, w_idx, block.num_conv + 1), noise_mode, generator)
            w_idx += block.num_conv
            if stop_res is not None and res >= stop_res:
                break
        return img


# -----------------------------------------------------------------------------
# StyleGAN3 synthesis


def sg3_layout(cfg: StyleGANConfig) -> dict[str, np.ndarray]:
    """Per layer (input = index 0, ToRGB = last): cut-off, stop band, sampling rate,
    transition half-width, size (with margins) and channels, from the paper's schedule."""
    n, crit = cfg.num_layers, cfg.num_critical
    last_cutoff = cfg.img_resolution / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / (n - crit), 1)
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** exponents
    stopbands = cfg.first_stopband * (last_stopband / cfg.first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, cfg.img_resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + cfg.margin_size * 2
    sizes[-2:] = cfg.img_resolution
    channels = np.rint(np.minimum((cfg.channel_base / 2) / cutoffs, cfg.channel_max))
    channels[-1] = cfg.img_channels
    return {"cutoffs": cutoffs, "rates": rates, "half_widths": half_widths, "sizes": sizes,
            "channels": channels}


class SG3Input(nn.Module):
    """Fourier features: sinusoids of fixed frequencies, rotated and translated per
    sample by an affine of w, then mixed by a learned matrix. (B, w_dim) → (B, C, S, S)."""

    def __init__(self, cfg: StyleGANConfig, channels: int, size: int, sampling_rate: float,
                 bandwidth: float) -> None:
        super().__init__()
        self.channels, self.size = channels, size
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        freqs = torch.randn(channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = FullyConnectedLayer(cfg.w_dim, 4, weight_init=0.0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))  # inverse user transform of the image
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        b = w.shape[0]
        t = self.affine(w)  # (B, 4): rotation (cos, sin) and translation (x, y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=w.device).unsqueeze(0).repeat(b, 1, 1)
        m_r[:, 0, 0] = t[:, 0]
        m_r[:, 0, 1] = -t[:, 1]
        m_r[:, 1, 0] = t[:, 1]
        m_r[:, 1, 1] = t[:, 0]
        m_t = torch.eye(3, device=w.device).unsqueeze(0).repeat(b, 1, 1)
        m_t[:, 0, 2] = -t[:, 2]
        m_t[:, 1, 2] = -t[:, 3]
        transforms = m_r @ m_t @ self.transform.unsqueeze(0)  # (B, 3, 3)
        freqs = self.freqs.unsqueeze(0)  # (1, C, 2)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)  # (B, C)
        freqs = freqs @ transforms[:, :2, :2]  # (B, C, 2)
        # fade out the frequencies above the band this layer can hold
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth)
                      / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)  # (B, C)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = 0.5 * self.size / self.sampling_rate
        theta[1, 1] = 0.5 * self.size / self.sampling_rate
        grids = F.affine_grid(theta.unsqueeze(0), [1, 1, self.size, self.size], align_corners=False)
        x = (grids.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # (B, S, S, C)
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (np.pi * 2)) * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)  # (B, C, S, S)


class SG3Layer(nn.Module):
    """Modulated conv (styles and weights normalised, then demodulated; the input scaled
    by its tracked magnitude), then the filtered leaky ReLU: upsample to a rate above the
    band, apply the nonlinearity, low-pass and downsample to the output rate."""

    def __init__(self, cfg: StyleGANConfig, idx: int, lay: Mapping[str, np.ndarray]) -> None:
        super().__init__()
        n = cfg.num_layers
        prev = max(idx - 1, 0)
        self.is_torgb = idx == n
        critical = idx >= n - cfg.num_critical
        self.in_ch, self.out_ch = int(lay["channels"][prev]), int(lay["channels"][idx])
        self.in_size, self.out_size = int(lay["sizes"][prev]), int(lay["sizes"][idx])
        in_rate, out_rate = int(lay["rates"][prev]), int(lay["rates"][idx])
        tmp_rate = max(in_rate, out_rate) * (1 if self.is_torgb else cfg.lrelu_upsampling)
        self.kernel = 1 if self.is_torgb else cfg.conv_kernel
        self.clamp = cfg.conv_clamp
        self.affine = FullyConnectedLayer(cfg.w_dim, self.in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(self.out_ch, self.in_ch, self.kernel, self.kernel))
        self.bias = nn.Parameter(torch.zeros(self.out_ch))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.up = int(np.rint(tmp_rate / in_rate))
        self.down = int(np.rint(tmp_rate / out_rate))
        up_taps = cfg.filter_size * self.up if self.up > 1 and not self.is_torgb else 1
        down_taps = cfg.filter_size * self.down if self.down > 1 and not self.is_torgb else 1
        self.register_buffer("up_filter", lowpass_filter(up_taps, float(lay["cutoffs"][prev]),
                                                         2 * float(lay["half_widths"][prev]), tmp_rate))
        self.register_buffer("down_filter", lowpass_filter(
            down_taps, float(lay["cutoffs"][idx]), 2 * float(lay["half_widths"][idx]), tmp_rate,
            radial=cfg.radial and not critical))
        pad_total = (self.out_size - 1) * self.down + 1
        pad_total -= (self.in_size + self.kernel - 1) * self.up
        pad_total += up_taps + down_taps - 2
        pad_lo = (pad_total + self.up) // 2  # the symmetric interpretation of the samples
        pad_hi = pad_total - pad_lo
        self.padding = (pad_lo, pad_hi, pad_lo, pad_hi)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # x: (B, Cin, S, S) → (B, Cout, S', S')
        styles = self.affine(w)  # (B, Cin)
        weight = self.weight
        if self.is_torgb:
            styles = styles * (1.0 / math.sqrt(self.in_ch * self.kernel ** 2))
        else:  # normalise weights and styles before demodulating (as StyleGAN3 does)
            weight = weight * weight.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
            styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
        input_gain = self.magnitude_ema.rsqrt()
        x = x * (styles * input_gain)[:, :, None, None]
        x = F.conv2d(x, weight, padding=self.kernel - 1)
        if not self.is_torgb:
            dcoefs = (styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8).rsqrt()  # (B, Cout)
            x = x * dcoefs[:, :, None, None]
        gain, slope = (1.0, 1.0) if self.is_torgb else (math.sqrt(2.0), 0.2)
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, self.up, self.down,
                              self.padding, gain, slope, self.clamp)


class SG3Synthesis(nn.Module):
    def __init__(self, cfg: StyleGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        lay = sg3_layout(cfg)
        self.input = SG3Input(cfg, int(lay["channels"][0]), int(lay["sizes"][0]),
                              float(lay["rates"][0]), float(lay["cutoffs"][0]))
        self.layer_names = []
        for idx in range(cfg.num_layers + 1):
            layer = SG3Layer(cfg, idx, lay)
            name = f"L{idx}_{layer.out_size}_{layer.out_ch}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", generator: torch.Generator | None = None,
                stop_res: int | None = None, should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
        """ws (B, num_ws, w_dim) → images (B, C, R, R). StyleGAN3 has no noise inputs and no
        intermediate image: `noise_mode` and `stop_res` are ignored."""
        assert ws.shape[1:] == self.cfg.latent_shape, ws.shape
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.layer_names, ws[1:]):
            if should_stop is not None:
                should_stop()
            x = getattr(self, name)(x, w)
        return x * self.cfg.output_scale if self.cfg.output_scale != 1 else x


# -----------------------------------------------------------------------------
# generator


class Generator(nn.Module):
    def __init__(self, cfg: StyleGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.synthesis = SG3Synthesis(cfg) if cfg.stylegan3 else SG2Synthesis(cfg)
        self.mapping = MappingNetwork(cfg)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                noise_mode: str = "const") -> torch.Tensor:
        ws = self.mapping.truncate(self.mapping(z, c), truncation_psi)
        return self.synthesis(ws, noise_mode=noise_mode)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) about [-1, 1] → (B, H, W, C) uint8, the way NVIDIA's gen_images.py
    writes PNGs: × 127.5 + 128, clamp to [0, 255], truncate."""
    pixels = (images.float().permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return pixels.cpu().numpy()
