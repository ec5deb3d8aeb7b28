"""Versions of the libraries the studio runs on, read from their installed metadata.

importlib.metadata reads a dist-info file: no library is imported, so the GUI thread can
ask for torch's version without paying torch's ~2 s import. No torch, no Qt.
"""

from __future__ import annotations

from importlib import metadata

NOT_INSTALLED = "not installed"


def package_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED
