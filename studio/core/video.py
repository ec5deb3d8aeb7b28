"""Animation files from numpy frames: MP4 (H.264, yuv420p), WebM (VP9), GIF, animated WebP
and a folder of numbered PNGs. No torch, no Qt.

One writer streams frames in: scaling, colour conversion and encoding run beside the
model, which renders the next batch meanwhile: a video in the encoder process
(studio.core.video_process, away from the render's GIL), the other kinds on a thread.
Nothing appears at the target until `finish()`: the video and its JSON sidecar land
together (studio.core.atomic), and a cancelled or failed export leaves no partial file.
Videos are encoded by PyAV (FFmpeg inside its wheels, no ffmpeg program); see the README
for the licences.
"""

from __future__ import annotations

import contextlib
import logging
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

log = logging.getLogger(__name__)

DEFAULT_QUALITY = 75  # 0..100; 75 keeps every frame above 38 dB PSNR at a scale of 4
VIDEO_SUFFIXES = {".mp4": "mp4", ".webm": "webm"}
ANIMATION_SUFFIXES = (".gif", ".webp")
FOLDER = "png-folder"
FRAME_NAME = "frame_{:05d}.png"
# The encoder's own threads. One: the engine renders on every core but one, and this thread
# encodes beside it on the last; more encoder threads only fight the renderer (measured on 2
# cores: x264's slice threads cost 40% more CPU on 128 px frames and slowed the render).
ENCODER_THREADS = 1
# (codec, FFmpeg option holding the constant-quality level, its worst value)
_CODECS = {"mp4": (("libx264", "libopenh264"), "crf", 51), "webm": (("libvpx-vp9",), "crf", 63)}


# x264's speed preset: `ultrafast` up to this many pixels a frame, where a frame costs the
# encoder more than the model (a 32 px model at 4×: half the CPU of `veryfast`, which the
# end of an export waits for; files ~25% larger, the worst frame's PSNR 54 against 49 dB),
# `veryfast` above, where files are large and the model is slow anyway
ULTRAFAST_MAX_PIXELS = 256 * 256


def x264_preset(width: int, height: int) -> str:
    return "ultrafast" if width * height <= ULTRAFAST_MAX_PIXELS else "veryfast"


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


NO_PYAV = ("this installation has no video encoder: PyAV is not installed (the desktop "
           "bundle leaves it out, as its FFmpeg needs GPL x264; see the README's Licences). "
           "Write .gif, .webp or a folder of PNGs, or install PyAV with pip")


def _encoders() -> set[str]:
    """The FFmpeg encoders this installation has (none without PyAV)."""
    try:
        import av
    except ImportError:
        return set()
    return set(av.codecs_available)


def h264_available() -> bool:
    return any(name in _encoders() for name in _CODECS["mp4"][0])


def video_kinds_available() -> tuple[str, ...]:
    """The video kinds ("mp4", "webm") this installation can write, for a save dialog."""
    encoders = _encoders()
    return tuple(kind for kind, (names, _, _) in _CODECS.items()
                 if any(name in encoders for name in names))


def _codec(kind: str) -> str:
    encoders = _encoders()
    if not encoders:
        raise VideoError(NO_PYAV)
    for name in _CODECS[kind][0]:
        if name in encoders:
            return name
    hint = " (write .webm, VP9, instead)" if kind == "mp4" else ""
    raise VideoError(f"this installation's FFmpeg has no {kind} encoder{hint}")


def constant_quality(kind: str, quality: int) -> int:
    """The encoder's CRF for a 0..100 quality (100 = best)."""
    worst = _CODECS[kind][2]
    return round((100 - int(quality)) * worst / 100)


def to_rgb(frames: np.ndarray) -> np.ndarray:
    """RGB of one frame (H, W, C) or a batch (N, H, W, C): grey repeated, alpha dropped."""
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[..., None]
    if frames.shape[-1] == 1:
        return np.repeat(frames, 3, axis=-1)
    return np.ascontiguousarray(frames[..., :3])


def even(frames: np.ndarray) -> np.ndarray:
    """yuv420p halves the chroma: an odd side gets one more row/column (its edge repeated).
    One frame (H, W, C) or a batch (N, H, W, C)."""
    h, w = frames.shape[-3:-1]
    if h % 2 == 0 and w % 2 == 0:
        return frames
    lead = [(0, 0)] * (frames.ndim - 3)
    return np.pad(frames, (*lead, (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range Y, Cb, Cr planes, chroma averaged over each 2×2 block; of one
    frame (H, W, 3) or of a batch (N, H, W, 3) at once.

    Done here rather than by FFmpeg's scaler, whose default chroma filter reaches across
    the 2×2 blocks: with a nearest-neighbour enlargement (×2, ×4) the exact block average
    keeps each model pixel's colour, which is what holds the PSNR up (38 dB and more)."""
    y, cb, cr = _yuv_float(rgb)
    *lead, h, w = y.shape

    def half(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(*lead, h // 2, 2, w // 2, 2).mean(axis=(-3, -1))

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


def _enlarge(plane: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel of (N, H, W) planes as a factor × factor block."""
    return plane.repeat(factor, axis=-2).repeat(factor, axis=-1)


class AnimationWriter:
    """Write frames to `path`; they appear there (with the sidecar) only at `finish()`.

    `add()` hands a batch to the encoding thread (a bounded queue: rendering waits when it
    runs far ahead); `abort()` or an exception in a `with` block discards everything.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, quality: int = DEFAULT_QUALITY,
                 comment: str | None = None, scale: ExportScale | None = None,
                 resample: str | None = None, threaded: bool = True,
                 on_frame: Callable[[int], None] | None = None,
                 sidecar: str | None = None, in_process: bool | None = None) -> None:
        """`sidecar`: the recipe text to land beside the file (or give it to `finish()`);
        given here, a video's is written to disk by the encoder as it opens the video,
        while the model renders, leaving only a rename for the end.

        `threaded`: encode off the caller's thread. A video goes to the encoder process
        (studio.core.video_process) unless `in_process` is True or another export holds
        it; then, and for the other kinds, to a thread of this process."""
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
        self._line_sizes: tuple[int, ...] = ()
        self._sidecar = sidecar
        self._staged: Path | None = None  # the sidecar's temp, once written
        self._folder: Path | None = None
        self._error: BaseException | None = None
        self._done = False
        self._queue: queue.Queue[np.ndarray | None] | None = None
        self._thread: threading.Thread | None = None
        self._remote: Any = None
        if threaded and self.kind in VIDEO_SUFFIXES.values() and in_process is not True:
            self._remote = self._in_encoder_process()
        if threaded and self._remote is None:
            self._queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._drain, name="animation-encoder",
                                            daemon=True)
            self._thread.start()

    def _in_encoder_process(self) -> Any:
        from studio.core import video_process

        encoder = video_process.acquire()
        if encoder is None:
            return None
        options = {"path": str(self.path), "fps": self.fps, "quality": self.quality,
                   "comment": self.comment, "scale": self.scale, "resample": self.resample,
                   "sidecar": self._sidecar}
        try:
            return video_process.RemoteVideo(encoder, options, on_handed=self.on_frame)
        except video_process.EncoderGone as exc:
            log.warning("%s: encoding on a thread", exc)
            return None

    # -- the frames --------------------------------------------------------------------------
    def add(self, frames: np.ndarray) -> None:
        """A batch (N, H, W, C) of uint8 frames at the model's size."""
        self._raise_if_failed()
        frames = np.asarray(frames)
        assert frames.dtype == np.uint8 and frames.ndim == 4, (frames.dtype, frames.shape)
        if self._remote is not None:
            self._remote.add(frames)
            return
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
            if batch is None:  # the end: close the video here too, while finish() stages
                if self._error is None:  # the sidecar on the caller's thread
                    try:
                        self._close_video()
                    except BaseException as exc:
                        self._error = exc
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
        batch = to_rgb(batch)
        if self.kind in VIDEO_SUFFIXES.values():
            self._encode_video(batch)
            return
        for frame in batch:
            if self.scale is not None and not self.scale.identity:
                frame = self.scale.apply(frame, self.resample)
            self._begin(frame.shape[0], frame.shape[1])
            self._write(frame)
            self._count()

    def _encode_video(self, batch: np.ndarray) -> None:
        """The batch converted to YUV in one go (a handful of numpy calls per batch, not a
        handful per frame: this thread holds the GIL less while the model renders beside
        it), then handed to the encoder frame by frame."""
        y, cb, cr = self._video_planes(batch)
        self._begin(y.shape[1], y.shape[2])
        for planes in zip(*self._to_line_sizes((y, cb, cr))):
            self._write_planes(planes)
            self._count()

    def _video_planes(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, H, W) Y and (N, H/2, W/2) Cb, Cr planes of a batch at the export's size."""
        scale = self.scale
        if scale is None or scale.identity:
            return yuv420(even(batch))
        method = self.resample or scale.resample_for(*batch.shape[1:3])
        if scale.pixels is None and scale.factor % 2 == 0 and method == NEAREST:
            # Enlarged by an even whole factor with nearest-neighbour: convert at the model's
            # size, then enlarge the planes. The same bytes as converting the enlarged frame
            # (every 2×2 chroma block holds one colour), for 1/factor² of the work.
            y, cb, cr = _yuv_full(batch)
            half = scale.factor // 2
            return _enlarge(y, scale.factor), _enlarge(cb, half), _enlarge(cr, half)
        return yuv420(even(np.stack([scale.apply(frame, self.resample) for frame in batch])))

    def _to_line_sizes(self, planes: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """The planes with FFmpeg's row padding (its rows are aligned), so each frame's plane
        is one contiguous copy into the AVFrame."""
        fitted = []
        for data, line in zip(planes, self._line_sizes):
            if data.shape[-1] != line:
                padded = np.zeros((*data.shape[:-1], line), np.uint8)
                padded[..., : data.shape[-1]] = data
                data = padded
            fitted.append(np.ascontiguousarray(data))
        return tuple(fitted)

    def _begin(self, height: int, width: int) -> None:
        """Open the output at the first frame's size; later frames must match it."""
        if self.size is None:
            self.size = (height, width)
            self._open(height, width)
        elif (height, width) != self.size:
            raise VideoError(f"{self.path}: frames differ in size")

    def _count(self) -> None:
        self.written += 1
        if self.on_frame is not None:
            self.on_frame(self.written)

    def _open(self, height: int, width: int) -> None:
        if self.kind == FOLDER:
            self._folder = self.path.with_name(
                f"{atomic.TEMP_PREFIX}{secrets.token_hex(4)}{atomic.TEMP_SUFFIX}")
            self._folder.mkdir(parents=True)
            return
        if self.kind not in VIDEO_SUFFIXES.values():
            return
        import av

        if self._sidecar is not None:  # on disk early: finish() only renames it
            self._staged = atomic.stage_bytes(self._sidecar_path(), self._sidecar.encode("utf-8"))
        # a temp of the atomic writer's kind (a kill -9 leaves a name it knows); it moves into
        # the atomic writer's hands at finish(), so that the sidecar lands with it
        if not self.path.parent.is_dir():  # as atomic_path does
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temp = atomic.reserve_temp(self.path)
        # the temp name ends in .tmp: the container format is named, not guessed
        self._container = av.open(str(self._temp), "w", format=self.kind)
        if self.comment:
            self._container.metadata["comment"] = self.comment
        from fractions import Fraction

        stream = self._container.add_stream(_codec(self.kind),
                                            rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = ENCODER_THREADS
        crf = str(constant_quality(self.kind, self.quality))
        # VP9 needs b=0 for pure constant quality
        stream.options = {"crf": crf, **({"b": "0", "row-mt": "1", "deadline": "realtime", "cpu-used": "8"}
                                         if self.kind == "webm" else
                                         {"preset": x264_preset(width, height), "tune": "zerolatency"})}
        self._stream = stream
        # FFmpeg's row lengths for this size (aligned, so maybe longer than the width)
        probe = av.VideoFrame(width, height, "yuv420p")
        self._line_sizes = tuple(plane.line_size for plane in probe.planes)

    def _write(self, frame: np.ndarray) -> None:
        if self.kind == FOLDER:
            assert self._folder is not None
            Image.fromarray(frame, "RGB").save(self._folder / FRAME_NAME.format(self.written),
                                               format="PNG")
        else:
            self._frames.append(frame)

    def _write_planes(self, planes: tuple[np.ndarray, ...]) -> None:
        import av

        assert self.size is not None
        video = av.VideoFrame(self.size[1], self.size[0], "yuv420p")
        for plane, data in zip(video.planes, planes):
            plane.update(data)
        for packet in self._stream.encode(video):
            self._container.mux(packet)

    # -- landing -----------------------------------------------------------------------------
    def _stop_thread(self) -> None:
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def finish(self, sidecar: str | None = None) -> Path:
        """Flush the encoder, then land the file (or folder) and its sidecar (this one, or
        the constructor's) together."""
        if self._remote is not None:
            try:
                self._remote.finish(sidecar)
            except BaseException:
                self.abort()
                raise
            self.written, self.size = self._remote.written, self._remote.size
            self._done = True
            return self.path
        staged: Path | None = None
        try:
            if sidecar is not None and self.kind in VIDEO_SUFFIXES.values():
                # written and flushed to disk while the encoder thread finishes the last frames
                staged = atomic.stage_bytes(self._sidecar_path(), sidecar.encode("utf-8"))
            sidecar = self._sidecar if sidecar is None else sidecar
            self._stop_thread()
            early, self._staged = self._staged, None  # staged as the video opened
            if staged is None:
                staged = early
            elif early is not None:  # a sidecar given twice: this one wins
                early.unlink()
            self._raise_if_failed()
            if self.written == 0:
                raise VideoError(f"{self.path}: no frames to write")
            if self.kind in VIDEO_SUFFIXES.values():
                self._close_video()  # done already by the encoder thread, when there is one
                assert self._temp is not None
                with atomic.together():  # the video and its sidecar land together
                    atomic.land(self._temp, self.path)
                    self._temp = None
                    if staged is not None:
                        atomic.land(staged, self._sidecar_path())
                        staged = None
            elif self.kind == FOLDER:
                self._land_folder(self._sidecar_path(), sidecar)
            else:
                with atomic.together():
                    media.save_animation(self.path, self._frames, fps=self.fps, loop=True,
                                         comment=self.comment)
                    if sidecar is not None:
                        atomic.write_text(self._sidecar_path(), sidecar)
        except BaseException:
            if staged is not None:
                with contextlib.suppress(OSError):
                    staged.unlink()
            self.abort()
            raise
        self._done = True
        return self.path

    def _sidecar_path(self) -> Path:
        return self.path.with_name(self.path.name.rstrip("/") + ".recipe.json")

    def _close_video(self) -> None:
        """Flush the encoder, close the container and flush the temp to disk (once)."""
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None
        assert self._temp is not None
        with open(self._temp, "rb+") as fh:  # on disk before land() renames it into view
            os.fsync(fh.fileno())

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
        if self._remote is not None:
            self._remote.abort()
            return
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
        if self._staged is not None:
            with contextlib.suppress(OSError):
                self._staged.unlink()
            self._staged = None
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
