"""Original data files fetched by URL, kept only when their checksum is the declared one.

Files land in ``<cache>/downloads/<task>/<checksum>/<name>`` (see ``cnbench.paths.cache_dir``):
a file already there with the right checksum is used without any network access, so a machine
without a network runs once the files are placed there (the error names the path). With
``HF_HUB_OFFLINE`` set nothing is fetched; without a network the connection fails at once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from cnbench.errors import CnbenchError
from cnbench.hashing import file_sha256, git_blob_sha1
from cnbench.paths import cache_dir

CHECKSUM_KINDS = {"sha256": file_sha256, "git-blob": git_blob_sha1}
TIMEOUT_SECONDS = 30


def parse_checksum(checksum: str) -> tuple[str, str]:
    kind, _, value = checksum.partition(":")
    if kind not in CHECKSUM_KINDS or not value:
        raise CnbenchError(f"checksum {checksum!r}: expected 'sha256:<hex>' or 'git-blob:<sha1>'")
    return kind, value.lower()


def download_path(url: str, checksum: str, task_name: str) -> Path:
    kind, value = parse_checksum(checksum)
    name = Path(unquote(urlparse(url).path)).name or "data"
    return cache_dir() / "downloads" / task_name / f"{kind}-{value[:16]}" / name


def fetch_verified(url: str, checksum: str, task_name: str) -> Path:
    """The local copy of ``url``, downloaded if needed; raises ``CnbenchError`` (one line) when it
    cannot be fetched or its checksum differs from ``checksum``."""
    from cnbench import hub

    kind, expected = parse_checksum(checksum)
    path = download_path(url, checksum, task_name)
    if path.is_file():
        if CHECKSUM_KINDS[kind](path) == expected:
            return path
        path.unlink()  # a corrupted copy: fetch again
    if hub.offline_requested():
        raise CnbenchError(f"{url}: not downloaded yet, and HF_HUB_OFFLINE is set; place the file at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response, os.fdopen(descriptor, "wb") as handle:
            shutil.copyfileobj(response, handle)
        found = CHECKSUM_KINDS[kind](Path(partial))
        if found != expected:
            raise CnbenchError(f"{url}: downloaded file has {kind} {found}, expected {expected}; not kept")
        os.chmod(partial, 0o644)
        os.replace(partial, path)  # only a verified file ever takes the name
    except OSError as err:
        raise CnbenchError(
            f"{url}: cannot download ({getattr(err, 'reason', None) or err}); place the file at {path}"
        ) from None
    finally:
        Path(partial).unlink(missing_ok=True)
    return path
