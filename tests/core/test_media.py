"""Media I/O: safe import of awkward files, PNG metadata, animations, sheets, atomic writes."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from studio.core import media
from studio.core.media import MediaError

RNG = np.random.default_rng(1234)


def noise(h: int, w: int, c: int = 3) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, c), dtype=np.uint8)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size but holds one empty IDAT: cheap to make at any size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


# -- load_image: modes -------------------------------------------------------------


def test_rgb_png_round_trips_exactly(tmp_path: Path) -> None:
    pixels = noise(12, 17)
    path = tmp_path / "rgb.png"
    Image.fromarray(pixels).save(path)
    loaded = media.load_image(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (12, 17, 3)
    np.testing.assert_array_equal(loaded, pixels)


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=100)  # pure red ink
    assert Image.open(path).mode == "CMYK"
    loaded = media.load_image(path)
    assert loaded.shape == (16, 16, 3)
    np.testing.assert_allclose(loaded.reshape(-1, 3).mean(0), [255, 0, 0], atol=6)


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I;16")
    loaded = media.load_image(path)
    assert loaded.shape == (1, 4, 3)
    assert loaded[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (loaded[..., 0] == loaded[..., 2]).all()


@pytest.mark.parametrize("mode", ["I;16B", "I"])
def test_other_wide_gray_modes_are_scaled(tmp_path: Path, mode: str) -> None:
    values = np.array([[0, 32768, 65535]], dtype=np.int32 if mode == "I" else ">u2")
    image = Image.frombytes(mode, (3, 1), values.tobytes())
    path = tmp_path / "deep.tif"
    image.save(path)
    assert Image.open(path).mode == mode
    assert media.load_image(path)[0, :, 1].tolist() == [0, 128, 255]


def test_palette_with_transparency_goes_over_black(tmp_path: Path) -> None:
    image = Image.new("P", (4, 2), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (0, 0, 2, 2))  # left half: index 1, transparent
    path = tmp_path / "palette.png"
    image.save(path, transparency=1)
    loaded = media.load_image(path)
    np.testing.assert_array_equal(loaded[:, :2], 0)
    np.testing.assert_array_equal(loaded[:, 2:], np.broadcast_to([255, 0, 0], (2, 2, 3)))


def test_rgba_and_la_alpha_composite_over_black(tmp_path: Path) -> None:
    Image.new("RGBA", (2, 2), (200, 100, 50, 128)).save(tmp_path / "rgba.png")
    Image.new("LA", (2, 2), (200, 0)).save(tmp_path / "la.png")
    assert media.load_image(tmp_path / "rgba.png")[0, 0].tolist() == [100, 50, 25]
    assert media.load_image(tmp_path / "la.png")[0, 0].tolist() == [0, 0, 0]


def test_one_bit_and_gray_become_rgb(tmp_path: Path) -> None:
    bits = Image.new("1", (3, 1), 0)
    bits.putpixel((1, 0), 1)
    bits.save(tmp_path / "bits.png")
    Image.new("L", (2, 2), 77).save(tmp_path / "gray.png")
    assert media.load_image(tmp_path / "bits.png")[0, :, 0].tolist() == [0, 255, 0]
    assert media.load_image(tmp_path / "gray.png")[1, 1].tolist() == [77, 77, 77]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)
    loaded = media.load_image(path)
    assert loaded.shape == (40, 20, 3)  # width and height swapped
    assert loaded[:20].mean() > 200 > 50 > loaded[20:].mean()  # the left went to the top


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))]
    path = tmp_path / "two.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(path).n_frames == 2
    loaded = media.load_image(path)
    assert loaded.shape == (8, 8, 3)
    assert loaded[4, 4].tolist() == [255, 0, 0]


def test_load_image_bytes_shares_the_decoder() -> None:
    pixels = noise(5, 6)
    np.testing.assert_array_equal(
        media.load_image_bytes(png_bytes(Image.fromarray(pixels)), "drop.png"), pixels
    )
    with pytest.raises(MediaError, match="clipboard: not an image"):
        media.load_image_bytes(b"hello, world" * 10, "clipboard")


# -- load_image: refusals ----------------------------------------------------------


def test_truncated_png_is_refused(tmp_path: Path) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = png_bytes(Image.fromarray(noise(64, 64)))
    for cut, name in ((len(data) // 2, "half.png"), (20, "tail.png"), (len(data) - 40, "head.png")):
        path = tmp_path / name
        path.write_bytes(data[:-cut])
        with pytest.raises(MediaError, match="truncated or corrupt") as info:
            media.load_image(path)
        assert str(path) in str(info.value)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(noise(64, 64)).save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[:-500])
    with pytest.raises(MediaError, match=r"cut\.jpg: truncated or corrupt"):
        media.load_image(path)


def test_garbage_missing_empty_and_folder_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cases = [
        (garbage, "not an image"),
        (empty, "empty file"),
        (tmp_path / "nope.png", "no such file"),
        (tmp_path, "folder"),
    ]
    for path, problem in cases:
        with pytest.raises(MediaError, match=problem) as info:
            media.load_image(path)
        assert str(path) in str(info.value)


def test_unsupported_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.pcx"
    Image.new("RGB", (4, 4)).save(path)  # Pillow reads PCX, but it is not on our list
    with pytest.raises(MediaError, match="not a supported format"):
        media.load_image(path)


def test_too_many_pixels_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "wide.png"
    Image.fromarray(noise(20, 30)).save(path)
    loads = []
    real_load = ImageFile.ImageFile.load

    def recording_load(self):
        loads.append(self)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    with pytest.raises(MediaError, match="600 pixels, over the import limit of 599") as info:
        media.load_image(path, max_pixels=599)
    assert str(path) in str(info.value)
    assert loads == []  # refused from the header alone
    assert media.load_image(path, max_pixels=600).shape == (20, 30, 3)
    assert loads  # the same file at the limit does get decoded


@pytest.mark.parametrize(
    "size",
    [(8000, 6000), (10_000, 10_000), (30_000, 30_000)],  # ours, Pillow's warning, its error
)
def test_decompression_bombs_are_refused(tmp_path: Path, size: tuple[int, int]) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(*size))
    with pytest.raises(MediaError, match="pixels") as info:
        media.load_image(path)
    assert str(path) in str(info.value)


# -- fit_image ---------------------------------------------------------------------


def test_fit_image_crops_the_centre_square() -> None:
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:, 10:50] = 255  # exactly the centre square
    fitted = media.fit_image(pixels, 16, 3)
    assert fitted.shape == (16, 16, 3) and fitted.dtype == np.uint8
    assert fitted.min() >= 250


def test_fit_image_shapes_and_channels() -> None:
    assert media.fit_image(noise(30, 30, 1)[..., 0], 8, 1).shape == (8, 8, 1)
    assert media.fit_image(noise(30, 20, 1), 64, 3).shape == (64, 64, 3)
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., :3] = 255  # white, fully transparent: black after compositing
    assert media.fit_image(rgba, 10, 3).max() == 0
    gray = media.fit_image(np.full((4, 4, 3), (255, 0, 0), np.uint8), 4, 1)
    assert gray[0, 0, 0] == 76  # ITU-R 601 luma of pure red
    big = media.fit_image(noise(900, 1200), 32, 3)  # box pre-reduction path
    assert big.shape == (32, 32, 3)
    with pytest.raises(ValueError):
        media.fit_image(noise(4, 4), 4, 2)
    with pytest.raises(ValueError):
        media.fit_image(np.zeros((4, 4, 3), np.float32), 4, 3)


def _odd_images(folder: Path) -> list[Path]:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    paths = []
    for name, image in (("rgb.png", Image.fromarray(rgb)),
                        ("gray.png", Image.fromarray(rgb[..., 0])),
                        ("rgba.png", Image.fromarray(np.dstack([rgb, rgb[..., :1]]), "RGBA")),
                        ("palette.gif", Image.fromarray(rgb).convert("P")),
                        ("wide.png", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)),
                        ("photo.jpg", Image.fromarray(rgb))):
        image.save(folder / name)
        paths.append(folder / name)
    keyed = Image.fromarray(rgb)
    keyed.info["transparency"] = tuple(int(v) for v in rgb[0, 0])
    keyed.save(folder / "keyed.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° to display
    Image.fromarray(rgb).save(folder / "rotated.jpg", exif=exif.tobytes())
    return [*paths, folder / "keyed.png", folder / "rotated.jpg"]


@pytest.mark.parametrize("size, channels", [(32, 3), (16, 1), (90, 3)])
def test_load_fitted_image_gives_the_pixels_of_load_then_fit(tmp_path: Path, size, channels) -> None:
    """The window's one-decode path, exactly what the command line's two steps give."""
    for path in _odd_images(tmp_path):
        fitted, text = media.load_fitted_image(path, size, channels)
        expected = media.fit_image(media.load_image(path), size, channels)
        assert fitted.dtype == np.uint8 and np.array_equal(fitted, expected), path.name
        assert text == {}


def test_load_fitted_image_reads_a_png_s_text_after_its_pixels(tmp_path: Path) -> None:
    path = tmp_path / "tagged.png"
    media.save_png(path, noise(12, 12), {"parameters": "a prompt", media.RECIPE_CHUNK: "{}"})
    _, text = media.load_fitted_image(path, 8, 3)
    assert text == {"parameters": "a prompt", media.RECIPE_CHUNK: "{}"}
    with pytest.raises(MediaError, match="broken.png"):
        (tmp_path / "broken.png").write_bytes(path.read_bytes()[:-30])
        media.load_fitted_image(tmp_path / "broken.png", 8, 3)


# -- PNG metadata ------------------------------------------------------------------


def test_png_recipe_round_trip_with_unicode(tmp_path: Path) -> None:
    pixels = noise(8, 8)
    recipe = {"model_id": "vae-glyphs", "params": {"prompt": "ünïcödé ☃ 日本語", "seed": 7}}
    parameters = media.format_parameters("a snowman", 20, "DDIM", 7, 8, 8, "vae-glyphs")
    path = tmp_path / "deep" / "out.png"  # the folder is created
    media.save_png_with_recipe(path, pixels, recipe, parameters)
    assert media.read_png_recipe(path) == (recipe, parameters)
    np.testing.assert_array_equal(media.load_image(path), pixels)
    raw = path.read_bytes()
    assert b"tEXtparameters\x00" in raw  # as AUTOMATIC1111 writes it
    assert b"iTXtlatent_studio\x00" in raw


def test_png_text_falls_back_to_itxt_and_keeps_alpha(tmp_path: Path) -> None:
    rgba = noise(4, 4, 4)
    path = tmp_path / "a.png"
    media.save_png(path, rgba, {"parameters": "雪だるま\nSteps: 1", "Comment": "plain"})
    assert media.read_png_text(path) == {"parameters": "雪だるま\nSteps: 1", "Comment": "plain"}
    assert b"iTXtparameters\x00" in path.read_bytes()
    assert np.array_equal(np.asarray(Image.open(path)), rgba)
    media.save_png(tmp_path / "g.png", noise(4, 4, 1))
    assert Image.open(tmp_path / "g.png").mode == "L"
    assert media.read_png_text(tmp_path / "g.png") == {}
    assert media.read_png_recipe(tmp_path / "g.png") == (None, None)


def test_recipe_bigger_than_pillows_text_limit_still_reads(tmp_path: Path) -> None:
    recipe = {"inputs": "x" * 2_000_000}  # Pillow refuses compressed chunks over 1 MiB
    path = tmp_path / "big.png"
    media.save_png_with_recipe(path, noise(4, 4), recipe, "big\nSteps: 1")
    assert media.read_png_recipe(path)[0] == recipe


def test_bad_png_metadata_is_a_media_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    media.save_png(broken, noise(4, 4), {media.RECIPE_CHUNK: "{not json"})
    with pytest.raises(MediaError, match=r"broken\.png: the latent_studio chunk is not valid JSON"):
        media.read_png_recipe(broken)
    jpeg = tmp_path / "photo.jpg"
    Image.new("RGB", (4, 4)).save(jpeg)
    with pytest.raises(MediaError, match=r"photo\.jpg: not a PNG"):
        media.read_png_text(jpeg)
    cut = tmp_path / "cut.png"
    cut.write_bytes(png_bytes(Image.fromarray(noise(32, 32)))[:-30])
    with pytest.raises(MediaError, match=r"cut\.png: truncated or corrupt"):
        media.read_png_text(cut)


# -- the parameters text -----------------------------------------------------------


def test_format_parameters_layout() -> None:
    text = media.format_parameters("a cat", 20, "DDIM", 1234, 32, 32, "vae-glyphs")
    assert text == "a cat\nSteps: 20, Sampler: DDIM, Seed: 1234, Size: 32x32, Model: vae-glyphs"
    no_seed = media.format_parameters("A", 1, "ancestral", None, 8, 16, "m", {"Op": "sample"})
    assert no_seed == "A\nSteps: 1, Sampler: ancestral, Size: 8x16, Model: m, Op: sample"
    with pytest.raises(ValueError):
        media.format_parameters("a", 1, "s", 1, 1, 1, "m", {"bad: key": 1})


def test_parameters_round_trip_with_awkward_values() -> None:
    extra = {
        "CFG scale": 7.5,
        "Lora hashes": "a: 1, b: 2",
        "Note": 'say "hi"',
        "Quoted": '"already"',
        "Lines": "one\ntwo",
        "Padded": " x ",
        "Empty": "",
    }
    text = media.format_parameters(
        "a cat, sitting: on a mat\nsecond line", 20, "Euler a", 9, 32, 16, "m/1", extra
    )
    assert 'Lora hashes: "a: 1, b: 2"' in text
    assert media.parse_parameters(text) == {
        "prompt": "a cat, sitting: on a mat\nsecond line",
        "Steps": "20",
        "Sampler": "Euler a",
        "Seed": "9",
        "Size": "32x16",
        "Model": "m/1",
        **{key: str(value) for key, value in extra.items()},
    }


def test_parse_reads_automatic1111_text() -> None:
    text = (
        "masterpiece, a castle\nNegative prompt: blurry, low quality\n"
        "Steps: 30, Sampler: DPM++ 2M, CFG scale: 7, Seed: 42, Size: 512x768, Model hash: 6ce0161689, "
        'Lora hashes: "add_detail: 7c6bad76eb54", Version: v1.6.0'
    )
    parsed = media.parse_parameters(text)
    assert parsed["prompt"] == "masterpiece, a castle"
    assert parsed["Negative prompt"] == "blurry, low quality"
    assert parsed["Lora hashes"] == "add_detail: 7c6bad76eb54"
    assert parsed["Version"] == "v1.6.0" and parsed["Size"] == "512x768"
    assert media.parse_parameters("just a prompt") == {"prompt": "just a prompt"}


# -- animations --------------------------------------------------------------------


def few_colour_frames(n: int) -> list[np.ndarray]:
    colours = np.array(
        [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]], np.uint8
    )
    frames = []
    for i in range(n):
        frame = np.zeros((16, 16, 3), np.uint8)
        frame[:, :] = colours[i % len(colours)]
        frame[i : i + 4, 2:6] = colours[(i + 1) % len(colours)]
        frames.append(frame)
    return frames


def test_gif_round_trip_is_exact_for_few_colours(tmp_path: Path) -> None:
    frames = few_colour_frames(4)
    path = tmp_path / "anim.gif"
    media.save_animation(path, frames, fps=12, comment="seed 7 ☃")
    back = media.read_animation(path)
    assert len(back) == 4
    for made, read in zip(frames, back):
        np.testing.assert_array_equal(read, made)
    info = Image.open(path).info
    assert info["loop"] == 0 and info["duration"] == 80  # GIF keeps hundredths
    assert media.read_animation_comment(path) == "seed 7 ☃"


def test_gif_of_many_colours_is_close(tmp_path: Path) -> None:
    base = np.linspace(0, 255, 48 * 48 * 3).reshape(48, 48, 3).astype(np.uint8)
    frames = np.stack([np.roll(base, shift, axis=1) for shift in (0, 8, 16)])  # (N, H, W, C)
    path = tmp_path / "many.gif"
    media.save_animation(path, frames, loop=False)
    back = media.read_animation(path)
    assert len(back) == 3
    assert np.abs(back[0].astype(int) - frames[0]).mean() < 6
    assert "loop" not in Image.open(path).info  # plays once


def test_webp_round_trip_is_lossless(tmp_path: Path) -> None:
    frames = [noise(12, 10) for _ in range(3)]
    path = tmp_path / "anim.webp"
    media.save_animation(path, frames, fps=5, boomerang=True, comment='{"recipe": "雪"}')
    back = media.read_animation(path)
    assert len(back) == 4  # 0 1 2 then 1
    for made, read in zip([*frames, frames[1]], back):
        np.testing.assert_array_equal(read, made)
    assert media.read_animation_comment(path) == '{"recipe": "雪"}'


def test_animation_refusals(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"anim\.mp4: unknown animation format"):
        media.save_animation(tmp_path / "anim.mp4", few_colour_frames(2))
    with pytest.raises(MediaError, match="no frames"):
        media.save_animation(tmp_path / "none.gif", [])
    with pytest.raises(MediaError, match="differ in size"):
        media.save_animation(tmp_path / "odd.gif", [noise(4, 4), noise(5, 4)])
    assert sorted(os.listdir(tmp_path)) == []


# -- contact sheets ----------------------------------------------------------------


def test_contact_sheet_layout() -> None:
    images = [np.full((8, 8, 3), 40 * i, np.uint8) for i in range(5)]
    sheet = media.contact_sheet(images, pad=2, scale=2)
    assert sheet.shape == (2 * 16 + 3 * 2, 3 * 16 + 4 * 2, 3)  # ceil(sqrt(5)) = 3 columns
    assert sheet.dtype == np.uint8
    assert sheet[0, 0].tolist() == [24, 24, 24]
    np.testing.assert_array_equal(sheet[2:18, 20:36], 40)  # second image, crisp
    np.testing.assert_array_equal(sheet[20:36, 20:36], 160)  # fifth image, second row


def test_contact_sheet_labels_and_grid() -> None:
    images = [noise(8, 8), noise(8, 8, 1), noise(8, 8, 4)]
    plain = media.contact_sheet(images, columns=3, scale=4)
    labelled = media.contact_sheet(
        images, columns=3, scale=4, labels=["zero", "one", "a long label here"]
    )
    assert labelled.shape[1] == plain.shape[1] and labelled.shape[0] > plain.shape[0]
    label_band = labelled[2 + 32 :, :, :]
    assert (label_band != 24).any()  # text was drawn
    assert media.grid(images, 2).shape == (2 * 8 + 3, 2 * 8 + 3, 3)
    with pytest.raises(ValueError):
        media.contact_sheet(images, labels=["only one"])


# -- atomic writes -----------------------------------------------------------------


def test_atomic_write_creates_folders_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "file.json"
    media.atomic_write_bytes(path, b"one")
    media.atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert os.listdir(path.parent) == ["file.json"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.txt"
    path.write_bytes(b"precious")
    with pytest.raises(RuntimeError), media.atomic_path(path) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("disk on fire")
    assert path.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_failed_image_save_leaves_no_trace(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "out.png"
    media.save_png(path, noise(4, 4))
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(MediaError, match=r"out\.png: could not write \(No space left on device\)"):
        media.save_png(path, noise(4, 4))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.png"]


def test_atomic_files_get_normal_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        media.atomic_write_bytes(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644
