"""MSRA-NER baselines: char-embed + BiLSTM-CRF, and scratch-small with a CRF vs a linear head.

Each run is a real ``cnbench run`` (a subprocess) on the full MSRA train set (5 % held out as
dev) and the full test set. Prints strict and lenient entity F1 and wall time per run and
appends them, with machine facts, to ``benchmarks/results/msra_ner.md``.

    python benchmarks/bench_msra.py [--runs char-embed:bilstm-crf,scratch-small:crf,scratch-small:linear]
                                    [--seed 1] [--output DIR]   # DIR keeps the result files
                                    [--small]

``--small`` makes one run (the first pair unless ``--runs`` is given) of one epoch on the first 32
sentences of each split and appends its table to a file in a temporary folder (unless ``--out`` is
given), to check that the script still works.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_RUNS = "char-embed:bilstm-crf,scratch-small:crf,scratch-small:linear"
SMALL_LIMIT = 32
RESULTS = Path(__file__).parent / "results" / "msra_ner.md"


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", help=f"comma-separated model:head pairs (default {DEFAULT_RUNS}; --small: the first)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, help="keep result files here (default: a temporary folder)")
    add_small_and_out(parser, RESULTS, appends=True, small_help="one short run")
    args = parser.parse_args()
    if args.runs is None:
        args.runs = DEFAULT_RUNS.split(",")[0] if args.small else DEFAULT_RUNS
    args.out = output_path(args, RESULTS)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        output = args.output or Path(scratch)
        for pair in args.runs.split(","):
            model, head = pair.split(":")
            before = set(output.glob("*.json")) if output.exists() else set()
            command = [
                sys.executable,
                "-m",
                "cnbench",
                "run",
                "--task",
                "msra_ner",
                "--model",
                model,
                "--head",
                head,
                "--seed",
                str(args.seed),
                "--output",
                str(output),
            ]
            command += ["--epochs", "1", "--limit", str(SMALL_LIMIT)] if args.small else []
            start = time.perf_counter()
            subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            (path,) = set(output.glob("*.json")) - before
            result = json.loads(path.read_text(encoding="utf-8"))
            test, timing = result["metrics"]["test"], result["timing"]
            line = (
                f"| {model} | {head} | {args.seed} | {test['f1'] * 100:.2f} | {test['f1_lenient'] * 100:.2f} | "
                f"{result['metrics']['dev']['f1'] * 100:.2f} | {result['best_epoch']}/{result['hparams']['epochs']} | "
                f"{wall:.0f} | {timing['train_tokens_per_second']:.0f} |"
            )
            print(line, flush=True)
            rows.append(line)
    hardware, packages = result["environment"]["hardware"], result["environment"]["packages"]
    if not args.out.exists():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "# MSRA-NER baselines (`benchmarks/bench_msra.py`)\n\n"
            "Full train set (every 20th sentence held out as dev), full test set (4,631 sentences, every "
            "character scored). Strict = seqeval strict IOB2 micro F1 (the main metric); lenient = "
            "conlleval-style.\n",
            encoding="utf-8",
        )
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(
            f"\n{hardware['cpu']}, {hardware['cpu_count']} cores, torch {packages['torch']}, "
            f"commit {(result['environment']['git_commit'] or '')[:10]}:\n\n"
            "| model | head | seed | test F1 strict % | test F1 lenient % | dev F1 % | best epoch | wall s "
            "| train tokens/s |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
        )
    print(f"appended to {args.out}")


if __name__ == "__main__":
    main()
