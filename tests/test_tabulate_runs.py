"""The schedule-probe table: one row per completed result, failed runs left out."""

import subprocess
import sys
from pathlib import Path

from test_leaderboard import make_result

from cnbench import paths

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "tabulate_runs.py"


def test_each_completed_run_is_one_row_with_its_schedule_and_scores(tmp_path):
    results = tmp_path / "probe"
    make_result(
        results,
        seed=1,
        dev=0.9,
        test=0.88,
        history=(0.8,) * 40,
        best_epoch=39,
        extra_hparams={"epochs": 40, "precision": "fp32"},
    )
    make_result(
        results,
        seed=1,
        dev=0.89,
        test=0.87,
        history=(0.8,) * 6,
        best_epoch=3,
        extra_hparams={"epochs": 20, "patience": 3, "precision": "fp32"},
    )
    make_result(results, seed=2, status="failed")
    out = tmp_path / "table.md"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--results", str(results), "--out", str(out), "--title", "Probe"],
        check=True,
        capture_output=True,
    )
    rows = [line for line in out.read_text().splitlines() if line.startswith("| chnsenticorp")]
    assert rows == [
        "| chnsenticorp | bert | linear | 1 | fp32 | 3 | 6 of 20 (best 3) | 89.00% | 87.00% |",
        "| chnsenticorp | bert | linear | 1 | fp32 | — | 40 of 40 (best 39) | 90.00% | 88.00% |",
    ]
    assert f"`{results}/`" in out.read_text()  # outside the repository: shown as given


def test_paths_inside_the_checkout_are_shown_relative_to_it(tmp_path):
    assert paths.shown(paths.REPO_ROOT / "benchmarks" / "results") == "benchmarks/results"
    assert paths.shown(tmp_path) == str(tmp_path)
