"""Where things live: the user data folder and the shipped resources. No torch, no Qt."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

APP_NAME = "Latent Studio"
HOME_ENV = "LATENT_STUDIO_HOME"


def studio_home() -> Path:
    """The user data folder (models, history, logs); `LATENT_STUDIO_HOME` overrides it."""
    override = os.environ.get(HOME_ENV)
    if override:
        home = Path(override).expanduser()
    elif sys.platform == "darwin":
        home = Path.home() / "Library" / "Application Support" / APP_NAME
    elif sys.platform == "win32":
        home = Path(os.environ.get("APPDATA", Path.home())) / APP_NAME
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        home = Path(base) / "latent-studio"
    home.mkdir(parents=True, exist_ok=True)
    return home


def resources_dir() -> Path:
    """`resources/` beside the package (a source checkout or a frozen bundle)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def builtin_models_dir() -> Path:
    return resources_dir() / "models"


def recipes_dir() -> Path:
    return resources_dir() / "recipes"


class PathEscapeError(ValueError):
    """A path read from a file leaves the folder it must stay in; the message names both."""


def confined(base: str | os.PathLike[str], ref: object, what: str = "path",
             source: str | os.PathLike[str] | None = None, *, single: bool = False) -> Path:
    """`base / ref` for a path `ref` read from a file (a card, an index, a recipe, a
    model_index or a shard list), when it stays inside `base`; PathEscapeError otherwise.

    The one check every such path goes through: a file the user was given must not make
    the studio read, write or delete anything outside its own folder. Refused: anything
    but a non-empty string, absolute paths (POSIX or Windows), `..`, NUL bytes, and
    symbolic links that resolve outside `base`. `single`: `ref` must be one plain name
    (a model id used as a folder name, a history file name).
    """
    where = f"{source}: " if source is not None else ""

    def refuse(problem: str, how: str) -> PathEscapeError:
        return PathEscapeError(f"{where}{what} {ref!r} {problem}" + (f" ({how})" if how else ""))

    if not isinstance(ref, str) or not ref.strip():
        raise refuse("is not a relative path", "")
    if "\x00" in ref:
        raise refuse("holds a NUL byte", "")
    posix, windows = PurePosixPath(ref), PureWindowsPath(ref)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or windows.root:
        raise refuse("leaves the folder", "an absolute path")
    parts = windows.parts  # splits on both / and \
    if ".." in parts:
        raise refuse("leaves the folder", "through '..'")
    if single and (len(parts) != 1 or parts[0] in (".", "")):
        raise refuse("must be a plain name, not a path", "")
    base = Path(base)
    path = base.joinpath(*parts)
    # a link inside the folder may still point out of it
    try:
        inside = path.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise refuse("leaves the folder", f"a link out of {base}")
    return path
