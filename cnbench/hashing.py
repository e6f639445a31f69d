"""sha256 of data and weight files, read in blocks so that gigabyte files never sit in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def file_sha256(path: Path) -> str:
    """The hex sha256 of one file's bytes (as ``sha256sum`` prints it)."""
    digest = hashlib.sha256()
    _feed(digest, path)
    return digest.hexdigest()


def files_sha256(paths: Iterable[Path]) -> str:
    """One hex sha256 over several files, each file's name then its bytes, so a renamed or changed
    file (say one shard of a checkpoint) changes it."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        _feed(digest, path)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The id ``git hash-object`` prints: sha1 over ``blob <size>\\0`` and the bytes. For files
    whose git repository is the only published record of their content."""
    digest = hashlib.sha1()
    digest.update(f"blob {Path(path).stat().st_size}\0".encode())
    _feed(digest, path)
    return digest.hexdigest()


def _feed(digest, path: Path) -> None:
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
