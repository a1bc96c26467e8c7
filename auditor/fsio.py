"""Files written so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(target: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename over the target.

    A reader never sees half a file and a failed run leaves the previous file intact.
    """
    staged = stage(target, data)
    os.replace(staged, target)


def stage(target: Path, data: bytes) -> Path:
    """`data` in a temporary file beside `target`, on disk (fsync), for `os.replace` over it.

    Nothing is replaced yet: the caller renames the file over its target, or `discard`s it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; a report is meant to be shared like any file the user writes.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        discard(Path(tmp))
        raise
    return Path(tmp)


def discard(staged: Path) -> None:
    try:
        os.unlink(staged)
    except FileNotFoundError:
        pass


def missing_folders(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist yet, deepest first (what a write would create)."""
    missing = []
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing
