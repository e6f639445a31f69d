"""Does a CLUE task learn from CLUE's own files, offline? OCNLI from the bundle (train.10k, the
official dev scored once; '-' rows dropped): a scratch model over three seeds against the
majority class of the scored rows.

Run first (one torch thread each)::

    cnbench run --task ocnli --model scratch-tiny --seed N --epochs 6 --output RUNS    # N = 1, 2, 3

then ``python benchmarks/ocnli_learns.py RUNS`` writes ``benchmarks/results/ocnli_learns.md``
(``--out FILE`` elsewhere; ``--small``, a check, into a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from cnbench import paths
from cnbench.data.load import load_task_data
from cnbench.registry import get_task

OUT = Path(__file__).resolve().parent / "results" / "ocnli_learns.md"


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, help="folder of the OCNLI runs' result files")
    add_small_and_out(parser, OUT, appends=False)
    args = parser.parse_args()
    args.out = output_path(args, OUT)
    write(args.runs, args.out)


def write(runs: Path, out: Path) -> None:
    results = sorted(
        (json.loads(path.read_text(encoding="utf-8")) for path in runs.glob("ocnli--*.json")),
        key=lambda result: result["seed"],
    )
    scored = load_task_data(get_task("ocnli"), paths.data_dir(None), only=("test",)).splits["test"]
    label, count = Counter(example.label for example in scored).most_common(1)[0]
    accuracy = [100 * result["metrics"]["test"]["accuracy"] for result in results]
    minutes = [f"{result['timing']['total_seconds'] / 60:.0f} min" for result in results]
    lines = [
        "# OCNLI learns: scratch-tiny on CLUE's own files",
        "",
        "Written by `benchmarks/ocnli_learns.py` from the runs named in its docstring: trained on "
        f"`train.10k` (less its '-' rows), the epoch chosen on every 10th train example, scored once on "
        f"the official dev set's {len(scored)} labelled rows. Accuracy in percent.",
        "",
        "| system | seeds | dev-set accuracy | per seed | best epoch |",
        "| --- | --- | --- | --- | --- |",
        f"| scratch-tiny, 6 epochs | {', '.join(str(r['seed']) for r in results)} | "
        f"{statistics.mean(accuracy):.2f} ± {statistics.stdev(accuracy):.2f} | "
        f"{', '.join(f'{value:.2f}' for value in accuracy)} | {', '.join(str(r['best_epoch']) for r in results)} |",
        f"| majority class ({label}) | — | {100 * count / len(scored):.2f} | — | — |",
        "",
        f"Machine: {results[0]['environment']['hardware'].get('cpu', '?')}; "
        f"wall time per run {', '.join(minutes)} "
        "(runs sharing two cores with other work).",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
