"""The "dots" family's implementation: numpy, no torch (the engine does not mind)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from studio.core.family import JobContext, Output


class DotsFamily:
    @classmethod
    def load(cls, folder: Path, card, device: str) -> DotsModel:
        return DotsModel(card, device, load_file(str(Path(folder) / card.weights_file)))


class DotsModel:
    def __init__(self, card, device: str, weights: dict[str, np.ndarray]) -> None:
        self.card, self.device = card, device
        self.palette = weights["palette"]  # (2, 3): background, dot

    def memory_bytes(self) -> int:
        return int(self.palette.nbytes)

    def run(self, op: str, params, inputs, ctx: JobContext) -> Output:
        assert op == "sample", op
        size = self.card.resolution
        images = []
        for i in range(int(params["count"])):
            ctx.check_cancelled()
            rng = np.random.default_rng(int(params["seed"]) + i)
            dots = rng.random((size, size)) < float(params["density"])  # (H, W)
            images.append(self.palette[dots.astype(int)])  # (H, W, 3)
            ctx.progress(i + 1, int(params["count"]))
        return Output(images=np.round(np.stack(images) * 255).astype(np.uint8))
