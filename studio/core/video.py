"""Animation files from numpy frames: MP4 (H.264, yuv420p), WebM (VP9), GIF, animated WebP
and a folder of numbered PNGs. No torch, no Qt.

One writer streams frames in: scaling, colour conversion and encoding run on a thread of
their own, so the model renders the next batch meanwhile. Nothing appears at the target
until `finish()`: the video and its JSON sidecar land together (studio.core.atomic), and a
cancelled or failed export leaves no partial file. Videos are encoded in-process by PyAV
(FFmpeg inside its wheels); see the README for the licences.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from studio.core import atomic, media
from studio.core.export_scale import NEAREST, ExportScale

DEFAULT_QUALITY = 75  # 0..100; 75 keeps every frame above 38 dB PSNR at a scale of 4
VIDEO_SUFFIXES = {".mp4": "mp4", ".webm": "webm"}
ANIMATION_SUFFIXES = (".gif", ".webp")
FOLDER = "png-folder"
FRAME_NAME = "frame_{:05d}.png"
# (codec, FFmpeg option holding the constant-quality level, its worst value)
_CODECS = {"mp4": (("libx264", "libopenh264"), "crf", 51), "webm": (("libvpx-vp9",), "crf", 63)}


class VideoError(ValueError):
    """An export that cannot be written (an unknown type, no encoder for it, bad frames)."""


class _Aborted(Exception):
    """Thrown into the atomic writers' blocks to discard what they hold."""


def output_kind(path: str | os.PathLike[str]) -> str:
    """mp4, webm, gif, webp, or png-folder (a path without a suffix, or an existing folder)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return VIDEO_SUFFIXES[suffix]
    if suffix in ANIMATION_SUFFIXES:
        return suffix[1:]
    if not suffix or target.is_dir() or str(path).endswith(("/", os.sep)):
        return FOLDER
    raise VideoError(f"{target}: unsupported animation type {suffix!r}; use .mp4, .webm, .gif, "
                     ".webp, or a folder name for numbered PNGs")


def check_encoder(path: str | os.PathLike[str]) -> str:
    """The kind of `path`; a VideoError now, before any rendering, when this installation
    cannot write it (an FFmpeg without H.264, as the desktop bundle may be)."""
    kind = output_kind(path)
    if kind in VIDEO_SUFFIXES.values():
        _codec(kind)
    return kind


def h264_available() -> bool:
    import av

    return any(name in av.codecs_available for name in _CODECS["mp4"][0])


def _codec(kind: str) -> str:
    import av

    for name in _CODECS[kind][0]:
        if name in av.codecs_available:
            return name
    hint = " (write .webm, VP9, instead)" if kind == "mp4" else ""
    raise VideoError(f"this installation's FFmpeg has no {kind} encoder{hint}")


def constant_quality(kind: str, quality: int) -> int:
    """The encoder's CRF for a 0..100 quality (100 = best)."""
    worst = _CODECS[kind][2]
    return round((100 - int(quality)) * worst / 100)


def to_rgb(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.shape[-1] == 1:
        return np.repeat(frame, 3, axis=-1)
    return np.ascontiguousarray(frame[..., :3])


def even(frame: np.ndarray) -> np.ndarray:
    """yuv420p halves the chroma: an odd side gets one more row/column (its edge repeated)."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range Y, Cb, Cr planes, chroma averaged over each 2×2 block.

    Done here rather than by FFmpeg's scaler, whose default chroma filter reaches across
    the 2×2 blocks: with a nearest-neighbour enlargement (×2, ×4) the exact block average
    keeps each model pixel's colour, which is what holds the PSNR up (38 dB and more)."""
    y, cb, cr = _yuv_float(rgb)
    h, w = y.shape

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    return _byte(y), _byte(half(cb)), _byte(half(cr))


def _yuv_float(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    cb = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    cr = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0
    return y, cb, cr


def _yuv_full(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, Cb, Cr at full resolution, as bytes (the chroma of one pixel, not averaged)."""
    y, cb, cr = _yuv_float(rgb)
    return _byte(y), _byte(cb), _byte(cr)


def _byte(plane: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(plane), 0, 255).astype(np.uint8)


class AnimationWriter:
    """Write frames to `path`; they appear there (with the sidecar) only at `finish()`.

    `add()` hands a batch to the encoding thread (a bounded queue: rendering waits when it
    runs far ahead); `abort()` or an exception in a `with` block discards everything.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, quality: int = DEFAULT_QUALITY,
                 comment: str | None = None, scale: ExportScale | None = None,
                 resample: str | None = None, threaded: bool = True,
                 on_frame: Callable[[int], None] | None = None) -> None:
        self.path = Path(path)
        self.kind = output_kind(self.path)
        if fps <= 0:
            raise VideoError(f"{self.path}: fps must be positive, not {fps}")
        if not 0 <= quality <= 100:
            raise VideoError(f"quality is 0 to 100, not {quality}")
        if self.kind in VIDEO_SUFFIXES.values():
            _codec(self.kind)  # refuse before any rendering
        self.fps, self.quality, self.comment = fps, int(quality), comment
        self.scale, self.resample = scale, resample
        self.on_frame = on_frame
        self.written = 0
        self.size: tuple[int, int] | None = None  # (height, width) of the written frames
        self._frames: list[np.ndarray] = []  # GIF / WebP: encoded at the end, by Pillow
        self._temp: Path | None = None
        self._container: Any = None
        self._stream: Any = None
        self._folder: Path | None = None
        self._error: BaseException | None = None
        self._done = False
        self._queue: queue.Queue[np.ndarray | None] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._drain, name="animation-encoder",
                                            daemon=True)
            self._thread.start()

    # -- the frames --------------------------------------------------------------------------
    def add(self, frames: np.ndarray) -> None:
        """A batch (N, H, W, C) of uint8 frames at the model's size."""
        self._raise_if_failed()
        frames = np.asarray(frames)
        assert frames.dtype == np.uint8 and frames.ndim == 4, (frames.dtype, frames.shape)
        if self._queue is None:
            self._encode(frames)
            return
        while True:  # never block forever on a full queue when the encoder has died
            try:
                self._queue.put(frames, timeout=0.1)
                return
            except queue.Full:
                self._raise_if_failed()

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is None:
                try:
                    self._encode(batch)
                except BaseException as exc:  # reported to the producer at its next add
                    self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _encode(self, batch: np.ndarray) -> None:
        for frame in batch:
            frame = to_rgb(frame)
            if self._planes_first(frame):
                continue
            if self.scale is not None and not self.scale.identity:
                frame = self.scale.apply(frame, self.resample)
            if self.kind in VIDEO_SUFFIXES.values():
                frame = even(frame)
            if self.size is None:
                self.size = frame.shape[:2]
                self._open(frame.shape[0], frame.shape[1])
            elif frame.shape[:2] != self.size:
                raise VideoError(f"{self.path}: frames differ in size")
            self._write(frame)
            self.written += 1
            if self.on_frame is not None:
                self.on_frame(self.written)

    def _planes_first(self, frame: np.ndarray) -> bool:
        """A video enlarged by an even whole factor with nearest-neighbour: convert to YUV
        at the model's size, then enlarge the planes. The same bytes as converting the
        enlarged frame (every 2×2 chroma block holds one colour), for 1/factor² the work."""
        scale = self.scale
        if self.kind not in VIDEO_SUFFIXES.values() or scale is None or scale.pixels is not None:
            return False
        method = self.resample or scale.resample_for(*frame.shape[:2])
        if scale.factor % 2 or method != NEAREST:
            return False
        factor = scale.factor
        y, cb, cr = _yuv_full(frame)
        planes = (y.repeat(factor, 0).repeat(factor, 1),
                  cb.repeat(factor // 2, 0).repeat(factor // 2, 1),
                  cr.repeat(factor // 2, 0).repeat(factor // 2, 1))
        size = (y.shape[0] * factor, y.shape[1] * factor)
        if self.size is None:
            self.size = size
            self._open(*size)
        elif size != self.size:
            raise VideoError(f"{self.path}: frames differ in size")
        self._write_planes(planes)
        self.written += 1
        if self.on_frame is not None:
            self.on_frame(self.written)
        return True

    def _open(self, height: int, width: int) -> None:
        if self.kind == FOLDER:
            self._folder = self.path.with_name(
                f"{atomic.TEMP_PREFIX}{secrets.token_hex(4)}{atomic.TEMP_SUFFIX}")
            self._folder.mkdir(parents=True)
            return
        if self.kind not in VIDEO_SUFFIXES.values():
            return
        import av

        # a temp of the atomic writer's kind (a kill -9 leaves a name it knows); it moves into
        # the atomic writer's hands at finish(), so that the sidecar lands with it
        self._temp = atomic.reserve_temp(self.path)
        # the temp name ends in .tmp: the container format is named, not guessed
        self._container = av.open(str(self._temp), "w", format=self.kind)
        if self.comment:
            self._container.metadata["comment"] = self.comment
        from fractions import Fraction

        stream = self._container.add_stream(_codec(self.kind),
                                            rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        crf = str(constant_quality(self.kind, self.quality))
        # VP9 needs b=0 for pure constant quality
        stream.options = {"crf": crf, **({"b": "0", "row-mt": "1", "deadline": "realtime", "cpu-used": "8"}
                                         if self.kind == "webm" else {"preset": "veryfast", "tune": "zerolatency"})}
        self._stream = stream

    def _write(self, frame: np.ndarray) -> None:
        if self.kind == FOLDER:
            assert self._folder is not None
            Image.fromarray(frame, "RGB").save(self._folder / FRAME_NAME.format(self.written),
                                               format="PNG")
        elif self._stream is not None:

            self._write_planes(yuv420(frame))
        else:
            self._frames.append(frame)

    def _write_planes(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        import av

        video = av.VideoFrame(planes[0].shape[1], planes[0].shape[0], "yuv420p")
        for plane, data in zip(video.planes, planes):
            if plane.line_size != data.shape[1]:  # FFmpeg's rows are padded for alignment
                padded = np.zeros((data.shape[0], plane.line_size), np.uint8)
                padded[:, : data.shape[1]] = data
                data = padded
            plane.update(np.ascontiguousarray(data))
        for packet in self._stream.encode(video):
            self._container.mux(packet)

    # -- landing -----------------------------------------------------------------------------
    def _stop_thread(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def finish(self, sidecar: str | None = None) -> Path:
        """Flush the encoder, then land the file (or folder) and its sidecar together."""
        self._stop_thread()
        try:
            self._raise_if_failed()
            if self.written == 0:
                raise VideoError(f"{self.path}: no frames to write")
            sidecar_path = self.path.with_name(self.path.name.rstrip("/") + ".recipe.json")
            if self._container is not None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
                self._container.close()
                self._container = None
                assert self._temp is not None
                with atomic.together():  # the video and its sidecar land together
                    with atomic.atomic_path(self.path) as temp:
                        os.replace(self._temp, temp)
                    self._temp = None
                    if sidecar is not None:
                        atomic.write_text(sidecar_path, sidecar)
            elif self.kind == FOLDER:
                self._land_folder(sidecar_path, sidecar)
            else:
                with atomic.together():
                    media.save_animation(self.path, self._frames, fps=self.fps, loop=True,
                                         comment=self.comment)
                    if sidecar is not None:
                        atomic.write_text(sidecar_path, sidecar)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.path

    def _land_folder(self, sidecar_path: Path, sidecar: str | None) -> None:
        assert self._folder is not None
        target = self.path
        old = None
        if target.exists():
            if not target.is_dir():
                raise VideoError(f"{target}: a file is in the way of the frame folder")
            names = [p.name for p in target.iterdir()]
            if any(not (n.startswith("frame_") and n.endswith(".png")) for n in names):
                raise VideoError(f"{target}: the folder holds other files; choose a new folder")
            old = target.with_name(f"{atomic.TEMP_PREFIX}{secrets.token_hex(4)}{atomic.TEMP_SUFFIX}")
            os.replace(target, old)
        try:
            with atomic.together():
                if sidecar is not None:
                    atomic.write_text(sidecar_path, sidecar)
                os.replace(self._folder, target)
        except BaseException:
            if old is not None:
                with contextlib.suppress(OSError):
                    os.replace(old, target)
            raise
        self._folder = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Discard everything written so far; nothing appears at the target."""
        if self._done:
            return
        self._done = True
        if self._thread is not None and self._queue is not None:
            # unblock and stop the encoder: drop what waits, then the end marker
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            self._error = self._error or _Aborted()
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        if self._temp is not None:
            with contextlib.suppress(OSError):
                self._temp.unlink()
            self._temp = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._frames.clear()

    def __enter__(self) -> AnimationWriter:
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if exc is not None:
            self.abort()


# -- reading back: the independent check -------------------------------------------------------
def read_video(path: str | os.PathLike[str]) -> tuple[np.ndarray, float, str]:
    """Every frame (N, H, W, 3) RGB, the frame rate and the metadata comment, decoded by
    FFmpeg (PyAV), not by the code that wrote them."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        # MP4 keeps the key as written; Matroska (WebM) tags read back in capitals
        comment = str(container.metadata.get("comment") or container.metadata.get("COMMENT", ""))
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    return np.stack(frames), fps, comment


def read_frames(path: str | os.PathLike[str]) -> np.ndarray:
    """The frames of any export: a video, a GIF/WebP, or a folder of numbered PNGs."""
    kind = output_kind(path)
    if kind in VIDEO_SUFFIXES.values():
        return read_video(path)[0]
    if kind == FOLDER:
        names = sorted(p for p in Path(path).iterdir() if p.suffix == ".png")
        return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in names])
    return np.stack([to_rgb(f) for f in media.read_animation(path)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (inf when equal)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mse = float((diff ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)
