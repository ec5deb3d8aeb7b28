"""Tiny real, seeded (untrained) flow and PixelCNN models in a temporary folder, and the
services around them, for the flow and autoregressive explorer tests. Nothing trains:
the weights are the seeded initialisation (the flow's actnorm set from one random batch,
so that its layers are not all the identity)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.core.cache import ModelCache
from studio.core.cards import ModelCard
from studio.core.engine import Engine, validator_for
from studio.core.history import History
from studio.core.registry import Registry
from studio.families.autoregressive.spec import AUTOREGRESSIVE
from studio.families.flow.spec import FLOW
from tests.fakes import FakeLibrary

CLASSES = [chr(ord("A") + k) for k in range(10)]


def make_tiny_flow(folder: Path, resolution: int = 8) -> ModelCard:
    import torch

    from studio.families import shared
    from studio.families.flow import model as flow

    torch.manual_seed(0)
    cfg = flow.FlowConfig(resolution=resolution, channels=1, levels=2, steps_per_level=2,
                          hidden=(8, 8), num_classes=10, dequant_draws=2)
    model = flow.Glow(cfg)
    flow.data_init(model, torch.rand(8, 1, resolution, resolution) - 0.5, None)
    digest = shared.save_weights(model, folder, "latent-studio/flow", cfg.to_dict())
    card = ModelCard(id="tiny-flow", name="Tiny flow", family="flow", resolution=resolution,
                     channels=1, latent_shape=[cfg.dims], classes=CLASSES, dataset="none",
                     weights_sha256=digest, config=cfg.to_dict())
    card.write(folder)
    return card


def make_tiny_pixelcnn(folder: Path, resolution: int = 16) -> ModelCard:
    import torch

    from studio.families import shared
    from studio.families.autoregressive import model as autoregressive

    torch.manual_seed(0)
    cfg = autoregressive.PixelCNNConfig(resolution=resolution, hidden=8, layers=3, head=16,
                                        num_classes=10)
    model = autoregressive.PixelCNN(cfg)
    digest = shared.save_weights(model, folder, "latent-studio/pixelcnn", cfg.to_dict())
    card = ModelCard(id="tiny-pixelcnn", name="Tiny PixelCNN", family="autoregressive",
                     resolution=resolution, channels=1, classes=CLASSES, dataset="none",
                     weights_sha256=digest, config=cfg.to_dict())
    card.write(folder)
    return card


class TinyServices:
    """Engine, cache, library and History around one tiny model (a real engine thread)."""

    def __init__(self, tmp_path: Path, card: ModelCard, folder: Path) -> None:
        self.library = FakeLibrary(card)
        self.library.get(card.id).folder = folder
        self.registry = Registry()
        self.registry.register(FLOW)
        self.registry.register(AUTOREGRESSIVE)
        self.cache = ModelCache(self.library, self.registry, device="cpu")
        self.engine = Engine(self.cache, threads=1,
                             validate=validator_for(self.registry, self.library))
        self.history = History(tmp_path / "home")

    @classmethod
    def of_folder(cls, tmp_path: Path, folder: Path) -> TinyServices:
        return cls(tmp_path, ModelCard.read(folder), folder)


def load_tiny(family_class, folder: Path):
    """The family's model loaded from a tiny model's folder, on the CPU."""
    return family_class.load(folder, ModelCard.read(folder), "cpu")


def glyph(resolution: int) -> np.ndarray:
    """A clear test image (H, W, 1) uint8: a bright ring on black, with a bar."""
    y, x = np.mgrid[:resolution, :resolution] + 0.5
    r = np.hypot(x - resolution / 2, y - resolution / 2)
    image = np.where(np.abs(r - resolution * 0.3) < resolution * 0.1, 230, 10)
    image[resolution // 2 - 1:resolution // 2 + 1, :] = 160
    return image.astype(np.uint8)[..., None]
