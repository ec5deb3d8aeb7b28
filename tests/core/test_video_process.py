"""Videos encoded in the encoder process (studio/core/video_process.py): the same frames as
in-process, errors and aborts carried back, a dead encoder reported and replaced, and a
second export at once encoded on a thread."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core import video, video_process
from studio.core.export_scale import ExportScale
from tests.core.test_video import frames, listing


def write(path, shot, **options) -> video.AnimationWriter:
    writer = video.AnimationWriter(path, 12, scale=ExportScale(2), comment="c", **options)
    for start in range(0, len(shot), 3):
        writer.add(shot[start : start + 3])
    writer.finish("{}\n")
    return writer


@pytest.mark.parametrize("name", ["a.mp4", "a.webm"])
def test_the_process_writes_the_frames_a_thread_or_the_caller_writes(name, tmp_path):
    shot = frames(7, 16, seed=4)
    ways = {"process": {}, "thread": {"in_process": True}, "caller": {"threaded": False}}
    decoded = {}
    for way, options in ways.items():
        folder = tmp_path / way
        folder.mkdir()
        writer = video.AnimationWriter(folder / name, 12, scale=ExportScale(2), **options)
        assert (writer._remote is not None) == (way == "process")
        writer.add(shot[:4])
        writer.add(shot[4:])
        writer.finish("{}\n")
        assert writer.written == 7 and writer.size == (32, 32)
        assert listing(folder) == [name, f"{name}.recipe.json"]
        decoded[way] = video.read_video(folder / name)[0]
    assert np.array_equal(decoded["process"], decoded["caller"])
    assert np.array_equal(decoded["thread"], decoded["caller"])


def test_progress_counts_the_frames_handed_to_the_process(tmp_path):
    counts: list[int] = []
    writer = video.AnimationWriter(tmp_path / "a.mp4", 12, on_frame=counts.append)
    writer.add(frames(3))
    writer.add(frames(2))
    writer.finish()
    assert counts == [3, 5] and writer.written == 5


@pytest.mark.parametrize("in_process", [None, True])
def test_failures_in_the_encoder_reach_the_caller_and_leave_nothing(in_process, tmp_path):
    writer = video.AnimationWriter(tmp_path / "a.mp4", 24, in_process=in_process)
    with pytest.raises(video.VideoError, match="differ in size"):
        writer.add(frames(2, 8))
        writer.add(frames(2, 16))
        writer.add(frames(2, 16))
        writer.finish("{}")
    assert listing(tmp_path) == []
    writer = video.AnimationWriter(tmp_path / "a.mp4", 24, in_process=in_process)
    with pytest.raises(video.VideoError, match="no frames"):
        writer.finish("{}")
    assert listing(tmp_path) == []
    write(tmp_path / "b.mp4", frames(4))  # the encoder still works afterwards
    assert listing(tmp_path) == ["b.mp4", "b.mp4.recipe.json"]


def test_a_dead_encoder_is_reported_and_the_next_export_starts_another(tmp_path):
    writer = video.AnimationWriter(tmp_path / "a.mp4", 24, sidecar="{}\n")
    assert writer._remote is not None
    writer.add(frames(3))
    encoder = writer._remote._encoder
    encoder.process.kill()
    encoder.process.wait(5)
    with pytest.raises(video_process.EncoderGone, match="encoder process ended"):
        writer.add(frames(3))
        writer.finish()
    assert not (tmp_path / "a.mp4").exists()
    again = write(tmp_path / "b.mp4", frames(4))
    assert again.written == 4 and len(video.read_video(tmp_path / "b.mp4")[0]) == 4


def test_a_second_export_at_once_encodes_on_a_thread(tmp_path):
    first = video.AnimationWriter(tmp_path / "a.mp4", 24)
    second = video.AnimationWriter(tmp_path / "b.mp4", 24)
    assert first._remote is not None and second._remote is None
    for writer in (first, second):
        writer.add(frames(3))
    second.finish("{}")
    first.finish("{}")
    assert [len(video.read_video(tmp_path / n)[0]) for n in ("a.mp4", "b.mp4")] == [3, 3]
    third = video.AnimationWriter(tmp_path / "c.mp4", 24)  # the process is free again
    assert third._remote is not None
    third.abort()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mp4") == ["a.mp4", "b.mp4"]


def test_a_prestarted_encoder_is_the_one_the_next_export_uses(tmp_path):
    video_process.prestart()
    started = video_process._shared
    assert started is not None and started.alive
    writer = write(tmp_path / "a.mp4", frames(3))
    assert writer.written == 3 and writer._remote._encoder is started
