"""Your own autoencoders: a tiny seeded AutoencoderKL built from a config (as diffusers'
own tests build them) and the vae/ of the tiny Stable Diffusion pipeline, imported as
studio models and run: reconstruction equal to diffusers', interpolate, traverse and map
from encoded latents or a folder, previews before decodes, cancel, aspect fitting."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.core import autoencoder as ae
from studio.core import diffusers_vae_folder
from studio.core.family import Cancelled, JobContext
from studio.core.library import Library, LibraryError
from studio.core.params import ParamError
from studio.families.diffusers_vae.model import DiffusersVAEFamily, image_tensor, to_uint8
from tests.families.diffusers_tiny import make_pipeline_folder

SIZE = 64  # the smallest working size: a tiny model, 32 × 32 latents


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/families/conftest.py


def tiny_autoencoder():
    from diffusers import AutoencoderKL

    torch.manual_seed(5)
    return AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3,
                         down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                         up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
                         latent_channels=4, norm_num_groups=4, sample_size=64,
                         scaling_factor=0.5)


@pytest.fixture(scope="module")
def vae_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("vaes") / "My Tiny VAE"
    tiny_autoencoder().save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def loaded(vae_folder):
    return DiffusersVAEFamily.load(vae_folder, diffusers_vae_folder.make_card(vae_folder), "cpu")


def photo(seed: int, height: int = 80, width: int = 120) -> np.ndarray:
    """A smooth colour field with some detail: a stand-in for a photo of another shape."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    return np.array(Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR))


def run(model, op: str, params: dict, inputs: dict, ctx: JobContext | None = None):
    return model.run(op, {"working_size": SIZE, **params}, inputs, ctx or JobContext())


# -- import -------------------------------------------------------------------------------


def test_import_prints_the_id_and_the_card_records_the_scaling_factor(vae_folder, tmp_path,
                                                                      capsys):
    assert main(["import", str(vae_folder)]) == 0
    assert capsys.readouterr().out.strip() == "my-tiny-vae"
    entry = Library().get("my-tiny-vae")
    assert entry.family == "diffusers_vae"
    assert entry.card.config["scaling_factor"] == 0.5
    assert entry.card.latent_shape == [4, 32, 32]
    source = tmp_path / "photo.png"
    Image.fromarray(photo(9)).save(source)
    out = tmp_path / "recon.png"
    assert main(["generate", "--model", "my-tiny-vae", "--op", "reconstruct", "--image",
                 str(source), "--working-size", str(SIZE), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out


def test_the_vae_of_a_pipeline_is_listed_under_it_and_reconstructs(tmp_path):
    folder = make_pipeline_folder("sd", tmp_path / "Tiny SD")
    library = Library(home=tmp_path / "home", builtin_dir=tmp_path / "none")
    library.import_folder(folder)
    entry = library.get("tiny-sd-vae")
    assert (entry.family, entry.card.config["parent"], entry.folder) == (
        "diffusers_vae", "tiny-sd", folder / "vae")
    model = DiffusersVAEFamily.load(entry.folder, entry.card, "cpu")
    out = run(model, "reconstruct", {}, {"image": photo(1)})
    assert out.images.shape == (2, SIZE, SIZE, 3)
    library.remove("tiny-sd")  # the VAE goes with its pipeline
    assert "tiny-sd-vae" not in library


def test_only_safetensors_and_only_autoencoder_classes(vae_folder, tmp_path):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((vae_folder / "config.json").read_text())
    (pickled / "diffusion_pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(LibraryError, match="only safetensors"):
        Library(home=tmp_path / "home", builtin_dir=tmp_path / "none").import_folder(pickled)
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"_class_name": "UNet2DModel"}')
    assert not diffusers_vae_folder.is_autoencoder_folder(other)


# -- ops ------------------------------------------------------------------------------------


def test_encode_is_the_unscaled_posterior_mean_and_reconstruct_equals_diffusers(loaded):
    vae = tiny_autoencoder().eval()
    image = photo(2, SIZE, SIZE)
    with torch.no_grad():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1
        mean = vae.encode(x).latent_dist.mean
        expected = to_uint8(vae.decode(mean).sample)[0]
    encoded = run(loaded, "encode", {}, {"image": image})
    np.testing.assert_allclose(encoded.latents[0], mean[0].numpy(), rtol=1e-5, atol=1e-5)
    recon = run(loaded, "reconstruct", {}, {"image": image})
    np.testing.assert_array_equal(recon.images[0], image)  # at the working size: as it is
    assert np.abs(recon.images[1].astype(int) - expected).max() <= 1  # within 1/255


def test_interpolate_previews_the_strip_then_decodes_it_frame_by_frame(loaded):
    previews: list[np.ndarray] = []
    ctx = JobContext(on_preview=previews.append)
    out = run(loaded, "interpolate", {"frames": 4, "method": "lerp"},
              {"image_a": photo(3), "image_b": photo(4, 120, 80)}, ctx)
    assert out.images.shape == (4, SIZE, SIZE, 3) and out.latents.shape == (4, 4, 32, 32)
    # first every frame through the linear map, then one decoded frame more each time
    assert len(previews) == 1 + 4
    np.testing.assert_array_equal(previews[0], ae.preview(out.latents, loaded.preview_map))
    for done, shown in enumerate(previews[1:], start=1):
        np.testing.assert_array_equal(shown[:done], out.images[:done])
        np.testing.assert_array_equal(shown[done:], previews[0][done:])
    decoded = loaded.run("decode", {}, {"latent": out.latents[0]}, JobContext())
    np.testing.assert_array_equal(decoded.images[0], out.images[0])
    assert "preview_map" in out.extras


def test_the_preview_is_the_decoders_size_at_once(loaded):
    """The linear map gives an image the decoder's size from a latent, with no decode."""
    latent = run(loaded, "encode", {}, {"image": photo(8)}).latents
    shown = ae.preview(latent, loaded.preview_map)
    assert shown.shape == (1, SIZE, SIZE, 3) and shown.dtype == np.uint8
    assert loaded.preview_map["weights"].shape == (4, 3)
    assert np.isfinite(loaded.preview_map["weights"]).all()


def test_traverse_and_map_along_directions_of_encoded_images(vae_folder):
    model = DiffusersVAEFamily.load(vae_folder, diffusers_vae_folder.make_card(vae_folder), "cpu")
    with pytest.raises(ParamError, match="encode at least two"):
        run(model, "map", {"size": 3}, {})
    for seed in range(3):
        run(model, "encode", {}, {"image": photo(10 + seed)})
    grid = run(model, "traverse", {"directions": 2, "steps": 3, "extent": 1.0}, {})
    assert grid.images.shape == (6, SIZE, SIZE, 3) and grid.columns == 3
    stack = np.stack(model.encoded[(4, 32, 32)])
    np.testing.assert_allclose(grid.latents[1], stack.mean(0), atol=1e-5)  # t = 0: the centre
    assert not np.array_equal(grid.images[0], grid.images[2])
    with pytest.raises(ParamError, match="directions"):  # three latents give two directions
        run(model, "map", {"size": 3, "direction_y": 2}, {})
    out = run(model, "map", {"size": 3, "extent": 1.0}, {"latent": stack[0]})
    assert out.images.shape == (9, SIZE, SIZE, 3)
    np.testing.assert_allclose(out.latents[4], stack[0], atol=1e-6)  # the middle: the centre


def test_directions_from_a_folder_report_progress(loaded, tmp_path):
    for seed in range(3):
        Image.fromarray(photo(20 + seed)).save(tmp_path / f"p{seed}.png")
    messages: list[str] = []
    ctx = JobContext(on_progress=lambda _f, m: messages.append(m), min_interval=0.0)
    out = run(loaded, "map", {"size": 3, "directions_folder": str(tmp_path)}, {}, ctx)
    assert out.images.shape == (9, SIZE, SIZE, 3)
    assert any(m.startswith("encoding p2.png") for m in messages)
    assert messages[-1] == "decoded 9/9"


def test_cancel_stops_a_grid_between_cells_and_inside_a_decode(loaded):
    event = threading.Event()
    seen: list[np.ndarray] = []

    def on_preview(images):
        seen.append(images)
        if len(seen) == 3:  # the preview, then two decoded cells: stop
            event.set()

    ctx = JobContext(cancel_event=event, on_preview=on_preview)
    with pytest.raises(Cancelled):
        run(loaded, "interpolate", {"frames": 6}, {"image_a": photo(5), "image_b": photo(6)}, ctx)
    assert len(seen) == 3
    cancelled = JobContext()
    cancelled.cancel_event.set()
    with pytest.raises(Cancelled):  # the hooks: no block runs once cancelled
        loaded._hooks.ctx = cancelled
        try:
            loaded._decode_tensor(torch.zeros(1, 4, 32, 32))
        finally:
            loaded._hooks.ctx = None


def test_working_sizes_are_multiples_of_eight(loaded):
    with pytest.raises(ParamError, match="multiple of 8"):
        run(loaded, "encode", {"working_size": 100}, {"image": photo(1)})


# -- fitting photos to the working size ---------------------------------------------------------


def test_other_shapes_are_centre_cropped_to_the_working_aspect():
    wide = np.zeros((100, 300, 3), np.uint8)
    wide[:, 100:200] = 255  # the centre square is white, the sides black
    fitted = ae.fit_to_size(wide, 64, 64)
    assert fitted.shape == (64, 64, 3) and fitted.min() >= 250
    tall = np.zeros((300, 100, 3), np.uint8)
    tall[100:200] = 255
    assert ae.fit_to_size(tall, 64, 64).min() >= 250
    # a non-square working size keeps its aspect too: 2:1 from the middle of a square
    square = np.zeros((200, 200, 3), np.uint8)
    square[50:150] = 255
    assert ae.fit_to_size(square, 128, 64).min() >= 250
    exact = photo(7, 64, 64)
    np.testing.assert_array_equal(ae.fit_to_size(exact, 64, 64), exact)
    grey = ae.fit_to_size(np.full((64, 64), 9, np.uint8), 64, 64)
    assert grey.shape == (64, 64, 3) and (grey == 9).all()
    assert image_tensor(exact, 64)[1].shape == (1, 3, 64, 64)


def test_above_512_px_the_autoencoder_works_in_tiles_as_diffusers_tiling_does(vae_folder):
    model = DiffusersVAEFamily.load(vae_folder, diffusers_vae_folder.make_card(vae_folder), "cpu")
    image = photo(12, 528, 528)
    out = model.run("reconstruct", {"working_size": 528}, {"image": image}, JobContext())
    assert model.vae.use_tiling and out.images.shape == (2, 528, 528, 3)
    vae = tiny_autoencoder().eval()
    vae.enable_tiling()
    with torch.no_grad():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1
        expected = to_uint8(vae.decode(vae.encode(x).latent_dist.mean).sample)[0]
    assert np.abs(out.images[1].astype(int) - expected).max() <= 1
    run(model, "reconstruct", {}, {"image": image})  # back at 64 px: whole again
    assert not model.vae.use_tiling


def test_a_vqmodel_folder_imports_and_reconstructs_as_diffusers_does(tmp_path):
    from tests.families.diffusers_tiny import _vq_model

    folder = tmp_path / "tiny-vq"
    _vq_model().save_pretrained(folder, safe_serialization=True)
    entry = Library(home=tmp_path / "home", builtin_dir=tmp_path / "none").import_folder(folder)
    assert (entry.id, entry.family, entry.card.config["class"]) == ("tiny-vq", "diffusers_vae",
                                                                     "VQModel")
    model = DiffusersVAEFamily.load(entry.folder, entry.card, "cpu")
    image = photo(13, SIZE, SIZE)
    out = run(model, "reconstruct", {}, {"image": image})
    vq = _vq_model().eval()
    with torch.no_grad():
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1
        latents = vq.encode(x).latents  # before quantisation; decode quantises
        expected = to_uint8(vq.decode(latents).sample)[0]
    np.testing.assert_allclose(out.latents[0], latents[0].numpy(), rtol=1e-5, atol=1e-5)
    assert np.abs(out.images[1].astype(int) - expected).max() <= 1
