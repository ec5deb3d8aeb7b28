"""A fake family (numpy only) that drives the engine and UI tests fast.

It declares the VAE family's ops, so the UI shows the VAE explorer for it, and decodes a
latent (4, 2, 2) to an 8×8 grayscale image with a fixed linear map: cheap, deterministic
and smooth, so interpolation and map tests can check real values.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.cards import ModelCard
from studio.core.family import JobContext, Output
from studio.core.latent import grid_point, path
from studio.core.registry import Registry
from studio.families.catalog import VAE

LATENT_SHAPE = (4, 2, 2)
RES = 8
FAKE = replace(VAE, name="fake", label="Fake", loader="tests.fakes:FakeFamily",
               description="A numpy fake for tests.", _cache={})


def fake_card(model_id: str = "fake-model", **changes: Any) -> ModelCard:
    card = ModelCard(id=model_id, name=f"Fake {model_id}", family="fake", resolution=RES,
                     channels=1, latent_shape=list(LATENT_SHAPE), dataset="none")
    for key, value in changes.items():
        setattr(card, key, value)
    return card


@dataclass
class FakeEntry:
    card: ModelCard
    folder: Path
    builtin: bool = True

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def family(self) -> str:
        return self.card.family

    @property
    def size_bytes(self) -> int:
        return 1234


class FakeLibrary:
    """Stands in for studio.core.library.Library in engine tests."""

    def __init__(self, *cards: ModelCard) -> None:
        self._entries = {c.id: FakeEntry(c, Path("/nonexistent") / c.id) for c in cards or (fake_card(),)}
        self.problems: list[str] = []

    def entries(self) -> list[FakeEntry]:
        return list(self._entries.values())

    def get(self, model_id: str) -> FakeEntry:
        try:
            return self._entries[model_id]
        except KeyError:
            raise KeyError(f"unknown model {model_id!r}") from None


def fake_registry() -> Registry:
    registry = Registry()
    registry.register(FAKE)
    return registry


class FakeFamily:
    loads: list[str] = []  # model ids loaded, across instances (tests inspect it)

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> FakeModel:
        cls.loads.append(card.id)
        return FakeModel(card, device)


class FakeModel:
    """Ops behave like the VAE's, on a tiny linear decoder."""

    # Tests can set these to slow an op down or make it fail.
    step_delay = 0.0
    fail_with: Exception | None = None
    gate: threading.Event | None = None  # when set, `sample` waits for it (tests block the worker)

    def __init__(self, card: ModelCard, device: str) -> None:
        self.card = card
        self.device = device
        rng = np.random.default_rng(1234)
        self.weights = rng.normal(size=(int(np.prod(LATENT_SHAPE)), RES * RES)).astype(np.float32)

    def memory_bytes(self) -> int:
        return self.weights.nbytes

    def decode(self, latents: np.ndarray) -> np.ndarray:
        flat = latents.reshape(len(latents), -1) @ self.weights / 4.0  # (N, RES*RES)
        pixels = 1.0 / (1.0 + np.exp(-flat))
        return (pixels * 255).round().astype(np.uint8).reshape(-1, RES, RES, 1)

    def encode(self, image: np.ndarray) -> np.ndarray:
        # a least-squares inverse of the decoder's linear part: enough for round trips
        x = image.astype(np.float32).reshape(1, -1) / 255.0
        logits = np.log(np.clip(x, 1e-3, 1 - 1e-3) / (1 - np.clip(x, 1e-3, 1 - 1e-3))) * 4.0
        z, *_ = np.linalg.lstsq(self.weights.T, logits.T, rcond=None)
        return z.T.reshape((1, *LATENT_SHAPE)).astype(np.float32)

    def prior(self, seed: int, count: int, temperature: float = 1.0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (rng.standard_normal((count, *LATENT_SHAPE)) * temperature).astype(np.float32)

    def run(self, op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
            ctx: JobContext) -> Output:
        if self.fail_with is not None:
            raise self.fail_with
        ctx.check_cancelled()
        if op == "sample":
            if self.gate is not None:
                self.gate.wait(10)
            count = int(params["count"])
            latents = self.prior(int(params["seed"]), count, float(params["temperature"]))
            for i in range(count):
                ctx.check_cancelled()
                if self.step_delay:
                    threading.Event().wait(self.step_delay)
                ctx.progress(i + 1, count, "sampling")
                ctx.preview(self.decode(latents[: i + 1]))
            return Output(self.decode(latents), latents)
        if op == "decode":
            latent = np.asarray(inputs["latent"], dtype=np.float32).reshape(-1, *LATENT_SHAPE)
            return Output(self.decode(latent), latent)
        if op in ("encode", "reconstruct"):
            image = _fit(inputs["image"])
            z = self.encode(image)
            recon = self.decode(z)
            if op == "encode":
                return Output(recon, z)
            return Output(np.concatenate([image[None], recon]), z, columns=2,
                          extras={"mse": float(np.mean((image / 255.0 - recon[0] / 255.0) ** 2))})
        if op == "interpolate":
            a, b = self._endpoints(params, inputs)
            frames = path([a, b], int(params["frames"]), params["method"])
            return Output(self.decode(frames), frames, columns=len(frames))
        if op in ("traverse", "map"):
            center = inputs.get("latent")
            center = self.prior(int(params["seed"]), 1)[0] if center is None else np.asarray(center).reshape(LATENT_SHAPE)
            extent = float(params["extent"])
            basis = np.eye(int(np.prod(LATENT_SHAPE)), dtype=np.float32).reshape(-1, *LATENT_SHAPE)
            if op == "traverse":
                first, rows, steps = int(params["first_direction"]), int(params["directions"]), int(params["steps"])
                latents = np.stack([center + t * basis[(first + r) % len(basis)]
                                    for r in range(rows) for t in np.linspace(-extent, extent, steps)])
                return Output(self.decode(latents), latents, columns=steps)
            size = int(params["size"])
            ax, ay = basis[int(params["direction_x"]) % len(basis)], basis[int(params["direction_y"]) % len(basis)]
            latents = np.stack([grid_point(center, ax, ay, u, v)
                                for v in np.linspace(extent, -extent, size)
                                for u in np.linspace(-extent, extent, size)])
            return Output(self.decode(latents), latents, columns=size,
                          extras={"center": center, "axis_x": ax, "axis_y": ay,
                                  "extent": extent, "size": size})
        raise ValueError(f"fake family has no op {op!r}")

    def _endpoints(self, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray]):
        ends = []
        prior = self.prior(int(params["seed"]), 2)
        for i, side in enumerate("ab"):
            if inputs.get(f"latent_{side}") is not None:
                ends.append(np.asarray(inputs[f"latent_{side}"], np.float32).reshape(LATENT_SHAPE))
            elif inputs.get(f"image_{side}") is not None:
                ends.append(self.encode(_fit(inputs[f"image_{side}"]))[0])
            else:
                ends.append(prior[i])
        return ends


def _fit(image: np.ndarray) -> np.ndarray:
    """Nearest-neighbour resize to RES×RES grayscale (the fake needs nothing better)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    gray = image[..., :3].mean(axis=-1, keepdims=True) if image.shape[-1] >= 3 else image[..., :1]
    ys = np.linspace(0, gray.shape[0] - 1, RES).round().astype(int)
    xs = np.linspace(0, gray.shape[1] - 1, RES).round().astype(int)
    return gray[ys][:, xs].astype(np.uint8)
