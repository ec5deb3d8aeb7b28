"""What the families share: safetensors I/O that names the file and tensor on any
problem, uint8 image and mask inputs, class draws per seed, and (for the likelihood
families) the class-marginal log-likelihood with its posterior.

Torch is imported here, so only family modules (loaded on the engine's thread) use it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import GLYPH_CLASSES
from studio.core.family import ModelLoadError
from studio.core.params import ParamError

# -----------------------------------------------------------------------------
# weights


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelLoadError(f"{path}: the weights file is missing")
    try:
        return load_file(str(path))  # safetensors only: no pickle, no code
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{path}: not a readable safetensors file ({exc})") from None


def load_module(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    """Load `tensors` into `module` (strictly), naming the file and tensor on any problem."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    for name, shape in expected.items():
        if name not in tensors:
            raise ModelLoadError(f"{path}: tensor '{name}' is missing")
        got = tuple(tensors[name].shape)
        if got != shape:
            raise ModelLoadError(f"{path}: tensor '{name}' has shape {got} but the model expects {shape}")
        if tensors[name].is_floating_point() and not torch.isfinite(tensors[name]).all():
            raise ModelLoadError(f"{path}: tensor '{name}' holds NaN or infinite values")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise ModelLoadError(f"{path}: unexpected tensors {', '.join(unexpected[:5])}")
    state = module.state_dict()
    module.load_state_dict({k: tensors[k].to(state[k].dtype) for k in state})


def save_weights(module: torch.nn.Module, folder: Path, fmt: str, config: Mapping[str, Any],
                 half: bool = False) -> str:
    """Write the module's state as folder/model.safetensors (atomically); return its sha256.
    `half`: floating-point tensors in fp16 (the families compute in fp32)."""
    tensors = {}
    for name, value in module.state_dict().items():
        value = value.detach().contiguous()
        if half and value.is_floating_point():
            value = value.half()
        tensors[name] = value
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    save_file(tensors, tmp, metadata={"format": fmt, "config": json.dumps(dict(config))})
    os.chmod(tmp, 0o644)  # mkstemp makes 0600
    os.replace(tmp, folder / WEIGHTS_FILE)  # atomic
    return hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()


def glyph_classes(recipe: Mapping[str, Any]) -> list[str] | None:
    return list(GLYPH_CLASSES) if recipe["dataset"].get("name") == "glyphs" else None


def config_error(folder: Path, family: str, exc: Exception) -> ModelLoadError:
    return ModelLoadError(f"{Path(folder) / 'card.json'}: bad {family} config ({exc})")


def check_card(folder: Path, card: ModelCard, resolution: int, channels: int) -> None:
    if (resolution, channels) != (card.resolution, card.channels):
        raise ModelLoadError(f"{Path(folder) / 'card.json'}: config and card disagree on "
                             f"resolution/channels")


# -----------------------------------------------------------------------------
# inputs


def image_input(image: np.ndarray, name: str, resolution: int, channels: int) -> np.ndarray:
    """A uint8 image (H, W, C), (1, H, W, C) or (H, W), fitted to the model: (R, R, C) uint8."""
    from studio.core.media import fit_image

    image = np.asarray(image)
    if image.ndim == 4 and image.shape[0] == 1:  # (1, H, W, C) from a result
        image = image[0]
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.dtype != np.uint8:
        raise ParamError(f"{name}: expected a uint8 image (H, W, C), got {image.dtype} {image.shape}")
    return np.ascontiguousarray(fit_image(image, resolution, channels))


def mask_input(mask: np.ndarray, name: str, resolution: int) -> np.ndarray:
    """A mask (H, W), (H, W, 1) or (1, H, W, 1), any dtype, nonzero = the region to fill,
    resized (nearest) to the model: (R, R) bool."""
    from PIL import Image

    mask = np.asarray(mask)
    while mask.ndim > 2 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim == 3:
        mask = mask.max(axis=-1)
    if mask.ndim != 2 or mask.size == 0:
        raise ParamError(f"{name}: expected a 2-D mask, got shape {mask.shape}")
    binary = (mask > (127 if mask.dtype == np.uint8 else 0.5)).astype(np.uint8) * 255
    if binary.shape != (resolution, resolution):
        binary = np.asarray(Image.fromarray(binary).resize((resolution, resolution),
                                                           Image.Resampling.NEAREST))
    return binary > 0


def seed_classes(gen: torch.Generator, count: int, class_index: int, num_classes: int
                 ) -> torch.Tensor | None:
    """Per image its class: `class_index` when ≥ 0, else drawn from `gen`. None when the
    model is unconditional. Drawn first from the seed's generator, so the same seed gives
    the same classes whatever else the op draws after."""
    if num_classes <= 0:
        return None
    if class_index >= num_classes:
        raise ParamError(f"class_index: {class_index} is outside -1..{num_classes - 1} "
                         f"(the model has {num_classes} classes)")
    drawn = torch.randint(num_classes, (count,), generator=gen)
    return torch.full((count,), int(class_index)) if class_index >= 0 else drawn


# -----------------------------------------------------------------------------
# likelihood read-outs


def marginal_log_likelihood(log_p_given_class: torch.Tensor) -> tuple[float, np.ndarray]:
    """log p(x|c) for each class c (K,) → (log p(x) under a uniform class prior, p(c|x) (K,)).
    Exact: the sum over classes is done in log space."""
    k = log_p_given_class.shape[0]
    lp = log_p_given_class.double()
    log_px = torch.logsumexp(lp, 0) - math.log(k)
    posterior = torch.softmax(lp, 0)
    return float(log_px), posterior.float().numpy()


def bits_per_dim(nll_nats: float, dims: int) -> float:
    return nll_nats / (dims * math.log(2.0))
