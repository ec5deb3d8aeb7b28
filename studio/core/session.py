"""The session: the state the widgets edit, and the requests it makes. No Qt, no torch.

Data flows one way: a widget changes the session, the session builds a `Request`, the
engine runs it. The session keeps

- the current model and its family;
- the current view (explorer tab) and the op each view shows;
- parameter values per (family, op), starting at the op's defaults;
- the seed lock (unlocked: every Generate draws a new seed);
- the input arrays the explorers fill (interpolation endpoints, the current image,
  the centre of traversals and maps);
- a small undo stack of parameter edits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.core.params import OpSpec, random_seed
from studio.core.registry import Registry
from studio.core.requests import Request

# The view (explorer tab) each op's results belong to.
VIEW_OF_OP = {"interpolate": "interpolate", "traverse": "traverse", "map": "map"}
DEFAULT_VIEW = "samples"
DEFAULT_OP_OF_VIEW = {"samples": "sample", "interpolate": "interpolate",
                      "traverse": "traverse", "map": "map"}
# An op's array parameter → the session input that fills it, where the names differ:
# traversals and maps are centred on the session's "center", not on a decoded latent.
INPUT_OF_PARAM = {("traverse", "latent"): "center", ("map", "latent"): "center"}
UNDO_LIMIT = 100


@dataclass
class _Edit:
    key: tuple[str, str]  # (family, op)
    name: str | None  # one parameter (consecutive edits merge), or None for a batch
    before: dict[str, Any]
    after: dict[str, Any]


class Session:
    def __init__(self, registry: Registry, family_of: Callable[[str], str]) -> None:
        """`family_of(model_id)` names a model's family (the library knows)."""
        self.registry = registry
        self._family_of = family_of
        self.model_id: str | None = None
        self.family: str | None = None
        self.view = DEFAULT_VIEW
        self._op_of_view: dict[str, str] = {}
        self._params: dict[tuple[str, str], dict[str, Any]] = {}
        self.seed_locked = False
        self.inputs: dict[str, np.ndarray] = {}
        self._undo: list[_Edit] = []
        self._redo: list[_Edit] = []

    # -- model, view and op ------------------------------------------------------------
    def select_model(self, model_id: str) -> None:
        if model_id != self.model_id:
            # another model's latents (even of the same family) mean nothing to this one
            self.inputs.clear()
        self.model_id = model_id
        self.family = self._family_of(model_id)

    def ops(self) -> tuple[OpSpec, ...]:
        if self.family is None:
            return ()
        return self.registry.get(self.family).ops

    def op_spec(self, op: str | None = None) -> OpSpec:
        assert self.family is not None, "no model selected"
        return self.registry.get(self.family).op(op or self.op)

    @property
    def op(self) -> str:
        op = self._op_of_view.get(self.view) or DEFAULT_OP_OF_VIEW.get(self.view, "sample")
        if self.family is not None and op not in self.registry.get(self.family).op_names:
            return self.registry.get(self.family).op_names[0]
        return op

    def set_view(self, view: str) -> None:
        self.view = view

    def set_op(self, op: str) -> None:
        """Choose the op the current view runs."""
        self.op_spec(op)  # raises KeyError for an op the family lacks
        self._op_of_view[self.view] = op

    # -- parameters --------------------------------------------------------------------
    def _key(self, op: str | None) -> tuple[str, str]:
        assert self.family is not None, "no model selected"
        return (self.family, op or self.op)

    def values(self, op: str | None = None) -> dict[str, Any]:
        """The scalar parameter values of `op` (default: the current op)."""
        key = self._key(op)
        if key not in self._params:
            self._params[key] = self.op_spec(key[1]).defaults()
        return dict(self._params[key])

    def value(self, name: str, op: str | None = None) -> Any:
        return self.values(op)[name]

    def set_value(self, name: str, value: Any, op: str | None = None) -> None:
        spec = self.op_spec(op).param(name)
        value = spec.coerce(value) if value is not None else None
        key = self._key(op)
        before = self.values(op)
        if before.get(name) == value:
            return
        after = {**before, name: value}
        self._params[key] = after
        top = self._undo[-1] if self._undo else None
        if top is not None and top.key == key and top.name == name:
            top.after = after  # a drag or typing: one undo step
        else:
            self._push(_Edit(key, name, before, after))

    def set_values(self, values: Mapping[str, Any], op: str | None = None) -> None:
        """Replace several values as one undo step; unknown names are ignored."""
        key = self._key(op)
        spec = self.op_spec(op)
        before = self.values(op)
        after = dict(before)
        for p in spec.scalar_params:
            if p.name in values:
                after[p.name] = p.coerce(values[p.name]) if values[p.name] is not None else None
        if after != before:
            self._params[key] = after
            self._push(_Edit(key, None, before, after))

    def reset(self, name: str, op: str | None = None) -> None:
        self.set_value(name, self.op_spec(op).param(name).default, op)

    def reset_all(self, op: str | None = None) -> None:
        self.set_values(self.op_spec(op).defaults(), op)

    def next_seed(self, op: str | None = None) -> int | None:
        """Before a Generate: draw a new seed unless it is locked. Returns the seed."""
        names = [p.name for p in self.op_spec(op).scalar_params if p.kind == "seed"]
        if not names:
            return None
        if not self.seed_locked:
            self.set_value(names[0], random_seed(), op)
        return self.value(names[0], op)

    # -- undo / redo -------------------------------------------------------------------
    def _push(self, edit: _Edit) -> None:
        self._undo.append(edit)
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> tuple[str, str] | None:
        """Undo the last edit; returns its (family, op), or None when there is none."""
        if not self._undo:
            return None
        edit = self._undo.pop()
        self._params[edit.key] = dict(edit.before)
        self._redo.append(edit)
        return edit.key

    def redo(self) -> tuple[str, str] | None:
        if not self._redo:
            return None
        edit = self._redo.pop()
        self._params[edit.key] = dict(edit.after)
        self._undo.append(edit)
        return edit.key

    # -- inputs ------------------------------------------------------------------------
    def set_input(self, name: str, array: np.ndarray | None) -> None:
        if array is None:
            self.inputs.pop(name, None)
        else:
            self.inputs[name] = np.asarray(array)

    def inputs_for(self, op: str) -> dict[str, np.ndarray]:
        out = {}
        for spec in self.op_spec(op).array_params:
            array = self.inputs.get(INPUT_OF_PARAM.get((op, spec.name), spec.name))
            if array is not None:
                out[spec.name] = array
        if op == "interpolate":
            # a latent endpoint wins over an image on the same side
            for side in "ab":
                if f"latent_{side}" in out:
                    out.pop(f"image_{side}", None)
        return out

    # -- requests ----------------------------------------------------------------------
    def request(self, op: str | None = None, **inputs: np.ndarray) -> Request:
        """The request for `op` (default: the current op) from the session's state;
        keyword arrays override the session's inputs for this one request."""
        assert self.model_id is not None, "no model selected"
        op = op or self.op
        merged = {**self.inputs_for(op), **inputs}
        return Request(self.model_id, op, self.values(op), merged)

    def restore(self, request: Request, view: str | None = None) -> None:
        """Take model, view, op, parameters and inputs from a recipe. The seed is locked,
        so that Generate makes the same image again. `view`: where the UI shows this
        op's results, when it knows better than the default mapping."""
        self.select_model(request.model_id)
        self.view = view or VIEW_OF_OP.get(request.op, DEFAULT_VIEW)
        self.set_op(request.op)
        self.set_values(request.params, request.op)
        for name, array in request.inputs.items():
            self.set_input(INPUT_OF_PARAM.get((request.op, name), name), array)
        if request.seed is not None:
            self.seed_locked = True
