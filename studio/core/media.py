"""Media I/O: safe image import, PNG with recipes, animations, contact sheets.

Every write is atomic (studio.core.atomic: a temp file in the same folder, then a rename),
so a crash or a full disk never leaves a half-written file where a good one was. No torch,
no Qt: the GUI imports this at start-up.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import struct
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np
from PIL import (
    Image,
    ImageDraw,
    ImageFont,
    ImageOps,
    ImageSequence,
    PngImagePlugin,
    UnidentifiedImageError,
)

from studio.core import atomic

MAX_PIXELS = 40_000_000
RECIPE_CHUNK = "latent_studio"
PARAMETERS_CHUNK = "parameters"

# Only the common formats: Pillow's rarer plugins are where crafted files do most harm.
_IMPORT_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "PPM", "TGA", "ICO", "AVIF")
_MAGIC = (
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXIF_IMAGE_DESCRIPTION = 0x010E
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class MediaError(ValueError):
    """An image or animation could not be read or written; the message names the file."""


# -- atomic writes -----------------------------------------------------------------


# The one writer lives in studio.core.atomic; these names stay for media's callers.
atomic_path = atomic.atomic_path
atomic_write_bytes = atomic.write_bytes


def _write_with(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    target = Path(path)
    try:
        with atomic_path(target) as temp:
            write(temp)
    except OSError as exc:
        raise MediaError(f"{target}: could not write ({exc.strerror or exc})") from None
    return target


# -- reading user images -----------------------------------------------------------


def load_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read any common image file as (H, W, 3) uint8 RGB, refusing what is unsafe or broken."""
    path = Path(path)
    with _open_file(path) as fh:
        return _decode(fh, str(path), max_pixels)


def load_fitted_image(
    path: str | os.PathLike[str], size: int, channels: int, *, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, dict[str, str]]:
    """`fit_image(load_image(path), size, channels)`, the same pixels, and the text chunks
    of a PNG (empty for other formats), from one decode.

    What the window needs of a dropped file. A PNG's text may follow its pixels, so reading
    the recipe alone decoded them too; and for an RGB or grey image without alpha the
    full-size numpy array in between is skipped: for 40 MP that was 120 MB copied several
    times, partly holding the GIL, which stalled the GUI thread while a worker read it."""
    _check_fit(size, channels)
    path = Path(path)
    text: dict[str, str] = {}
    with _open_file(path) as fh:
        upright = _decode_upright(fh, str(path), max_pixels, text)
    if upright.mode in ("RGB", "L") and not upright.has_transparency_data:
        # what _to_rgb_array then fit_image's _to_pil would give back: the same RGB image
        return _fit_pil(upright if upright.mode == "RGB" else upright.convert("RGB"), size, channels), text
    return fit_image(_to_rgb_array(upright, str(path)), size, channels), text


def load_image_bytes(data: bytes, name: str, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """`load_image` for in-memory data (a drop or a paste); `name` goes into messages."""
    return _decode(io.BytesIO(data), name, max_pixels)


def preload_decoders() -> None:
    """Import Pillow's format plugins now. The first image read imports them otherwise:
    about 0.1 s, much of it holding the GIL, which a first drop felt as a GUI stall."""
    Image.init()


def _open_file(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise MediaError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MediaError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _decode(fh: IO[bytes], name: str, max_pixels: int) -> np.ndarray:
    return _to_rgb_array(_decode_upright(fh, name, max_pixels), name)


def _decode_upright(fh: IO[bytes], name: str, max_pixels: int,
                    text: dict[str, str] | None = None) -> Image.Image:
    """The first frame, decoded and turned upright (EXIF); a PNG's text chunks into `text`.
    Loaded, it needs `fh` no more."""
    img = _open_image(fh, name, max_pixels)
    try:
        img.load()  # the first frame only, for animations
        if img.format == "PNG":
            _check_png_complete(fh, name)
            if text is not None:  # loaded: the chunks after the pixels are read too
                text.update({str(k): str(v) for k, v in img.text.items()})
        # in place: a copy of an upright 40 MP image was 120 MB more, partly under the GIL
        ImageOps.exif_transpose(img, in_place=True)
        return img
    except MediaError:
        img.close()
        raise
    except Exception as exc:  # Pillow's plugins raise many types on crafted files
        img.close()
        raise MediaError(f"{name}: truncated or corrupt image data ({exc})") from None


def _open_image(fh: IO[bytes], name: str, max_pixels: int) -> Image.Image:
    """Open (header only) and check the pixel count before anything is decoded."""
    Image.init()
    formats = [f for f in _IMPORT_FORMATS if f in Image.OPEN]
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fh, formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"{name}: too many pixels to import safely ({exc})") from None
    except UnidentifiedImageError:
        raise MediaError(f"{name}: {_unidentified_reason(fh)}") from None
    except Exception as exc:
        raise MediaError(f"{name}: truncated or corrupt image data ({exc})") from None
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise MediaError(
            f"{name}: {width}x{height} is {width * height:,} pixels, "
            f"over the import limit of {max_pixels:,}"
        )
    return img


def _unidentified_reason(fh: IO[bytes]) -> str:
    fh.seek(0)
    head = fh.read(16)
    if not head:
        return "empty file"
    known = [fmt for magic, fmt in _MAGIC if head.startswith(magic)]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        known.append("WEBP")
    if known:
        return f"truncated or corrupt image data (a damaged {known[0]} file)"
    return f"not an image, or not a supported format ({', '.join(_IMPORT_FORMATS)})"


def _check_png_complete(fh: IO[bytes], name: str) -> None:
    # Pillow decodes a PNG whose tail is cut off (IEND, even the last bytes of the pixel
    # data) without complaint, so walk the chunk lengths up to IEND ourselves.
    fh.seek(len(_PNG_SIGNATURE))
    while True:
        header = fh.read(8)
        if len(header) < 8:
            raise MediaError(f"{name}: truncated or corrupt image data (the PNG ends early)")
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return
        fh.seek(length + 4, os.SEEK_CUR)  # the data and its CRC


def _to_rgb_array(img: Image.Image, name: str) -> np.ndarray:
    """Any Pillow mode to (H, W, 3) uint8 RGB; alpha composited over black."""
    try:
        if img.mode in _SIXTEEN_BIT_MODES:
            # Scale the 16-bit range down (65535 -> 255); a plain convert would clip.
            wide = np.clip(np.asarray(img).astype(np.int64), 0, 65535)
            gray = ((wide * 255 + 32767) // 65535).astype(np.uint8)
            return np.repeat(gray[..., None], 3, axis=2)
        if img.mode == "F":
            values = np.nan_to_num(np.asarray(img, dtype=np.float32))
            if values.size and values.max() <= 1.0:  # float images usually hold 0..1
                values = values * 255.0
            gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
            return np.repeat(gray[..., None], 3, axis=2)
        if img.has_transparency_data:  # RGBA, LA, PA, P or RGB with a transparent key
            return _over_black(np.array(img.convert("RGBA")))
        return np.array(img if img.mode == "RGB" else img.convert("RGB"))
    except ValueError as exc:
        raise MediaError(f"{name}: unsupported colour mode {img.mode} ({exc})") from None


def _over_black(rgba: np.ndarray) -> np.ndarray:
    # Over black, since the built-in datasets are light shapes on black.
    alpha = rgba[..., 3:4].astype(np.uint16)
    return ((rgba[..., :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)


# -- arrays ------------------------------------------------------------------------


def _as_hwc(image: np.ndarray, what: str = "image") -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8, got {array.dtype}")
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape:
        raise ValueError(f"{what}: expected (H, W), (H, W, 1|3|4), got {array.shape}")
    return array


def _as_rgb(image: np.ndarray, what: str = "image") -> np.ndarray:
    array = _as_hwc(image, what)
    if array.shape[2] == 1:
        return np.repeat(array, 3, axis=2)
    if array.shape[2] == 4:
        return _over_black(array)
    return array


def _to_pil(image: np.ndarray, what: str = "image") -> Image.Image:
    """(H, W, 1|3|4) uint8 to an L, RGB or RGBA Pillow image, alpha kept."""
    array = _as_hwc(image, what)
    if array.shape[2] == 1:
        return Image.fromarray(np.ascontiguousarray(array[..., 0]), "L")
    return Image.fromarray(np.ascontiguousarray(array), "RGBA" if array.shape[2] == 4 else "RGB")


def fit_image(image: np.ndarray, size: int, channels: int) -> np.ndarray:
    """Centre-crop to a square and resize to (size, size, channels) uint8."""
    _check_fit(size, channels)
    array = _as_hwc(image)
    if array.shape[2] == 4:
        array = _over_black(array)
    return _fit_pil(_to_pil(array), size, channels)


def _check_fit(size: int, channels: int) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    if size < 1:
        raise ValueError(f"size must be positive, not {size}")


def _fit_pil(pil: Image.Image, size: int, channels: int) -> np.ndarray:
    width, height = pil.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    pil = pil.crop((left, top, left + side, top + side))
    if side != size:
        # reducing_gap: a fast box reduction first when shrinking a lot, then Lanczos.
        pil = pil.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if channels == 1:
        return np.array(pil.convert("L"))[..., None]
    return np.array(pil.convert("RGB"))


# -- PNG with metadata -------------------------------------------------------------


def save_png(
    path: str | os.PathLike[str], image: np.ndarray, text: Mapping[str, str] | None = None
) -> Path:
    """Write a PNG with text chunks: tEXt where Latin-1 allows, else (and for ours) iTXt."""
    target = Path(path)
    pil = _to_pil(image)
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        if not 1 <= len(key) <= 79 or not _is_latin1(key):
            raise MediaError(f"{target}: invalid PNG text keyword {key!r}")
        if key != RECIPE_CHUNK and _is_latin1(value):
            info.add_text(key, value)  # tEXt: what AUTOMATIC1111 writes and tools read
        else:
            # Pillow refuses to read a compressed text chunk that inflates past
            # MAX_TEXT_CHUNK (1 MiB), and then refuses the whole PNG, so big ones stay raw.
            small = len(value.encode("utf-8")) <= PngImagePlugin.MAX_TEXT_CHUNK
            info.add_itxt(key, value, zip=small)
    return _write_with(target, lambda temp: pil.save(temp, format="PNG", pnginfo=info))


@contextlib.contextmanager
def _open_png(path: Path, max_pixels: int) -> Iterator[tuple[IO[bytes], Image.Image]]:
    """A PNG opened safely (signature, pixel limit); read errors name the file."""
    with _open_file(path) as fh:
        if fh.read(len(_PNG_SIGNATURE)) != _PNG_SIGNATURE:
            raise MediaError(f"{path}: not a PNG file")
        fh.seek(0)
        with _open_image(fh, str(path), max_pixels) as img:
            try:
                yield fh, img
            except MediaError:
                raise
            except Exception as exc:
                raise MediaError(f"{path}: truncated or corrupt PNG ({exc})") from None


def read_png_text(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> dict[str, str]:
    """All text chunks of a PNG (tEXt, zTXt, iTXt)."""
    path = Path(path)
    with _open_png(path, max_pixels) as (fh, img):
        text = dict(img.text)  # loads: text chunks may follow the image data
        _check_png_complete(fh, str(path))
    return {str(key): str(value) for key, value in text.items()}


def read_png_pixels(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A PNG's pixels as stored, (H, W, C) uint8: grey stays one channel, alpha stays, so
    they compare value for value with the image that was written (see core/reproduce.py)."""
    path = Path(path)
    with _open_png(path, max_pixels) as (_, img):
        if img.mode not in ("L", "RGB", "RGBA"):
            raise MediaError(f"{path}: a {img.mode} PNG was not written by the studio")
        array = np.array(img)
    return array[..., None] if array.ndim == 2 else array


def save_png_with_recipe(
    path: str | os.PathLike[str], image: np.ndarray, recipe: dict, parameters: str
) -> Path:
    """A PNG carrying the full recipe (our JSON chunk) and the A1111 `parameters` text."""
    recipe_json = json.dumps(recipe, ensure_ascii=False, separators=(",", ":"))
    return save_png(path, image, {PARAMETERS_CHUNK: parameters, RECIPE_CHUNK: recipe_json})


def read_png_recipe(path: str | os.PathLike[str]) -> tuple[dict | None, str | None]:
    """(recipe, parameters) from a PNG; either is None when its chunk is absent."""
    text = read_png_text(path)
    return recipe_in_text(text, path), text.get(PARAMETERS_CHUNK)


def recipe_in_text(text: Mapping[str, str], path: str | os.PathLike[str]) -> dict | None:
    """The recipe in a PNG's text chunks; None when there is none, MediaError when damaged."""
    raw = text.get(RECIPE_CHUNK)
    if raw is None:
        return None
    try:
        recipe = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MediaError(f"{path}: the {RECIPE_CHUNK} chunk is not valid JSON ({exc})") from None
    if not isinstance(recipe, dict):
        raise MediaError(f"{path}: the {RECIPE_CHUNK} chunk is not a JSON object")
    return recipe


def _is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


# -- the AUTOMATIC1111 `parameters` text -------------------------------------------

# One "Key: value" of the last line; a value is JSON-quoted or runs up to the next comma.
_PARAM_RE = re.compile(r'\s*(\w[\w \-/]*?)\s*:\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_KEY_RE = re.compile(r"\w(?:[\w \-/]*[\w\-/])?")
_NEGATIVE = "Negative prompt:"


def format_parameters(
    first_line: str,
    steps: int,
    sampler: str,
    seed: int | None,
    width: int,
    height: int,
    model: str,
    extra: Mapping[str, object] | None = None,
    *,
    negative_prompt: str | None = None,
    cfg_scale: float | None = None,
) -> str:
    """The prompt (or class, or op) line, a `Negative prompt:` line when there is one, then
    `Steps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 1, Size: 32x32, Model: m` and the
    `extra` pairs: A1111's keys in A1111's order, which metadata readers look for."""
    fields: dict[str, object] = {"Steps": steps, "Sampler": sampler}
    if cfg_scale is not None:
        fields["CFG scale"] = cfg_scale
    if seed is not None:
        fields["Seed"] = seed
    fields["Size"] = f"{width}x{height}"
    fields["Model"] = model
    for key, value in (extra or {}).items():
        if not _KEY_RE.fullmatch(key):
            raise ValueError(f"parameters key {key!r}: use letters, digits, spaces, - and /")
        if value is not None:
            fields[key] = value
    line = ", ".join(f"{key}: {_quote(str(value))}" for key, value in fields.items())
    if negative_prompt:
        return f"{first_line}\n{_NEGATIVE} {negative_prompt}\n{line}"
    return f"{first_line}\n{line}"


def parse_parameters(text: str) -> dict[str, str]:
    """Read `parameters` text back: {"prompt": first lines, "Steps": "20", ...}."""
    lines = text.replace("\r\n", "\n").split("\n")
    pairs = _PARAM_RE.findall(lines[-1])
    if len(pairs) >= 3:  # A1111's own test for "the last line holds the settings"
        lines = lines[:-1]
    else:
        pairs = []
    prompt: list[str] = []
    negative: list[str] | None = None
    for line in lines:
        if negative is None and line.startswith(_NEGATIVE):
            negative = [line[len(_NEGATIVE) :].strip()]
        elif negative is not None:
            negative.append(line)
        else:
            prompt.append(line)
    result = {"prompt": "\n".join(prompt)}
    if negative is not None:
        result["Negative prompt"] = "\n".join(negative)
    for key, value in pairs:
        result[key] = _unquote(value.strip())
    return result


def _quote(value: str) -> str:
    # As A1111: JSON-quote values that would break the "Key: value, " layout.
    if any(c in value for c in ",:\n") or value.startswith('"') or value != value.strip():
        return json.dumps(value, ensure_ascii=False)
    return value


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        with contextlib.suppress(json.JSONDecodeError):
            return str(json.loads(value))
    return value


# -- animations --------------------------------------------------------------------


def save_animation(
    path: str | os.PathLike[str],
    frames: Sequence[np.ndarray] | np.ndarray,
    fps: float = 12,
    loop: bool = True,
    boomerang: bool = False,
    comment: str | None = None,
) -> Path:
    """An animated GIF or lossless WebP (chosen by suffix) of RGB frames."""
    target = Path(path)
    kind = target.suffix.lower()
    if kind not in (".gif", ".webp"):
        raise MediaError(
            f"{target}: unknown animation format {target.suffix!r} (use .gif or .webp)"
        )
    if fps <= 0:
        raise MediaError(f"{target}: fps must be positive, not {fps}")
    try:
        images = [_as_rgb(frame, f"frame {i}") for i, frame in enumerate(frames)]
    except ValueError as exc:
        raise MediaError(f"{target}: {exc}") from None
    if not images:
        raise MediaError(f"{target}: no frames to write")
    if len({image.shape for image in images}) > 1:
        raise MediaError(f"{target}: frames differ in size")
    if boomerang:
        images = images + images[-2:0:-1]
    duration = max(1, round(1000 / fps))  # ms; GIF keeps hundredths of a second
    # Both encoders merge a frame identical to the one before into a longer frame.
    if kind == ".gif":
        pils = _gif_frames(images)
        options: dict[str, object] = {"format": "GIF", "disposal": 2}  # each frame whole
        if comment:
            options["comment"] = comment.encode("utf-8")
        if loop:
            options["loop"] = 0  # forever; no loop extension plays once
    else:
        pils = [Image.fromarray(image, "RGB") for image in images]
        options = {"format": "WEBP", "lossless": True, "quality": 80, "method": 4}
        options["loop"] = 0 if loop else 1
        if comment:
            exif = Image.Exif()
            # EXIF text is nominally ASCII; store UTF-8 as exiftool does.
            exif[_EXIF_IMAGE_DESCRIPTION] = comment.encode("utf-8")
            options["exif"] = exif.tobytes()

    def write(temp: Path) -> None:
        pils[0].save(temp, save_all=True, append_images=pils[1:], duration=duration, **options)

    return _write_with(target, write)


def _gif_frames(images: list[np.ndarray]) -> list[Image.Image]:
    # One palette for all frames: per-frame palettes make flat areas flicker.
    pixels = np.concatenate([image.reshape(-1, 3) for image in images])
    packed = (
        (pixels[:, 0].astype(np.uint32) << 16)
        | (pixels[:, 1].astype(np.uint32) << 8)
        | pixels[:, 2]
    )
    colours = np.unique(packed)
    if len(colours) <= 256:  # exact: every colour gets its own entry
        table = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
        palette = Image.new("P", (1, 1))
        palette.putpalette(table.astype(np.uint8).tobytes())
        dither = Image.Dither.NONE
    else:
        step = max(1, len(pixels) // 1_000_000)  # a sample is enough to place 256 colours
        sample = Image.fromarray(np.ascontiguousarray(pixels[::step][None]), "RGB")
        palette = sample.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        dither = Image.Dither.FLOYDSTEINBERG
    return [
        Image.fromarray(image, "RGB").quantize(palette=palette, dither=dither) for image in images
    ]


def read_animation(
    path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS
) -> list[np.ndarray]:
    """Every frame of a GIF, WebP or PNG, as (H, W, 3) uint8 RGB."""
    path = Path(path)
    with _open_file(path) as fh, _open_image(fh, str(path), max_pixels) as img:
        try:
            frames = [frame.copy() for frame in ImageSequence.Iterator(img)]
        except Exception as exc:
            raise MediaError(f"{path}: truncated or corrupt animation ({exc})") from None
    return [_to_rgb_array(frame, str(path)) for frame in frames]


def read_animation_comment(path: str | os.PathLike[str]) -> str | None:
    """The comment `save_animation` stored (GIF comment, or WebP EXIF ImageDescription)."""
    path = Path(path)
    with _open_file(path) as fh, _open_image(fh, str(path), MAX_PIXELS) as img:
        raw = img.info.get("comment")
        if raw is None:
            raw = img.getexif().get(_EXIF_IMAGE_DESCRIPTION)
            if isinstance(raw, str):  # Pillow decodes EXIF text as Latin-1
                raw = raw.encode("latin-1", "replace")
    if raw is None:
        return None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


# -- contact sheets ----------------------------------------------------------------


def contact_sheet(
    images: Sequence[np.ndarray],
    columns: int = 0,
    labels: Sequence[str] | None = None,
    pad: int = 2,
    scale: int = 1,
    background: tuple[int, int, int] = (24, 24, 24),
) -> np.ndarray:
    """Images in a grid, each centred in its cell, optionally labelled; (H, W, 3) uint8."""
    cells = [_as_rgb(image, f"image {i}") for i, image in enumerate(images)]
    if not cells:
        raise ValueError("contact_sheet: no images")
    if labels is not None and len(labels) != len(cells):
        raise ValueError(f"contact_sheet: {len(labels)} labels for {len(cells)} images")
    if scale < 1 or pad < 0:
        raise ValueError(f"contact_sheet: scale must be >= 1 and pad >= 0 ({scale}, {pad})")
    if scale > 1:  # nearest neighbour keeps tiny images crisp
        cells = [cell.repeat(scale, axis=0).repeat(scale, axis=1) for cell in cells]
    columns = min(columns or math.ceil(math.sqrt(len(cells))), len(cells))
    rows = math.ceil(len(cells) / columns)
    cell_h = max(cell.shape[0] for cell in cells)
    cell_w = max(cell.shape[1] for cell in cells)
    font = ImageFont.load_default() if labels is not None else None
    label_h = font.getbbox("Ag")[3] + 2 if font is not None else 0
    height = rows * (cell_h + label_h) + (rows + 1) * pad
    width = columns * cell_w + (columns + 1) * pad
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = background
    origins = []
    for i, cell in enumerate(cells):
        row, column = divmod(i, columns)
        y, x = pad + row * (cell_h + label_h + pad), pad + column * (cell_w + pad)
        top, left = y + (cell_h - cell.shape[0]) // 2, x + (cell_w - cell.shape[1]) // 2
        sheet[top : top + cell.shape[0], left : left + cell.shape[1]] = cell
        origins.append((x, y))
    if labels is None or font is None:
        return sheet
    canvas = Image.fromarray(sheet, "RGB")
    draw = ImageDraw.Draw(canvas)
    for (x, y), label in zip(origins, labels):
        text = _fit_text(draw, str(label), font, cell_w)
        offset = (cell_w - draw.textlength(text, font=font)) / 2
        draw.text((x + offset, y + cell_h + 1), text, fill=(210, 210, 210), font=font)
    return np.array(canvas)


def grid(images: Sequence[np.ndarray], columns: int = 0) -> np.ndarray:
    """A tight, unlabelled grid with a 1-pixel black gap."""
    return contact_sheet(images, columns, pad=1, background=(0, 0, 0))


def _fit_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    width: int,
) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..." if text else ""
