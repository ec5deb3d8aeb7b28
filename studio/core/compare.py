"""The families side by side: the built-in models trained on the shared dataset, their
evaluator figures, the measured time per image, and what each architecture is good and
bad at. The Compare view and `studio compare` both build their table here.

The figures come from each model card's `metrics` (written by the evaluator when the
model was trained, see studio.core.evaluator); a missing key means the family has no
such figure and shows "—". Time per image is not read from a card: the caller runs
`sample_request(...)` through the engine and records the result with `record_timing`.

No Qt, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.core.requests import Request

SHARED_DATASET = "glyphs"
# A 3 × 3 grid: enough to see variety, and a batch large enough that the time per image
# is not all per-call overhead.
DEFAULT_IMAGES = 9
SEED = 0
MISSING = "—"


@dataclass(frozen=True)
class Figure:
    key: str  # the metric's name in the model card (the evaluator's name)
    label: str
    better: str  # "higher", "lower" or "" (no best: see the help)
    digits: int
    help: str

    def format(self, value: float | None) -> str:
        if value is None:
            return MISSING
        return f"{value:.{self.digits}f}"


FIGURES: tuple[Figure, ...] = (
    Figure("recognisability", "Recognisability", "higher", 3,
           "Mean top-class probability the evaluator gives unconditional samples (0–1)."),
    Figure("class_accuracy", "Class accuracy", "higher", 3,
           "How often a sample asked for a class is classified as that class."),
    Figure("nn_distance_samples", "NN distance", "", 3,
           "Mean distance (RMS per pixel) from a sample to its nearest training image. "
           "Near the held-out images' figure is healthy; far below it means copying the "
           "training set, far above means samples off the data."),
    Figure("reconstruction_mse", "Reconstruction MSE", "lower", 4,
           "Per-pixel squared error of encode → decode on held-out images."),
    Figure("bits_per_dim", "Bits / dim", "lower", 3,
           "Exact negative log-likelihood of held-out images, in bits per pixel value."),
)
TIME_LABEL = "Time / image"
TIME_HELP = ("Measured now: one sample batch through the engine, model load excluded, "
             "divided by the images in it.")


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


@dataclass
class ModelRow:
    """One model of the comparison (a column of the view, a line of the CLI table)."""

    model_id: str
    name: str
    family: str
    family_label: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    strengths: tuple[str, ...] = ()
    weaknesses: tuple[str, ...] = ()
    seconds_per_image: float | None = None
    device: str = ""
    error: str = ""  # the model could not be loaded or run: shown instead of its time

    def value(self, key: str) -> float | None:
        value = self.metrics.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        value = float(value)
        return value if math.isfinite(value) else None

    def text(self, key: str) -> str:
        for figure in FIGURES:
            if figure.key == key:
                return figure.format(self.value(key))
        raise KeyError(f"no figure {key!r}")

    @property
    def time_text(self) -> str:
        if self.error:
            return "failed"
        return format_seconds(self.seconds_per_image)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.model_id, "name": self.name, "family": self.family,
                "family_label": self.family_label,
                "figures": {f.key: self.value(f.key) for f in FIGURES},
                "seconds_per_image": self.seconds_per_image, "device": self.device,
                "strengths": list(self.strengths), "weaknesses": list(self.weaknesses),
                "error": self.error}


def shared_models(library: Any, registry: Any = None,
                  dataset: str = SHARED_DATASET) -> list[Any]:
    """The built-in library entries trained on `dataset`, in the registry's family order
    (the order families are declared in), then by name."""
    order = {name: i for i, name in enumerate(registry.names())} if registry is not None else {}
    chosen = [e for e in library.entries() if e.builtin and e.card.dataset == dataset]
    return sorted(chosen, key=lambda e: (order.get(e.family, len(order)), e.family,
                                         e.card.name.lower(), e.id))


def build_rows(library: Any, registry: Any, dataset: str = SHARED_DATASET,
               model_ids: Sequence[str] | None = None) -> list[ModelRow]:
    """A row per shared built-in model (only `model_ids`, in that order, when given;
    an unknown one raises KeyError)."""
    entries = shared_models(library, registry, dataset)
    if model_ids:
        by_id = {e.id: e for e in entries}
        unknown = [m for m in model_ids if m not in by_id]
        if unknown:
            known = ", ".join(by_id) or "none"
            raise KeyError(f"not a built-in {dataset!r} model: {', '.join(unknown)}; "
                           f"known: {known}")
        entries = [by_id[m] for m in dict.fromkeys(model_ids)]
    rows = []
    for entry in entries:
        info = registry.get(entry.family) if entry.family in registry else None
        rows.append(ModelRow(
            model_id=entry.id, name=entry.card.name, family=entry.family,
            family_label=info.label if info is not None else entry.family,
            metrics=dict(entry.card.metrics),
            strengths=tuple(getattr(info, "strengths", ())),
            weaknesses=tuple(getattr(info, "weaknesses", ())),
            error="" if info is not None else f"unknown family {entry.family!r}",
        ))
    return rows


def sample_request(model_id: str, images: int = DEFAULT_IMAGES, seed: int = SEED,
                   device: str | None = None) -> Request:
    """The run that makes a model's grid and measures its time per image: the family's
    own `sample` op at its defaults, for `images` images from a fixed seed."""
    return Request(model_id, "sample", {"count": int(images), "seed": int(seed)}, device=device)


def record_timing(row: ModelRow, result: Any) -> None:
    """Take the time per image (and the device) from a finished sample `Result`."""
    timings = getattr(result, "timings", {}) or {}
    per_image = timings.get("per_image")
    if per_image is None and "run" in timings:
        per_image = timings["run"] / max(1, len(result.images))
    row.seconds_per_image = None if per_image is None else float(per_image)
    row.device = str(getattr(result, "device", "") or "")
    row.error = ""


def record_error(row: ModelRow, message: str) -> None:
    row.error = message.strip() or "failed"
    row.seconds_per_image = None


def best(rows: Iterable[ModelRow], key: str) -> set[str]:
    """The model ids with the best value of a figure (ties included); empty when the
    figure has no 'better' direction or fewer than two models have it."""
    values: dict[str, float]
    if key == "seconds_per_image":
        better, digits = "lower", 4
        values = {r.model_id: r.seconds_per_image for r in rows
                  if r.seconds_per_image is not None and not r.error}
    else:
        figure = next((f for f in FIGURES if f.key == key), None)
        if figure is None:
            raise KeyError(f"no figure {key!r}")
        better, digits = figure.better, figure.digits
        values = {r.model_id: v for r in rows if (v := r.value(key)) is not None}
    if not better or len(values) < 2:
        return set()
    top = (max if better == "higher" else min)(values.values())
    # equal as shown is equal: a win by a digit nobody sees is no win
    return {m for m, v in values.items() if round(v, digits) == round(top, digits)}


def reference_notes(rows: Sequence[ModelRow]) -> list[str]:
    """The dataset's own figures, for scale (the same in every card of the dataset)."""
    notes = []
    ceiling = next((r.value("dataset_ceiling") for r in rows
                    if r.value("dataset_ceiling") is not None), None)
    held_out = next((r.value("nn_distance_held_out") for r in rows
                     if r.value("nn_distance_held_out") is not None), None)
    if ceiling is not None:
        notes.append(f"The training images themselves score {ceiling:.3f} recognisability "
                     "(the best a model can reach).")
    if held_out is not None:
        notes.append(f"Held-out images sit {held_out:.3f} from their nearest training image: "
                     "samples near that are new glyphs, not copies.")
    return notes


def format_table(rows: Sequence[ModelRow], dataset: str = SHARED_DATASET,
                 timed: bool = True, images: int = DEFAULT_IMAGES) -> str:
    """The comparison as plain text, for the terminal."""
    if not rows:
        return (f"No built-in models trained on {dataset!r}. "
                "`studio models` lists the library.")
    headers = ["Model", "Family", *(f.label for f in FIGURES)]
    if timed:
        headers.append(TIME_LABEL)
    table = []
    for row in rows:
        cells = [row.model_id, row.family_label, *(row.text(f.key) for f in FIGURES)]
        if timed:
            cells.append(row.time_text)
        table.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    devices = sorted({r.device for r in rows if r.device})
    out = [f"The families on the shared dataset {dataset!r}: {len(rows)} built-in "
           f"model{'s' if len(rows) != 1 else ''}"]
    if timed:
        where = f" on {', '.join(devices)}" if devices else ""
        out.append(f"Time per image: a batch of {images} samples (seed {SEED}){where}, "
                   "model load excluded.")
    out += ["", line(headers), line(["-" * w for w in widths]), *(line(r) for r in table), ""]
    higher = [f.label for f in FIGURES if f.better == "higher"]
    lower = [f.label for f in FIGURES if f.better == "lower"]
    out.append(f"Higher is better: {', '.join(higher)}. Lower is better: {', '.join(lower)}"
               f"{', time' if timed else ''}. {MISSING} = the family has no such figure.")
    out += reference_notes(rows)
    out.append("")
    seen: set[str] = set()
    for row in rows:
        if row.family in seen:
            continue
        seen.add(row.family)
        traits = [f"+ {s}" for s in row.strengths] + [f"- {w}" for w in row.weaknesses]
        if traits:
            out.append(f"{row.family_label}: {'; '.join(traits)}")
    errors = [r for r in rows if r.error]
    if errors:
        out.append("")
        out += [f"{r.model_id}: {r.error}" for r in errors]
    return "\n".join(out)


def to_json_dict(rows: Sequence[ModelRow], dataset: str = SHARED_DATASET,
                 images: int | None = None) -> dict[str, Any]:
    return {"dataset": dataset, "images_timed": images, "seed": SEED,
            "figures": [{"key": f.key, "label": f.label, "better": f.better or None,
                         "help": f.help} for f in FIGURES],
            "models": [r.to_dict() for r in rows], "notes": reference_notes(rows)}
