"""Start-up time of ``cnbench --help`` and ``cnbench list`` against a bare ``python -c pass``.

Each command runs ``--repeat`` times as a fresh process; the median is reported, with the ratio
to the bare interpreter measured in the same command. Results are appended to
``benchmarks/results/startup.md``; ``--small`` runs each command once and appends to a file in a
temporary folder (or ``--out``), to check that the script still works.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "startup.md"
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "cnbench --help": [sys.executable, "-m", "cnbench", "--help"],
    "cnbench list": [sys.executable, "-m", "cnbench", "list"],
}


def median_seconds(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, help="runs per command (default 7; --small: 1)")
    add_small_and_out(parser, RESULTS, appends=True, small_help="one run each")
    args = parser.parse_args()
    if args.repeat is None:
        args.repeat = 1 if args.small else 7
    args.out = output_path(args, RESULTS)
    timings = {name: median_seconds(command, args.repeat) for name, command in COMMANDS.items()}
    base = timings["python -c pass"]
    rows = [f"| {name} | {seconds * 1000:.0f} | {seconds / base:.1f}x |" for name, seconds in timings.items()]
    print("\n".join(rows))
    header = "| command | median ms | vs bare python |\n| --- | --- | --- |\n"
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(
            f"\n{args.repeat} runs each, Python {sys.version.split()[0]}:\n\n{header}" + "\n".join(rows) + "\n"
        )
    print(f"appended to {args.out}")


if __name__ == "__main__":
    main()
