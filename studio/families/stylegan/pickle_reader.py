"""NVIDIA's StyleGAN network pickles, read as data: nothing in the file runs.

The pickles that stylegan2-ada-pytorch and stylegan3 write hold a dict with `G`, `D`,
`G_ema`, `augment_pipe` and `training_set_kwargs`. Each network is a "persistent class"
of theirs: its pickle record calls `torch_utils.persistence._reconstruct_persistent_obj`
with a dict `{type, version, module_src, class_name, state}`, and the ordinary unpickler
would then *execute* `module_src` (the Python source of the module, carried in the file).

`RestrictedUnpickler` admits a short list of globals and maps each to a data-only
stand-in:

- the persistence record → `PersistentRecord` (module source kept as a string, never
  executed or compiled; class name; state);
- `dnnlib.EasyDict` → a plain dict subclass;
- tensors and parameters → torch's own tensor rebuilders; storages (which a pickle
  stores as bytes written by `torch.save`) → `torch.load(..., weights_only=True)`;
- numpy arrays, dtypes and scalars, under numpy 1's `numpy.core` and numpy 2's
  `numpy._core` names alike;
- plain containers (OrderedDict, set, frozenset), torch.Size, dtypes, devices.

Any other global is refused with `UnsafePickleError` naming it; a TensorFlow-era pickle
(`dnnlib.tflib`) with `TensorFlowPickleError`. No torch in the module namespace until a
tensor is read (imported lazily), so a refusal costs nothing.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO


class PickleReadError(ValueError):
    """The file is not a StyleGAN network pickle this studio can read; one line says why."""


class UnsafePickleError(PickleReadError):
    """The pickle names a global outside the data-only allowlist."""


class TensorFlowPickleError(PickleReadError):
    """A TensorFlow-era StyleGAN / StyleGAN2 pickle (dnnlib.tflib)."""


class EasyDict(dict):
    """dnnlib's EasyDict, read as a dict (attribute access for convenience only)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class PersistentRecord:
    """One persistent-class object of NVIDIA's code, as data. `module_src` is the Python
    source the file carries: it is kept only to be reported, never run."""

    class_name: str
    version: int
    module_src: str
    state: dict[str, Any] = field(default_factory=dict)

    def child(self, name: str) -> PersistentRecord | None:
        mods = self.state.get("_modules") or {}
        value = mods.get(name)
        return value if isinstance(value, PersistentRecord) else None

    @property
    def init_kwargs(self) -> dict[str, Any]:
        kwargs = self.state.get("_init_kwargs")
        return dict(kwargs) if isinstance(kwargs, Mapping) else {}

    def state_dict(self) -> dict[str, Any]:
        """Parameters and persistent buffers by dotted name, as torch.nn.Module.state_dict
        names them (a buffer set to None is not a tensor and is skipped)."""
        out: dict[str, Any] = {}
        self._collect("", out)
        return out

    def _collect(self, prefix: str, out: dict[str, Any]) -> None:
        import torch

        skip = self.state.get("_non_persistent_buffers_set") or set()
        for key in ("_parameters", "_buffers"):
            for name, value in (self.state.get(key) or {}).items():
                if value is None or (key == "_buffers" and name in skip):
                    continue
                if not isinstance(value, torch.Tensor):
                    raise PickleReadError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
                out[prefix + name] = value.detach()
        for name, child in (self.state.get("_modules") or {}).items():
            if child is None:
                continue
            if not isinstance(child, PersistentRecord):
                raise PickleReadError(f"{prefix}{name} is a {type(child).__name__}, not a network record")
            child._collect(f"{prefix}{name}.", out)


def _persistent_record(meta: Any) -> PersistentRecord:
    if not isinstance(meta, Mapping) or meta.get("type") != "class":
        raise PickleReadError("a persistence record that is not a class record")
    state = meta.get("state")
    if state is None:
        state = {}
    if not isinstance(state, Mapping):
        raise PickleReadError(f"the state of {meta.get('class_name')!r} is not a dict")
    return PersistentRecord(class_name=str(meta.get("class_name", "")), version=int(meta.get("version", 0)),
                            module_src=str(meta.get("module_src", "")), state=dict(state))


# -- tensors and storages: through torch's own data-only paths --------------------------


def _load_storage(data: bytes) -> Any:
    import torch

    if not isinstance(data, (bytes, bytearray)):
        raise PickleReadError("a tensor storage that is not bytes")
    try:
        # never plain torch.load; storages saved from a GPU come back on the CPU
        return torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise UnsafePickleError(f"a tensor storage refused by torch's weights-only loader ({exc})") from None


def _rebuild_tensor_v2(storage: Any, offset: int, size: Any, stride: Any, requires_grad: bool = False,
                       backward_hooks: Any = None, metadata: Any = None) -> Any:
    import torch

    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise PickleReadError("a tensor whose storage is not a torch storage")
    return torch._utils._rebuild_tensor_v2(storage, offset, tuple(size), tuple(stride), False, OrderedDict())


def _rebuild_parameter(data: Any, requires_grad: bool = False, backward_hooks: Any = None,
                       state: Any = None) -> Any:
    import torch

    if not isinstance(data, torch.Tensor):
        raise PickleReadError("a parameter that is not a tensor")
    return data  # read as a plain tensor: no hooks, no gradients


def _torch_size(*args: Any) -> Any:
    import torch

    return torch.Size(*args)


def _torch_device(*args: Any) -> Any:
    import torch

    return torch.device(*args)


def _torch_dtype(name: str) -> Any:
    import torch

    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise UnsafePickleError(f"refused global torch.{name}")
    return value


def _codecs_encode(text: Any, encoding: str = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("refused _codecs.encode of anything but latin-1 text")
    return text.encode("latin1")


# -- numpy, under numpy 1 and numpy 2 names ---------------------------------------------


def _numpy_globals() -> dict[tuple[str, str], Any]:
    import numpy as np

    try:
        from numpy._core import multiarray  # numpy 2
    except ImportError:  # numpy 1
        from numpy.core import multiarray  # type: ignore[no-redef]
    try:
        from numpy._core.numeric import _frombuffer  # type: ignore[attr-defined]
    except ImportError:
        from numpy.core.numeric import _frombuffer  # type: ignore[attr-defined,no-redef]

    def reconstruct(subtype: Any, shape: Any, dtype: Any) -> Any:
        if subtype is not np.ndarray:
            raise UnsafePickleError(f"refused array subclass {subtype!r}")
        return multiarray._reconstruct(np.ndarray, shape, dtype)

    def scalar(dtype: Any, data: Any = None) -> Any:
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise UnsafePickleError("refused a numpy object scalar")
        return multiarray.scalar(dtype, data)

    def frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> Any:
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise UnsafePickleError("refused a numpy object array")
        return _frombuffer(buf, dtype, shape, order)

    out: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        out[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        out[(f"{core}.multiarray", "scalar")] = scalar
        out[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return out


# -- the unpickler --------------------------------------------------------------------

_PLAIN: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("torch", "Size"): _torch_size,
    ("torch", "device"): _torch_device,
    ("_codecs", "encode"): _codecs_encode,  # how protocol 2 writes bytes
}


class RestrictedUnpickler(pickle.Unpickler):
    """Admits data only; see the module docstring."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file)
        self._numpy: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("dnnlib.tflib") or module.startswith("tensorflow"):
            raise TensorFlowPickleError(
                "a TensorFlow-era StyleGAN pickle (dnnlib.tflib); only the PyTorch network "
                "pickles of stylegan2-ada-pytorch and stylegan3 are supported")
        target = _PLAIN.get((module, name))
        if target is not None:
            return target
        if module.startswith("numpy"):
            if self._numpy is None:
                self._numpy = _numpy_globals()
            target = self._numpy.get((module, name))
            if target is not None:
                return target
        if module == "torch" and name.islower() and name.isidentifier():
            return _torch_dtype(name)  # torch.float32 and kin; anything else is refused
        raise UnsafePickleError(f"refused global {module}.{name}: only tensors, arrays and plain "
                                "data are read from a network pickle")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused a persistent id: not a network pickle")


def read_pickle(file: BinaryIO | bytes) -> Any:
    """Unpickle data only. Raises PickleReadError (or a subclass) with one line of reason."""
    stream = io.BytesIO(file) if isinstance(file, (bytes, bytearray)) else file
    try:
        return RestrictedUnpickler(stream).load()
    except PickleReadError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, RuntimeError, MemoryError, OverflowError) as exc:
        raise PickleReadError(f"not a readable pickle ({type(exc).__name__}: {exc})") from None


NETWORK_KEYS = ("G", "D", "G_ema")


def read_network_pickle(file: BinaryIO | bytes) -> dict[str, Any]:
    """The snapshot dict of a StyleGAN network pickle: `G_ema` (and `G`, `D` when
    present) as PersistentRecords, `training_set_kwargs` as a dict or None."""
    head = file[:2] if isinstance(file, (bytes, bytearray)) else None
    if head is not None and head == b"PK":
        raise PickleReadError("a zip archive (torch.save?), not a StyleGAN network pickle")
    data = read_pickle(file)
    if isinstance(data, tuple):
        raise PickleReadError("a tuple of networks, not the snapshot dict a StyleGAN pickle holds")
    if not isinstance(data, Mapping) or not isinstance(data.get("G_ema"), PersistentRecord):
        keys = sorted(map(str, data)) if isinstance(data, Mapping) else type(data).__name__
        raise PickleReadError(f"no G_ema network in the pickle (found {keys})")
    out: dict[str, Any] = {k: data.get(k) for k in NETWORK_KEYS}
    for key in NETWORK_KEYS:
        if out[key] is not None and not isinstance(out[key], PersistentRecord):
            raise PickleReadError(f"{key} is a {type(out[key]).__name__}, not a network record")
    tsk = data.get("training_set_kwargs")
    out["training_set_kwargs"] = dict(tsk) if isinstance(tsk, Mapping) else None
    out["augment_pipe"] = data.get("augment_pipe")
    return out

