"""The `parameters` PNG chunk in AUTOMATIC1111's layout, read by a third-party parser.

sd-parsers (PyPI) is what image browsers and prompt readers use to read A1111 metadata.
It finds the prompt above a `Negative prompt:` line and the settings on the last line by
A1111's own keys (`Steps`, `Sampler`, `CFG scale`, `Seed`), so the chunk must use them.
"""

from __future__ import annotations

import numpy as np
from sd_parsers import ParserManager
from sd_parsers.data import Generators

from studio.core import media
from studio.core.export import export_png, open_recipe, recipe_of
from studio.core.requests import Request, Result

PROMPT = "a lighthouse at dusk, oil on canvas"
NEGATIVE = "blurry, low quality"


def sd_result() -> Result:
    rng = np.random.default_rng(5)
    params = {"prompt": PROMPT, "negative_prompt": NEGATIVE, "guidance": 4.0, "steps": 25,
              "scheduler": "dpm++", "seed": 42, "count": 1, "strength": 0.6, "eta": 0.0}
    request = Request("my-sd15", "img2img", params,
                      {"image": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)})
    return Result(request, rng.integers(0, 256, (1, 8, 8, 3), dtype=np.uint8))


def test_parameters_chunk_is_in_a1111s_layout(tmp_path):
    path = export_png(tmp_path / "sd.png", sd_result(), family="diffusers")
    _, text = media.read_png_recipe(path)
    prompt, negative, settings = text.split("\n")
    assert prompt == PROMPT
    assert negative == f"Negative prompt: {NEGATIVE}"
    # A1111's keys in A1111's order, then the studio's own parameters
    assert settings.startswith("Steps: 25, Sampler: dpm++, CFG scale: 4.0, Seed: 42, "
                               "Size: 8x8, Model: my-sd15, ")
    assert "Denoising strength: 0.6" in settings and "Op: img2img" in settings
    assert "guidance" not in text and "negative_prompt" not in text
    fields = media.parse_parameters(text)
    assert fields["prompt"] == PROMPT and fields["Negative prompt"] == NEGATIVE
    assert fields["CFG scale"] == "4.0"


def test_sd_parsers_reads_prompt_negative_prompt_and_settings(tmp_path):
    result = sd_result()
    path = export_png(tmp_path / "sd.png", result, family="diffusers")
    info = ParserManager().parse(path)
    assert info is not None and info.generator == Generators.AUTOMATIC1111
    assert [p.value for p in info.prompts] == [PROMPT]
    assert [p.value for p in info.negative_prompts] == [NEGATIVE]
    (sampler,) = info.samplers
    assert sampler.name == "dpm++"
    assert sampler.parameters == {"cfg_scale": "4.0", "seed": "42", "steps": "25"}
    assert sampler.model is not None and sampler.model.name == "my-sd15"
    assert info.metadata["Size"] == "8x8" and info.metadata["Denoising strength"] == "0.6"
    # the studio's own chunk still round-trips exactly
    recipe, _ = media.read_png_recipe(path)
    assert recipe == recipe_of(result)
    assert open_recipe(path).same_recipe(result.request)


def test_sd_parsers_reads_a_built_in_models_export(tmp_path):
    """No prompt, no guidance: the op names the image, and the settings still read."""
    request = Request("vae-glyphs", "sample", {"seed": 7, "count": 1, "temperature": 0.8})
    result = Result(request, np.zeros((1, 8, 8, 1), np.uint8))
    info = ParserManager().parse(export_png(tmp_path / "vae.png", result, family="vae"))
    assert info is not None and info.generator == Generators.AUTOMATIC1111
    assert [p.value for p in info.prompts] == ["sample"]
    assert info.negative_prompts == []
    (sampler,) = info.samplers
    assert sampler.name == "vae sample"
    assert sampler.parameters == {"seed": "7", "steps": "1"}
    assert info.metadata["temperature"] == "0.8"
