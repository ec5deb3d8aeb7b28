"""What the diffusers autoencoder family and the VAE explorer share, in numpy: fitting a
photo to the working size, and the linear latent → RGB preview. No torch, no Qt.

The preview is how the explorer stays live while a real decoder takes seconds per image:
a (C, 3) map fitted when the model loads (studio/families/diffusers_vae/model.py) turns a
latent into a rough colour image in about a millisecond, so a scrub shows that at once
and the decode replaces it when it lands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from studio.core.params import ParamError

SIZE_STEP = 8  # an autoencoder with three downsamplings needs multiples of 8


def check_working_size(size: int, name: str = "working_size") -> int:
    size = int(size)
    if size % SIZE_STEP or size <= 0:
        raise ParamError(f"{name}: {size} is not a multiple of {SIZE_STEP}")
    return size


def fit_to_size(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A uint8 image (H, W), (H, W, C) or (1, H, W, C) → (height, width, 3) uint8.

    An image of another shape is centre-cropped to the target's aspect first, then
    resized (Lanczos), so that every image fitted to one size has that size and nothing
    is stretched; one already at the size is used as it is."""
    array = np.asarray(image)
    if array.ndim == 4:
        array = array[0]
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.dtype != np.uint8 or array.shape[2] not in (1, 3, 4):
        raise ParamError(f"image: expected a uint8 image (H, W, C), got {array.dtype} {array.shape}")
    if array.shape[2] == 4:  # transparent parts over black, as the rest of the studio does
        alpha = array[..., 3:].astype(np.float32) / 255.0
        array = (array[..., :3].astype(np.float32) * alpha).round().astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    h, w = array.shape[:2]
    if (h, w) == (height, width):
        return np.ascontiguousarray(array)
    # the largest centred window of the target's aspect
    if w * height > h * width:  # too wide: cut the sides
        crop_w, crop_h = max(1, round(h * width / height)), h
    else:  # too tall: cut top and bottom
        crop_w, crop_h = w, max(1, round(w * height / width))
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    pil = Image.fromarray(np.ascontiguousarray(array)).crop((left, top, left + crop_w, top + crop_h))
    if pil.size != (width, height):
        pil = pil.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.array(pil.convert("RGB"))


def preview_map_extras(weights: np.ndarray, bias: np.ndarray, factor: int) -> dict[str, Any]:
    """The preview map as a result carries it to the UI (extras["preview_map"])."""
    return {"weights": np.asarray(weights, np.float32), "bias": np.asarray(bias, np.float32),
            "factor": int(factor)}


def preview(latents: np.ndarray, preview_map: Mapping[str, Any]) -> np.ndarray:
    """Latents (N, C, h, w) or (C, h, w) → (N, h·f, w·f, 3) uint8 through the linear map
    (RGB in [-1, 1] per latent pixel), enlarged ×f with nearest neighbours to the size
    the decoder would give."""
    z = np.asarray(latents, np.float32)
    if z.ndim == 3:
        z = z[None]
    weights = np.asarray(preview_map["weights"], np.float32)  # (C, 3)
    bias = np.asarray(preview_map["bias"], np.float32)  # (3,)
    assert z.ndim == 4 and z.shape[1] == weights.shape[0], (z.shape, weights.shape)
    rgb = np.einsum("nchw,ck->nhwk", z, weights) + bias  # (N, h, w, 3)
    pixels = np.clip((rgb + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    factor = int(preview_map.get("factor", 1))
    if factor > 1:
        pixels = pixels.repeat(factor, axis=1).repeat(factor, axis=2)
    return pixels


def principal_directions(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of flattened latents (N, ...): (mean (D,), components (K, D) unit rows,
    stds (K,)), K the directions that carry variance (at most N − 1)."""
    z = np.asarray(latents, np.float64).reshape(len(latents), -1)
    if len(z) < 2:
        raise ParamError("directions: encode at least two images (or choose a folder of "
                         "images) to find principal directions")
    mean = z.mean(0)
    _, singular, vt = np.linalg.svd(z - mean, full_matrices=False)  # (N, D) with N ≪ D: cheap
    stds = singular / np.sqrt(len(z) - 1)
    keep = stds > max(float(stds[0]) * 1e-6, 1e-12) if len(stds) else np.zeros(0, bool)
    return mean.astype(np.float32), vt[keep].astype(np.float32), stds[keep].astype(np.float32)
