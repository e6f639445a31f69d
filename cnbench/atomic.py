"""Replace a file or a folder atomically: readers, and a crash, see the old one or the new one, never half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_file(path: Path, mode: str = "wb", permissions: int | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path`` (``.<name>.*.tmp``, created with its folder if need
    be) for writing; when the block ends without an error, flush it to disk and rename it over
    ``path``, else delete it. ``permissions`` replaces mkstemp's owner-only 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if permissions is not None:
            os.fchmod(fd, permissions)
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _sync_folder(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk: a rename is durable only then, and a run deletes its
    checkpoint right after writing its result."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` (``.<name>.*.tmp``) to fill; when the block ends
    without an error, flush its files to disk and rename it to ``path`` (an existing ``path`` is
    replaced), else delete it. Readers see the old folder, no folder, or the complete new one.
    If another process installs ``path`` between the replacement's two renames, its folder is kept
    and this one discarded: both hold the same content when the name is a content key."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for child in tmp.iterdir():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())
        if path.exists():
            stale = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, stale)  # onto an empty folder: allowed, and atomic
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, path)
        except OSError:
            if not path.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        _sync_folder(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
