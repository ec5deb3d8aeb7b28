"""The model library: built-in discovery, imports, the index, and broken folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from studio.core.cards import ModelCard
from studio.core.library import (
    Library,
    LibraryError,
    ModelEntry,
    read_safetensors_header,
    sha256_file,
    write_weights_hash,
)


def make_model(folder: Path, model_id: str, family: str = "vae", name: str = "") -> Path:
    """A tiny, valid studio model folder: card.json beside model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    card = ModelCard(id=model_id, name=name or model_id, family=family, resolution=8, channels=1)
    card.write(folder)
    tensors = {
        "encoder.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "bias": np.ones(4, np.float16),
    }
    save_file(tensors, str(folder / "model.safetensors"))
    return folder


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    home, builtin = tmp_path / "home", tmp_path / "builtin"
    home.mkdir()
    builtin.mkdir()
    return home, builtin


def test_builtin_discovery_skips_broken_folders(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    make_model(builtin / "gan-b", "gan-b", family="gan", name="Bravo")
    make_model(builtin / "vae", "vae-glyphs", family="vae", name="Glyphs")
    make_model(builtin / "gan-a", "gan-a", family="gan", name="Alpha")
    (builtin / "empty").mkdir()  # no card
    make_model(builtin / "garbled", "garbled")
    (builtin / "garbled" / "model.safetensors").write_bytes(b"\x00" * 3)
    (builtin / "__pycache__").mkdir()  # ignored quietly

    library = Library(home=home, builtin_dir=builtin)
    assert [e.id for e in library.entries()] == ["gan-a", "gan-b", "vae-glyphs"]
    assert all(e.builtin for e in library.entries())
    assert len(library.problems) == 2
    assert any(str(builtin / "empty") in p and "no model card" in p for p in library.problems)
    assert any(str(builtin / "garbled" / "model.safetensors") in p for p in library.problems)
    entry = library.get("vae-glyphs")
    assert entry.family == "vae" and entry.folder == builtin / "vae"
    assert entry.weights_path == builtin / "vae" / "model.safetensors"
    assert entry.size_bytes == entry.weights_path.stat().st_size > 0


def test_import_persists_across_instances(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    make_model(builtin / "zz", "builtin-z", family="vae")
    user = make_model(tmp_path / "mine", "my-flow", family="flow")

    entry = Library(home=home, builtin_dir=builtin).import_folder(user)
    assert entry.id == "my-flow" and not entry.builtin and entry.folder == user.resolve()

    again = Library(home=home, builtin_dir=builtin)
    assert [e.id for e in again.entries()] == ["builtin-z", "my-flow"]  # built-ins first
    assert again.problems == []
    index = json.loads((home / "library.json").read_text())
    assert index == {"version": 1, "models": [{"id": "my-flow", "folder": str(user.resolve())}]}
    assert sorted(p.name for p in user.iterdir()) == [
        "card.json",
        "model.safetensors",
    ]  # not copied


def test_reimport_is_idempotent_and_clashes_are_refused(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    make_model(builtin / "glyphs", "vae-glyphs")
    library = Library(home=home, builtin_dir=builtin)
    user = make_model(tmp_path / "mine", "mine")
    library.import_folder(user)
    library.import_folder(str(user))
    assert len(json.loads((home / "library.json").read_text())["models"]) == 1

    twin = make_model(tmp_path / "twin", "mine")
    with pytest.raises(
        LibraryError, match=r"twin: id 'mine' is already used by the model at .*mine"
    ):
        library.import_folder(twin)
    imposter = make_model(tmp_path / "imposter", "vae-glyphs")
    with pytest.raises(LibraryError, match="already used by the built-in model"):
        library.import_folder(imposter)
    assert library.get("mine").folder == user.resolve()


def test_corrupt_safetensors_names_the_file(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    library = Library(home=home, builtin_dir=builtin)
    folder = make_model(tmp_path / "garbage", "garbage")
    weights = folder / "model.safetensors"
    weights.write_bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes())
    with pytest.raises(LibraryError) as info:
        library.import_folder(folder)
    assert str(info.value).startswith(f"{weights}: not a valid safetensors file (")
    assert not (home / "library.json").exists()


def test_truncated_and_foreign_safetensors(tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m", "m")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-5])
    with pytest.raises(LibraryError, match="not a valid safetensors file \\(truncated"):
        read_safetensors_header(weights)
    header = b'["not", "an", "object"]'
    weights.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(LibraryError, match="header is not a JSON object"):
        read_safetensors_header(weights)
    weights.write_bytes(b"\x07")
    with pytest.raises(LibraryError, match="too short"):
        read_safetensors_header(weights)


def test_header_reader_agrees_with_safetensors(tmp_path: Path) -> None:
    weights = make_model(tmp_path / "m", "m") / "model.safetensors"
    header = read_safetensors_header(weights)
    with safe_open(str(weights), framework="numpy") as fh:
        assert sorted(header) == sorted(fh.keys())
    assert header["encoder.weight"]["shape"] == [2, 3]


def test_card_problems_become_library_errors(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    library = Library(home=home, builtin_dir=builtin)
    no_card = tmp_path / "no-card"
    no_card.mkdir()
    with pytest.raises(LibraryError, match=r"no-card/card\.json: no model card"):
        library.import_folder(no_card)
    bad_json = make_model(tmp_path / "bad-json", "bad-json")
    (bad_json / "card.json").write_text("{ not json")
    with pytest.raises(LibraryError, match=r"bad-json/card\.json: unreadable model card"):
        library.import_folder(bad_json)
    no_weights = make_model(tmp_path / "no-weights", "no-weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(LibraryError, match=r"no-weights/model\.safetensors: weights file missing"):
        library.import_folder(no_weights)
    escape = make_model(tmp_path / "escape", "escape")
    card = ModelCard.read(escape)
    card.weights_file = "../no-weights/card.json"
    card.write(escape)
    with pytest.raises(LibraryError, match="leaves the folder"):
        library.import_folder(escape)
    with pytest.raises(LibraryError, match="not a folder"):
        library.import_folder(tmp_path / "nowhere")


def test_weights_hash_is_checked(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    library = Library(home=home, builtin_dir=builtin)
    folder = make_model(tmp_path / "hashed", "hashed")
    card = write_weights_hash(folder)
    assert card.weights_sha256 == sha256_file(folder / "model.safetensors")
    assert len(card.weights_sha256) == 64
    assert library.import_folder(folder).card.weights_sha256 == card.weights_sha256

    other = make_model(tmp_path / "tampered", "tampered")
    card = ModelCard.read(other)
    card.weights_sha256 = "0" * 64
    card.write(other)
    with pytest.raises(
        LibraryError, match=r"tampered/model\.safetensors: SHA-256 [0-9a-f]{64} does not match"
    ):
        library.import_folder(other)


def test_corrupt_index_is_reported_then_backed_up(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    index = home / "library.json"
    index.write_text('{"version": 1, "models": [')
    library = Library(home=home, builtin_dir=builtin)
    assert library.entries() == []
    assert len(library.problems) == 1 and str(index) in library.problems[0]

    library.import_folder(make_model(tmp_path / "mine", "mine"))
    assert (home / "library.json.bak").read_text() == '{"version": 1, "models": ['
    assert [e.id for e in Library(home=home, builtin_dir=builtin).entries()] == ["mine"]

    index.write_text(json.dumps({"version": 99, "models": []}))
    assert "unknown index version 99" in Library(home=home, builtin_dir=builtin).problems[0]


def test_missing_user_folder_is_a_problem_not_a_crash(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    user = make_model(tmp_path / "gone", "gone")
    library = Library(home=home, builtin_dir=builtin)
    library.import_folder(user)
    for path in user.iterdir():
        path.unlink()
    user.rmdir()
    library.refresh()
    assert library.entries() == []
    assert any(str(user) in p for p in library.problems)
    # Moved elsewhere: importing the new place replaces the stale record.
    moved = make_model(tmp_path / "moved", "gone")
    assert library.import_folder(moved).folder == moved.resolve()
    assert len(json.loads((home / "library.json").read_text())["models"]) == 1


def test_remove(dirs, tmp_path: Path) -> None:
    home, builtin = dirs
    make_model(builtin / "b", "builtin")
    library = Library(home=home, builtin_dir=builtin)
    library.import_folder(make_model(tmp_path / "mine", "mine"))
    library.remove("mine")
    assert "mine" not in library
    assert (tmp_path / "mine" / "card.json").exists()  # only forgotten, not deleted
    assert [e.id for e in Library(home=home, builtin_dir=builtin).entries()] == ["builtin"]
    with pytest.raises(LibraryError, match="built-in model; it cannot be removed"):
        library.remove("builtin")
    with pytest.raises(LibraryError, match="unknown model 'mine'"):
        library.remove("mine")


def test_get_unknown_lists_the_known(dirs) -> None:
    home, builtin = dirs
    make_model(builtin / "a", "alpha")
    make_model(builtin / "b", "beta")
    with pytest.raises(LibraryError, match="unknown model 'x'; known: alpha, beta"):
        Library(home=home, builtin_dir=builtin).get("x")


def test_home_comes_from_the_environment(dirs, tmp_path: Path, monkeypatch) -> None:
    _, builtin = dirs
    env_home = tmp_path / "env-home"
    monkeypatch.setenv("LATENT_STUDIO_HOME", str(env_home))
    library = Library(builtin_dir=builtin)
    library.import_folder(make_model(tmp_path / "mine", "mine"))
    assert library.index_path == env_home / "library.json"
    assert (env_home / "library.json").exists()


def test_size_bytes_is_zero_without_weights(tmp_path: Path) -> None:
    card = ModelCard(id="x", name="x", family="vae", resolution=8, channels=1)
    assert ModelEntry(card, tmp_path, builtin=False).size_bytes == 0


@pytest.mark.parametrize("field, value, said", [
    ("name", 12345, "name must be a string"),
    ("id", ["x"], "id must be a non-empty string"),
    ("id", "../../etc", "id must be a name, not a path"),
    ("family", ["vae"], "family must be a string"),
    ("config", [1, 2], "config must be a JSON object"),
    ("resolution", "32", "resolution must be a whole number"),
    ("channels", True, "channels must be a whole number"),
    ("classes", [1, 2], "classes must be a list of strings or null"),
    ("metrics", {"fid": "good"}, "metrics must be a JSON object of numbers"),
    ("latent_shape", [4, -1], "latent_shape must be a list of positive whole numbers or null"),
    ("weights_file", 7, "weights_file must be a string"),
])
def test_card_types_are_checked_at_import(dirs, tmp_path: Path, field, value, said) -> None:
    home, builtin = dirs
    folder = make_model(tmp_path / "typed", "typed")
    card = json.loads((folder / "card.json").read_text())
    card[field] = value
    (folder / "card.json").write_text(json.dumps(card))
    library = Library(home=home, builtin_dir=builtin)
    with pytest.raises(LibraryError) as info:
        library.import_folder(folder)
    assert str(info.value).startswith(f"{folder / 'card.json'}: {said}, not ")
    assert "typed" not in library


def test_a_bad_card_already_in_the_index_is_skipped_with_a_warning(dirs, tmp_path: Path, capsys,
                                                                   monkeypatch) -> None:
    from studio.cli import main

    home, builtin = dirs
    good = make_model(tmp_path / "good", "good")
    bad = make_model(tmp_path / "bad", "bad")
    library = Library(home=home, builtin_dir=builtin)
    library.import_folder(good)
    library.import_folder(bad)
    card = json.loads((bad / "card.json").read_text())
    card["name"] = 12345  # edited after import
    (bad / "card.json").write_text(json.dumps(card))

    again = Library(home=home, builtin_dir=builtin)
    assert [e.id for e in again.entries()] == ["good"]
    assert any(p.startswith(f"{bad / 'card.json'}: name must be a string") and p.endswith("skipped")
               for p in again.problems)
    monkeypatch.setenv("LATENT_STUDIO_HOME", str(home))
    monkeypatch.setattr("studio.core.paths.builtin_models_dir", lambda: builtin)
    assert main(["models"]) == 0
    out, err = capsys.readouterr()
    assert "good" in out and "bad" not in out.replace("built-in", "")
    assert f"warning: {bad / 'card.json'}: name must be a string" in err
