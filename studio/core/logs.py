"""The studio's log: Python logging to a rotating file in the user data folder. No Qt.

    <user data folder>/logs/studio.log      (+ studio.log.1 … .3 as it rotates)
    <user data folder>/logs/fatal.log       what faulthandler writes if the process dies
                                            hard (a segfault in a native library)

`setup_logging()` is called once by the GUI entry point; calling it again replaces the
handler it added rather than adding a second one.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import platform
import sys
from pathlib import Path
from typing import IO

from studio.core.paths import studio_home

LOG_NAME = "studio.log"
FATAL_NAME = "fatal.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

_handler: logging.Handler | None = None
_fatal_file: IO[str] | None = None
_faulthandler_was_on = False  # before fatal.log took it: handed back at teardown


def log_dir(home: Path | None = None) -> Path:
    folder = (home or studio_home()) / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_file(home: Path | None = None) -> Path:
    return log_dir(home) / LOG_NAME


def setup_logging(home: Path | None = None, *, level: int = logging.INFO,
                  max_bytes: int = MAX_BYTES, backups: int = BACKUPS,
                  fatal: bool = False) -> Path:
    """Send the root logger's records (INFO and up) to a rotating file; returns its path.

    With `fatal`, faulthandler also writes a traceback to fatal.log if the process dies
    from a signal, so that even a hard crash leaves a trace."""
    global _handler, _fatal_file
    path = log_file(home)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    _handler = handler
    if fatal:
        global _faulthandler_was_on
        if _fatal_file is not None:
            _fatal_file.close()
        else:
            _faulthandler_was_on = faulthandler.is_enabled()
        _fatal_file = open(path.parent / FATAL_NAME, "a", encoding="utf-8")  # noqa: SIM115
        faulthandler.enable(_fatal_file)
    return path


def teardown_logging() -> None:
    """Remove the file handler (and faulthandler's file); for tests and shutdown."""
    global _handler, _fatal_file
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None
    if _fatal_file is not None:
        faulthandler.disable()
        # a host that had it on (pytest, a script embedding the studio) gets it back on
        # stderr: a later crash in that process is not silent
        if _faulthandler_was_on and sys.__stderr__ is not None:
            faulthandler.enable(sys.__stderr__)
        _fatal_file.close()
        _fatal_file = None


def take_fatal_report(home: Path | None = None) -> str:
    """What faulthandler wrote in an earlier session that died hard, once; "" if none.
    The file is renamed aside so that the report is shown once."""
    path = log_dir(home) / FATAL_NAME
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    if not text:
        return ""
    path.replace(path.with_suffix(".log.seen"))
    return text


def describe_environment() -> str:
    """One line for the top of a session's log: versions and platform (no torch import)."""
    from studio import __version__
    from studio.core.versions import package_version

    return (f"Latent Studio {__version__}; Python {platform.python_version()}; "
            f"torch {package_version('torch')}; diffusers {package_version('diffusers')}; "
            f"{platform.platform()}; frozen={bool(getattr(sys, 'frozen', False))}")
