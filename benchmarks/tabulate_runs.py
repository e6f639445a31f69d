"""One table row per completed result in a folder: how it was scheduled (precision, patience,
epochs trained of the cap, best dev epoch) and what it scored (dev and test main metric). Used for
schedule probes, whose runs differ only in their epoch cap and patience.

    python benchmarks/tabulate_runs.py --results DIR --out FILE --title "..."
    python benchmarks/tabulate_runs.py --results DIR --small   # a check: the table goes to a temporary folder
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnbench import paths
from cnbench.atomic import atomic_file
from cnbench.leaderboard import epochs_trained
from cnbench.results import load_results
from cnbench.runinfo import code_version


def row(result: dict) -> str:
    hparams, metric = result["hparams"], result["task"]["main_metric"]
    return (
        f"| {result['task']['name']} | {result['model']['alias']} | {result['head']} | {result['seed']} | "
        f"{hparams.get('precision', '?')} | {hparams.get('patience') or '—'} | "
        f"{epochs_trained(result)} | "
        f"{result['metrics']['dev'][metric]:.2%} | {result['metrics']['test'][metric]:.2%} |"
    )


def main() -> None:
    from small_mode import scratch_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="folder of result files")
    parser.add_argument("--out", type=Path, help="markdown file to write (--small: a temporary folder by default)")
    parser.add_argument("--title", help="the table's heading (--small: a default)")
    parser.add_argument("--small", action="store_true", help="a quick check: --out and --title may be left out")
    args = parser.parse_args()
    if args.small:
        args.out = args.out or scratch_file("runs.md")
        args.title = args.title or f"Runs in {args.results.name}"
    elif args.out is None or args.title is None:
        parser.error("--out and --title are required (unless --small)")
    results, problems = load_results(args.results)
    if problems:
        sys.exit("\n".join(f"cannot read {path}: {reason}" for path, reason in problems))
    completed = sorted(
        (r for r in results if r["status"] == "completed"),
        key=lambda r: (
            r["task"]["name"],
            r["model"]["alias"],
            r["head"],
            r["seed"],
            r["hparams"]["epochs"],
            r["hparams"].get("patience") or 0,
        ),
    )
    lines = [
        f"# {args.title}",
        "",
        f"Written by `benchmarks/tabulate_runs.py` at {code_version()['git_commit']}, from the result files in "
        f"`{paths.shown(args.results)}/`. Dev and test columns are the task's main metric, at the best-dev epoch.",
        "",
        "| task | model | head | seed | precision | patience | epochs trained of cap | dev | test |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *map(row, completed),
    ]
    text = "\n".join(lines) + "\n"
    with atomic_file(args.out, "w", permissions=0o644) as handle:
        handle.write(text)
    sys.stdout.write(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
