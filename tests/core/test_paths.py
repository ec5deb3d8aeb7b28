"""The one helper that confines a path read from a file to its folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.core.paths import PathEscapeError, confined


@pytest.mark.parametrize("ref", ["model.safetensors", "unet/diffusion_pytorch_model.safetensors",
                                 "a/./b.bin", "sub\\file.bin"])
def test_relative_paths_inside_the_folder_are_kept(tmp_path: Path, ref: str) -> None:
    path = confined(tmp_path, ref, "weights_file")
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert path.name == ref.replace("\\", "/").rsplit("/", 1)[-1]


@pytest.mark.parametrize("ref", ["/etc/passwd", "../x", "a/../../x", "..", "C:\\Windows\\x",
                                 "C:x", "\\\\server\\share\\x", "\\x", "", "  ", "a\x00b",
                                 12345, None, ["x"]])
def test_absolute_parent_and_non_string_refs_are_refused(tmp_path: Path, ref: object) -> None:
    with pytest.raises(PathEscapeError) as info:
        confined(tmp_path, ref, "vae", source=tmp_path / "card.json")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'card.json'}: vae {ref!r} ")
    assert "\n" not in message


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    base, outside = tmp_path / "base", tmp_path / "outside"
    base.mkdir()
    outside.mkdir()
    os.symlink(outside, base / "link")
    with pytest.raises(PathEscapeError, match="a link out of"):
        confined(base, "link/secret", "shard")
    (base / "inner").mkdir()
    os.symlink(base / "inner", base / "ok")  # a link that stays inside is fine
    assert confined(base, "ok/file", "shard") == base / "ok" / "file"


def test_single_wants_one_plain_name(tmp_path: Path) -> None:
    assert confined(tmp_path, "vae-glyphs", "id", single=True) == tmp_path / "vae-glyphs"
    for ref in ("a/b", "a\\b", ".", "./"):
        with pytest.raises(PathEscapeError, match="plain name"):
            confined(tmp_path, ref, "id", single=True)
