"""Pure-torch filtered resampling and bias-activation, the building blocks StyleGAN2 and
StyleGAN3 need. Written for this studio from the published maths (upfirdn, Kaiser-window
FIR design); nothing is compiled, so the same code runs on the CPU and on CUDA.

- `upfirdn2d`: upsample by zero insertion, pad (negative = crop), convolve with a FIR
  filter (2-D, or 1-D applied along x then y), keep every `down`-th sample.
- `upsample2d` / `conv_up2`: the 2× upsampling of StyleGAN2's skip branch and of its
  upsampling convolution, padded so that the output is exactly twice the input.
- `bias_act`: bias, leaky ReLU with a gain, and an optional clamp.
- `filtered_lrelu`: StyleGAN3's bias → upsample → leaky ReLU → downsample.
- `lowpass_filter`: a Kaiser-window low-pass FIR (the same design as SciPy's
  `firwin(numtaps, cutoff, width=..., fs=...)`), used only to initialise new networks;
  imported networks bring their own filters as buffers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


def make_filter(taps: list[float] | tuple[float, ...]) -> torch.Tensor:
    """A separable binomial-like filter [1, 3, 3, 1] → its normalised 2-D outer product."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] | int = 0, gain: float = 1.0) -> torch.Tensor:
    """x (B, C, H, W); f (kh, kw), (k,) separable, or None (identity).
    padding: (x0, x1, y0, y1) with respect to the upsampled image (negative crops).

    Upsample by zero insertion, pad, convolve with f, keep every down-th sample; computed
    without the zeros and the dropped samples: a separable filter runs as two 1-D passes,
    upsampling as a strided transposed convolution, downsampling as a strided one. Equal
    to upfirdn2d_reference up to float rounding."""
    if isinstance(padding, int):
        padding = (padding, padding, padding, padding)
    px0, px1, py0, py1 = padding
    if f is not None and f.ndim == 1:
        f = (f * (gain ** 0.5)).to(x.dtype)
        x = _fir_1d(x, f, up, down, px0, px1, dim=3)
        return _fir_1d(x, f, up, down, py0, py1, dim=2)
    if up > 1 or f is None:
        return upfirdn2d_reference(x, f, up, down, padding, gain)
    c = x.shape[1]
    x = F.pad(x, [px0, px1, py0, py1])  # negative values crop
    f = (f * gain).to(x.dtype).flip([0, 1])
    return F.conv2d(x, f[None, None].expand(c, 1, *f.shape), stride=down, groups=c)


def _fir_1d(x: torch.Tensor, f: torch.Tensor, up: int, down: int, p0: int, p1: int,
            dim: int) -> torch.Tensor:
    """One pass of upfirdn along `dim` (3: width, 2: height) with the 1-D filter f."""
    c, k, n = x.shape[1], f.numel(), x.shape[dim]
    shape = (c, 1, 1, k) if dim == 3 else (c, 1, k, 1)

    def pad(t: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
        return F.pad(t, [lo, hi, 0, 0] if dim == 3 else [0, 0, lo, hi])  # negative crops

    if up > 1:
        # the full convolution of the zero-inserted signal with f, then the window the
        # padding selects: out[m] = full[m + k − 1 − p0]
        stride = (1, up) if dim == 3 else (up, 1)
        full = F.conv_transpose2d(x, f.reshape(1, 1, *shape[2:]).expand(*shape), stride=stride, groups=c)
        start, length = k - 1 - p0, n * up + p0 + p1 - k + 1
        out = pad(full, -start, start + length - full.shape[dim])
        if down > 1:
            out = out[:, :, :, ::down] if dim == 3 else out[:, :, ::down, :]
        return out
    x = pad(x, p0, p1)
    stride = (1, down) if dim == 3 else (down, 1)
    return F.conv2d(x, f.flip(0).reshape(1, 1, *shape[2:]).expand(*shape), stride=stride, groups=c)


def upfirdn2d_reference(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] | int = 0, gain: float = 1.0) -> torch.Tensor:
    """upfirdn2d done literally (zero insertion, pad, convolve, keep every down-th
    sample): the definition the fast paths are tested against."""
    if isinstance(padding, int):
        padding = (padding, padding, padding, padding)
    px0, px1, py0, py1 = padding
    b, c, h, w = x.shape
    if up > 1:  # zero insertion: every sample followed by up − 1 zeros
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(b, c, h * up, w * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    if f is not None:
        f = (f * (gain ** (f.ndim / 2))).to(x.dtype).flip(list(range(f.ndim)))  # convolution
        if f.ndim == 2:
            x = F.conv2d(x, f[None, None].expand(c, 1, *f.shape), groups=c)
        else:
            x = F.conv2d(x, f[None, None, None, :].expand(c, 1, 1, f.numel()), groups=c)
            x = F.conv2d(x, f[None, None, :, None].expand(c, 1, f.numel(), 1), groups=c)
    elif gain != 1:
        x = x * gain
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def _filter_size(f: torch.Tensor | None) -> int:
    return 1 if f is None else int(f.shape[-1])


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """(B, C, H, W) → (B, C, up·H, up·W), filtered, with the DC gain kept."""
    fw = _filter_size(f)
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def up_matrix(weight: torch.Tensor) -> torch.Tensor:
    """The transposed convolution's weights as one matrix (Cout·k·k, Cin), for conv_up2."""
    cout, cin, k, _ = weight.shape
    return weight.transpose(0, 1).reshape(cin, cout * k * k).t()


def conv_up2(x: torch.Tensor, weight: torch.Tensor, f: torch.Tensor,
             matrix: torch.Tensor | None = None) -> torch.Tensor:
    """A k × k convolution with 2× upsampling (StyleGAN2's conv0): a transposed
    convolution of stride 2, then the low-pass filter. (B, Cin, H, W) → (B, Cout, 2H, 2W).
    weight: (Cout, Cin, k, k). The transposed convolution runs as one matrix product and a
    fold (col2im), which on a CPU is 1.3–3 × faster than conv_transpose2d at these sizes;
    `matrix`: up_matrix(weight), when the caller keeps it."""
    b, cin, h, w = x.shape
    cout, _, k, _ = weight.shape
    if matrix is None:
        matrix = up_matrix(weight)
    cols = matrix @ x.reshape(b, cin, h * w)  # (B, Cout·k·k, H·W)
    x = F.fold(cols, output_size=(2 * h + k - 2, 2 * w + k - 2), kernel_size=k, stride=2)
    fw = _filter_size(f)
    pad = k // 2
    p0 = pad + (fw + 1) // 2 - (k - 1)
    p1 = pad + (fw - 2) // 2 - (k - 2)
    return upfirdn2d(x, f, padding=(p0, p1, p0, p1), gain=4.0)


def bias_act(x: torch.Tensor, b: torch.Tensor | None, act: str = "linear", gain: float | None = None,
             clamp: float | None = None, alpha: float = 0.2) -> torch.Tensor:
    """Add a per-channel bias (dim 1), apply the activation, scale by its gain (√2 for
    leaky ReLU by default), then clamp to ±clamp."""
    if b is not None:
        x = x + b.reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    if act == "lrelu":
        x = F.leaky_relu(x, alpha)
        gain = SQRT2 if gain is None else gain
    else:
        assert act == "linear", act
        gain = 1.0 if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor,
                   up: int, down: int, padding: tuple[int, int, int, int], gain: float, slope: float,
                   clamp: float | None) -> torch.Tensor:
    """StyleGAN3's alias-free nonlinearity: bias, upsample (filter fu), leaky ReLU at the
    higher rate with gain and clamp, downsample (filter fd)."""
    x = bias_act(x, b)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up * up)
    x = bias_act(x, None, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down)


# -----------------------------------------------------------------------------
# filter design (new networks only)


def _kaiser_beta(atten: float) -> float:
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                   radial: bool = False) -> torch.Tensor | None:
    """A Kaiser-window low-pass FIR: `numtaps` taps, cut-off and transition width in the
    units of the sampling rate `fs`; unit gain at DC. One tap means no filter (None).
    `radial`: a radially symmetric 2-D filter (jinc × Kaiser², StyleGAN3-R)."""
    if numtaps == 1:
        return None
    nyq = fs / 2
    atten = 2.285 * (numtaps - 1) * math.pi * (width / nyq) + 7.95
    beta = _kaiser_beta(atten)
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        c = cutoff / nyq
        h = c * np.sinc(c * m) * np.kaiser(numtaps, beta)
        return torch.as_tensor(h / h.sum(), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = torch.as_tensor(np.hypot(*np.meshgrid(x, x)), dtype=torch.float64)
    safe = torch.where(r == 0, torch.ones_like(r), r)
    jinc = torch.special.bessel_j1(2 * cutoff * math.pi * safe) / (math.pi * safe)
    jinc = torch.where(r == 0, torch.full_like(r, cutoff), jinc)  # the limit at r = 0
    window = np.kaiser(numtaps, beta)
    h = jinc.numpy() * np.outer(window, window)
    return torch.as_tensor(h / h.sum(), dtype=torch.float32)
