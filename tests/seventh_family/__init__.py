"""A seventh family that exists only in the tests: "dots", numpy only.

It proves that a family joins the studio by registration alone. This package is a
plug-in module (studio.wiring): name it in LATENT_STUDIO_PLUGINS and the studio finds
its spec (`register_families`) and its explorer (`register_explorers`); no file of the
studio names it. The family (`family.py`), the explorer (`explorer.py`) and a model
folder (`write_model_folder`) sit side by side, as a real family's would.
"""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo

NAME = "dots"
MODULE = __name__  # what LATENT_STUDIO_PLUGINS names

DOTS = FamilyInfo(
    name=NAME,
    label="Dots",
    description="Random dots: a test-only family made of numpy.",
    ops=(
        OpSpec("sample", (
            ParamSpec("seed", "seed", 0, label="Seed"),
            ParamSpec("count", "int", 4, 1, 64, label="Images"),
            ParamSpec("density", "float", 0.2, 0.0, 1.0, 0.05, label="Density", live=True),
        ), label="Sample"),
    ),
    loader="tests.seventh_family.family:DotsFamily",
    explorer="dots",
    strengths=("made in a test",),
    weaknesses=("only dots",),
)


def register_families(registry) -> None:
    registry.register(DOTS)


def register_explorers(table) -> None:
    # the explorer's module imports Qt: it is imported when the window first builds it
    from studio.ui.explorers import ExplorerEntry

    table.register(ExplorerEntry(NAME, "Dots", "tests.seventh_family.explorer:DotsExplorer",
                                 shortcuts=(("D (Dots tab)", "Scatter the dots again"),)))


def write_model_folder(folder, model_id: str = "dots-glyphs", dataset: str = "glyphs"):
    """A studio model folder of the family: a card and (tiny) safetensors weights."""
    from pathlib import Path

    import numpy as np
    from safetensors.numpy import save_file

    from studio.core.cards import ModelCard

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"palette": np.array([[0.1, 0.2, 0.9], [0.9, 0.8, 0.1]], np.float32)},
              str(folder / "model.safetensors"))
    ModelCard(id=model_id, name="Dots on glyphs", family=NAME, resolution=8, channels=3,
              dataset=dataset).write(folder)
    return folder
