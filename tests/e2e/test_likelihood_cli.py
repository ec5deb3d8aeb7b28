"""The likelihood families on the command line: imported tiny models, read-outs printed."""

from __future__ import annotations

import numpy as np

from studio.cli import main
from studio.core import media
from tests.families.test_autoregressive import make_tiny_pixelcnn
from tests.families.test_flow import make_tiny_flow


def test_likelihood_prints_bits_per_dim_and_writes_the_maps(tmp_path, capsys):
    assert main(["import", str(make_tiny_flow(tmp_path / "flow"))]) == 0
    image = np.zeros((20, 20, 1), np.uint8)
    image[4:16, 8:12] = 255
    media.save_png(tmp_path / "bar.png", image)
    capsys.readouterr()
    out = tmp_path / "maps.png"
    assert main(["generate", "--model", "flow-tiny", "--op", "likelihood", "--image",
                 str(tmp_path / "bar.png"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    bpd = float(printed.split("bits_per_dim: ")[1].split()[0])
    assert 0.0 < bpd < 16.0 and "most_likely_class: " in printed
    grid = media.load_image(out)
    assert grid.shape[-1] == 3 and grid.shape[1] > 3 * 8  # input and maps side by side


def test_complete_from_the_command_line_records_image_and_mask_in_its_recipe(tmp_path, capsys):
    assert main(["import", str(make_tiny_pixelcnn(tmp_path / "ar"))]) == 0
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 1), dtype=np.uint8)
    mask = np.zeros((8, 8, 1), np.uint8)
    mask[5:] = 255
    media.save_png(tmp_path / "image.png", image)
    media.save_png(tmp_path / "mask.png", mask)
    out = tmp_path / "done.png"
    assert main(["generate", "--model", "pixelcnn-tiny", "--op", "complete", "--image",
                 str(tmp_path / "image.png"), "--mask", str(tmp_path / "mask.png"),
                 "--variations", "2", "-o", str(out)]) == 0
    assert "class: " in capsys.readouterr().out
    from studio.core.export import open_recipe

    request = open_recipe(out)
    assert (request.op, request.params["variations"]) == ("complete", 2)
    assert "mask" in request.inputs and "image" in request.inputs
