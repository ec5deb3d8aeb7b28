"""One atomic file writer for the whole studio: a temp file beside the target, then a rename.

Every file the studio writes (exports, weights, checkpoints, indexes, cards, datasets) goes
through `atomic_path`, so a crash or a full disk never leaves a half-written file where a good
one was. `together()` commits several files of one export as one: all of them land, or none.

Temp names are short (`.~<8 hex>.tmp`), so a legal target name of up to NAME_MAX bytes still
gets a legal temp name beside it. No torch, no Qt.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".~"
TEMP_SUFFIX = ".tmp"


class _Group:
    """The files of one `together()` block: each written to its temp, renamed at the end."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []  # (temp, target), in write order

    def commit(self) -> None:
        backups: list[tuple[Path, Path | None]] = []  # (target, its previous version)
        try:
            # A folder in a target's place cannot be replaced: refuse before anything lands.
            for _, target in self.pending:
                if target.is_dir():
                    raise IsADirectoryError(21, "Is a directory", str(target))
            for temp, target in self.pending:
                backups.append((target, _keep_previous(target)))
                os.replace(temp, target)
        except BaseException:
            # Put back what was there: the files of one export land together or not at all.
            for target, previous in reversed(backups):
                with contextlib.suppress(OSError):
                    if previous is not None:
                        os.replace(previous, target)
                    else:
                        target.unlink()
            raise
        finally:
            self.discard()
        for _, previous in backups:
            if previous is not None:
                with contextlib.suppress(OSError):
                    previous.unlink()

    def discard(self) -> None:
        for temp, _ in self.pending:
            with contextlib.suppress(OSError):
                temp.unlink()
        self.pending.clear()


_group: contextvars.ContextVar[_Group | None] = contextvars.ContextVar("atomic_group", default=None)


def _keep_previous(target: Path) -> Path | None:
    """A second name for the file at `target` (a hard link, else a copy), to restore it."""
    if not target.is_file():
        return None
    keep = reserve_temp(target)
    try:
        keep.unlink()
        os.link(target, keep)
    except OSError:
        shutil.copy2(target, keep)  # file systems without hard links (FAT, some mounts)
    return keep


@contextlib.contextmanager
def together() -> Iterator[None]:
    """Every `atomic_path` write inside this block lands at its end, all or none.

    Nested blocks join the outermost one. If anything fails (a write, or a rename at the
    end), the temps are removed and files already renamed are put back as they were.
    """
    if _group.get() is not None:
        yield
        return
    group = _Group()
    token = _group.set(group)
    try:
        yield
    except BaseException:
        group.discard()
        raise
    finally:
        _group.reset(token)
    group.commit()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path`, on failure it goes.

    Inside `together()`, the rename waits for the end of the block.
    """
    target = Path(path)
    if target.is_dir():  # fail before writing anything, with the usual error
        raise IsADirectoryError(21, "Is a directory", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = reserve_temp(target)
    try:
        yield temp
        with open(temp, "rb+") as fh:  # flush to disk before the rename makes it visible
            os.fsync(fh.fileno())
        group = _group.get()
        if group is not None:
            group.pending.append((temp, target))
        else:
            os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as temp, open(temp, "wb") as fh:
        fh.write(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def stage_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to a temp beside `path` and flush it to disk, without landing it yet:
    `land()` does that later. Lets a writer do its slow part (the fsync) while other work
    runs, and keep only the rename for the end."""
    if not Path(path).parent.is_dir():  # as atomic_path does (a stat: mkdir would take the
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # folder's lock)
    temp = reserve_temp(Path(path))
    try:
        with open(temp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return temp


def land(temp: Path, path: str | os.PathLike[str]) -> None:
    """Rename a finished temp (from `reserve_temp`, already flushed to disk by its writer)
    onto `path`: now, or inside `together()` with the block's other files at its end. On
    failure the caller still owns the temp."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(target))
    group = _group.get()
    if group is not None:
        group.pending.append((Path(temp), target))
    else:
        os.replace(temp, target)


def reserve_temp(target: Path) -> Path:
    """Create an empty, unused temp file in `target`'s folder and return its path.

    O_EXCL: two writers never share a temp file. Mode 0o666 lets the umask apply, as a plain
    open() would (mkstemp makes 0o600, which would leave shipped files private). The name
    does not carry the target's: with it, a target name near NAME_MAX (255 bytes) would give
    a temp name that is too long. Writers that pick a format by suffix must name the format.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            os.close(os.open(temp, flags, 0o666))
        except FileExistsError:
            continue
        return temp
    raise FileExistsError(f"{target}: could not create a temporary file beside it")


def is_temp_name(name: str) -> bool:
    """Whether `name` is one of this writer's temp files (left behind by a kill -9)."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)
