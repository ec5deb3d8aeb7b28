"""torch-side runtime set-up: thread count and device choice.

Imported by name (`load_runtime()`) on the engine's worker thread, never at the top of a
module the GUI imports: that keeps torch's ~2 s import off the GUI thread, and lets the
import-linter contract "ui imports no torch" hold for the whole import graph.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import torch

DEVICE_ENV = "LATENT_STUDIO_DEVICE"


def load_runtime() -> ModuleType:
    return importlib.import_module(__name__)


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def warm_up() -> None:
    """Import what torch otherwise imports on first use of an optimiser.

    The first `torch.optim.Adam(...)` imports torch._dynamo (~1 s here), and part of
    that import holds the GIL for ~60 ms at a time: the GUI froze when a training job
    started. The engine calls this once, when it is first idle after start-up.
    """
    import torch._dynamo  # noqa: F401


def pick_device(preference: str | None = None) -> str:
    """cuda → mps → cpu, unless `preference` (or LATENT_STUDIO_DEVICE) names one."""
    choice = (preference or os.environ.get(DEVICE_ENV) or "auto").lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps_ok else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {choice!r} was asked for, but CUDA is not available")
    if choice == "mps" and not mps_ok:
        raise ValueError("device 'mps' was asked for, but MPS is not available")
    if choice != "cpu" and not choice.startswith(("cuda", "mps")):
        raise ValueError(f"unknown device {choice!r}; use auto, cpu, cuda or mps")
    return choice


def rendered_on(device: str) -> dict[str, str | int]:
    """Where a result was computed, for its recipe: float results hold exactly only for
    the same device, thread count and CPU kernels (the README's reproducibility promise)."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return {"device": device, "gpu": torch.cuda.get_device_name(torch.device(device))}
    if device != "cpu":
        return {"device": device}
    return {"device": device, "threads": torch.get_num_threads(),
            "cpu_kernels": torch.backends.cpu.get_cpu_capability()}


def device_description(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"{device} ({torch.get_num_threads()} threads)" if device == "cpu" else device
