"""Reaching the Hugging Face Hub, or knowing quickly that it cannot be reached.

Without a network, ``huggingface_hub`` retries each request for about half a minute before it
gives up, and the error it finally raises names neither the cache it looked in nor what to do.
cnbench asks once per process whether the Hub's host accepts a connection (a few seconds at
most) and, when it does not (or ``HF_HUB_OFFLINE`` is set), loads models and datasets from the
local Hugging Face cache only, failing at once with one line when they are not there.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from urllib.parse import urlparse

from cnbench.errors import CnbenchError, first_line

PROBE_SECONDS = 3.0
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def offline_requested() -> bool:
    return _truthy(os.environ.get("HF_HUB_OFFLINE"))


@lru_cache(maxsize=1)
def unreachable_reason() -> str | None:
    """Why the Hub cannot be used now (``None`` when it can)."""
    if offline_requested():
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return None  # the proxy decides; a direct probe would say nothing about it
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    host, port = endpoint.hostname, endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as err:
        return f"cannot connect to {host}:{port} ({err.strerror or err})"
    return None


def local_only() -> bool:
    """Load from the local Hugging Face cache only (the Hub is not reachable)."""
    return unreachable_reason() is not None


def cache_location() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def not_available(what: str, err: Exception) -> CnbenchError:
    """One line for a Hub load that failed: offline and not cached, or what the Hub said."""
    reason = unreachable_reason()
    if reason is not None:
        return CnbenchError(
            f"{what}: not in the Hugging Face cache ({cache_location()}) and the Hub is not reachable "
            f"({reason}); download it on a connected machine (or set HF_HOME to a cache that has it)"
        )
    return CnbenchError(f"{what}: {first_line(err) or type(err).__name__}")


def snapshot(repo_id: str, repo_type: str, revision: str | None, allow_patterns: list[str] | None = None):
    """Download (or find in the cache) a repository's files; returns ``(folder, commit hash)``.

    The folder is the cache's snapshot of the resolved commit, so the commit hash is the exact
    revision the files came from, whatever branch or tag ``revision`` named.
    """
    from pathlib import Path

    from huggingface_hub import snapshot_download

    what = f"{repo_type} {repo_id!r}" + (f" at revision {revision!r}" if revision else "")
    try:
        downloaded = snapshot_download(
            repo_id,
            repo_type=repo_type,
            revision=revision,
            allow_patterns=allow_patterns,
            local_files_only=local_only(),
        )
    except Exception as err:  # network, unknown repo or revision, cache miss: one line, never a traceback
        raise not_available(what, err) from None
    folder = Path(downloaded)
    return folder, folder.name
