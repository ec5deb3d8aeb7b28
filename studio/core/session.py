"""The session: the window's single source of truth, without Qt or torch.

It keeps one `ModelState` per model the user has opened:

- the current view (explorer tab) and the op each view runs;
- parameter values per op, starting at the op's defaults, with a small undo stack;
- the subject and the inputs the explorers fill (the picked, projected or encoded
  latent, interpolation endpoints, the current image, the centre of traversals and maps);
- the latest result of each view, with the request that made it.

Switching models switches states, so nothing the user made is lost. The seed lock is
the session's, not a model's (unlocked: every Generate draws a new seed).

It is evented (`session.events`, plain callbacks): the parameter panel and every
explorer subscribe and re-draw from it, so nobody copies values back by hand. Data
flows one way: a widget changes the session, the session builds a `Request`, the engine
runs it, and the result comes back into the session (`add_result`).

`values_changed(op, cause, source)` says why values changed: "edit" (one value, a drag
or typing), "batch" (several at once), "reset", "restore" (a recipe or History),
"undo" and "redo"; `source` is whoever made the change (a view ignores its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.core.events import Claim, Event
from studio.core.params import OpSpec, random_seed
from studio.core.registry import Registry
from studio.core.requests import Request, Result

DEFAULT_VIEW = "samples"
UNDO_LIMIT = 100
# causes after which views re-read everything (they did not make the change themselves)
WHOLESALE = ("reset", "restore", "undo", "redo")


@dataclass
class _Edit:
    op: str
    name: str | None  # one parameter (consecutive edits merge), or None for a batch
    before: dict[str, Any]
    after: dict[str, Any]


# settings that mean the same across a model's ops; a user's edit of one is shared
SHARED_PARAMS = ("seed", "count", "class_index")


@dataclass
class ModelState:
    """Everything the window shows for one model."""

    model_id: str
    family: str | None
    view: str = DEFAULT_VIEW
    op_of_view: dict[str, str] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # op → values
    inputs: dict[str, np.ndarray] = field(default_factory=dict)  # the ops' array inputs
    # what an explorer's editing views work on: a picked seed, a projected or picked
    # latent (GAN), a picked sample and its index (diffusion); the explorer's own shape
    subject: Any = None
    results: dict[str, Result] = field(default_factory=dict)  # view → latest result
    undo: list[_Edit] = field(default_factory=list)
    redo: list[_Edit] = field(default_factory=list)

    def nbytes(self) -> int:
        """What the kept arrays weigh (the benchmark of model switches reports it)."""
        total = sum(a.nbytes for a in self.inputs.values())
        total += sum(a.nbytes for a in (self.subject or ()) if isinstance(a, np.ndarray))
        for result in self.results.values():
            total += result.images.nbytes
            if result.latents is not None:
                total += np.asarray(result.latents).nbytes
            total += sum(np.asarray(a).nbytes for a in result.request.inputs.values())
        return total


class SessionEvents:
    """What the session announces; subscribe with `session.events.<name>.connect(f)`."""

    def __init__(self) -> None:
        self.model_changed = Event("model_changed")  # (model_id)
        self.view_changed = Event("view_changed")  # (view)
        self.op_changed = Event("op_changed")  # (op)
        self.values_changed = Event("values_changed")  # (op, cause, source)
        self.inputs_changed = Event("inputs_changed")  # (name)
        self.subject_changed = Event("subject_changed")  # (subject)
        self.seed_lock_changed = Event("seed_lock_changed")  # (locked)
        self.result_added = Event("result_added")  # (view, result)
        # a user-visible run in progress, and its end ("done", "failed", "cancelled")
        self.previewed = Event("previewed")  # (request, images)
        self.run_ended = Event("run_ended")  # (request, state)
        # a live parameter moved in the panel: what is on screen re-renders
        self.live_edited = Event("live_edited")  # (op, name)
        # offers: a view may take them (claim.take()); else the window does its default
        self.generate_offered = Event("generate_offered")  # (claim)
        self.image_offered = Event("image_offered")  # (claim, image, path)

    def __iter__(self) -> Iterator[Event]:
        return iter(vars(self).values())


class Session:
    def __init__(self, registry: Registry, family_of: Callable[[str], str]) -> None:
        """`family_of(model_id)` names a model's family (the library knows)."""
        self.registry = registry
        self._family_of = family_of
        self.events = SessionEvents()
        self._states: dict[str, ModelState] = {}
        self._state = ModelState("", None)  # before any model is chosen
        self._seed_locked = False

    # -- states ------------------------------------------------------------------------
    @property
    def state(self) -> ModelState:
        return self._state

    @property
    def model_id(self) -> str | None:
        return self._state.model_id or None

    @property
    def family(self) -> str | None:
        return self._state.family

    def states(self) -> dict[str, ModelState]:
        """Every model's state, by model id."""
        return dict(self._states)

    def forget(self, model_id: str) -> None:
        """Drop a model's state (it left the library); the current one stays."""
        if model_id != self.model_id:
            self._states.pop(model_id, None)

    # -- model, view and op ------------------------------------------------------------
    def select_model(self, model_id: str) -> None:
        if model_id == self.model_id:
            return
        state = self._states.get(model_id)
        if state is None:
            # each model has its own latents (another model's, even of the same family,
            # mean nothing to it) and its own settings
            state = self._states[model_id] = ModelState(model_id, self._family_of(model_id))
        self._state = state
        self.events.model_changed.emit(model_id)

    def ops(self) -> tuple[OpSpec, ...]:
        if self.family is None:
            return ()
        return self.registry.get(self.family).ops

    def op_spec(self, op: str | None = None) -> OpSpec:
        assert self.family is not None, "no model selected"
        return self.registry.get(self.family).op(op or self.op)

    @property
    def view(self) -> str:
        return self._state.view

    @view.setter
    def view(self, view: str) -> None:
        self.set_view(view)

    @property
    def op(self) -> str:
        """The op the current view runs: the one chosen there, else the op the view is
        named after (Interpolate runs interpolate), else sample, else the first."""
        view = self._state.view
        names = self.registry.get(self.family).op_names if self.family is not None else ()
        op = self._state.op_of_view.get(view) or (view if view in names else "sample")
        if names and op not in names:
            return names[0]
        return op

    def set_view(self, view: str) -> None:
        if view != self._state.view:
            self._state.view = view
            self.events.view_changed.emit(view)

    def set_op(self, op: str) -> None:
        """Choose the op the current view runs."""
        self.op_spec(op)  # raises KeyError for an op the family lacks
        if self._state.op_of_view.get(self._state.view) != op:
            self._state.op_of_view[self._state.view] = op
            self.events.op_changed.emit(op)

    # -- parameters --------------------------------------------------------------------
    def _op(self, op: str | None) -> str:
        assert self.family is not None, "no model selected"
        return op or self.op

    def values(self, op: str | None = None) -> dict[str, Any]:
        """The scalar parameter values of `op` (default: the current op)."""
        op = self._op(op)
        if op not in self._state.params:
            self._state.params[op] = self.op_spec(op).defaults()
        return dict(self._state.params[op])

    def value(self, name: str, op: str | None = None) -> Any:
        return self.values(op)[name]

    def set_value(self, name: str, value: Any, op: str | None = None, *,
                  source: object = None) -> None:
        spec = self.op_spec(op).param(name)
        value = spec.coerce(value) if value is not None else None
        op = self._op(op)
        before = self.values(op)
        if before.get(name) == value:
            return
        after = {**before, name: value}
        self._state.params[op] = after
        undo = self._state.undo
        top = undo[-1] if undo else None
        if top is not None and top.op == op and top.name == name:
            top.after = after  # a drag or typing: one undo step
        else:
            self._push(_Edit(op, name, before, after))
        if source is not None and name in SHARED_PARAMS:  # a user's edit (the panel's)
            self._share(op, name, value)
        self.events.values_changed.emit(op, "edit", source)

    def _share(self, op: str, name: str, value: Any) -> None:
        """A setting that means the same in every op of the model (the seed, the image
        count, the class) follows the user's edit in the model's other ops: switching
        Inpaint to Image to image keeps them. Explorers' own writes (a fork's count of 1,
        an interpolation's seeds) stay in their op."""
        for other in self.ops():
            if other.name == op or name not in {p.name for p in other.scalar_params}:
                continue
            values = self.values(other.name)
            try:
                values[name] = other.param(name).coerce(value) if value is not None else None
            except ValueError:  # out of that op's range: it keeps its own
                continue
            self._state.params[other.name] = values

    def set_values(self, values: Mapping[str, Any], op: str | None = None, *,
                   cause: str = "batch", source: object = None) -> None:
        """Replace several values as one undo step; unknown names are ignored."""
        op = self._op(op)
        spec = self.op_spec(op)
        before = self.values(op)
        after = dict(before)
        for p in spec.scalar_params:
            if p.name in values:
                after[p.name] = p.coerce(values[p.name]) if values[p.name] is not None else None
        if after != before:
            self._state.params[op] = after
            self._push(_Edit(op, None, before, after))
            self.events.values_changed.emit(op, cause, source)

    def reset(self, name: str, op: str | None = None) -> None:
        self.set_value(name, self.op_spec(op).param(name).default, op)

    def reset_all(self, op: str | None = None) -> None:
        self.set_values(self.op_spec(op).defaults(), op, cause="reset")

    @property
    def seed_locked(self) -> bool:
        return self._seed_locked

    @seed_locked.setter
    def seed_locked(self, locked: bool) -> None:
        if bool(locked) != self._seed_locked:
            self._seed_locked = bool(locked)
            self.events.seed_lock_changed.emit(self._seed_locked)

    def next_seed(self, op: str | None = None) -> int | None:
        """After a Generate has taken the seed shown: draw the next run's seed now, unless
        it is locked, so the field always shows the seed the next run uses. The model's
        other ops follow (the seed is a shared setting). Returns the seed shown."""
        names = [p.name for p in self.op_spec(op).scalar_params if p.kind == "seed"]
        if not names:
            return None
        if not self.seed_locked:
            self.set_value(names[0], random_seed(), op, source=self)
        return self.value(names[0], op)

    # -- undo / redo (per model) ---------------------------------------------------------
    def _push(self, edit: _Edit) -> None:
        self._state.undo.append(edit)
        del self._state.undo[:-UNDO_LIMIT]
        self._state.redo.clear()

    def can_undo(self) -> bool:
        return bool(self._state.undo)

    def can_redo(self) -> bool:
        return bool(self._state.redo)

    def undo(self) -> tuple[str, str] | None:
        """Undo the last edit; returns its (family, op), or None when there is none."""
        if not self._state.undo:
            return None
        edit = self._state.undo.pop()
        self._state.params[edit.op] = dict(edit.before)
        self._state.redo.append(edit)
        self.events.values_changed.emit(edit.op, "undo", None)
        return (self.family or "", edit.op)

    def redo(self) -> tuple[str, str] | None:
        if not self._state.redo:
            return None
        edit = self._state.redo.pop()
        self._state.params[edit.op] = dict(edit.after)
        self._state.undo.append(edit)
        self.events.values_changed.emit(edit.op, "redo", None)
        return (self.family or "", edit.op)

    # -- inputs: the subject, endpoints, the current image --------------------------------
    @property
    def inputs(self) -> dict[str, np.ndarray]:
        return self._state.inputs

    def set_input(self, name: str, array: np.ndarray | None) -> None:
        if array is None:
            if self._state.inputs.pop(name, None) is None:
                return
        else:
            self._state.inputs[name] = np.asarray(array)
        self.events.inputs_changed.emit(name)

    def inputs_for(self, op: str) -> dict[str, np.ndarray]:
        out = {}
        for spec in self.op_spec(op).array_params:
            array = self.inputs.get(spec.source or spec.name)
            if array is not None:
                out[spec.name] = array
        if op == "interpolate":
            # a latent endpoint wins over an image on the same side
            for side in "ab":
                if f"latent_{side}" in out:
                    out.pop(f"image_{side}", None)
        return out

    @property
    def subject(self) -> Any:
        return self._state.subject

    def set_subject(self, subject: Any) -> None:
        if subject is not self._state.subject:
            self._state.subject = subject
            self.events.subject_changed.emit(subject)

    def set_endpoint(self, side: str, image: np.ndarray, latent: np.ndarray | None) -> None:
        """An end of the interpolation ("a" or "b"): its latent when known (it wins in
        the request), and its image, which the walk's well shows either way."""
        self.set_input(f"latent_{side}", latent)
        self.set_input(f"image_{side}", image)

    # -- offers and live edits -----------------------------------------------------------
    def offer_generate(self) -> bool:
        """Generate pressed: True when a view took it (an edit of the picked image, a
        dialog); False: run the session's request."""
        claim = Claim()
        self.events.generate_offered.emit(claim)
        return claim.taken

    def offer_image(self, image: np.ndarray, path: str) -> bool:
        """An image file opened or dropped, fitted to the model: True when a view took it
        (the GAN projects it); False: encode it."""
        claim = Claim()
        self.events.image_offered.emit(claim, image, path)
        return claim.taken

    def live_edit(self, name: str) -> None:
        """A live parameter (`live=True` in its spec) was moved: views re-render."""
        self.events.live_edited.emit(self.op, name)

    # -- results -------------------------------------------------------------------------
    def add_result(self, result: Result, view: str) -> None:
        """A finished run of the current model, shown in `view`: kept as that view's
        latest, and announced (the explorer shows it)."""
        if result.request.model_id == self.model_id:
            self._state.results[view] = result
        self.events.result_added.emit(view, result)

    def preview(self, request: Request, images: np.ndarray) -> None:
        """Where a user-visible run is (not kept: the result replaces it)."""
        self.events.previewed.emit(request, images)

    def run_ended(self, request: Request, state: str) -> None:
        self.events.run_ended.emit(request, state)

    def result(self, view: str | None = None) -> Result | None:
        """The latest result kept for a view of the current model."""
        return self._state.results.get(view or self.view)

    # -- requests ----------------------------------------------------------------------
    def request(self, op: str | None = None, *, params: Mapping[str, Any] | None = None,
                inputs: Mapping[str, np.ndarray] | None = None, **arrays: np.ndarray) -> Request:
        """The request for `op` (default: the current op) from the session's state;
        `params` and keyword arrays override the session's values and inputs for this
        one request (a live preview of a slider that has not come to rest, say).
        `inputs`: exactly these arrays instead of the session's (an explorer's subject)."""
        assert self.model_id is not None, "no model selected"
        op = op or self.op
        merged = {**(self.inputs_for(op) if inputs is None else inputs), **arrays}
        values = self.values(op)
        if params:
            values.update(params)
        return Request(self.model_id, op, values, merged)

    def restore(self, request: Request, view: str | None = None) -> None:
        """Take model, view, op, parameters and inputs from a recipe. The seed is locked,
        so that Generate makes the same image again. `view`: where the UI shows this
        op's results (the window's explorer knows); without it, the view named after the
        op, as explorers name a view after the op it runs."""
        self.select_model(request.model_id)
        self.set_view(view or request.op)
        self.set_op(request.op)
        sources = {p.name: p.source or p.name for p in self.op_spec(request.op).array_params}
        for name, array in request.inputs.items():
            self.set_input(sources.get(name, name), array)
        if request.seed is not None:
            self.seed_locked = True
        self.set_values(request.params, request.op, cause="restore")
