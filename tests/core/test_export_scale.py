"""Export scales: 1×, 2×, 4×, 8× or a pixel size; nearest-neighbour for small models,
Lanczos otherwise; recorded in the recipe's export settings, never in the request."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core import export, media
from studio.core.export_scale import LANCZOS, NEAREST, ExportScale, ScaleError
from studio.core.requests import RecipeError, Request, Result


def result_of(size: int, count: int = 4, op: str = "sample", seed: int | None = 7) -> Result:
    rng = np.random.default_rng(size)
    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    params = {"count": count} if seed is None else {"seed": seed, "count": count}
    return Result(Request("m", op, params), images, columns=2)


@pytest.mark.parametrize("text, factor, pixels", [
    ("4", 4, None), ("4x", 4, None), ("8×", 8, None), ("1", 1, None), ("512px", 1, 512),
    (" 96PX ", 1, 96)])
def test_a_scale_is_a_factor_or_a_pixel_size(text, factor, pixels):
    scale = ExportScale.parse(text)
    assert (scale.factor, scale.pixels) == (factor, pixels)
    assert ExportScale.parse(scale.label()) == scale


@pytest.mark.parametrize("text", ["", "x4", "2.5", "0", "-2", "4 px wide", "3px", "99999px"])
def test_a_bad_scale_is_refused_with_a_reason(text):
    with pytest.raises(ScaleError):
        ExportScale.parse(text)


def test_small_models_enlarge_with_nearest_neighbour_as_whole_blocks():
    image = result_of(32).images[0]
    big = ExportScale(factor=4).apply(image)
    assert big.shape == (128, 128, 3)
    assert ExportScale(factor=4).resample_for(32, 32) == NEAREST
    # every pixel became a 4×4 block of itself
    assert np.array_equal(big[::4, ::4], image) and np.array_equal(big[3::4, 3::4], image)


def test_larger_models_enlarge_with_lanczos():
    image = result_of(96).images[0]
    scale = ExportScale(factor=2)
    assert scale.resample_for(96, 96) == LANCZOS
    big = scale.apply(image)
    assert big.shape == (192, 192, 3)
    assert not np.array_equal(big[::2, ::2], image)  # interpolated, not copied blocks


def test_a_pixel_size_sets_the_longer_side_and_keeps_one_channel():
    gray = np.arange(48 * 32, dtype=np.uint8).reshape(48, 32, 1)
    out = ExportScale(pixels=96).apply(gray)
    assert out.shape == (96, 64, 1)


def test_a_grid_scales_each_image_and_keeps_its_gaps():
    result = result_of(16)
    grid = export.result_grid(result, scale=ExportScale(factor=4))
    assert grid.shape[:2] == (2 * 64 + 3, 2 * 64 + 3)  # 2×2 images of 64 px, 1-px gaps
    assert np.array_equal(grid[1:65, 1:65], ExportScale(factor=4).apply(result.images[0]))


def test_the_scale_is_in_the_recipes_export_settings_not_in_the_request(tmp_path):
    result = result_of(32)
    path = export.export_png(tmp_path / "big.png", result, index=1, scale=ExportScale(factor=8))
    assert media.read_png_pixels(path).shape == (256, 256, 3)
    assert export.open_recipe(path).same_recipe(result.request)  # the run is the same run
    assert export.recipe_record(path)["export"] == {"scale": "8x", "resample": NEAREST}
    assert export.recipe_scale(path) == (ExportScale(factor=8), NEAREST)
    plain = export.export_png(tmp_path / "plain.png", result)
    assert "export" not in export.recipe_record(plain)
    assert export.recipe_scale(plain) == (None, None)


def test_a_damaged_export_record_names_the_file(tmp_path):
    result = result_of(32)
    path = export.export_png(tmp_path / "big.png", result, scale=ExportScale(factor=2))
    recipe = export.recipe_record(path)
    recipe["export"] = {"scale": "lots"}
    media.save_png_with_recipe(path, media.read_png_pixels(path), recipe, "")
    with pytest.raises(RecipeError, match="big.png"):
        export.recipe_scale(path)


def test_an_animation_is_written_at_the_scale(tmp_path):
    result = result_of(16, count=3, op="interpolate")
    path = export.export_animation(tmp_path / "walk.gif", result, scale=ExportScale(factor=2))
    assert media.read_animation(path)[0].shape[:2] == (32, 32)
    assert export.recipe_scale(export.sidecar_path(path))[0] == ExportScale(factor=2)


@pytest.mark.parametrize("index, seed_of_index, name", [
    (None, None, "m-sample-seed7-10.png"),  # a sample draws image i from seed + i
    (2, 9, "m-sample-seed9.png"),
    (2, None, "m-sample-seed7-image3.png"),  # the explorer does not know that image's seed
])
def test_the_file_name_carries_the_seed_of_what_it_shows(index, seed_of_index, name):
    assert export.suggested_name(result_of(8), ".png", index, seed_of_index) == name


def test_a_result_without_one_seed_per_image_names_its_seed_once():
    assert export.suggested_name(result_of(8, op="interpolate"), ".gif") == "m-interpolate-seed7.gif"
    assert export.suggested_name(result_of(8, count=1), ".png") == "m-sample-seed7.png"
    assert export.image_seed(result_of(8).request, 3) == 10
    assert export.image_seed(result_of(8, op="traverse").request, 3) is None


@pytest.mark.parametrize("count, columns, index, scale", [
    (4, 2, None, "4x"), (16, 0, None, "2x"), (5, 0, None, "96px"), (6, 3, 2, "512px"),
    (1, 0, None, "8x"), (3, 0, None, "1x")])
def test_the_export_size_is_known_before_it_is_made(count, columns, index, scale):
    result = result_of(16, count=count)
    result = Result(result.request, result.images, columns=columns)
    made = export.result_grid(result, index, ExportScale.parse(scale))
    assert export.export_size(result, index, ExportScale.parse(scale)) == made.shape[:2]
