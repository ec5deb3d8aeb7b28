"""What a view shows, said from the request that made it (issue 13, point 3: labels never
lie). A caption is built from the shown result's own request, never from the panel, and
`changed_settings` names what the panel holds now that the shown result was not made
with, so the view can say "changed: Generate to update". No Qt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.core.params import OpSpec
from studio.core.requests import Request

# long values (a prompt, direction edits) are cut in the caption; the tooltip has them
VALUE_CHARS = 24


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"
    text = str(value)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 1] + "…"


def caption_parts(request: Request, spec: OpSpec) -> list[str]:
    """The op, its seed, then every setting the request carries, in the spec's order."""
    parts = [spec.label]
    for param in spec.scalar_params:
        if param.name not in request.params:
            continue
        value = request.params[param.name]
        if value is None or value == "":
            continue
        if param.kind == "seed":
            parts.append(f"{param.label.lower()} {value}")
        elif param.name.endswith("class_index") and int(value) < 0:  # as the panel's list says
            parts.append(f"{param.label} {param.unset_name}".lower())
        else:
            parts.append(f"{param.label.lower()} {format_value(value)}")
    return parts


def caption(request: Request, spec: OpSpec) -> str:
    return " · ".join(caption_parts(request, spec))


def changed_settings(request: Request, values: Mapping[str, Any], spec: OpSpec, *,
                     seed_locked: bool) -> list[str]:
    """Labels of the op's settings whose value now differs from the shown result's. An
    unlocked seed is left out: it is drawn anew for every run by design."""
    out = []
    for param in spec.scalar_params:
        if param.kind == "seed" and not seed_locked:
            continue
        if param.name in request.params and param.name in values \
                and request.params[param.name] != values[param.name]:
            out.append(param.label)
    return out
