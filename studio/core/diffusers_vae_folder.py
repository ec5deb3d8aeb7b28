"""Recognise a diffusers autoencoder folder and make its model card. No torch.

Two places an autoencoder comes from, both opened in the VAE explorer by the family
"diffusers_vae" (studio/families/diffusers_vae/model.py):
- a standalone folder, as diffusers saves an `AutoencoderKL` (or `VQModel`): config.json
  with its `_class_name`, and diffusion_pytorch_model.safetensors;
- the vae/ component of an imported Stable Diffusion or SDXL pipeline, listed as the
  model `<pipeline-id>-vae` (its card's config names the pipeline as "parent").

The same rules as pipeline import hold: local files, safetensors only, and only classes
of diffusers itself (a config naming anything else is refused before any load).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.cards import ModelCard
from studio.core.diffusers_folder import (
    DIFFUSERS_WEIGHTS,
    NotAPipelineError,
    _weights_file,
    model_id_for,
)

FAMILY = "diffusers_vae"
CONFIG_FILE = "config.json"
CLASSES = ("AutoencoderKL", "VQModel")
# what a dropped photo is fitted to unless the user chooses otherwise: decoding 256 px
# takes seconds on a CPU, 512 px half a minute (README, "Your own VAEs")
WORKING_SIZE = 256
MAX_WORKING_SIZE = 1024


class NotAnAutoencoderError(NotAPipelineError):
    """The folder is not a usable diffusers autoencoder; the message says why."""


def read_config(folder: Path) -> dict[str, Any] | None:
    """The folder's config.json when it names a diffusers autoencoder class, else None."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAnAutoencoderError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict) or data.get("_class_name") not in CLASSES:
        return None
    return data


def is_autoencoder_folder(folder: str | Path) -> bool:
    try:
        return read_config(Path(folder)) is not None
    except NotAnAutoencoderError:
        return True  # it claims to be one: make_card says what is wrong


def make_card(folder: str | Path, check_weights: Callable[[Path], object] | None = None, *,
              model_id: str | None = None, name: str | None = None,
              parent: str | None = None) -> ModelCard:
    """A card for an autoencoder folder: family "diffusers_vae", the config's
    `scaling_factor` recorded (latents are written unscaled, as `latent_dist.mean`)."""
    folder = Path(folder)
    config = read_config(folder)
    if config is None:
        raise NotAnAutoencoderError(
            f"{folder / CONFIG_FILE}: not a diffusers {' or '.join(CLASSES)} config")
    weights = _weights_file(folder, DIFFUSERS_WEIGHTS)  # safetensors only; says what else is there
    if check_weights is not None:
        for path in weights:
            check_weights(path)
    try:
        blocks = len(config.get("block_out_channels", [0]))
        factor = 2 ** (blocks - 1)
        channels = int(config.get("out_channels", 3))
        latent_channels = int(config.get("latent_channels", 4))
        size = config.get("sample_size", 512)
        size = int(size if isinstance(size, int) else max(size))
        scaling = float(config.get("scaling_factor", 0.18215))
        shift = config.get("shift_factor")
        shift = None if shift is None else float(shift)
    except (TypeError, ValueError) as exc:
        raise NotAnAutoencoderError(f"{folder / CONFIG_FILE}: unreadable config ({exc})") from None
    if channels != 3 or int(config.get("in_channels", 3)) != 3:
        raise NotAnAutoencoderError(f"{folder / CONFIG_FILE}: only RGB autoencoders are supported")
    # the resolution the window fits dropped images to before the working size: the
    # model's own, within what the working size allows
    resolution = max(64, min(MAX_WORKING_SIZE, size - size % 8))
    latent = resolution // factor
    class_name = config["_class_name"]
    source = f"the vae/ of the pipeline {parent!r}" if parent else str(folder)
    return ModelCard(
        id=model_id or model_id_for(folder), name=name or folder.name, family=FAMILY,
        resolution=resolution, channels=3, latent_shape=[latent_channels, latent, latent],
        dataset="", description=f"Imported diffusers {class_name} from {source}.",
        licence="see the model's own licence",
        weights_file=weights[0].relative_to(folder).as_posix(),
        config={"class": class_name, "scaling_factor": scaling, "shift_factor": shift,
                "vae_scale_factor": factor, "latent_channels": latent_channels,
                "parent": parent, "working_size": WORKING_SIZE},
    )


def pipeline_vae_card(pipeline_folder: Path, pipeline_card: ModelCard,
                      check_weights: Callable[[Path], object] | None = None) -> ModelCard | None:
    """The card of a pipeline's vae/ as the model `<pipeline-id>-vae`, or None when the
    pipeline has no diffusers autoencoder there (DDPM, DDIM; LDM's is a vqvae/)."""
    sub = pipeline_folder / "vae"
    if pipeline_card.config.get("kind") not in ("sd", "sdxl") or not sub.is_dir():
        return None
    return make_card(sub, check_weights, model_id=f"{pipeline_card.id}-vae",
                     name=f"{pipeline_card.name} › VAE", parent=pipeline_card.id)
