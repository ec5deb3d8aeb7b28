"""`studio generate --recipe FILE --check`: the reproducibility checker, run in-process
with the shipped built-in VAE (a few milliseconds an image)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.cli import main
from studio.core import export, media
from studio.core.reproduce import DIFFERENT, SAME, WITHIN, compare_images, describe_runtime

MODEL = "vae-glyphs"


def _tamper_png(path, delta: int) -> None:
    """Change one pixel value of an exported PNG by `delta`, keeping its text chunks."""
    pixels = media.read_png_pixels(path)
    text = media.read_png_text(path)
    pixels = pixels.copy()
    pixels[0, 0, 0] = np.uint8((int(pixels[0, 0, 0]) + delta) % 256)
    media.save_png(path, pixels, text)


def test_an_untouched_export_checks_as_the_same_pixels(tmp_path, capsys):
    grid = tmp_path / "grid.png"
    assert main(["generate", "--model", MODEL, "--seed", "8", "--count", "4", "-o", str(grid)]) == 0
    capsys.readouterr()
    assert main(["generate", "--recipe", str(grid), "--check"]) == 0
    out = capsys.readouterr().out
    assert f"check: {SAME}: largest difference 0/255" in out
    assert "wrote" not in out  # --check alone writes nothing


@pytest.mark.parametrize("delta, tolerance, verdict, code", [
    (1, 0, DIFFERENT, 1), (1, 2, WITHIN, 0), (3, 2, DIFFERENT, 1)])
def test_a_changed_pixel_is_reported_against_the_tolerance(tmp_path, capsys, delta, tolerance,
                                                           verdict, code):
    grid = tmp_path / "grid.png"
    assert main(["generate", "--model", MODEL, "--seed", "2", "--count", "2", "-o", str(grid)]) == 0
    _tamper_png(grid, delta)
    capsys.readouterr()
    assert main(["generate", "--recipe", str(grid), "--check", "--tolerance", str(tolerance)]) == code
    out = capsys.readouterr().out
    assert f"check: {verdict}: largest difference {delta}/255" in out
    assert "1 of " in out  # one value of the grid changed


def test_check_also_writes_when_given_an_output(tmp_path, capsys):
    grid = tmp_path / "grid.png"
    assert main(["generate", "--model", MODEL, "--seed", "4", "-o", str(grid)]) == 0
    again = tmp_path / "again.png"
    assert main(["generate", "--recipe", str(grid), "--check", "-o", str(again)]) == 0
    assert np.array_equal(media.read_png_pixels(grid), media.read_png_pixels(again))
    assert f"check: {SAME}" in capsys.readouterr().out


def test_one_image_of_a_grid_is_checked_against_that_image(tmp_path, capsys):
    """A PNG that holds image 2 of a 4-image result re-renders the result and compares
    image 2 only (the recipe's index)."""
    from studio.wiring import build_services

    services = build_services(synchronous=True)
    try:
        from studio.core.requests import Request

        job = services.engine.submit(Request(MODEL, "sample", {"seed": 11, "count": 4}))
        assert job.result is not None
        single = export.export_png(tmp_path / "one.png", job.result, index=2)
    finally:
        services.close()
    assert export.recipe_index(single) == 2
    assert main(["generate", "--recipe", str(single), "--check"]) == 0
    assert f"check: {SAME}" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_an_animation_and_its_sidecar_check_as_the_same_pixels(tmp_path, capsys, suffix):
    walk = tmp_path / f"walk{suffix}"
    assert main(["generate", "--model", MODEL, "--op", "interpolate", "--seed", "1",
                 "--frames", "6", "-o", str(walk)]) == 0
    capsys.readouterr()
    for source in (walk, export.sidecar_path(walk)):
        assert main(["generate", "--recipe", str(source), "--check"]) == 0
        assert f"check: {SAME}" in capsys.readouterr().out


def test_check_refuses_what_it_cannot_compare(tmp_path, capsys):
    grid = tmp_path / "grid.png"
    assert main(["generate", "--model", MODEL, "--seed", "4", "-o", str(grid)]) == 0
    recipe_json = tmp_path / "plain.json"
    recipe_json.write_text(export.open_recipe(grid).to_json(), encoding="utf-8")
    capsys.readouterr()
    assert main(["generate", "--recipe", str(recipe_json), "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "plain.json" in err[0] and "no image to check against" in err[0]
    assert main(["generate", "--model", MODEL, "--check"]) == 2
    assert "--check re-renders a recipe" in capsys.readouterr().err
    assert main(["generate", "--recipe", str(grid)]) == 2  # neither -o nor --check
    assert "give -o FILE" in capsys.readouterr().err


def test_compare_images_says_when_sizes_or_frame_counts_differ():
    a = np.zeros((4, 4, 1), np.uint8)
    b = np.zeros((4, 5, 1), np.uint8)
    report = compare_images([a], [b])
    assert report.verdict == DIFFERENT and "5×4×1 now, 4×4×1 in the file" in report.line()
    report = compare_images([a, a], [a])
    assert not report.ok and "1 frames rendered, the file holds 2" in report.line()


def test_the_recipe_records_where_it_was_rendered_and_check_prints_both(tmp_path, capsys):
    grid = tmp_path / "grid.png"
    assert main(["generate", "--model", MODEL, "--seed", "3", "-o", str(grid)]) == 0
    recipe, _ = media.read_png_recipe(grid)
    made_on = recipe["rendered_on"]
    assert made_on["device"] == "cpu" and made_on["threads"] >= 1 and made_on["cpu_kernels"]
    assert export.open_recipe(grid).model_id == MODEL  # the record does not disturb reading
    capsys.readouterr()
    assert main(["generate", "--recipe", str(grid), "--check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    where = describe_runtime(made_on)
    assert lines[-1] == f"  made on: {where}; now on: {where}"


@pytest.mark.parametrize("scale, side", [("4", 4 * 32), ("512px", 512)])
def test_a_scaled_export_re_renders_and_checks_at_its_stored_scale(tmp_path, capsys, scale, side):
    """--scale writes each image enlarged and records the scale beside the request;
    --recipe writes it again at that scale (same pixels), and --check compares there."""
    one = tmp_path / "one.png"
    assert main(["generate", "--model", MODEL, "--seed", "3", "--count", "1", "--scale", scale,
                 "-o", str(one)]) == 0
    pixels = media.read_png_pixels(one)
    assert pixels.shape[:2] == (side, side)
    assert "scale" not in export.open_recipe(one).params  # an export setting, not the run's
    again = tmp_path / "again.png"
    assert main(["generate", "--recipe", str(one), "-o", str(again)]) == 0
    assert np.array_equal(media.read_png_pixels(again), pixels)
    capsys.readouterr()
    assert main(["generate", "--recipe", str(one), "--check"]) == 0
    assert f"check: {SAME}" in capsys.readouterr().out


def test_scale_given_with_a_recipe_overrides_the_stored_one(tmp_path):
    one = tmp_path / "one.png"
    assert main(["generate", "--model", MODEL, "--seed", "3", "--count", "1", "--scale", "2",
                 "-o", str(one)]) == 0
    plain = tmp_path / "plain.png"
    assert main(["generate", "--recipe", str(one), "--scale", "1", "-o", str(plain)]) == 0
    assert media.read_png_pixels(plain).shape[:2] == (32, 32)


def test_a_bad_scale_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["generate", "--model", MODEL, "--scale", "huge", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("studio: error: --scale") and len(err.strip().splitlines()) == 1
