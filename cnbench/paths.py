"""Where cnbench finds things on disk. Every location can be moved with an environment variable.

- ``CNBENCH_SHARED_DIR``: the offline bundle (default: ``../shared`` beside the working directory,
  else beside the cnbench checkout); ``data/`` and ``models/`` live under it.
- ``CNBENCH_DATA_DIR``: the data directory itself (default ``<shared>/data``); ``--data-dir``
  overrides it. When none exists, tasks load from the Hub.
- ``CNBENCH_TOKENIZER_DIR``: the tokenizer/config used by the from-scratch presets (default
  ``<shared>/models/bert-base-chinese-tokenizer``, else the Hub's ``google-bert/bert-base-chinese``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    if "CNBENCH_SHARED_DIR" in os.environ:
        return Path(os.environ["CNBENCH_SHARED_DIR"])
    for candidate in (Path.cwd().parent / "shared", REPO_ROOT.parent / "shared"):
        if candidate.is_dir():
            return candidate
    return None


def data_dir(override: str | Path | None = None) -> Path | None:
    """The local data directory, or None (then data comes from the Hub)."""
    if override is not None:
        return Path(override)
    if "CNBENCH_DATA_DIR" in os.environ:
        return Path(os.environ["CNBENCH_DATA_DIR"])
    shared = shared_dir()
    if shared is not None and (shared / "data").is_dir():
        return shared / "data"
    return None


def tokenizer_dir() -> str:
    """A local tokenizer folder when there is one, else the Hub id of bert-base-chinese."""
    if "CNBENCH_TOKENIZER_DIR" in os.environ:
        return os.environ["CNBENCH_TOKENIZER_DIR"]
    shared = shared_dir()
    if shared is not None and (shared / "models" / "bert-base-chinese-tokenizer").is_dir():
        return str(shared / "models" / "bert-base-chinese-tokenizer")
    return "google-bert/bert-base-chinese"


def results_dir() -> Path:
    return REPO_ROOT / "leaderboard" / "results"


def cache_dir() -> Path:
    return Path(os.environ.get("CNBENCH_CACHE_DIR", Path.home() / ".cache" / "cnbench"))
