"""Where cnbench finds things on disk. Every location can be moved with an environment variable.

- ``CNBENCH_SHARED_DIR``: the offline bundle (default: ``../shared`` beside the working directory,
  else beside the cnbench checkout); ``data/`` and ``models/`` live under it.
- ``CNBENCH_DATA_DIR``: the data directory itself (default ``<shared>/data``); ``--data-dir``
  overrides it. A split without a local file loads from the Hub. A directory named explicitly
  (flag or variable) that does not exist is an error, never a silent fall-back to the Hub; so is
  a data location named one level too high (the task folders under its ``data/``) or a
  ``CNBENCH_SHARED_DIR`` that is itself a data directory.
- ``CNBENCH_TOKENIZER_DIR``: the tokenizer/config used by the from-scratch presets (default
  ``<shared>/models/bert-base-chinese-tokenizer``, else the Hub's ``google-bert/bert-base-chinese``).
"""

from __future__ import annotations

import os
from pathlib import Path

from cnbench.errors import CnbenchError

REPO_ROOT = Path(__file__).resolve().parents[1]


def shown(path: str | Path) -> str:
    """``path`` relative to the cnbench checkout when it lies inside it (for reports committed to
    the repository, which must not name one machine's folders), else as given."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _existing(path: str | Path, named: str) -> Path:
    """A folder the user named explicitly must exist: a typo never falls back to the Hub."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise CnbenchError(f"{named} {path}: no such directory")
    return path


def shared_dir() -> Path | None:
    if "CNBENCH_SHARED_DIR" in os.environ:
        return _existing(os.environ["CNBENCH_SHARED_DIR"], "CNBENCH_SHARED_DIR")
    for candidate in (Path.cwd().parent / "shared", REPO_ROOT.parent / "shared"):
        if candidate.is_dir():
            return candidate
    return None


def data_dir(override: str | Path | None = None) -> Path | None:
    """The local data directory, or None (then data comes from the Hub). A directory given by
    ``--data-dir``, ``CNBENCH_DATA_DIR`` or ``CNBENCH_SHARED_DIR`` must exist."""
    if override is not None:
        return _existing(override, "--data-dir")
    if "CNBENCH_DATA_DIR" in os.environ:
        return _existing(os.environ["CNBENCH_DATA_DIR"], "CNBENCH_DATA_DIR")
    shared = shared_dir()
    if shared is not None and (shared / "data").is_dir():
        return shared / "data"
    if shared is not None and "CNBENCH_SHARED_DIR" in os.environ:
        _refuse_data_as_shared(shared)
    return None


def _refuse_data_as_shared(shared: Path) -> None:
    """CNBENCH_SHARED_DIR set to the data folder itself would send every run to the Hub."""
    from cnbench.registry import all_tasks  # the registry finds its task folders through this module

    folders = sorted({task.local.folder for task in all_tasks().values() if (shared / task.local.folder).is_dir()})
    if folders:
        raise CnbenchError(
            f"CNBENCH_SHARED_DIR {shared} has no data/ folder but holds task folders "
            f"({', '.join(f + '/' for f in folders)}): it is a data directory; set "
            "CNBENCH_DATA_DIR to it instead"
        )


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
