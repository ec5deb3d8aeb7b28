"""Recognise a local diffusers pipeline folder and make a model card for it. No torch.

A diffusers folder has a model_index.json naming the pipeline class and its components,
one subfolder each (unet/, vae/, scheduler/, text_encoder/, tokenizer/, ...). Everything
here reads JSON and safetensors headers only, so the library can list and check such a
folder without importing torch or diffusers. The family that runs it is "diffusers"
(studio/families/diffusers/model.py); nothing is written into the user's folder: the
card is made afresh each time the library reads the folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from studio.core.cards import ModelCard
from studio.core.paths import PathEscapeError, confined

INDEX_FILE = "model_index.json"
FAMILY = "diffusers"

# pipeline class → (what it is, the components it cannot run without)
PIPELINES: dict[str, tuple[str, tuple[str, ...]]] = {
    "DDPMPipeline": ("pixel", ("unet", "scheduler")),
    "DDIMPipeline": ("pixel", ("unet", "scheduler")),
    "LDMPipeline": ("latent", ("vqvae", "unet", "scheduler")),
    "StableDiffusionPipeline": (
        "sd", ("vae", "text_encoder", "tokenizer", "unet", "scheduler")),
    "StableDiffusionXLPipeline": (
        "sdxl", ("vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet",
                 "scheduler")),
}
# Components the studio never loads: the safety checker is left out as in AUTOMATIC1111
# and ComfyUI (README), and these only feed it or IP-adapters.
IGNORED = ("safety_checker", "feature_extractor", "image_encoder")
# the libraries whose classes a component may name; anything else is code in the folder
LIBRARIES = ("diffusers", "transformers")
# by pipeline kind, the IGNORED components the loader (families/diffusers_import.py) passes
# as None, so that they are never loaded
LEFT_OUT = {"sd": IGNORED, "sdxl": ("image_encoder",)}
DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"
TRANSFORMERS_WEIGHTS = "model.safetensors"


class NotAPipelineError(ValueError):
    """The folder is not a usable diffusers pipeline; the message says what is missing."""


def is_diffusers_folder(folder: str | Path) -> bool:
    return (Path(folder) / INDEX_FILE).is_file()


def read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotAPipelineError(f"{path}: missing; not a diffusers pipeline folder") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAPipelineError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise NotAPipelineError(f"{path}: not a JSON object")
    return data


def pipeline_kind(index: Mapping[str, Any], folder: Path) -> str:
    name = index.get("_class_name")
    if not isinstance(name, str):  # ["my_pipeline", "MyPipeline"]: code shipped in the folder
        raise NotAPipelineError(
            f"{folder / INDEX_FILE}: _class_name {name!r} names custom pipeline code; the "
            f"studio runs no code from model folders")
    if name not in PIPELINES:
        supported = ", ".join(PIPELINES)
        raise NotAPipelineError(
            f"{folder / INDEX_FILE}: names class {name!r}, which the studio does not support "
            f"(supported: {supported})")
    return PIPELINES[name][0]


def check_folder(folder: str | Path,
                 check_weights: Callable[[Path], object] | None = None) -> dict[str, Any]:
    """The model_index.json of a usable pipeline folder; NotAPipelineError otherwise.

    Every component the pipeline needs must be named in the index and present: a config,
    and safetensors weights for models (only safetensors are loaded). `check_weights`
    (the library's safetensors header reader) is called on each weights file found.
    """
    folder = Path(folder)
    index = read_index(folder)
    check_components(index, folder, pipeline_kind(index, folder))
    for name in PIPELINES[index["_class_name"]][1]:
        entry = index.get(name)
        if not (isinstance(entry, list) and len(entry) == 2 and entry[0] and entry[1]):
            raise NotAPipelineError(
                f"{folder / INDEX_FILE}: the {index['_class_name']} needs a component "
                f"{name!r}, which it does not name")
        library, class_name = entry
        sub = folder / name
        if not sub.is_dir():
            raise NotAPipelineError(f"{sub}: missing (component {name}: {class_name})")
        if name.startswith("scheduler"):
            _need(sub / "scheduler_config.json")
        elif name.startswith("tokenizer"):
            if not (sub / "tokenizer.json").is_file():
                _need(sub / "vocab.json")
                _need(sub / "merges.txt")
        else:
            _need(sub / "config.json")
            weights = _weights_file(sub, DIFFUSERS_WEIGHTS if library == "diffusers"
                                    else TRANSFORMERS_WEIGHTS)
            if check_weights is not None:
                for path in weights:
                    check_weights(path)
    return index


def check_components(index: Mapping[str, Any], folder: Path, kind: str) -> None:
    """Every component the index names is a subfolder of this one and a diffusers or
    transformers class: diffusers would import a component's own module (custom code) or
    read a folder named "../x", so both are refused here, at import, before any load."""
    source = folder / INDEX_FILE
    for name, entry in index.items():
        # _class_name and _diffusers_version are metadata, and entries that are not lists
        # pipeline settings (requires_safety_checker, force_zeros_for_empty_prompt ...)
        if name.startswith("_") or not isinstance(entry, list):
            continue
        try:
            confined(folder, name, "component", source, single=True)
        except PathEscapeError as exc:
            raise NotAPipelineError(str(exc)) from None
        if entry == [None, None]:  # a component left out, as saved
            continue
        if not (len(entry) == 2 and all(isinstance(part, str) and part for part in entry)):
            raise NotAPipelineError(f"{source}: component {name!r} is {entry!r}, not "
                                    f"[library, class]")
        library, class_name = entry
        # the loader passes None for these (SD's safety checker names "stable_diffusion")
        if library not in LIBRARIES and name not in LEFT_OUT.get(kind, ()):
            raise NotAPipelineError(
                f"{source}: component {name!r} names custom code ({library}.{class_name}); "
                f"the studio runs no code from model folders")


def _need(path: Path) -> None:
    if not path.is_file():
        raise NotAPipelineError(f"{path.parent.name}/{path.name} missing (in {path.parent.parent})")


def _weights_file(sub: Path, name: str) -> list[Path]:
    """The safetensors file(s) of a component: one file, or the shards its index lists."""
    single = sub / name
    if single.is_file():
        return [single]
    variant = sub / variant_name(name)
    if variant.is_file():  # a folder saved with variant="fp16" only
        return [variant]
    shards_index = sub / (name + ".index.json")
    if shards_index.is_file():
        try:
            weight_map = json.loads(shards_index.read_text(encoding="utf-8"))["weight_map"]
            names = set(weight_map.values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NotAPipelineError(f"{shards_index}: unreadable shard index ({exc})") from None
        try:  # a shard named "../x" or "/x" would be read from outside the folder
            shards = sorted(confined(sub, f, "shard", shards_index) for f in names)
        except PathEscapeError as exc:
            raise NotAPipelineError(str(exc)) from None
        for shard in shards:
            if not shard.is_file():
                raise NotAPipelineError(f"{sub.name}/{shard.name} missing (in {sub.parent})")
        return shards
    others = sorted(p.name for p in sub.iterdir() if p.suffix in (".bin", ".ckpt", ".pt", ".pth"))
    hint = (f"; only safetensors are loaded, and this folder has {', '.join(others)}"
            if others else "")
    raise NotAPipelineError(f"{sub.name}/{name} missing (in {sub.parent}){hint}")


def variant_name(name: str, variant: str = "fp16") -> str:
    """diffusion_pytorch_model.safetensors → diffusion_pytorch_model.fp16.safetensors"""
    stem, _, suffix = name.rpartition(".")
    return f"{stem}.{variant}.{suffix}"


def weights_variant(folder: Path) -> str | None:
    """"fp16" when the UNet ships only its fp16 variant (diffusers then loads every
    component's fp16 file where there is one), else None."""
    unet = folder / "unet"
    if (unet / DIFFUSERS_WEIGHTS).is_file() or (unet / (DIFFUSERS_WEIGHTS + ".index.json")).is_file():
        return None
    return "fp16" if (unet / variant_name(DIFFUSERS_WEIGHTS)).is_file() else None


def _config(folder: Path, component: str) -> dict[str, Any]:
    path = folder / component / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAPipelineError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise NotAPipelineError(f"{path}: not a JSON object")
    return data


def model_id_for(folder: Path) -> str:
    """A library id from the folder's name: lower case, words joined by dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", folder.name.lower()).strip("-")
    return slug or "diffusers-model"


def make_card(folder: str | Path,
              check_weights: Callable[[Path], object] | None = None) -> ModelCard:
    """A card for a diffusers folder: family "diffusers", id from the folder name, the
    image resolution from the UNet's sample size and the autoencoder's downsampling."""
    folder = Path(folder)
    index = check_folder(folder, check_weights)
    class_name = index["_class_name"]
    kind = PIPELINES[class_name][0]
    unet = _config(folder, "unet")
    size = unet.get("sample_size", 32)
    size = int(size if isinstance(size, int) else max(size))
    try:
        if kind == "pixel":
            channels, scale = int(unet.get("out_channels", 3)), 1
            latent_shape = None
        else:
            autoencoder = _config(folder, "vqvae" if kind == "latent" else "vae")
            scale = 2 ** (len(autoencoder.get("block_out_channels", [0])) - 1)
            channels = int(autoencoder.get("out_channels", 3))
            latent_shape = [int(unet.get("in_channels", 4)), size, size]
    except (TypeError, ValueError) as exc:
        raise NotAPipelineError(f"{folder}: unreadable component config ({exc})") from None
    if channels not in (1, 3):
        raise NotAPipelineError(f"{folder}: images with {channels} channels are not supported")
    conditional = kind in ("sd", "sdxl")
    variant = weights_variant(folder)
    label = {"pixel": "pixel-space diffusion", "latent": "latent diffusion",
             "sd": "Stable Diffusion", "sdxl": "Stable Diffusion XL"}[kind]
    return ModelCard(
        id=model_id_for(folder), name=folder.name, family=FAMILY, resolution=size * scale,
        channels=channels, latent_shape=latent_shape, dataset="",
        description=f"Imported diffusers {class_name} ({label}"
                    f"{', text-conditioned' if conditional else ', unconditional'}) from {folder}.",
        licence="see the model's own licence",
        weights_file=f"unet/{variant_name(DIFFUSERS_WEIGHTS) if variant else DIFFUSERS_WEIGHTS}",
        config={"pipeline": class_name, "kind": kind, "conditional": conditional,
                "vae_scale_factor": scale, "variant": variant},
    )
