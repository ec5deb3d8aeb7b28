"""The one atomic writer: short temp names, nothing half-written, several files all or none."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from studio.core import atomic, export, media
from studio.core.requests import Request, Result

NAME_MAX = 255


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("length", [238, 250, NAME_MAX])  # the old temp name broke from 238
def test_a_legal_name_up_to_name_max_is_written(tmp_path, length):
    name = "x" * (length - 4) + ".png"
    assert len(name.encode()) == length
    out = media.save_png(tmp_path / name, np.zeros((4, 4, 3), np.uint8))
    assert out.is_file() and media.load_image(out).shape == (4, 4, 3)
    assert _leftovers(tmp_path) == []


def test_temp_names_are_short_and_recognisable(tmp_path):
    temp = atomic.reserve_temp(tmp_path / ("y" * NAME_MAX))
    assert len(temp.name) <= 16 and atomic.is_temp_name(temp.name)
    assert not atomic.is_temp_name("picture.png")


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "index.json"
    atomic.write_text(target, "old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as temp:
        temp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_new_files_follow_the_umask_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_bytes(tmp_path / "w.bin", b"1")
    finally:
        os.umask(old)
    assert (tmp_path / "w.bin").stat().st_mode & 0o777 == 0o644


def test_together_lands_nothing_when_one_target_is_a_folder(tmp_path):
    (tmp_path / "out.npy").mkdir()
    with pytest.raises(IsADirectoryError), atomic.together():
        atomic.write_bytes(tmp_path / "out.png", b"image")
        atomic.write_bytes(tmp_path / "out.npy", b"latent")
    assert not (tmp_path / "out.png").exists() and _leftovers(tmp_path) == []


def test_together_checks_every_target_again_before_renaming(tmp_path):
    with pytest.raises(IsADirectoryError), atomic.together():
        atomic.write_bytes(tmp_path / "out.png", b"image")
        atomic.write_bytes(tmp_path / "out.npy", b"latent")
        (tmp_path / "out.npy").mkdir()  # another process took the name meanwhile
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy"]


def test_together_puts_back_what_was_there_when_a_rename_fails(tmp_path, monkeypatch):
    first, second = tmp_path / "a.png", tmp_path / "a.npy"
    atomic.write_bytes(first, b"old image")
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if Path(dst) == second:
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    with pytest.raises(OSError, match="No space"), atomic.together():
        atomic.write_bytes(first, b"new image")
        monkeypatch.setattr(atomic.os, "replace", failing_replace)
        atomic.write_bytes(second, b"new latent")
    monkeypatch.undo()
    assert first in calls  # the image had landed before the latent failed
    assert first.read_bytes() == b"old image" and not second.exists()
    assert _leftovers(tmp_path) == []


def test_together_lands_every_file_on_success(tmp_path):
    with atomic.together():
        atomic.write_bytes(tmp_path / "one", b"1")
        with atomic.together():  # nested blocks join the outer one
            atomic.write_bytes(tmp_path / "two", b"2")
        assert not (tmp_path / "one").exists()  # nothing visible before the end
    assert (tmp_path / "one").read_bytes() == b"1" and (tmp_path / "two").read_bytes() == b"2"
    assert _leftovers(tmp_path) == []


def test_a_staged_file_lands_only_when_its_block_ends_and_goes_when_it_fails(tmp_path):
    staged = atomic.stage_bytes(tmp_path / "walk.json", b"{}")
    assert atomic.is_temp_name(staged.name) and staged.read_bytes() == b"{}"
    assert not (tmp_path / "walk.json").exists()
    with atomic.together():
        atomic.land(staged, tmp_path / "walk.json")
        assert not (tmp_path / "walk.json").exists()  # nothing visible before the end
    assert (tmp_path / "walk.json").read_bytes() == b"{}" and _leftovers(tmp_path) == []
    staged = atomic.stage_bytes(tmp_path / "walk.json", b"new")
    with pytest.raises(RuntimeError), atomic.together():
        atomic.land(staged, tmp_path / "walk.json")
        raise RuntimeError("the video failed")
    assert (tmp_path / "walk.json").read_bytes() == b"{}" and _leftovers(tmp_path) == []
    (tmp_path / "folder").mkdir()
    staged = atomic.stage_bytes(tmp_path / "folder", b"x")
    with pytest.raises(IsADirectoryError):
        atomic.land(staged, tmp_path / "folder")
    assert staged.exists()  # the caller still owns it


def test_an_animation_and_its_sidecar_land_together(tmp_path):
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    result = Result(request=Request("m", "interpolate", {}), images=frames)
    out = tmp_path / "walk.gif"
    export.sidecar_path(out).mkdir()
    with pytest.raises(OSError):
        export.export_animation(out, result)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_no_module_hand_rolls_its_own_temp_file():
    root = Path(__file__).resolve().parents[2] / "studio"
    pattern = re.compile(r"\bmkstemp\(|NamedTemporaryFile")
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "atomic.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
