"""The ``--small`` and ``--out`` options that every benchmark script shares.

``--small`` runs a script at tiny sizes, a check that it still works rather than a measurement. Such a
check must never overwrite or append to a committed file under ``benchmarks/results/``, so without
``--out`` its table goes to a new temporary folder; a full run writes to the committed file.

The scripts import this module inside ``main()``: running a script puts this folder on ``sys.path``,
but tests that load a script as a module to call its functions do not.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from cnbench import paths


def add_small_and_out(
    parser: argparse.ArgumentParser, default_out: Path, *, appends: bool, small_help: str | None = None
) -> None:
    """Add ``--small`` and ``--out`` to ``parser``. ``appends``: whether the script adds to its results
    file rather than rewriting it; ``small_help``: what the script does less of in small mode, if
    anything besides writing elsewhere."""
    scaled_down = f"{small_help}; " if small_help else ""
    parser.add_argument(
        "--small",
        action="store_true",
        help=f"a quick check: {scaled_down}results in a temporary folder unless --out is given",
    )
    verb = "append to" if appends else "write"
    shown = paths.shown(default_out)
    parser.add_argument("--out", type=Path, help=f"markdown file to {verb} (default {shown}; --small: a temporary one)")


def scratch_file(name: str) -> Path:
    """``name`` in a new temporary folder, left in place for the caller to read."""
    return Path(tempfile.mkdtemp(prefix=f"{Path(name).stem}-small-")) / name


def output_path(args: argparse.Namespace, default_out: Path) -> Path:
    """Where the results go: ``--out`` if given, else a new temporary file under ``--small``, else
    ``default_out``."""
    if args.out is not None:
        return args.out
    return scratch_file(default_out.name) if args.small else default_out
