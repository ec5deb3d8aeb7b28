"""The contract every family's loaded model keeps, as a reusable test mixin.

Modelled on diffusers' PipelineTesterMixin: a test class for a family subclasses
`FamilyContract`, sets `family` (its FamilyInfo from studio.families.catalog) and
implements `make_model_folder(tmp_path)`, which writes a tiny seeded model (card.json +
weights) and returns the folder. The mixin then runs every op of the family's catalog
with default params and required inputs, and checks shapes, dtypes, determinism,
cancellation, parameter validation and that a saved folder loads to the same outputs.

    class TestGAN(FamilyContract):
        family = GAN
        def make_model_folder(self, tmp_path): ...

Override `make_inputs(model, op)` when an op needs special inputs.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.core.cards import ModelCard
from studio.core.family import Cancelled, JobContext, Output
from studio.core.params import ParamError
from studio.core.registry import FamilyInfo


class FamilyContract:
    family: FamilyInfo
    seed_param = "seed"
    # ops whose images are colour maps of a figure (likelihood heatmaps): RGB whatever
    # the model's channels
    map_ops: tuple[str, ...] = ()

    # -- hooks ------------------------------------------------------------------

    def make_model_folder(self, tmp_path: Path) -> Path:
        raise NotImplementedError

    def load(self, folder: Path) -> Any:
        return self.family.implementation().load(folder, ModelCard.read(folder), "cpu")

    def make_model(self, tmp_path: Path) -> Any:
        return self.load(self.make_model_folder(tmp_path))

    def make_inputs(self, model: Any, op: str) -> dict[str, np.ndarray]:
        """Every required array input of `op`: a seeded RGB image of an odd size (so the
        family must fit it), or a latent made by the model's own `sample`."""
        spec = self.family.op(op)
        inputs: dict[str, np.ndarray] = {}
        for param in spec.array_params:
            if not param.required:
                continue
            if param.kind in ("image", "mask"):
                rng = np.random.default_rng(7)
                channels = 3 if param.kind == "image" else 1
                inputs[param.name] = rng.integers(0, 256, (37, 45, channels), dtype=np.uint8)
            elif param.kind == "latent":
                inputs[param.name] = self.a_latent(model)
        return inputs

    def a_latent(self, model: Any) -> np.ndarray:
        if "sample" in self.family.op_names:
            out = model.run("sample", {"seed": 3, "count": 1}, {}, JobContext())
            if out.latents is not None:
                return out.latents[0]
        return np.zeros(model.card.latent_shape, dtype=np.float32)

    # -- helpers ----------------------------------------------------------------

    # One model per test class: the contract tests only read it.
    @pytest.fixture(scope="class")
    @classmethod
    def folder(cls, tmp_path_factory: pytest.TempPathFactory) -> Path:
        return cls().make_model_folder(tmp_path_factory.mktemp("model"))

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, folder: Path) -> Any:
        return cls().load(folder)

    def run_op(self, model: Any, op: str, params: dict | None = None,
               ctx: JobContext | None = None) -> Output:
        return model.run(op, dict(params or {}), self.make_inputs(model, op), ctx or JobContext())

    def seeded(self, op: str, seed: int) -> dict[str, Any]:
        names = {p.name for p in self.family.op(op).params}
        return {self.seed_param: seed} if self.seed_param in names else {}

    # -- the contract -----------------------------------------------------------

    def test_card_names_family(self, model: Any) -> None:
        assert model.card.family == self.family.name
        assert model.memory_bytes() > 0

    def test_every_op_runs_with_defaults(self, model: Any) -> None:
        card = model.card
        for op in self.family.op_names:
            out = self.run_op(model, op)
            assert isinstance(out, Output), op
            images = out.images
            assert isinstance(images, np.ndarray) and images.dtype == np.uint8, (op, images.dtype)
            assert images.ndim == 4 and len(images) >= 1, (op, images.shape)
            channels = 3 if op in self.map_ops else card.channels
            assert images.shape[1:] == (card.resolution, card.resolution, channels), (op, images.shape)
            if out.latents is not None:
                assert out.latents.dtype == np.float32 and np.isfinite(out.latents).all(), op
                if card.latent_shape:
                    assert out.latents.shape[1:] == tuple(card.latent_shape), (op, out.latents.shape)
            assert out.columns >= 0 and (not out.labels or len(out.labels) == len(images)), op
            spec = self.family.op(op)
            if "count" in spec.defaults():
                assert len(images) == spec.defaults()["count"], op

    def test_same_seed_same_pixels(self, model: Any) -> None:
        for op in self.family.op_names:
            a = self.run_op(model, op, self.seeded(op, 123))
            b = self.run_op(model, op, self.seeded(op, 123))
            np.testing.assert_array_equal(a.images, b.images, err_msg=op)
            if a.latents is not None:
                np.testing.assert_array_equal(a.latents, b.latents, err_msg=op)

    def test_different_seeds_differ(self, model: Any) -> None:
        if "sample" not in self.family.op_names:
            pytest.skip("no sample op")
        a = self.run_op(model, "sample", {self.seed_param: 1})
        b = self.run_op(model, "sample", {self.seed_param: 2})
        assert not np.array_equal(a.latents if a.latents is not None else a.images,
                                  b.latents if b.latents is not None else b.images)

    def test_cancelled_before_start(self, model: Any) -> None:
        event = threading.Event()
        event.set()
        for op in self.family.op_names:
            with pytest.raises(Cancelled):
                self.run_op(model, op, ctx=JobContext(cancel_event=event))

    def test_params_are_validated(self, model: Any) -> None:
        for op in self.family.op_names:
            spec = self.family.op(op)
            with pytest.raises(ParamError):
                self.run_op(model, op, {"no_such_param": 1})
            for param in spec.scalar_params:
                if param.kind in ("int", "float") and param.maximum is not None:
                    with pytest.raises(ParamError):
                        self.run_op(model, op, {param.name: param.maximum + 1})
                if param.kind == "choice":
                    with pytest.raises(ParamError):
                        self.run_op(model, op, {param.name: "not-a-choice"})
            for param in spec.array_params:
                if param.required:
                    with pytest.raises(ParamError):
                        model.run(op, {}, {}, JobContext())

    def test_saved_folder_loads_to_same_outputs(self, model: Any, folder: Path,
                                                 tmp_path: Path) -> None:
        copy = tmp_path / "copied"
        shutil.copytree(folder, copy)
        again = self.load(copy)
        for op in self.family.op_names:
            a = self.run_op(model, op, self.seeded(op, 5))
            b = self.run_op(again, op, self.seeded(op, 5))
            np.testing.assert_array_equal(a.images, b.images, err_msg=op)
