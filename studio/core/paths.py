"""Where things live: the user data folder and the shipped resources. No torch, no Qt."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
