"""A tiny Stable Diffusion folder imported through the model manager generates from a
typed prompt, with live previews, and its image equals diffusers' own for the same
settings. Real services: the library, the cache and the engine's worker thread."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings

from studio.families.diffusers.model import float_to_uint8
from studio.ui.main_window import MainWindow
from studio.wiring import build_services
from tests.families.diffusers_tiny import make_pipeline_folder
from tests.ui.conftest import generate


@pytest.fixture
def studio(tmp_path):
    services = build_services(home=tmp_path / "home", builtin_dir=tmp_path / "no-builtins",
                              threads=1, device="cpu")
    yield services
    services.close()


def test_import_through_the_model_manager_then_generate_from_a_prompt(qtbot, studio, tmp_path):
    folder = make_pipeline_folder("sd", tmp_path / "Tiny SD")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(studio.engine, studio.library, studio.registry, studio.history,
                        settings=settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.start(sample=False)  # an empty library

    assert window.import_folder(str(folder)) == "tiny-sd"
    assert window.session.model_id == "tiny-sd"
    prompt = window.params.editor("prompt")
    prompt.clear()
    qtbot.keyClicks(prompt, "the cat")
    window.params.set_value("steps", 3)
    window.params.set_value("guidance", 5.0)
    window.params.set_seed_locked(True)  # else each Generate draws a new seed
    window.params.set_value("seed", 21)
    window.params.set_value("scheduler", "euler_a")
    previews: list = []
    window.bridge.job_previewed.connect(lambda job, images: previews.append(images))
    result = generate(qtbot, window)
    window.close()

    params = result.request.params
    assert (params["prompt"], params["steps"], params["guidance"], params["seed"],
            params["scheduler"]) == ("the cat", 3, 5.0, 21, "euler_a")
    assert previews and previews[0].shape == (1, 32, 32, 3)
    from diffusers import DiffusionPipeline, EulerAncestralDiscreteScheduler

    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = pipe("the cat", num_inference_steps=3, guidance_scale=5.0, output_type="np",
                        generator=torch.Generator().manual_seed(21)).images
    finally:
        torch.set_num_threads(threads)
    assert result.images.shape == (1, 32, 32, 3)
    assert np.abs(result.images.astype(int) - float_to_uint8(expected)).max() <= 1
