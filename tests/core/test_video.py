"""The animation writers (studio/core/video.py): every format, odd sizes, the exact YUV
shortcut for nearest-neighbour enlargements, abort and failures leave nothing."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core import video
from studio.core.export_scale import ExportScale


def frames(count: int = 6, size: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # smooth content (what models make), not noise
    base = rng.integers(0, 256, (count, 2, 2, 3)).astype(np.uint8)
    return base.repeat(size // 2, 1).repeat(size // 2, 2)


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_yuv_shortcut_gives_the_same_planes_as_converting_the_enlarged_frame():
    image = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    for factor in (2, 4, 8):
        slow = video.yuv420(ExportScale(factor).apply(image))
        y, cb, cr = video._yuv_full(image)
        half = factor // 2
        fast = (y.repeat(factor, 0).repeat(factor, 1), cb.repeat(half, 0).repeat(half, 1),
                cr.repeat(half, 0).repeat(half, 1))
        for a, b in zip(slow, fast):
            assert np.array_equal(a, b)


def test_a_batch_converts_to_the_same_planes_as_its_frames_one_by_one():
    batch = np.random.default_rng(2).integers(0, 256, (3, 6, 10, 3), dtype=np.uint8)
    planes = video.yuv420(batch)
    for i, frame in enumerate(batch):
        for whole, alone in zip(planes, video.yuv420(frame)):
            assert np.array_equal(whole[i], alone)
    odd = batch[:, :5, :7]
    assert video.even(odd).shape == (3, 6, 8, 3)
    assert np.array_equal(video.even(odd)[1], video.even(odd[1]))


@pytest.mark.parametrize("name", ["a.mp4", "a.webm"])
@pytest.mark.parametrize("scale", [ExportScale(4), ExportScale(3), ExportScale(pixels=50)])
def test_videos_decode_to_every_frame_at_an_even_size(name, scale, tmp_path):
    shot = frames(5, 8)
    writer = video.AnimationWriter(tmp_path / name, 10, scale=scale, comment="hello")
    writer.add(shot[:2])
    writer.add(shot[2:])
    writer.finish("{}\n")
    back, fps, comment = video.read_video(tmp_path / name)
    height, width = scale.size_of(8, 8)
    assert back.shape == (5, height + height % 2, width + width % 2, 3)
    assert fps == 10 and comment == "hello"
    assert listing(tmp_path) == [name, f"{name}.recipe.json"]


def test_an_odd_size_is_padded_by_its_edge():
    odd = np.arange(5 * 3 * 3, dtype=np.uint8).reshape(5, 3, 3)
    padded = video.even(odd)
    assert padded.shape == (6, 4, 3)
    assert np.array_equal(padded[:5, :3], odd) and np.array_equal(padded[5, :3], odd[4])


def test_mp4_at_the_default_quality_keeps_psnr_above_38_db(tmp_path):
    shot = frames(8, 16, seed=3)
    writer = video.AnimationWriter(tmp_path / "q.mp4", 24, scale=ExportScale(4))
    writer.add(shot)
    writer.finish()
    back = video.read_video(tmp_path / "q.mp4")[0]
    expected = ExportScale(4).apply_all(shot)
    assert min(video.psnr(a, b) for a, b in zip(back, expected)) >= 38.0


@pytest.mark.parametrize("name", ["a.mp4", "a.webm", "a.gif", "a.webp", "pngs"])
def test_abort_and_failures_leave_nothing(name, tmp_path):
    writer = video.AnimationWriter(tmp_path / name, 24)
    writer.add(frames(3))
    writer.abort()
    assert listing(tmp_path) == []
    with pytest.raises(RuntimeError), video.AnimationWriter(tmp_path / name, 24) as writer:
        writer.add(frames(3))
        raise RuntimeError("the render failed")
    assert listing(tmp_path) == []
    writer = video.AnimationWriter(tmp_path / name, 24)
    with pytest.raises(video.VideoError, match="differ in size"):
        writer.add(frames(2, 8))
        writer.add(frames(2, 16))
        writer.finish("{}")
    assert listing(tmp_path) == []


def test_a_png_folder_replaces_an_earlier_one_but_never_a_folder_of_other_files(tmp_path):
    target = tmp_path / "pngs"
    for count in (4, 2):
        writer = video.AnimationWriter(target, 24)
        writer.add(frames(count))
        writer.finish("{}")
        assert len(listing(target)) == count
    (target / "notes.txt").write_text("mine")
    writer = video.AnimationWriter(target, 24)
    writer.add(frames(3))
    with pytest.raises(video.VideoError, match="other files"):
        writer.finish("{}")
    assert "notes.txt" in listing(target) and len(listing(target)) == 3
    assert [n for n in listing(tmp_path) if n.startswith(".~")] == []


@pytest.mark.parametrize("name,message", [("a.avi", "unsupported"), ("a.mp4", "fps")])
def test_bad_requests_are_refused_before_anything_is_written(name, message, tmp_path):
    with pytest.raises(video.VideoError, match=message):
        video.AnimationWriter(tmp_path / name, 0)
    assert listing(tmp_path) == []


def test_without_pyav_videos_are_refused_in_one_line_and_the_rest_still_writes(tmp_path,
                                                                              monkeypatch):
    """The desktop bundle leaves PyAV out (its FFmpeg needs GPL x264): MP4/WebM are refused
    before anything renders, the save dialog offers no video, GIF/WebP/PNG still write."""
    monkeypatch.setitem(__import__("sys").modules, "av", None)  # import av → ImportError
    assert video.video_kinds_available() == () and not video.h264_available()
    for name in ("a.mp4", "a.webm"):
        with pytest.raises(video.VideoError, match="PyAV is not installed") as caught:
            video.check_encoder(tmp_path / name)
        assert "\n" not in str(caught.value)
    for name in ("a.gif", "a.webp", "pngs"):
        writer = video.AnimationWriter(tmp_path / name, 12)
        writer.add(frames(3))
        writer.finish("{}")
        assert len(video.read_frames(tmp_path / name)) == 3


@pytest.mark.parametrize("name", ["a.mp4", "a.webm", "a.gif", "pngs"])
def test_a_sidecar_given_up_front_lands_with_the_file_and_goes_with_an_abort(name, tmp_path):
    """A video's sidecar given to the writer is written (as a temp) while the frames are
    encoded, so finish() only renames it; an abort removes it with the rest."""
    writer = video.AnimationWriter(tmp_path / name, 12, sidecar='{"up": "front"}\n')
    writer.add(frames(3))
    writer.finish()
    assert listing(tmp_path) == sorted([name, f"{name}.recipe.json"])
    assert (tmp_path / f"{name}.recipe.json").read_text() == '{"up": "front"}\n'
    again = tmp_path / "again"
    again.mkdir()
    writer = video.AnimationWriter(again / name, 12, sidecar="{}\n", threaded=False)
    writer.add(frames(3))
    writer.abort()
    assert listing(again) == []
    writer = video.AnimationWriter(again / name, 12, sidecar="old\n")
    writer.add(frames(3))
    writer.finish("new\n")  # given twice: finish's wins, and no temp is left
    assert listing(again) == sorted([name, f"{name}.recipe.json"])
    assert (again / f"{name}.recipe.json").read_text() == "new\n"
