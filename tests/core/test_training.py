"""The training driver on a toy trainable, and one tiny recipe end to end."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from studio.core.cards import ModelCard
from studio.core.datasets import Split
from studio.core.family import Cancelled, JobContext
from studio.core.registry import Registry
from studio.core.training import (
    TrainConfig,
    batch_indices,
    checkpoints,
    quality_thresholds,
    train_from_recipe,
    train_loop,
)
from studio.families import register_all


class MeanImage:
    """Learns the mean image with Adam; the noise in each step tests that resume
    restores torch's random state too."""

    def __init__(self) -> None:
        self.w = torch.nn.Parameter(torch.zeros(1, 1, 4, 4))
        self.opt = torch.optim.Adam([self.w], lr=0.1)
        self.seen = 0

    def step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
        x = batch["images"] + 0.01 * torch.randn_like(batch["images"])
        loss = ((x - self.w) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.seen += 1
        return {"loss": loss.item()}

    def state_dict(self) -> dict[str, Any]:
        return {"w": self.w.detach().clone(), "opt": self.opt.state_dict(), "seen": self.seen}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        with torch.no_grad():
            self.w.copy_(state["w"])
        self.opt.load_state_dict(state["opt"])
        self.seen = state["seen"]

    def sample_images(self, n: int) -> np.ndarray:
        pixel = (self.w.detach().clamp(0, 1) * 255).round().to(torch.uint8)
        return pixel.permute(0, 2, 3, 1).numpy().repeat(n, axis=0)

    def export(self, folder: Path, metrics: Mapping[str, float]) -> ModelCard:
        raise NotImplementedError


def toy_data(n: int = 40) -> Split:
    rng = np.random.default_rng(0)
    return Split(rng.integers(0, 256, (n, 4, 4, 1), dtype=np.uint8), np.arange(n) % 10)


def test_progress_logs_and_samples() -> None:
    seen: list[float] = []
    logs: list[int] = []
    samples: list[tuple[int, tuple]] = []
    ctx = JobContext(on_progress=lambda f, msg: seen.append(f), min_interval=0.0)
    config = TrainConfig(steps=10, batch_size=8, log_every=5, sample_every=5, checkpoint_every=0)
    step = train_loop(MeanImage(), toy_data(), config, ctx,
                      on_log=lambda s, m: logs.append(s),
                      on_samples=lambda s, im: samples.append((s, im.shape)))
    assert step == 10 and len(seen) == 10 and seen[-1] == 1.0
    assert logs == [5, 10] and samples == [(5, (16, 4, 4, 1)), (10, (16, 4, 4, 1))]


def test_resume_continues_and_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    config = TrainConfig(steps=10, batch_size=8, checkpoint_every=3, keep_checkpoints=2)
    whole = MeanImage()
    train_loop(whole, toy_data(), config, checkpoint_dir=tmp_path / "whole")

    first = MeanImage()
    short = TrainConfig(**{**config.__dict__, "steps": 6})
    saved: list[int] = []
    train_loop(first, toy_data(), short, checkpoint_dir=tmp_path / "split",
               on_checkpoint=lambda s, p: saved.append(s))
    assert saved == [3, 6] and [s for s, _ in checkpoints(tmp_path / "split")] == [3, 6]
    second = MeanImage()
    stats: dict = {}
    assert train_loop(second, toy_data(), config, checkpoint_dir=tmp_path / "split", stats=stats) == 10
    assert second.seen == 10 and stats["resumed_from"] == 6 and stats["seconds"] > 0
    torch.testing.assert_close(second.w, whole.w, rtol=0, atol=0)
    # at most keep_checkpoints remain
    assert [s for s, _ in checkpoints(tmp_path / "split")] == [9, 10]


def test_cancel_saves_a_checkpoint_and_raises(tmp_path: Path) -> None:
    event = threading.Event()
    config = TrainConfig(steps=50, batch_size=8, log_every=1, checkpoint_every=0)

    def on_log(step: int, metrics: Mapping[str, float]) -> None:
        if step == 4:
            event.set()

    trainable = MeanImage()
    with pytest.raises(Cancelled):
        train_loop(trainable, toy_data(), config, JobContext(cancel_event=event),
                   checkpoint_dir=tmp_path, on_log=on_log)
    assert trainable.seen == 4 and [s for s, _ in checkpoints(tmp_path)] == [4]
    resumed = MeanImage()
    assert train_loop(resumed, toy_data(), TrainConfig(steps=6, batch_size=8),
                      checkpoint_dir=tmp_path) == 6
    assert resumed.seen == 6


def test_batch_order_is_a_function_of_seed_and_step() -> None:
    a = [batch_indices(100, 10, 3, s).tolist() for s in range(20)]
    b = [batch_indices(100, 10, 3, s).tolist() for s in range(20)]
    assert a == b
    assert sorted(sum(a[:10], [])) == list(range(100))  # one epoch sees every item once
    assert batch_indices(5, 8, 0, 0).shape == (8,)  # tiny data: with replacement


def test_thresholds_never_below_the_bar() -> None:
    t = quality_thresholds({"recognisability": 0.72, "reconstruction_mse": 0.01,
                            "nn_distance_samples": 0.2})
    assert t["min_recognisability"] == 0.7
    assert t["max_reconstruction_mse"] > 0.01 and t["min_nn_distance_samples"] == 0.1
    assert quality_thresholds({"recognisability": 0.95})["min_recognisability"] == 0.9


def test_train_from_recipe_tiny_vae(tmp_path: Path) -> None:
    recipe = {
        "id": "vae-tiny", "name": "Tiny VAE", "family": "vae", "seed": 0,
        "dataset": {"name": "glyphs", "train_per_class": 2, "held_out_per_class": 2,
                    "fonts": [], "size": 8, "cache": False},
        "config": {"resolution": 8, "channels": 1, "latent_channels": 2, "widths": [4, 8]},
        "train": {"steps": 50, "batch_size": 8, "checkpoint_every": 2},
        "evaluate": {"samples": 16},
    }
    path = tmp_path / "vae-tiny.json"
    path.write_text(json.dumps(recipe))
    out = train_from_recipe(path, register_all(Registry()), tmp_path / "out",
                            max_steps=3, checkpoint_dir=tmp_path / "ckpt")
    card = ModelCard.read(out)
    assert card.id == "vae-tiny" and card.recipe == "vae-tiny.json"
    assert card.training["steps"] == 3
    for key in ("recognisability", "reconstruction_mse", "nn_distance_samples",
                "nn_distance_held_out", "dataset_ceiling"):
        assert key in card.metrics, key
    assert card.thresholds["min_recognisability"] >= 0.7
    assert (out / "model.safetensors").is_file()
    # resuming a finished run trains nothing more
    train_from_recipe(path, register_all(Registry()), tmp_path / "out", max_steps=3,
                      checkpoint_dir=tmp_path / "ckpt", evaluate=False)
    assert [s for s, _ in checkpoints(tmp_path / "ckpt")] == [2, 3]
