"""Fake families (numpy only) that drive the engine and UI tests fast.

`FakeFamily` declares the VAE family's ops, so the UI shows the VAE explorer for it, and
decodes a latent (4, 2, 2) to an 8×8 grayscale image with a fixed linear map: cheap,
deterministic and smooth, so interpolation and map tests can check real values.

`FakeGANFamily` declares the GAN family's ops (the real catalog specs), so the UI shows
the GAN explorer for it. Its "generator" maps z → w with a fixed tanh layer and
synthesises an 8×8 RGB image from a w+ code (6 layers × 8) with a fixed linear map and a
sigmoid; truncation pulls w towards a fixed mean, so ψ = 0 gives one image for every
seed; its directions are the first axes of w, scaled by the card's σ.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.cards import ModelCard
from studio.core.directions import Edit, parse_edits
from studio.core.family import JobContext, Output
from studio.core.latent import grid_point, path
from studio.core.registry import Registry
from studio.families.diffusion.spec import DIFFUSION
from studio.families.gan.spec import GAN
from studio.families.vae.spec import VAE

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
    registry.register(FAKE_GAN)
    registry.register(FAKE_DIFFUSION)
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


# -- a fake GAN ----------------------------------------------------------------------------
GAN_LAYERS, W_DIM, Z_DIM = 6, 8, 8
FAKE_GAN = replace(GAN, name="fake-gan", label="Fake GAN", loader="tests.fakes:FakeGANFamily",
                   description="A numpy fake GAN for tests.", _cache={})
GAN_DIRECTIONS = ({"name": "Direction 1", "layers": [0, 5], "sigma": 1.0},
                  {"name": "Direction 2", "layers": [0, 2], "sigma": 0.5},
                  {"name": "Direction 3", "layers": [3, 5], "sigma": 2.0})


def fake_gan_card(model_id: str = "fake-gan", **changes: Any) -> ModelCard:
    card = ModelCard(id=model_id, name=f"Fake GAN {model_id}", family="fake-gan",
                     resolution=RES, channels=3, latent_shape=[GAN_LAYERS, W_DIM], dataset="none",
                     config={"layers": GAN_LAYERS, "w_dim": W_DIM, "z_dim": Z_DIM,
                             "directions": [dict(d) for d in GAN_DIRECTIONS],
                             "layer_ranges": {"coarse": [0, 1], "middle": [2, 3], "fine": [4, 5]}})
    for key, value in changes.items():
        setattr(card, key, value)
    return card


class FakeGANFamily:
    loads: list[str] = []

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> FakeGANModel:
        cls.loads.append(card.id)
        return FakeGANModel(card, device)


def parse_seeds(text: str, name: str) -> list[int]:
    try:
        seeds = [int(part) for part in str(text).replace(" ", "").split(",") if part]
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a comma-separated list of seeds") from None
    if not seeds:
        raise ValueError(f"{name}: give at least one seed")
    return seeds


class FakeGANModel:
    """The GAN's ops on a tiny fixed mapping and synthesis, in numpy. Latents are w+
    codes (layers, w_dim); every op returns the w+ codes it synthesised, and a given code
    renders as it is (truncation pulls only the styles drawn from seeds), as in gan.py."""

    step_delay = 0.0  # seconds per image (sample) or per step (project)
    # when set, `sample` waits for it before it starts and `project` before each step
    # (tests hold the worker on a job while they queue more)
    gate: threading.Event | None = None

    def __init__(self, card: ModelCard, device: str) -> None:
        self.card = card
        self.device = device
        rng = np.random.default_rng(4321)
        self.layers = int(card.config.get("layers", GAN_LAYERS))
        self.mapping = (rng.normal(size=(Z_DIM, W_DIM)) / np.sqrt(Z_DIM)).astype(np.float32)
        self.w_avg = np.linspace(-0.5, 0.5, W_DIM, dtype=np.float32)
        self.synthesis = (rng.normal(size=(self.layers * W_DIM, RES * RES * 3))
                          * 2.0 / np.sqrt(self.layers * W_DIM)).astype(np.float32)
        directions = card.config.get("directions", [])
        self.directions = np.eye(W_DIM, dtype=np.float32)[: len(directions)]
        self.sigmas = [float(d.get("sigma", 1.0)) for d in directions]

    def memory_bytes(self) -> int:
        return self.synthesis.nbytes + self.mapping.nbytes

    # -- the generator ---------------------------------------------------------------------
    def z(self, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal(Z_DIM).astype(np.float32)

    def map(self, z: np.ndarray) -> np.ndarray:
        """z (Z_DIM,) → w+ (layers, W_DIM), untruncated."""
        w = np.tanh(z @ self.mapping) + self.w_avg
        return np.repeat(w[None], self.layers, axis=0).astype(np.float32)

    def truncate(self, wplus: np.ndarray, psi: float) -> np.ndarray:
        return (self.w_avg + psi * (wplus - self.w_avg)).astype(np.float32)

    def seed_w(self, seed: int, psi: float) -> np.ndarray:
        return self.truncate(self.map(self.z(seed)), psi)

    def parse_edits(self, text: str) -> list[Edit]:
        """The `edits` parameter, read by the one directions model (studio.core.directions);
        a direction without layers edits every layer here."""
        every = [(0, self.layers - 1)] * len(self.directions)
        return parse_edits(text, len(self.directions), self.layers, W_DIM, every, self.sigmas)

    def edit(self, wplus: np.ndarray, edits: list[Edit] | list[dict[str, Any]]) -> np.ndarray:
        """w+ moved by `edits` (Edit objects, or the dicts of an `edits` JSON)."""
        if edits and isinstance(edits[0], dict):
            edits = self.parse_edits(json.dumps(edits))
        out = wplus.copy()
        for e in edits:
            # a direction from a directions file carries its vector, as in gan.py
            vector = e.vector if e.direction is None else self.directions[e.direction]
            first, last = e.layers
            out[first:last + 1] += e.amount * e.sigma * vector
        return out

    def synth(self, wplus: np.ndarray) -> np.ndarray:
        """(N, layers, W_DIM) → (N, RES, RES, 3) uint8."""
        flat = wplus.reshape(len(wplus), -1) @ self.synthesis
        pixels = 1.0 / (1.0 + np.exp(-flat))
        return (pixels * 255).round().astype(np.uint8).reshape(-1, RES, RES, 3)

    # -- ops ---------------------------------------------------------------------------------
    def run(self, op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
            ctx: JobContext) -> Output:
        ctx.check_cancelled()
        psi = float(params.get("truncation", 1.0))
        if op == "sample":
            if self.gate is not None:
                self.gate.wait(10)
            edits = self.parse_edits(params.get("edits", ""))
            if inputs.get("latent") is not None:  # given codes render as they are
                start = np.asarray(inputs["latent"], np.float32).reshape(-1, self.layers, W_DIM)
                labels: tuple[str, ...] = ()
            else:
                seed, count = int(params["seed"]), int(params["count"])
                start = np.stack([self.seed_w(seed + i, psi) for i in range(count)])
                labels = tuple(f"seed {seed + i}" for i in range(count))
            latents = np.stack([self.edit(w, edits) for w in start])
            for i in range(len(latents)):
                ctx.check_cancelled()
                if self.step_delay:
                    threading.Event().wait(self.step_delay)
                ctx.progress(i + 1, len(latents), "sampling")
                ctx.preview(self.synth(latents[: i + 1]))
            return Output(self.synth(latents), latents, labels)
        if op in ("interpolate", "walk"):
            if op == "interpolate":
                ends = [self._end(params, inputs, side, psi) for side in ("a", "b")]
                frames = int(params["frames"])
                closed = False
            else:
                points, legs = int(params["points"]), int(params["frames_per_point"])
                ends = [self.seed_w(int(params["seed"]) + i, psi) for i in range(points)]
                closed = bool(params["loop"])
                frames = points * legs if closed else (points - 1) * legs + 1
            latents = path(ends, frames, "lerp", closed=closed)
            return Output(self.synth(latents), latents, columns=min(frames, 12))
        if op == "mix":
            rows = parse_seeds(params["row_seeds"], "row_seeds")
            cols = parse_seeds(params["column_seeds"], "column_seeds")
            bounds = [0, round(self.layers / 3), round(2 * self.layers / 3), self.layers]
            part = ("coarse", "middle", "fine").index(params["layers"])
            first, last = bounds[part], bounds[part + 1] - 1
            row_w = [self.seed_w(s, psi) for s in rows]
            col_w = [self.seed_w(s, psi) for s in cols]
            blank = np.zeros((RES, RES, 3), np.uint8)
            images, latents, labels = [blank], [np.zeros_like(row_w[0])], [""]
            for c, w in zip(cols, col_w):
                images.append(self.synth(w[None])[0])
                latents.append(w)
                labels.append(f"column seed {c}")
            for r, wr in zip(rows, row_w):
                images.append(self.synth(wr[None])[0])
                latents.append(wr)
                labels.append(f"row seed {r}")
                for c, wc in zip(cols, col_w):
                    mixed = wr.copy()
                    mixed[first:last + 1] = wc[first:last + 1]
                    images.append(self.synth(mixed[None])[0])
                    latents.append(mixed)
                    labels.append(f"seed {r} with {params['layers']} styles of seed {c}")
            return Output(np.stack(images), np.stack(latents), tuple(labels), columns=len(cols) + 1,
                          extras={"layers": [first, last]})
        if op == "project":
            return self._project(params, inputs, ctx)
        if op == "arithmetic":
            a, b, c = (self._end(params, inputs, side, psi) for side in ("a", "b", "c"))
            latents = np.stack([a, b, c, a - b + c])
            return Output(self.synth(latents), latents, ("a", "b", "c", "a − b + c"), columns=4)
        raise ValueError(f"fake GAN has no op {op!r}")

    def _end(self, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], side: str,
             psi: float) -> np.ndarray:
        latent = inputs.get(f"latent_{side}")
        if latent is not None:
            return np.asarray(latent, np.float32).reshape(self.layers, W_DIM)
        seed = params["seed"] if side == "a" else params[f"seed_{side}"]
        return self.seed_w(int(seed), psi)

    def _project(self, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                 ctx: JobContext) -> Output:
        target = _fit_rgb(inputs["image"]).reshape(-1).astype(np.float32) / 255.0
        rng = np.random.default_rng(int(params["seed"]))
        x = (np.repeat(self.w_avg[None], self.layers, 0).reshape(-1)
             + 0.01 * rng.standard_normal(self.layers * W_DIM)).astype(np.float32)
        steps, rate = int(params["steps"]), float(params["learning_rate"]) * 20
        losses = []
        for step in range(steps):
            if self.gate is not None:
                self.gate.wait(10)
            ctx.check_cancelled()
            if self.step_delay:
                threading.Event().wait(self.step_delay)
            pixels = 1.0 / (1.0 + np.exp(-(x @ self.synthesis)))
            error = pixels - target
            losses.append(float(np.mean(error ** 2)))
            x -= rate * self.synthesis @ (2 * error * pixels * (1 - pixels) / len(error))
            ctx.progress(step + 1, steps, f"loss {losses[-1]:.4f}")
            if ctx.wants_preview():
                ctx.preview(self.synth(x.reshape(1, self.layers, W_DIM)))
        latent = x.reshape(1, self.layers, W_DIM).astype(np.float32)
        return Output(self.synth(latent), latent, ("projection",),
                      extras={"loss": losses[-1], "losses": losses})


def _fit_rgb(image: np.ndarray) -> np.ndarray:
    """Nearest-neighbour resize to RES×RES RGB."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    rgb = np.repeat(image[..., :1], 3, axis=-1) if image.shape[-1] < 3 else image[..., :3]
    ys = np.linspace(0, rgb.shape[0] - 1, RES).round().astype(int)
    xs = np.linspace(0, rgb.shape[1] - 1, RES).round().astype(int)
    return rgb[ys][:, xs].astype(np.uint8)


# -- a fake diffusion model -------------------------------------------------------------------
FAKE_DIFFUSION = replace(DIFFUSION, name="fake-diffusion", label="Fake diffusion",
                         loader="tests.fakes:FakeDiffusionFamily",
                         description="A numpy fake diffusion model for tests.", _cache={})
DIFFUSION_CLASSES = 4


def fake_diffusion_card(model_id: str = "fake-diffusion", **changes: Any) -> ModelCard:
    card = ModelCard(id=model_id, name=f"Fake diffusion {model_id}", family="fake-diffusion",
                     resolution=RES, channels=3, latent_shape=[3, RES, RES], dataset="none",
                     classes=[f"class {k}" for k in range(DIFFUSION_CLASSES)],
                     config={"classes": DIFFUSION_CLASSES})
    for key, value in changes.items():
        setattr(card, key, value)
    return card


class FakeDiffusionFamily:
    loads: list[str] = []

    @classmethod
    def load(cls, folder: Path, card: ModelCard, device: str) -> FakeDiffusionModel:
        cls.loads.append(card.id)
        return FakeDiffusionModel(card, device)


class FakeDiffusionModel:
    """The diffusion ops on a closed-form "denoiser", in numpy. Image i of a run (seed s + i)
    has a final image fixed by its seed, class and guidance; x_t after step k of n is
    (1 − k/n)·noise + (k/n)·final and the predicted x0 is final blurred towards grey by the
    noise left. Every step reports ctx.progress(k, n, "step k/n") and previews the x0 of
    every image; results carry extras["timeline"] = {"steps", "x0", "xt"} of the first
    image, as the real families do. Inpaint keeps the unmasked pixels exactly; fork runs
    the original's first k steps and then the branch's settings (identical settings give
    the original exactly)."""

    step_delay = 0.0  # seconds per step
    gate: threading.Event | None = None  # when set, every step waits for it
    requests: list[tuple[str, dict[str, Any]]] = []  # (op, params) of every run, across instances

    def __init__(self, card: ModelCard, device: str) -> None:
        self.card = card
        self.device = device
        rng = np.random.default_rng(777)
        self.class_colours = rng.uniform(-1, 1, size=(DIFFUSION_CLASSES, 1, 1, 3)).astype(np.float32)

    def memory_bytes(self) -> int:
        return self.class_colours.nbytes

    # -- the "model" --------------------------------------------------------------------
    def label(self, class_index: int, seed: int) -> int:
        if class_index >= DIFFUSION_CLASSES:
            raise ValueError(f"class_index: {class_index} is outside −1..{DIFFUSION_CLASSES - 1}")
        return class_index if class_index >= 0 else seed % DIFFUSION_CLASSES

    def noise(self, seed: int) -> np.ndarray:
        return np.random.default_rng([seed, 7]).uniform(0, 1, (RES, RES, 3)).astype(np.float32)

    def final(self, seed: int, label: int, guidance: float) -> np.ndarray:
        """(RES, RES, 3) in [0, 1]."""
        base = np.random.default_rng(seed).uniform(0.2, 0.8, (RES, RES, 3)).astype(np.float32)
        return np.clip(base + 0.1 * guidance * self.class_colours[label][0], 0, 1)

    @staticmethod
    def to_uint8(x: np.ndarray) -> np.ndarray:
        return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)

    def _steps(self, n: int, first: int, finals: list[np.ndarray], noises: list[np.ndarray],
               ctx: JobContext, x0_frames: list[np.ndarray], xt_frames: list[np.ndarray],
               last: int | None = None) -> None:
        """Steps first+1 … last (default n) of n towards `finals`; frames of the first
        image are appended."""
        for k in range(first + 1, (n if last is None else last) + 1):
            if self.gate is not None:
                self.gate.wait(10)
            ctx.check_cancelled()
            if self.step_delay:
                threading.Event().wait(self.step_delay)
            a = k / n
            x0 = [a * f + (1 - a) * 0.5 for f in finals]
            x0_frames.append(self.to_uint8(x0[0]))
            xt_frames.append(self.to_uint8((1 - a) * noises[0] + a * finals[0]))
            ctx.preview(self.to_uint8(np.stack(x0)), force=True)
            ctx.progress(k, n, f"step {k}/{n}")

    @staticmethod
    def _timeline(steps: int, x0: list[np.ndarray], xt: list[np.ndarray]) -> dict[str, Any]:
        empty = np.zeros((0, RES, RES, 3), np.uint8)
        return {"steps": steps, "x0": np.stack(x0) if x0 else empty,
                "xt": np.stack(xt) if xt else empty}

    # -- ops -------------------------------------------------------------------------------
    def run(self, op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
            ctx: JobContext) -> Output:
        type(self).requests.append((op, dict(params)))
        ctx.check_cancelled()
        n = int(params["steps"])
        seed, guidance = int(params["seed"]), float(params["guidance"])
        count = int(params.get("count", 1))
        seeds = [seed + i for i in range(count)]
        labels = [self.label(int(params["class_index"]), s) for s in seeds]
        finals = [self.final(s, c, guidance) for s, c in zip(seeds, labels)]
        noises = [self.noise(s) for s in seeds]
        x0: list[np.ndarray] = []
        xt: list[np.ndarray] = []
        names = tuple(str(c) for c in labels)
        if op == "sample":
            self._steps(n, 0, finals, noises, ctx, x0, xt)
            return Output(self.to_uint8(np.stack(finals)), np.stack(finals), names,
                          extras={"timeline": self._timeline(n, x0, xt), "classes": labels})
        if op in ("img2img", "inpaint"):
            image = _fit_rgb(inputs["image"]).astype(np.float32) / 255.0
            if op == "img2img":
                strength = float(params["strength"])
                finals = [(1 - strength) * image + strength * f for f in finals]
                start = n - min(int(n * strength), n)
            else:
                repaint = _fit_rgb(inputs["mask"])[..., :1] >= 128  # (RES, RES, 1)
                finals = [np.where(repaint, f, image) for f in finals]
                start = 0
            self._steps(n, start, finals, noises, ctx, x0, xt)
            return Output(self.to_uint8(np.stack(finals)), np.stack(finals), names,
                          extras={"timeline": self._timeline(n - start, x0, xt)})
        if op == "interpolate":
            frames = int(params["frames"])
            label = self.label(int(params["class_index"]), seed)
            a, b = self.final(seed, label, guidance), self.final(int(params["seed_b"]), label, guidance)
            finals = [(1 - t) * a + t * b for t in np.linspace(0, 1, frames)]
            self._steps(n, 0, finals, [self.noise(seed)] * frames, ctx, x0, xt)
            return Output(self.to_uint8(np.stack(finals)), np.stack(finals), columns=frames,
                          extras={"timeline": self._timeline(n, x0, xt)})
        if op == "fork":
            k = min(int(params["fork_step"]), n)
            self._steps(n, 0, finals, noises, ctx, x0, xt, last=k)  # the original's first k steps
            fork_seed = int(params["fork_seed"])
            branch_seeds = [fork_seed + i for i in range(count)]
            branch_labels = [self.label(int(params["fork_class_index"]), s) for s in branch_seeds]
            if fork_seed == seed and params["fork_guidance"] == guidance \
                    and int(params["fork_class_index"]) == int(params["class_index"]):
                branch = finals  # identical settings: the original
            else:
                branch = [self.final(s, c, float(params["fork_guidance"]))
                          for s, c in zip(branch_seeds, branch_labels)]
            self._steps(n, k, branch, noises, ctx, x0, xt)
            return Output(self.to_uint8(np.stack(branch)), np.stack(branch),
                          tuple(str(c) for c in branch_labels),
                          extras={"timeline": self._timeline(n, x0, xt), "fork_step": k})
        raise ValueError(f"fake diffusion has no op {op!r}")
