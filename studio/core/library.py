"""The model library: built-in models shipped in resources/ and user models imported by path.

User models are referenced, not copied: `<home>/library.json` lists their folders,
`{"version": 1, "models": [{"id": ..., "folder": "/abs/path"}]}`, and is written atomically.
A broken folder or index never stops the app: it is skipped and described in `problems`.
No torch, no Qt.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.core import diffusers_folder, diffusers_vae_folder, paths
from studio.core.cards import CARD_FILE, CardError, ModelCard
from studio.core.media import atomic_write_bytes

INDEX_FILE = "library.json"
INDEX_VERSION = 1
# safetensors' own limit on the JSON header; a larger length means a broken file.
_MAX_HEADER_BYTES = 100_000_000
# fmt: off
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4,
    "U64": 8, "I64": 8, "F64": 8, "C64": 8,
}
# fmt: on


class LibraryError(ValueError):
    """A model folder, weights file or the index is unusable; the message names it."""


@dataclass(frozen=True)
class ModelEntry:
    card: ModelCard
    folder: Path
    builtin: bool

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def family(self) -> str:
        return self.card.family

    @property
    def weights_path(self) -> Path:
        return self.folder / self.card.weights_file

    @property
    def size_bytes(self) -> int:
        try:
            return self.weights_path.stat().st_size
        except OSError:
            return 0


class Library:
    def __init__(self, home: Path | None = None, builtin_dir: Path | None = None) -> None:
        self.home = Path(home) if home is not None else paths.studio_home()
        self.builtin_dir = (
            Path(builtin_dir) if builtin_dir is not None else paths.builtin_models_dir()
        )
        self.index_path = self.home / INDEX_FILE
        self.problems: list[str] = []
        self._entries: dict[str, ModelEntry] = {}
        self.refresh()

    # -- reading -----------------------------------------------------------------

    def entries(self) -> list[ModelEntry]:
        """Built-ins first, then user models; each sorted by family, then name."""
        return sorted(
            self._entries.values(),
            key=lambda e: (not e.builtin, e.family, e.card.name.lower(), e.id),
        )

    def get(self, model_id: str) -> ModelEntry:
        entry = self._entries.get(model_id)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise LibraryError(f"unknown model {model_id!r}; known: {known}")
        return entry

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._entries

    def refresh(self) -> None:
        """Re-read the built-in folder and the index from disk."""
        problems: list[str] = []
        found: dict[str, ModelEntry] = {}
        for folder in self._builtin_folders(problems):
            self._add(found, folder, builtin=True, problems=problems)
        records, index_problem = _read_index(self.index_path)
        if index_problem:
            problems.append(index_problem)
        for model_id, folder in records:
            entry = self._add(found, folder, builtin=False, problems=problems)
            if entry is not None and entry.id != model_id:
                problems.append(
                    f"{folder}: the card now says id {entry.id!r}, the index {model_id!r}"
                )
        self._entries, self.problems = found, problems

    def _builtin_folders(self, problems: list[str]) -> list[Path]:
        if not self.builtin_dir.is_dir():
            return []
        folders = []
        for folder in sorted(self.builtin_dir.iterdir()):
            if not folder.is_dir() or folder.name.startswith((".", "_")):
                continue
            if not (folder / CARD_FILE).is_file():
                problems.append(f"{folder}: no model card ({CARD_FILE}); skipped")
                continue
            folders.append(folder)
        return folders

    def _add(
        self, found: dict[str, ModelEntry], folder: Path, builtin: bool, problems: list[str]
    ) -> ModelEntry | None:
        try:
            card = validate_folder(folder, check_hash=False)  # hashing every start-up is slow
        except LibraryError as exc:
            problems.append(f"{exc}; skipped")
            return None
        clash = found.get(card.id)
        if clash is not None:
            problems.append(f"{folder}: id {card.id!r} is already used by {clash.folder}; skipped")
            return None
        entry = ModelEntry(card, folder, builtin)
        found[card.id] = entry
        self._add_pipeline_vae(found, entry, problems)
        return entry

    def _add_pipeline_vae(self, found: dict[str, ModelEntry], entry: ModelEntry,
                          problems: list[str]) -> None:
        """A Stable Diffusion pipeline's vae/ is a model of its own, `<id>-vae`, opened
        in the VAE explorer; it comes and goes with its pipeline."""
        if entry.family != diffusers_folder.FAMILY:
            return
        try:
            card = diffusers_vae_folder.pipeline_vae_card(entry.folder, entry.card)
        except diffusers_folder.NotAPipelineError as exc:
            problems.append(f"{exc}; its VAE skipped")
            return
        if card is None:
            return
        if card.id in found:
            problems.append(f"{entry.folder}: id {card.id!r} is already used by "
                            f"{found[card.id].folder}; its VAE skipped")
            return
        found[card.id] = ModelEntry(card, entry.folder / "vae", entry.builtin)

    # -- changing the index ------------------------------------------------------

    def import_folder(self, path: str | os.PathLike[str]) -> ModelEntry:
        """Check a studio model folder (or a diffusers pipeline folder) and add it to the
        index (by reference)."""
        folder = Path(path).expanduser().resolve()
        card = validate_folder(folder, check_hash=True)
        self.refresh()  # another window may have changed the index meanwhile
        clash = self._entries.get(card.id)
        if clash is not None and clash.folder.resolve() != folder:
            owner = "the built-in model" if clash.builtin else "the model"
            raise LibraryError(
                f"{folder}: id {card.id!r} is already used by {owner} at {clash.folder}"
            )
        records, _ = _read_index(self.index_path)
        # One record per folder: a re-import after the card's id changed replaces the old one.
        kept = [(i, f) for i, f in records if i != card.id and f.resolve() != folder]
        if clash is None or not clash.builtin:
            self._write_index([*kept, (card.id, folder)])
        self.refresh()
        return self.get(card.id)

    def remove(self, model_id: str) -> None:
        """Forget a user model (its folder stays on disk)."""
        entry = self._entries.get(model_id)
        if entry is not None and entry.builtin:
            raise LibraryError(
                f"{entry.folder}: {model_id!r} is a built-in model; it cannot be removed"
            )
        records, _ = _read_index(self.index_path)
        kept = [(i, f) for i, f in records if i != model_id]
        if len(kept) == len(records):
            raise LibraryError(f"unknown model {model_id!r}; it is not in {self.index_path}")
        self._write_index(kept)
        self.refresh()

    def _write_index(self, records: list[tuple[str, Path]]) -> None:
        if self.index_path.exists() and _read_index(self.index_path)[1]:
            # Keep what could not be read, in case the user wants it back.
            os.replace(self.index_path, self.index_path.with_name(INDEX_FILE + ".bak"))
        data = {
            "version": INDEX_VERSION,
            "models": [{"id": i, "folder": str(f)} for i, f in records],
        }
        try:
            atomic_write_bytes(self.index_path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        except OSError as exc:
            raise LibraryError(
                f"{self.index_path}: could not write ({exc.strerror or exc})"
            ) from None


def _read_index(path: Path) -> tuple[list[tuple[str, Path]], str | None]:
    """(id, folder) records and a problem; an unreadable index reads as empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [], f"{path}: unreadable library index, treated as empty ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        return [], f"{path}: not a library index, treated as empty"
    if data.get("version") != INDEX_VERSION:
        return [], f"{path}: unknown index version {data.get('version')!r}, treated as empty"
    records = []
    for item in data["models"]:
        if (
            isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and isinstance(item.get("folder"), str)
        ):
            records.append((item["id"], Path(item["folder"])))
    if len(records) != len(data["models"]):
        return records, f"{path}: {len(data['models']) - len(records)} malformed record(s) ignored"
    return records, None


# -- checking a model folder -------------------------------------------------------


def validate_folder(folder: str | os.PathLike[str], check_hash: bool = True) -> ModelCard:
    """The folder's card, once its weights are found sound; LibraryError otherwise.

    A diffusers pipeline folder (model_index.json, no card.json) gets a card made from its
    configs: see studio.core.diffusers_folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LibraryError(f"{folder}: not a folder")
    if not (folder / CARD_FILE).is_file() and diffusers_folder.is_diffusers_folder(folder):
        try:
            return diffusers_folder.make_card(folder, check_weights=read_safetensors_header)
        except diffusers_folder.NotAPipelineError as exc:
            raise LibraryError(str(exc)) from None
    if not (folder / CARD_FILE).is_file() and diffusers_vae_folder.is_autoencoder_folder(folder):
        try:  # a standalone AutoencoderKL (or VQModel) folder, as diffusers saves one
            return diffusers_vae_folder.make_card(folder, check_weights=read_safetensors_header)
        except diffusers_folder.NotAPipelineError as exc:
            raise LibraryError(str(exc)) from None
    try:
        card = ModelCard.read(folder)
    except CardError as exc:
        raise LibraryError(str(exc)) from None
    try:  # a card must not point outside its own folder
        weights = paths.confined(folder, card.weights_file, "weights_file", folder / CARD_FILE)
    except paths.PathEscapeError as exc:
        raise LibraryError(str(exc)) from None
    if not weights.is_file():
        raise LibraryError(f"{weights}: weights file missing")
    read_safetensors_header(weights)
    if check_hash and card.weights_sha256:
        actual = sha256_file(weights)
        if actual != card.weights_sha256.strip().lower():
            raise LibraryError(
                f"{weights}: SHA-256 {actual} does not match the card's {card.weights_sha256}"
            )
    return card


def read_safetensors_header(path: str | os.PathLike[str]) -> dict[str, dict]:
    """The tensors (name -> dtype, shape, data_offsets) a safetensors file declares.

    Reads only the header and checks it against the file size, so a truncated or foreign
    file is caught here with a clear message rather than deep inside a model load.
    """
    path = Path(path)

    def bad(problem: str) -> LibraryError:
        return LibraryError(f"{path}: not a valid safetensors file ({problem})")

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise bad("too short for a header")
            (length,) = struct.unpack("<Q", prefix)
            if length > _MAX_HEADER_BYTES or 8 + length > size:
                raise bad(f"header length {length} does not fit a {size}-byte file")
            raw = fh.read(length)
    except OSError as exc:
        raise LibraryError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    header.pop("__metadata__", None)
    data_bytes = size - 8 - length
    for name, info in header.items():
        _check_tensor(name, info, data_bytes, bad)
    if not header:
        raise bad("no tensors")
    return header


def _check_tensor(
    name: str, info: object, data_bytes: int, bad: Callable[[str], LibraryError]
) -> None:
    if not isinstance(info, dict):
        raise bad(f"tensor {name!r} has no description")
    shape, offsets, dtype = info.get("shape"), info.get("data_offsets"), info.get("dtype")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise bad(f"tensor {name!r} has a bad shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise bad(f"tensor {name!r} has bad data offsets {offsets!r}")
    if offsets[1] > data_bytes:
        raise bad(
            f"truncated: tensor {name!r} ends at byte {offsets[1]}, the data has {data_bytes}"
        )
    item = _DTYPE_BYTES.get(dtype) if isinstance(dtype, str) else None
    if item is not None and offsets[1] - offsets[0] != item * math.prod(shape):
        raise bad(f"tensor {name!r}: {offsets[1] - offsets[0]} bytes for {dtype} {shape}")


# -- hashes ------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large weights never sit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def write_weights_hash(folder: str | os.PathLike[str]) -> ModelCard:
    """Record the weights' SHA-256 in the folder's card (after training or converting)."""
    folder = Path(folder)
    try:
        card = ModelCard.read(folder)
    except CardError as exc:
        raise LibraryError(str(exc)) from None
    card.weights_sha256 = sha256_file(folder / card.weights_file)
    card.write(folder)
    return card
