"""The evaluator: its figures on fake models with known answers, and its classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.cards import ModelCard
from studio.core.datasets import GLYPH_CLASSES, Split, make_glyphs
from studio.core.evaluator import (
    Evaluator,
    dataset_ceiling,
    evaluate_model,
    nearest_neighbour_distance,
    train_classifier,
)
from studio.core.family import ModelLoadError, Output
from studio.core.params import OpSpec, ParamSpec
from studio.core.paths import recipes_dir
from studio.core.registry import FamilyInfo

SEED = ParamSpec("seed", "seed", default=0)
COUNT = ParamSpec("count", "int", default=4, minimum=1, maximum=8)
LABEL = ParamSpec("class_label", "choice", default="0", choices=GLYPH_CLASSES)
IMAGE = ParamSpec("image", "image", required=True)


def tiny_splits() -> dict[str, Split]:
    return {"train": Split(*make_glyphs(4, seed=0, fonts=[], cache=False)),
            "held_out": Split(*make_glyphs(1, seed=1, fonts=[], cache=False))}


class CopyCat:
    """A 'model' that returns its training images: memorisation at its worst."""

    def __init__(self, train: Split, conditional: bool = False) -> None:
        self.train = train
        self.device = "cpu"
        self.card = ModelCard(id="copycat", name="Copy cat", family="fake", resolution=32, channels=1)
        self.calls: list[tuple[str, dict]] = []

    def run(self, op, params, inputs, ctx) -> Output:
        self.calls.append((op, dict(params)))
        if op == "sample":
            pool = self.train.images
            if "class_label" in params:
                pool = pool[self.train.labels == GLYPH_CLASSES.index(params["class_label"])]
            start = params["seed"] * params["count"]
            index = np.arange(start, start + params["count"]) % len(pool)
            return Output(images=pool[index])
        if op == "reconstruct":
            return Output(images=np.stack([inputs["image"], inputs["image"]]), columns=2)
        raise KeyError(op)

    def memory_bytes(self) -> int:
        return 1


def family(*ops: OpSpec) -> FamilyInfo:
    return FamilyInfo("fake", "Fake", "", ops, loader="tests.fakes:Nothing")


def test_nearest_neighbour_distance() -> None:
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (20, 4, 4, 1), dtype=np.uint8)
    assert np.allclose(nearest_neighbour_distance(ref[:5], ref), 0.0, atol=1e-3)
    q = rng.integers(0, 256, (3, 4, 4, 1), dtype=np.uint8)
    brute = [min(np.sqrt(((a / 255.0 - b / 255.0) ** 2).mean()) for b in ref) for a in q]
    np.testing.assert_allclose(nearest_neighbour_distance(q, ref, chunk=7), brute, rtol=1e-4)


def test_copying_model_has_zero_distance_and_zero_error() -> None:
    data = tiny_splits()
    model = CopyCat(data["train"])
    info = family(OpSpec("sample", (SEED, COUNT)), OpSpec("reconstruct", (IMAGE,)))
    metrics = evaluate_model(model, info, samples=12, seed=0, data=data)
    assert metrics["samples"] == 12
    assert metrics["nn_distance_samples"] == pytest.approx(0.0, abs=1e-3)
    assert metrics["nn_distance_held_out"] > 0.05  # new renders are not copies
    assert metrics["reconstruction_mse"] == 0.0
    assert 0.0 <= metrics["recognisability"] <= 1.0
    assert "class_accuracy" not in metrics and "bits_per_dim" not in metrics
    # samples come in calls of at most the op's maximum count, seeds counting up
    assert [p for op, p in model.calls if op == "sample"] == [
        {"seed": 0, "count": 8}, {"seed": 1, "count": 4}]


def test_class_accuracy_for_conditional_sampling() -> None:
    data = tiny_splits()
    info = family(OpSpec("sample", (SEED, COUNT, LABEL)))
    metrics = evaluate_model(CopyCat(data["train"]), info, samples=20, data=data)
    assert metrics["class_accuracy"] >= 0.9  # the shipped classifier knows Pillow's digits


def test_shipped_classifier() -> None:
    evaluator = Evaluator.load()
    assert (Path(evaluator.info.get("recipe", "evaluator.json")).name == "evaluator.json")
    assert evaluator.info["held_out_accuracy"] >= 0.95
    images, labels = make_glyphs(2, seed=3, fonts=[], cache=False)
    probs = evaluator.classify(images)
    assert probs.shape == (20, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert evaluator.accuracy(images, labels) >= 0.9
    assert dataset_ceiling(Split(images, labels), evaluator) > 0.8
    # RGB and other sizes are converted
    rgb = np.repeat(images[:, ::2, ::2], 3, axis=-1)
    assert evaluator.classify(rgb).shape == (20, 10)
    # a blank image is no digit
    assert evaluator.recognisability(np.zeros((2, 32, 32, 1), np.uint8)) < 0.5


def test_train_classifier_tiny(tmp_path: Path) -> None:
    out = tmp_path / "evaluator"
    evaluator = train_classifier(recipes_dir() / "evaluator.json", out, max_steps=3,
                                 data=tiny_splits())
    assert evaluator.info["steps"] == 3 and 0 <= evaluator.info["held_out_accuracy"] <= 1
    loaded = Evaluator.load(out)
    images = make_glyphs(1, seed=4, fonts=[], cache=False)[0]
    np.testing.assert_allclose(loaded.classify(images), evaluator.classify(images), atol=2e-3)
    (out / "evaluator.safetensors").write_bytes(b"junk")
    with pytest.raises(ModelLoadError, match="evaluator.safetensors"):
        Evaluator.load(out)


class IndexedCopyCat(CopyCat):
    """Copies training images of the class asked by index; says whether it is conditional."""

    def __init__(self, train: Split, conditional: bool) -> None:
        super().__init__(train)
        self.class_conditional = conditional

    def run(self, op, params, inputs, ctx) -> Output:
        self.calls.append((op, dict(params)))
        pool = self.train.images
        if self.class_conditional and params.get("class_index", -1) >= 0:
            pool = pool[self.train.labels == params["class_index"]]
        start = params["seed"] * params["count"]
        return Output(images=pool[np.arange(start, start + params["count"]) % len(pool)])


def test_class_accuracy_with_a_class_index_only_for_conditional_models() -> None:
    data = tiny_splits()
    index = ParamSpec("class_index", "int", default=-1, minimum=-1, maximum=255)
    info = family(OpSpec("sample", (SEED, COUNT, index)))
    metrics = evaluate_model(IndexedCopyCat(data["train"], True), info, samples=20, data=data)
    assert metrics["class_accuracy"] >= 0.9
    unconditional = IndexedCopyCat(data["train"], False)
    assert "class_accuracy" not in evaluate_model(unconditional, info, samples=20, data=data)
    assert unconditional.calls and all(p.get("class_index", -1) == -1 for _, p in unconditional.calls)
