"""Network pickles in the layout NVIDIA's StyleGAN training writes, made by the tests'
own code (none of NVIDIA's): a dict with G, D, G_ema, augment_pipe and
training_set_kwargs, every network a persistence record
(`torch_utils.persistence._reconstruct_persistent_obj({type, version, module_src,
class_name, state})`) whose state is the module's __dict__ (`_parameters`, `_buffers`,
`_modules`, `_init_kwargs`, numpy attributes), with real torch tensors.

While pickling, stand-in modules `torch_utils.persistence` and `dnnlib.util` are put in
sys.modules so that pickle records those global names; they are removed afterwards.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.families.stylegan.discriminator import DiscriminatorFeatures
from studio.families.stylegan.networks import Generator, StyleGANConfig

MODULE_SRC = "# the module source a real pickle carries; never run by the studio\n"


def _reconstruct_persistent_obj(meta):  # pragma: no cover - never called by the studio
    raise AssertionError("the studio must not call the pickle's own reconstructor")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


class EasyDict(dict):
    pass


EasyDict.__module__ = "dnnlib.util"
EasyDict.__qualname__ = "EasyDict"


@contextlib.contextmanager
def nvidia_names(extra: dict[str, dict[str, Any]] | None = None):
    mods = {"torch_utils": {}, "torch_utils.persistence": {"_reconstruct_persistent_obj": _reconstruct_persistent_obj},
            "dnnlib": {"EasyDict": EasyDict}, "dnnlib.util": {"EasyDict": EasyDict}}
    mods.update(extra or {})
    saved = {name: sys.modules.get(name) for name in mods}
    for name, attrs in mods.items():
        module = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(module, key, value)
        sys.modules[name] = module
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


class Record:
    """Pickles as NVIDIA's persistent classes do."""

    def __init__(self, class_name: str, state: dict[str, Any], module_src: str = MODULE_SRC) -> None:
        self.class_name, self.state, self.module_src = class_name, state, module_src

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=self.class_name,
                    state=self.state)
        return (_reconstruct_persistent_obj, (meta,))


def record_of(module: torch.nn.Module, class_name: str, init_kwargs: dict[str, Any] | None = None,
              module_src: str = MODULE_SRC) -> Record:
    params = OrderedDict((n, torch.nn.Parameter(p.detach().clone(), requires_grad=False) if p is not None else None)
                         for n, p in module._parameters.items())
    state = {
        "training": False,
        "_parameters": params,
        "_buffers": OrderedDict((n, b.clone() if b is not None else None) for n, b in module._buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": OrderedDict(),
        "_forward_hooks": OrderedDict(),
        "_modules": OrderedDict((n, record_of(c, type(c).__name__, module_src=module_src))
                                for n, c in module._modules.items()),
        "_init_args": (),
        "_init_kwargs": EasyDict(init_kwargs or {}),
        "act_gain": np.float64(np.sqrt(2)),  # numpy scalars, as NVIDIA's modules hold
        "size": np.broadcast_to(np.asarray(16), [2]).copy(),
        "activation": "lrelu",
    }
    return Record(class_name, state, module_src)


SG2_KWARGS = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=16, img_channels=3,
                  mapping_kwargs=EasyDict(num_layers=2), channel_base=128, channel_max=16,
                  fused_modconv_default="inference_only", num_fp16_res=4, conv_clamp=256)
SG3_KWARGS = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=16, img_channels=3,
                  mapping_kwargs=EasyDict(num_layers=2), channel_base=256, channel_max=16,
                  num_layers=4, magnitude_ema_beta=0.999, num_fp16_res=4, conv_clamp=256)


def tiny_generator(architecture: str, seed: int = 0, **overrides: Any) -> tuple[Generator, dict[str, Any]]:
    """A tiny seeded generator, its weights moved away from init, and the kwargs the
    pickle records for it."""
    kwargs = dict(SG2_KWARGS if architecture == "stylegan2" else SG3_KWARGS)
    if architecture == "stylegan3-r":
        kwargs.update(conv_kernel=1, use_radial_filters=True)
    kwargs.update(overrides)
    torch.manual_seed(seed)
    G = Generator(StyleGANConfig.from_init_kwargs(architecture, kwargs)).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.3)
        G.mapping.w_avg.copy_(torch.randn(G.cfg.w_dim) * 0.5)
        for name, b in G.named_buffers():
            if name.endswith("magnitude_ema"):
                b.fill_(0.5)
        for module in G.modules():
            if hasattr(module, "noise_strength"):
                module.noise_strength.fill_(0.3)
    return G, kwargs


def tiny_discriminator(img_resolution: int = 16, seed: int = 1) -> DiscriminatorFeatures:
    torch.manual_seed(seed)
    widths, res = {}, img_resolution
    while res > 4:
        widths[res] = (8, 8)
        res //= 2
    D = DiscriminatorFeatures(widths, 3, 256.0)
    with torch.no_grad():
        for p in D.parameters():
            p.copy_(torch.randn_like(p))
    return D


def network_pickle(G: Generator, kwargs: dict[str, Any], *, with_d: bool = True, protocol: int = 4,
                   module_src: str = MODULE_SRC, g_class: str = "Generator") -> bytes:
    D = tiny_discriminator(G.cfg.img_resolution) if with_d else None
    d_record = None
    if D is not None:
        d_record = record_of(D, "Discriminator", dict(c_dim=G.cfg.c_dim, img_resolution=G.cfg.img_resolution,
                                                      img_channels=3, architecture="resnet",
                                                      channel_base=128, channel_max=8, conv_clamp=256))
        # the epilogue (b4) the studio does not use: a couple of tensors in the real layout
        epi = torch.nn.Module()
        epi.conv = torch.nn.Module()
        epi.conv.weight = torch.nn.Parameter(torch.randn(8, 9, 3, 3))
        d_record.state["_modules"]["b4"] = record_of(epi, "DiscriminatorEpilogue")
    data = {
        "G": record_of(G, g_class, kwargs, module_src),
        "D": d_record,
        "G_ema": record_of(G, g_class, kwargs, module_src),
        "augment_pipe": None,
        "training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset",
                                "path": "/data/tiny-faces.zip", "use_labels": False,
                                "max_size": 100, "xflip": False, "resolution": 16, "random_seed": 0},
    }
    with nvidia_names():
        return pickle.dumps(data, protocol=protocol)


def write_pickle(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
