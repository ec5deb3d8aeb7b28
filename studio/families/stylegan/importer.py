"""`studio import FILE.pkl`: an NVIDIA StyleGAN network pickle → a studio model folder.

1. The pickle is read as data (pickle_reader.py): nothing it carries runs.
2. The architecture (StyleGAN2, StyleGAN3-T, StyleGAN3-R) is told from the tensors, the
   config from the construction kwargs the pickle records for `G_ema`; the studio's own
   generator (networks.py) is built from it and must take every tensor, name and shape.
3. StyleGAN3's input transform is reset to the identity, as NVIDIA's gen_images.py does
   before every render.
4. Directions: PCA of mapped w (GANSpace), on a fixed batch of seeds, with progress and
   cancel.
5. Written atomically: model.safetensors (G_ema + the direction vectors), the
   discriminator's tensors in discriminator.safetensors when the pickle has `D` (for
   projection), card.json. Later loads read only these, never the pickle again.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from studio.core import atomic
from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.directions import VECTORS_TENSOR
from studio.families.stylegan.networks import Generator, StyleGANConfig
from studio.families.stylegan.pickle_reader import (
    PersistentRecord,
    PickleReadError,
    read_network_pickle,
)

FAMILY = "stylegan"
FORMAT = "latent-studio/stylegan"
DISCRIMINATOR_FILE = "discriminator.safetensors"
PCA_SAMPLES = 10_000
PCA_BATCH = 1_000
MAX_PICKLE_BYTES = 4 << 30


class ImportCancelled(Exception):
    """The user cancelled the import; nothing was written."""


def detect_architecture(record: PersistentRecord, tensors: Mapping[str, torch.Tensor]) -> str:
    if "synthesis.b4.const" in tensors:
        kwargs = record.init_kwargs
        arch = kwargs.get("architecture", (kwargs.get("synthesis_kwargs") or {}).get("architecture", "skip"))
        if arch != "skip":
            raise PickleReadError(f"a StyleGAN2 with the {arch!r} synthesis; only the skip generator "
                                  "(NVIDIA's default) is supported")
        return "stylegan2"
    if "synthesis.input.freqs" in tensors:
        radial = any(k.endswith("down_filter") and v.ndim == 2 for k, v in tensors.items())
        return "stylegan3-r" if radial else "stylegan3-t"
    raise PickleReadError("G_ema is neither a StyleGAN2 nor a StyleGAN3 generator "
                          "(no synthesis.b4.const, no synthesis.input.freqs)")


def _plain(value: Any) -> Any:
    """Construction kwargs as JSON-ready data (numpy scalars → numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def build_generator(record: PersistentRecord) -> tuple[Generator, dict[str, torch.Tensor], dict[str, Any]]:
    """The studio's generator with G_ema's tensors loaded, the tensors, and the kwargs."""
    if record.class_name != "Generator":
        raise PickleReadError(f"G_ema is a {record.class_name!r}, not a Generator")
    tensors = record.state_dict()
    arch = detect_architecture(record, tensors)
    kwargs = _plain(record.init_kwargs)
    flat = dict(kwargs)
    flat.update(flat.pop("synthesis_kwargs", None) or {})  # stylegan2-ada-pytorch nests them
    for need in ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels"):
        if need not in flat:
            raise PickleReadError(f"G_ema's construction kwargs lack {need!r}")
    try:
        cfg = StyleGANConfig.from_init_kwargs(arch, flat)
        if cfg.stylegan3 and "conv_kernel" not in flat and arch == "stylegan3-r":
            cfg.conv_kernel = 1  # NVIDIA's R config: 1 × 1 convs
        G = Generator(cfg)
    except (AssertionError, TypeError, ValueError) as exc:
        raise PickleReadError(f"G_ema's construction kwargs are not a supported StyleGAN ({exc})") from None
    expected = {k: tuple(v.shape) for k, v in G.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing or extra:
        raise PickleReadError(f"G_ema's tensors do not match a {arch} built from its kwargs "
                              f"(missing {missing[:3]}, unexpected {extra[:3]})")
    for k, shape in expected.items():
        if got[k] != shape:
            raise PickleReadError(f"G_ema tensor {k} has shape {got[k]}, expected {shape}")
        if tensors[k].is_floating_point() and not torch.isfinite(tensors[k]).all():
            raise PickleReadError(f"G_ema tensor {k} holds NaN or infinite values")
    G.load_state_dict({k: v.float() for k, v in tensors.items()})
    if cfg.stylegan3:  # gen_images.py renders with the identity transform
        G.synthesis.input.transform.copy_(torch.eye(3))
    return G.eval().requires_grad_(False), tensors, kwargs


@torch.inference_mode()
def pca_directions(G: Generator, count: int, progress: Callable[[float, str], None] | None = None,
                   cancelled: Callable[[], bool] | None = None, samples: int = PCA_SAMPLES,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The top `count` principal directions of mapped w (unit rows, (K, w_dim)) and the
    standard deviation along each (K,). Classes drawn uniformly for conditional models."""
    cfg = G.cfg
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros(cfg.w_dim, dtype=torch.float64)
    outer = torch.zeros(cfg.w_dim, cfg.w_dim, dtype=torch.float64)
    done = 0
    while done < samples:
        if cancelled is not None and cancelled():
            raise ImportCancelled("import cancelled")
        n = min(PCA_BATCH, samples - done)
        z = torch.randn((n, cfg.z_dim), generator=gen)
        c = None
        if cfg.c_dim:
            c = torch.nn.functional.one_hot(torch.randint(cfg.c_dim, (n,), generator=gen), cfg.c_dim).float()
        w = G.mapping(z, c).double()  # (n, w_dim)
        total += w.sum(0)
        outer += w.T @ w
        done += n
        if progress is not None:
            progress(done / samples, f"directions: {done}/{samples} samples of w")
    mean = total / done
    cov = (outer - done * torch.outer(mean, mean)) / max(1, done - 1)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    order = torch.argsort(evals, descending=True)[:count]
    vectors = evecs[:, order].T.contiguous()
    signs = torch.sign(vectors.gather(1, vectors.abs().argmax(1, keepdim=True)))
    vectors = vectors * torch.where(signs == 0, torch.ones_like(signs), signs)
    return vectors.float(), evals[order].clamp_min(0).sqrt().float()


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:60] or "stylegan"


def _save(tensors: Mapping[str, torch.Tensor], path: Path, meta: Mapping[str, str]) -> None:
    with atomic.atomic_path(path) as tmp:
        save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, str(tmp),
                  metadata=dict(meta))


def import_network_pickle(path: str | Path, models_dir: str | Path, *,
                          taken: Callable[[str], bool] = lambda _id: False,
                          progress: Callable[[float, str], None] | None = None,
                          cancelled: Callable[[], bool] | None = None,
                          pca_samples: int = PCA_SAMPLES) -> Path:
    """Convert the pickle at `path` into a new folder under `models_dir`; return the folder.
    Raises PickleReadError (a ValueError) naming the file on anything it cannot read, and
    ImportCancelled when `cancelled()` turns true (nothing is written then)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PICKLE_BYTES:
            raise PickleReadError(f"{path}: larger than {MAX_PICKLE_BYTES >> 30} GiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise PickleReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = read_network_pickle(raw)
        G, _, kwargs = build_generator(data["G_ema"])
    except PickleReadError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    try:  # D is optional (projection then matches pixels only)
        d_tensors = data["D"].state_dict() if data["D"] is not None else {}
    except PickleReadError:
        d_tensors = {}
    d_kwargs = _plain(data["D"].init_kwargs) if data["D"] is not None else {}
    tsk = data["training_set_kwargs"] or {}
    base = slug(path.stem)
    model_id, n = base, 1
    models_dir = Path(models_dir)
    while taken(model_id) or (models_dir / model_id).exists():
        n += 1
        model_id = f"{base}-{n}"
    return write_model_folder(
        G, models_dir / model_id, model_id, path.stem, f"imported from {path.name}",
        d_tensors=d_tensors, d_kwargs=d_kwargs,
        dataset=Path(str(tsk.get("path", ""))).name if tsk.get("path") else "",
        source={"file": path.name, "architecture": G.cfg.architecture, "init_kwargs": kwargs,
                "training_set": {k: _plain(v) for k, v in tsk.items() if k != "path"}},
        progress=progress, cancelled=cancelled, pca_samples=pca_samples)


ARCH_LABELS = {"stylegan2": "StyleGAN2", "stylegan3-t": "StyleGAN3-T", "stylegan3-r": "StyleGAN3-R"}


def write_model_folder(G: Generator, folder: Path, model_id: str, name: str, origin: str, *,
                       d_tensors: Mapping[str, torch.Tensor] | None = None,
                       d_kwargs: Mapping[str, Any] | None = None, dataset: str = "",
                       source: Mapping[str, Any] | None = None,
                       progress: Callable[[float, str], None] | None = None,
                       cancelled: Callable[[], bool] | None = None,
                       pca_samples: int = PCA_SAMPLES) -> Path:
    """A studio model folder for generator `G`: PCA directions (with progress and
    cancel), model.safetensors, discriminator.safetensors when `d_tensors`, card.json."""
    cfg = G.cfg
    if progress is not None:
        progress(0.0, f"{ARCH_LABELS[cfg.architecture]}, {cfg.img_resolution} px, {cfg.num_ws} ws")
    cfg.num_directions = min(cfg.num_directions, cfg.w_dim)
    vectors, sigmas = pca_directions(G, cfg.num_directions, progress, cancelled, pca_samples)
    folder = Path(folder)
    folder.mkdir(parents=True)
    meta = {"format": FORMAT, "config": json.dumps(cfg.to_dict())}
    tensors = dict(G.state_dict())
    tensors[VECTORS_TENSOR] = vectors
    _save(tensors, folder / WEIGHTS_FILE, meta)
    has_d = bool(d_tensors)
    if has_d:
        _save(d_tensors, folder / DISCRIMINATOR_FILE,
              {"format": FORMAT + "-discriminator", "kwargs": json.dumps(dict(d_kwargs or {}))})
    digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
    last = cfg.num_ws - 1
    directions = [{"name": f"PC {k + 1}", "layers": [0, last], "sigma": round(float(s), 6)}
                  for k, s in enumerate(sigmas) if math.isfinite(float(s)) and float(s) > 0]
    if len(directions) != len(vectors):  # degenerate w (an untrained mapping): keep all, σ 1
        directions = [{"name": f"PC {k + 1}", "layers": [0, last], "sigma": 1.0} for k in range(len(vectors))]
    live_drag, preview_res = cfg.live_drag()
    card = ModelCard(
        id=model_id, name=name, family=FAMILY, resolution=cfg.img_resolution,
        channels=cfg.img_channels, latent_shape=list(cfg.latent_shape),
        classes=[str(k) for k in range(cfg.c_dim)] if cfg.c_dim else None,
        dataset=dataset,
        description=f"{ARCH_LABELS[cfg.architecture]} {origin} "
                    f"({cfg.img_resolution} px, {cfg.num_ws} ws{', conditional' if cfg.c_dim else ''}).",
        licence="the licence of the imported network (see its source)",
        weights_sha256=digest,
        config={**cfg.to_dict(), "directions": directions, "layer_ranges": cfg.layer_ranges(),
                "discriminator_file": DISCRIMINATOR_FILE if has_d else None,
                "live_drag": live_drag, "preview_resolution": preview_res,
                "source": dict(source or {})},
    )
    card.write(folder)
    if progress is not None:
        progress(1.0, f"imported {model_id}")
    return folder
