"""Latent Studio: a desktop studio for exploring generative image models.

Name and version come from one place, pyproject.toml, read here from the installed
distribution's metadata (a frozen bundle carries that metadata too).
"""

from importlib import metadata as _metadata

DISTRIBUTION = "latent-studio"

try:
    __version__ = _metadata.version(DISTRIBUTION)
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# "latent-studio" → "Latent Studio": the name people see (menus, dialogs, the .desktop file)
APP_NAME = DISTRIBUTION.replace("-", " ").title()
# reverse-DNS id of the desktop entry, AppStream metainfo and macOS bundle; the same as
# pyproject's [tool.latent-studio] app-id (tests/test_packaging.py holds them together)
APP_ID = "org.latentstudio.LatentStudio"
