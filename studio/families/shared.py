"""What the families share: safetensors I/O that names the file and tensor on any
problem, uint8 image and mask inputs, class draws per seed, and (for the likelihood
families) the class-marginal log-likelihood with its posterior.

Torch is imported here, so only family modules (loaded on the engine's thread) use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from studio.core import atomic
from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import GLYPH_CLASSES
from studio.core.family import JobContext, ModelLoadError
from studio.core.params import ParamError
from studio.core.paths import PathEscapeError, confined

# -----------------------------------------------------------------------------
# weights


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelLoadError(f"{path}: the weights file is missing")
    try:
        return load_file(str(path))  # safetensors only: no pickle, no code
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{path}: not a readable safetensors file ({exc})") from None


def check_tensors(path: Path, tensors: Mapping[str, torch.Tensor],
                  expected: Mapping[str, tuple[int, ...]], strict: bool = True) -> None:
    """Every expected tensor is there, with its shape and finite values; `strict`: and
    nothing else is. Raises ModelLoadError naming the file and the tensor."""
    for name, shape in expected.items():
        if name not in tensors:
            raise ModelLoadError(f"{path}: tensor '{name}' is missing")
        got = tuple(tensors[name].shape)
        if got != tuple(shape):
            raise ModelLoadError(f"{path}: tensor '{name}' has shape {got} but the model expects {tuple(shape)}")
        if tensors[name].is_floating_point() and not torch.isfinite(tensors[name]).all():
            raise ModelLoadError(f"{path}: tensor '{name}' holds NaN or infinite values")
    unexpected = sorted(set(tensors) - set(expected))
    if strict and unexpected:
        raise ModelLoadError(f"{path}: unexpected tensors {', '.join(unexpected[:5])}")


def card_file(folder: Path, card: ModelCard, name: object = None,
              what: str = "weights_file") -> Path:
    """A file the card names (its weights_file, or `name` from its config), confined to
    the model folder by paths.confined; ModelLoadError naming the card otherwise."""
    ref = name if name is not None else (card.weights_file or WEIGHTS_FILE)
    try:
        return confined(folder, ref, what, Path(folder) / "card.json")
    except PathEscapeError as exc:
        raise ModelLoadError(str(exc)) from None


def check_shapes_first(path: Path, build: Callable[[], torch.nn.Module],
                       strict: bool = True) -> None:
    """Check the weights file against the network the card's config describes before
    either takes any memory: the network is built on the meta device (shapes, no storage)
    and compared with the tensor shapes in the file's header (read without loading). A
    config asking for a bigger network than its weights (widths of 1536 took 1.36 GB
    before "tensor missing") is refused in a line, the same line check_tensors gives."""
    from studio.core.library import LibraryError, read_safetensors_header

    if not path.is_file():
        raise ModelLoadError(f"{path}: the weights file is missing")
    try:
        header = read_safetensors_header(path)
    except LibraryError as exc:
        raise ModelLoadError(str(exc)) from None
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in build().state_dict().items()}
    except (TypeError, RuntimeError, NotImplementedError):
        # a constructor that computes on its tensors (StyleGAN3 designs its filters with
        # numpy) cannot be built without storage: check_tensors checks it after building
        return
    for name, shape in expected.items():
        if name not in header:
            raise ModelLoadError(f"{path}: tensor '{name}' is missing")
        got = tuple(header[name]["shape"])
        if got != shape:
            raise ModelLoadError(f"{path}: tensor '{name}' has shape {got} but the model "
                                 f"expects {shape}")
    unexpected = sorted(set(header) - set(expected))
    if strict and unexpected:
        raise ModelLoadError(f"{path}: unexpected tensors {', '.join(unexpected[:5])}")


def load_module(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], path: Path,
                prefix: str = "", strict: bool = True) -> None:
    """Load `tensors` (names `prefix` + the module's) into `module` in its own dtypes,
    checked by check_tensors first."""
    state = module.state_dict()
    check_tensors(path, tensors, {prefix + k: tuple(v.shape) for k, v in state.items()}, strict)
    module.load_state_dict({k: tensors[prefix + k].to(state[k].dtype) for k in state})


def load_network(folder: Path, card: ModelCard, config_cls: type, network_cls: type,
                 family: str) -> torch.nn.Module:
    """A family's network from its card's config and its checked weights file."""
    try:
        cfg = config_cls.from_dict(card.config)
    except (TypeError, ValueError, AssertionError) as exc:
        raise ModelLoadError(f"{Path(folder) / 'card.json'}: bad {family} config ({exc})") from None
    if (cfg.resolution, cfg.channels) != (card.resolution, card.channels):
        raise ModelLoadError(f"{Path(folder) / 'card.json'}: config and card disagree on "
                             f"resolution/channels")
    path = card_file(Path(folder), card)
    check_shapes_first(path, lambda: network_cls(cfg))
    network = network_cls(cfg)
    load_module(network, load_tensors(path), path)
    return network


def recipe_config(config_cls: type, recipe: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
    """The recipe's model config, checked against the training images' shape."""
    cfg = config_cls.from_dict(recipe.get("config", {}))
    shape = data["train"].images.shape[1:]
    assert shape == (cfg.resolution, cfg.resolution, cfg.channels), (shape, cfg)
    return cfg


def export_card(folder: Path, recipe: Mapping[str, Any], family: str, cfg: Any, digest: str,
                metrics: Mapping[str, float], steps_done: int, **fields: Any) -> ModelCard:
    """Write folder/card.json for weights just saved: the recipe's names and data, the
    config, the figures so far, and what training did."""
    from studio.core.training import write_card

    card = ModelCard(
        id=recipe["id"], name=recipe.get("name", recipe["id"]), family=family,
        resolution=cfg.resolution, channels=cfg.channels, classes=glyph_classes(recipe),
        dataset=recipe["dataset"].get("name", ""), description=recipe.get("description", ""),
        weights_sha256=digest, config=cfg.to_dict(), metrics=dict(metrics),
        training={"dataset": {k: v for k, v in recipe["dataset"].items() if k != "name"},
                  "train": dict(recipe.get("train", {})), "steps_done": steps_done},
        **fields)
    write_card(card, folder)
    return card


class OpDispatch:
    """The family base: a loaded model states only what differs. `run` dispatches to
    methods `_op_<name>(values, inputs, ctx)`: unknown ops and bad parameters are refused
    before any work, and a job cancelled before it started does nothing. `info` (the
    family's spec) gives the ops; `inference`: run the op under torch.inference_mode;
    `memory_bytes` counts the torch modules it holds unless a family counts more."""

    info: Any = None  # the family's FamilyInfo
    label: str = "model"
    inference: bool = False

    @property
    def ops(self) -> Mapping[str, Any]:
        """op name → OpSpec: the spec's ops unless the model narrows them."""
        ops = self.__dict__.get("_ops")
        if ops is None:
            ops = self.__dict__["_ops"] = {op.name: op for op in self.info.ops}
        return ops

    @ops.setter
    def ops(self, ops: Mapping[str, Any]) -> None:
        self.__dict__["_ops"] = dict(ops)

    def memory_bytes(self) -> int:
        """The parameters and buffers of every torch module among its attributes."""
        seen: set[int] = set()
        total = 0
        for value in vars(self).values():
            if isinstance(value, torch.nn.Module):
                for tensor in value.state_dict().values():
                    if id(tensor) not in seen:
                        seen.add(id(tensor))
                        total += tensor.numel() * tensor.element_size()
        return total

    def run(self, op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
            ctx: JobContext) -> Any:
        if op not in self.ops:
            raise ParamError(f"the {self.label} has no op {op!r}")
        values = self.ops[op].validate(params, inputs)  # defaults filled, ranges checked
        ctx.check_cancelled()
        method = getattr(self, f"_op_{op}")
        with self.running(values, ctx):
            if self.inference:
                with torch.inference_mode():
                    return method(values, inputs, ctx)
            return method(values, inputs, ctx)

    def running(self, values: Mapping[str, Any], ctx: JobContext) -> contextlib.AbstractContextManager:
        """What every op of this model runs inside, once its values are checked (an
        imported pipeline applies its memory switches and watches for a cancel)."""
        return contextlib.nullcontext()


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
    with atomic.atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": fmt, "config": json.dumps(dict(config))})
    return hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()


HELD_OUT_LIVE = 64  # held-out images scored at each log interval: about one batch's forward pass


def held_out_batch(data: Mapping[str, Any], limit: int = HELD_OUT_LIVE) -> dict[str, torch.Tensor]:
    """The first `limit` held-out images (a random subset: the split is drawn at random)
    as a training batch, for the figures streamed while a model trains."""
    from studio.core.training import to_batch

    held = data["held_out"]
    return to_batch(held, np.arange(min(len(held), limit)))


def glyph_classes(recipe: Mapping[str, Any]) -> list[str] | None:
    return list(GLYPH_CLASSES) if recipe["dataset"].get("name") == "glyphs" else None


# -----------------------------------------------------------------------------
# inputs


def image_input(image: np.ndarray, name: str, resolution: int, channels: int) -> np.ndarray:
    """A uint8 image (H, W, C), (N, H, W, C) (the first is taken) or (H, W), fitted to the
    model: (R, R, C) uint8."""
    from studio.core.media import fit_image

    image = np.asarray(image)
    if image.ndim == 4:  # (1, H, W, C) from a result: its first image
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
