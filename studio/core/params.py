"""Parameter specs: one declaration per op parameter.

The same `ParamSpec` builds the Qt panel (studio.ui.params_panel), the CLI options
(studio.cli), validates requests (`OpSpec.validate`) and is written into exported
metadata. No torch, no Qt.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Kinds of value a parameter can hold. The array kinds (image, mask, latent) are inputs
# filled from the canvas or the history, never typed by the user.
SCALAR_KINDS = ("float", "int", "seed", "bool", "choice", "text")
ARRAY_KINDS = ("image", "mask", "latent")
SEED_MAX = 2**31 - 1


class ParamError(ValueError):
    """A parameter value is missing, of the wrong type or out of range."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""
    help: str = ""
    group: str = "General"
    required: bool = False  # for array kinds: must the request carry it?
    live: bool = False  # the UI re-renders on change through the latest-wins lane
    # a class list's name for −1 where it is not "Random" (a class drawn per image): what
    # the op does without a class, e.g. "Any (all classes)" for a likelihood
    unset_label: str = ""
    # for array kinds: the session input that fills it, where the names differ (a
    # traversal's "latent" is the picked "center", not the decoded latent)
    source: str = ""
    # a text naming a file or folder on the machine that runs the job: `studio serve`
    # refuses a value for it, as the server never reads a path a client names
    local_path: bool = False

    def __post_init__(self) -> None:
        assert self.kind in SCALAR_KINDS + ARRAY_KINDS, f"unknown kind {self.kind!r}"
        if self.kind == "choice":
            assert self.choices and self.default in self.choices, self.name
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())

    @property
    def unset_name(self) -> str:
        """What a class parameter's −1 is called: its `unset_label`, else "None" for a
        negative class (the unconditional model), else "Random" (a class per image)."""
        return self.unset_label or ("None" if "negative" in self.name else "Random")

    @property
    def is_array(self) -> bool:
        return self.kind in ARRAY_KINDS

    def coerce(self, value: Any) -> Any:
        """Return `value` converted to this kind, or raise ParamError naming the parameter."""
        if self.is_array:
            return value
        try:
            if self.kind == "float":
                out: Any = float(value)
            elif self.kind in ("int", "seed"):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError("not a whole number")
                out = int(value)
            elif self.kind == "bool":
                if isinstance(value, str):
                    if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError("not a yes/no value")
                    out = value.lower() in ("1", "true", "yes", "on")
                else:
                    out = bool(value)
            elif self.kind == "choice":
                out = str(value)
                if out not in self.choices:
                    raise ValueError(f"must be one of {', '.join(self.choices)}")
            else:
                out = str(value)
        except (TypeError, ValueError) as exc:
            raise ParamError(f"{self.name}: {value!r} is not valid ({exc})") from None
        if self.kind == "seed" and not 0 <= out <= SEED_MAX:
            raise ParamError(f"{self.name}: {out} is outside 0..{SEED_MAX}")
        if self.kind in ("float", "int"):
            if out != out:  # NaN
                raise ParamError(f"{self.name}: NaN is not allowed")
            if self.minimum is not None and out < self.minimum:
                raise ParamError(f"{self.name}: {out} is below the minimum {self.minimum}")
            if self.maximum is not None and out > self.maximum:
                raise ParamError(f"{self.name}: {out} is above the maximum {self.maximum}")
        return out

    def to_json(self) -> dict[str, Any]:
        """A plain description, written into exported metadata and `--help`."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "label": self.label}
        for key in ("default", "minimum", "maximum", "step", "help", "group"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value
        if self.choices:
            out["choices"] = list(self.choices)
        return out


def random_seed() -> int:
    return random.randint(0, SEED_MAX)


@dataclass(frozen=True)
class OpSpec:
    """An op a family supports, with its parameters in display order."""

    name: str
    params: tuple[ParamSpec, ...] = ()
    label: str = ""
    help: str = ""
    steps: int = 1  # written as "Steps" in the A1111-style metadata for single-pass ops
    animated: bool = False  # the result's images are frames (exportable as GIF/WebP)
    grid_columns: int = 0  # 0: a square-ish grid; else the natural column count of the result
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        assert len(names) == len(set(names)), f"duplicate parameter in op {self.name}"
        if not self.label:
            object.__setattr__(self, "label", self.name.capitalize())

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def scalar_params(self) -> tuple[ParamSpec, ...]:
        return tuple(p for p in self.params if not p.is_array)

    @property
    def array_params(self) -> tuple[ParamSpec, ...]:
        return tuple(p for p in self.params if p.is_array)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.scalar_params}

    def validate(self, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Complete `params` with defaults, coerce and range-check them.

        Unknown names and missing required inputs raise ParamError.
        """
        known = {p.name for p in self.params}
        unknown = sorted(set(params) - known) + sorted(set(inputs) - known)
        if unknown:
            raise ParamError(f"op {self.name!r} has no parameter {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for spec in self.scalar_params:
            value = params.get(spec.name, spec.default)
            if value is None and spec.kind == "seed":
                value = random_seed()
            out[spec.name] = spec.coerce(value) if value is not None else None
        for spec in self.array_params:
            if spec.required and inputs.get(spec.name) is None:
                raise ParamError(f"op {self.name!r} needs an input {spec.kind} {spec.name!r}")
        return out


def ops_by_name(ops: Iterable[OpSpec]) -> dict[str, OpSpec]:
    return {op.name: op for op in ops}
