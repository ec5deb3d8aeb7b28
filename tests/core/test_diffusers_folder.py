"""A diffusers folder is refused at import, in one line, when its model_index.json names
custom code or a component outside the folder, or its shard index a shard outside it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.cli import main
from studio.core.library import Library, LibraryError
from tests.families.diffusers_tiny import make_pipeline_folder


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    return make_pipeline_folder("ddpm", tmp_path_factory.mktemp("ddpm") / "tiny-ddpm")


@pytest.fixture
def copy(pipeline: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "tiny-ddpm"
    shutil.copytree(pipeline, folder)
    return folder


def edit_index(folder: Path, **changes) -> Path:
    path = folder / "model_index.json"
    index = json.loads(path.read_text())
    index.update(changes)
    path.write_text(json.dumps(index))
    return path


def refused(folder: Path, capsys) -> str:
    with pytest.raises(LibraryError) as info:
        Library().import_folder(folder)
    assert main(["import", str(folder)]) == 2  # and on the command line: one line, exit 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("studio: error: "), err
    assert "Traceback" not in err
    return str(info.value)


def test_the_tiny_pipeline_imports(copy: Path) -> None:
    assert Library().import_folder(copy).family == "diffusers"


def test_a_custom_pipeline_class_is_refused(copy: Path, capsys) -> None:
    index = edit_index(copy, _class_name=["my_pipeline", "MyPipeline"])
    message = refused(copy, capsys)
    assert message.startswith(f"{index}: _class_name ['my_pipeline', 'MyPipeline'] names "
                              f"custom pipeline code")


def test_a_component_naming_custom_code_is_refused_for_that_reason(copy: Path, capsys) -> None:
    index = edit_index(copy, unet=["my_unet", "MyUNet"])
    (copy / "my_unet.py").write_text("raise SystemExit('never run')\n")
    message = refused(copy, capsys)
    assert message == (f"{index}: component 'unet' names custom code (my_unet.MyUNet); the "
                       f"studio runs no code from model folders")


def test_an_extra_component_with_custom_code_is_refused_too(copy: Path, capsys) -> None:
    edit_index(copy, helper=["my_helper", "Helper"])
    assert "component 'helper' names custom code" in refused(copy, capsys)


@pytest.mark.parametrize("name", ["../outside", "/abs", "a/b"])
def test_a_component_named_as_a_path_is_refused(copy: Path, capsys, name: str) -> None:
    edit_index(copy, **{name: ["diffusers", "UNet2DModel"]})
    message = refused(copy, capsys)
    assert f"component {name!r}" in message


@pytest.mark.parametrize("shard", ["../../secret.safetensors", "/etc/passwd"])
def test_a_shard_outside_the_component_folder_is_refused(copy: Path, tmp_path: Path, capsys,
                                                         shard: str) -> None:
    unet = copy / "unet"
    weights = unet / "diffusion_pytorch_model.safetensors"
    outside = tmp_path / "secret.safetensors"
    shutil.copy(weights, outside)  # a sound file: only its place is wrong
    weights.unlink()
    index = unet / "diffusion_pytorch_model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"conv_in.weight": shard}}))
    message = refused(copy, capsys)
    assert message.startswith(f"{index}: shard {shard!r} leaves the folder")


def test_shards_inside_the_folder_are_read(copy: Path) -> None:
    unet = copy / "unet"
    (unet / "diffusion_pytorch_model.safetensors").rename(unet / "part-1.safetensors")
    index = unet / "diffusion_pytorch_model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"x": "part-1.safetensors"}}))
    assert Library().import_folder(copy).family == "diffusers"
