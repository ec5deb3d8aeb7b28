"""The evaluator: a small CNN that knows the glyph classes, and the figures it gives.

Trained by the project (`train_classifier`, recipe resources/recipes/evaluator.json) and
shipped at resources/evaluator/ (safetensors + a JSON with its held-out accuracy).
`evaluate_model` reports, for any family, through its ops only:
  - recognisability: mean top-class probability of unconditional samples (op sample);
  - class_accuracy: argmax == asked class, where sample has a class parameter
    (`class_label`, a choice of class names, or `class_index`, an int) and the model is
    class-conditional (a loaded model may say it is not with `class_conditional = False`);
  - nn_distance_samples / nn_distance_held_out: memorisation. Mean distance from each
    sample (and, for scale, each held-out image) to its nearest training image, as
    per-pixel RMS in [0, 1] units. A model that copies its data would sit near 0;
  - reconstruction_mse: per-pixel MSE in [0, 1] units on held-out images (op reconstruct);
  - bits_per_dim: from op likelihood, where a family has it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from studio.core import atomic
from studio.core.datasets import GLYPH_CLASSES, GLYPH_SIZE, Split, build_dataset
from studio.core.family import JobContext, ModelLoadError
from studio.core.paths import resources_dir

WEIGHTS_NAME = "evaluator.safetensors"
CLASS_PARAMS = ("class_label", "class_index")  # the names sample's class parameter may have
INFO_NAME = "evaluator.json"


def evaluator_dir() -> Path:
    return resources_dir() / "evaluator"


# -----------------------------------------------------------------------------
# the classifier

@dataclass
class ClassifierConfig:
    size: int = GLYPH_SIZE
    classes: int = len(GLYPH_CLASSES)
    widths: tuple[int, int, int] = (16, 32, 64)
    dropout: float = 0.2
    mixup: float = 0.5  # fraction of each training batch blended with another glyph


class GlyphClassifier(nn.Module):
    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        w1, w2, w3 = config.widths
        self.features = nn.Sequential(
            nn.Conv2d(1, w1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w1, w1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, w1, 16, 16)
            nn.Conv2d(w1, w2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w2, w2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, w2, 8, 8)
            nn.Conv2d(w2, w3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, w3, 4, 4)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(config.dropout),
                                  nn.Linear(w3 * (config.size // 8) ** 2, config.classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 1, size, size) in [0, 1] → logits (B, classes)
        return self.head(self.features(x))


def _to_input(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (N, H, W, C) → float (N, 1, size, size) in [0, 1]."""
    images = np.asarray(images)
    assert images.ndim == 4 and images.dtype == np.uint8, (images.shape, images.dtype)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)  # (N, C, H, W)
    if x.shape[1] != 1:  # RGB(A) → luminance
        x = (x[:, :3] * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="area" if x.shape[-1] > size else "bilinear")
    return x


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shifts of up to 2 px and, for a third of the batch, a light blur: a generated image
    is rarely as crisp or as centred as a rendered one, and neither changes the class."""
    b = x.shape[0]
    shifts = torch.randint(-2, 3, (2,), generator=gen).tolist()
    x = torch.roll(x, shifts=shifts, dims=(2, 3))
    blur = torch.rand(b, generator=gen) < 0.33
    if blur.any():
        kernel = torch.tensor([0.25, 0.5, 0.25])
        k2 = (kernel[:, None] * kernel[None, :]).view(1, 1, 3, 3)
        x = torch.where(blur.view(b, 1, 1, 1), F.conv2d(x, k2, padding=1), x)
    return x


class ClassifierTrainable:
    """The classifier behind the training driver's Trainable protocol."""

    def __init__(self, config: ClassifierConfig, lr: float, steps: int, seed: int) -> None:
        self.config = config
        self.model = GlyphClassifier(config)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=1e-4)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=lr, total_steps=steps)
        self.gen = torch.Generator().manual_seed(seed)

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        self.model.train()
        x = _augment(batch["images"], self.gen)  # (B, 1, H, W)
        target = F.one_hot(batch["labels"], self.config.classes).float()  # (B, classes)
        # Mixup: a blend of two glyphs is taught as the same blend of their labels.
        # Without it the classifier called a 50/50 ghost of two digits 98% certain, and
        # "recognisability" would reward blurry, ambiguous samples.
        b = x.shape[0]
        lam = torch.rand(b, generator=self.gen)
        lam = torch.where(torch.rand(b, generator=self.gen) < self.config.mixup, lam, torch.ones(b))
        partner = torch.randperm(b, generator=self.gen)
        x = lam.view(b, 1, 1, 1) * x + (1 - lam.view(b, 1, 1, 1)) * x[partner]
        target = lam[:, None] * target + (1 - lam[:, None]) * target[partner]
        logits = self.model(x)
        loss = torch.sum(-target * F.log_softmax(logits, dim=1), dim=1).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        acc = (logits.argmax(1) == batch["labels"]).float().mean()
        return {"loss": loss.item(), "acc": acc.item()}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                "sched": self.sched.state_dict(), "gen": self.gen.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.gen.set_state(state["gen"])

    def sample_images(self, n: int) -> np.ndarray:
        return np.zeros((n, self.config.size, self.config.size, 1), dtype=np.uint8)

    def export(self, folder: Path, metrics: Mapping[str, float]) -> Any:
        raise NotImplementedError("the classifier is exported by train_classifier")


class Evaluator:
    def __init__(self, model: GlyphClassifier, info: Mapping[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.info = dict(info or {})
        self.classes: tuple[str, ...] = tuple(self.info.get("classes", GLYPH_CLASSES))

    @classmethod
    def load(cls, folder: str | Path | None = None) -> Evaluator:
        folder = Path(folder) if folder else evaluator_dir()
        path = folder / WEIGHTS_NAME
        try:
            info = json.loads((folder / INFO_NAME).read_text(encoding="utf-8"))
            config = ClassifierConfig(**{**info["config"], "widths": tuple(info["config"]["widths"])})
            state = load_file(str(path))
            model = GlyphClassifier(config)
            model.load_state_dict({k: v.float() for k, v in state.items()})
        except Exception as exc:  # any failure: one message naming the folder
            raise ModelLoadError(f"{path}: cannot load the evaluator ({exc})") from None
        return cls(model, info)

    def save(self, folder: Path, info: Mapping[str, Any]) -> None:
        # fp16 halves the shipped size; the classifier is evaluated in fp32
        with atomic.atomic_path(folder / WEIGHTS_NAME) as tmp:
            save_file({k: v.half().contiguous() for k, v in self.model.state_dict().items()}, str(tmp))
        self.info = dict(info)
        _write_json(folder / INFO_NAME, self.info)

    @torch.no_grad()
    def classify(self, images: np.ndarray, batch: int = 256) -> np.ndarray:
        """uint8 (N, H, W, C) → class probabilities (N, classes) float32."""
        out = []
        for i in range(0, len(images), batch):
            x = _to_input(images[i:i + batch], self.model.config.size)
            out.append(F.softmax(self.model(x), dim=1))
        if not out:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return torch.cat(out).numpy().astype(np.float32)

    def recognisability(self, images: np.ndarray) -> float:
        return float(self.classify(images).max(axis=1).mean())

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        return float((self.classify(images).argmax(axis=1) == np.asarray(labels)).mean())


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic.write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def train_classifier(recipe_path: str | Path | None = None, out_dir: str | Path | None = None,
                     ctx: JobContext | None = None, max_steps: int | None = None,
                     checkpoint_dir: str | Path | None = None, on_log: Any = None,
                     data: Mapping[str, Split] | None = None) -> Evaluator:
    """Train the glyph classifier from its recipe and save it to `out_dir`
    (default resources/evaluator/) with its held-out accuracy."""
    from studio.core.paths import recipes_dir
    from studio.core.training import TrainConfig, read_recipe, train_loop

    recipe_path = Path(recipe_path) if recipe_path else recipes_dir() / "evaluator.json"
    recipe = read_recipe(recipe_path)
    config = TrainConfig.from_recipe(recipe)
    if max_steps is not None:
        config.steps = min(config.steps, int(max_steps))
    cc = recipe.get("config", {})
    model_config = ClassifierConfig(**{**cc, "widths": tuple(cc.get("widths", (16, 32, 64)))})
    torch.manual_seed(config.seed)
    data = data or build_dataset(recipe["dataset"])
    trainable = ClassifierTrainable(model_config, float(recipe["train"].get("lr", 3e-3)),
                                    config.steps, config.seed)
    steps = train_loop(trainable, data["train"], config, ctx,
                       Path(checkpoint_dir) if checkpoint_dir else None,
                       resume=checkpoint_dir is not None, on_log=on_log)
    evaluator = Evaluator(trainable.model)
    held = data["held_out"]
    info = {
        "classes": list(GLYPH_CLASSES),
        "config": {**model_config.__dict__, "widths": list(model_config.widths)},
        "held_out_accuracy": round(evaluator.accuracy(held.images, held.labels), 4),
        "held_out_recognisability": round(evaluator.recognisability(held.images), 4),
        "held_out_count": len(held),
        "steps": steps,
        "recipe": recipe_path.name,
        "dataset": dict(recipe["dataset"]),
    }
    evaluator.save(Path(out_dir) if out_dir else evaluator_dir(), info)
    return evaluator


# -----------------------------------------------------------------------------
# figures for any model

def _flat(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(images)).reshape(len(images), -1).float().div_(255.0)


@torch.no_grad()
def nearest_neighbour_distance(queries: np.ndarray, reference: np.ndarray,
                               chunk: int = 4096) -> np.ndarray:
    """Per query, the per-pixel RMS distance (in [0, 1] units) to its nearest reference
    image. uint8 arrays of the same image shape."""
    assert queries.shape[1:] == reference.shape[1:], (queries.shape, reference.shape)
    q = _flat(queries)  # (N, D)
    best = torch.full((len(q),), float("inf"))
    for i in range(0, len(reference), chunk):
        r = _flat(reference[i:i + chunk])  # (M, D)
        d2 = (q * q).sum(1, keepdim=True) + (r * r).sum(1)[None] - 2.0 * q @ r.T  # (N, M)
        best = torch.minimum(best, d2.min(1).values)
    return (best.clamp_min(0.0) / q.shape[1]).sqrt().numpy()


def dataset_ceiling(train: Split, evaluator: Evaluator | None = None, count: int = 256) -> float:
    """Recognisability of the training images themselves: the best a model can hope for."""
    evaluator = evaluator or Evaluator.load()
    return evaluator.recognisability(train.images[:count])


def _run(model: Any, op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray]):
    return model.run(op, dict(params), dict(inputs), JobContext())


def sample_calls(spec: Any, samples: int, seed: int = 0) -> list[dict[str, Any]]:
    """The `sample` op's parameters, call by call, that draw an evaluation's `samples`
    images: seed + i for call i, each as many images as one call may make. Whoever runs
    them (here, or Ray workers in `studio batch --eval`) gets the same images in order."""
    batched = "count" in spec.defaults()
    per_call = int(spec.param("count").maximum or 64) if batched else 1
    calls: list[dict[str, Any]] = []
    made = 0
    while made < samples:
        params: dict[str, Any] = {"seed": seed + len(calls)}
        if batched:
            params["count"] = min(per_call, samples - made)
        calls.append(params)
        made += params.get("count", 1)
    return calls


def evaluate_model(model: Any, family: Any, samples: int = 256, seed: int = 0,
                   data: Mapping[str, Split] | None = None,
                   evaluator: Evaluator | None = None, glyphs: bool = True,
                   images: np.ndarray | None = None) -> dict[str, float]:
    """The evaluator's figures for a loaded model (studio.core.family.LoadedModel).

    `family` is its FamilyInfo (which ops it has); `data` the {"train", "held_out"} splits
    it was trained on (default: the glyph splits its card names). `glyphs=False` (a model
    of the user's own images) leaves out the glyph classifier's figures, which would mean
    nothing there; the distances, reconstruction and bits/dim remain. `images` are the
    unconditional samples when drawn already (the `sample_calls` run elsewhere)."""
    if glyphs:
        evaluator = evaluator or Evaluator.load()
    ops = {op.name: op for op in family.ops}
    if data is None:
        spec = model.card.training.get("dataset", {})
        data = build_dataset({"name": model.card.dataset or "glyphs", **spec})
    train, held = data["train"], data["held_out"]
    out: dict[str, float] = {}
    gen_images = np.zeros((0,) + train.images.shape[1:], dtype=np.uint8)

    if "sample" in ops:
        spec = ops["sample"]
        if images is None:
            images = np.concatenate([_run(model, "sample", params, {}).images
                                     for params in sample_calls(spec, samples, seed)])
        gen_images = np.asarray(images)[:samples]
        if evaluator is not None and glyphs:
            out["recognisability"] = evaluator.recognisability(gen_images)
        class_param = next((name for name in CLASS_PARAMS if name in spec.defaults()), None)
        conditional = getattr(model, "class_conditional", True)  # a model may ignore its class
        if (class_param is not None and conditional and train.labels is not None
                and evaluator is not None and glyphs):
            out["class_accuracy"] = _class_accuracy(model, spec, class_param, evaluator, samples, seed)

    if len(gen_images) and gen_images.shape[1:] == train.images.shape[1:]:
        out["nn_distance_samples"] = float(nearest_neighbour_distance(gen_images, train.images).mean())
    held_q = held.images[:samples]
    out["nn_distance_held_out"] = float(nearest_neighbour_distance(held_q, train.images).mean())

    if "reconstruct" in ops:
        errors = []
        for image in held.images[:samples]:
            pair = _run(model, "reconstruct", {}, {"image": image}).images  # [input, recon]
            a, b = pair[0].astype(np.float32) / 255.0, pair[-1].astype(np.float32) / 255.0
            errors.append(float(((a - b) ** 2).mean()))
        out["reconstruction_mse"] = float(np.mean(errors))

    if "likelihood" in ops:
        bpd = []
        for image in held.images[:min(samples, 64)]:
            extras = _run(model, "likelihood", {}, {"image": image}).extras
            bpd.append(float(extras["bits_per_dim"]))
        out["bits_per_dim"] = float(np.mean(bpd))
    out["samples"] = float(len(gen_images))
    return {k: round(v, 5) for k, v in out.items()}


def _class_accuracy(model: Any, spec: Any, class_param: str, evaluator: Evaluator, samples: int,
                    seed: int) -> float:
    label_spec = spec.param(class_param)
    per_class = max(1, samples // len(evaluator.classes))
    correct, total = 0, 0
    for k in range(len(evaluator.classes)):
        label = label_spec.choices[k] if label_spec.kind == "choice" else k
        params: dict[str, Any] = {"seed": seed + k, class_param: label}
        if "count" in spec.defaults():
            params["count"] = min(per_class, int(spec.param("count").maximum or per_class))
        images = _run(model, "sample", params, {}).images
        correct += int((evaluator.classify(images).argmax(1) == k).sum())
        total += len(images)
    return correct / max(1, total)
