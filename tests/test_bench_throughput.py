"""The GPU throughput benchmark's arithmetic, and one quick run of it on the CPU."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_projection_counts_training_every_evaluation_and_startup(bench):
    lcqmc = bench.Measurement(
        architecture="bert",
        task="lcqmc",
        train_split="dev",
        max_len=128,
        train_examples_per_second=1000.0,
        train_tokens_per_second=30000.0,
        eval_examples_per_second=2000.0,
        startup_seconds=10.0,
        peak_memory_mb=1.0,
    )
    hours = bench.projected_hours([lcqmc], {"lcqmc": (8802, 12500)})
    # 238,766 x 3 epochs trained; dev after each of 3 epochs, then dev + test; 10 s start-up
    assert hours["bert", "lcqmc"] == pytest.approx((716.298 + 23.854 + 10.0) / 3600)


def test_leaderboard_total_weights_each_architecture_by_its_models_and_seeds(bench):
    # 4 BERT-architecture models and NEZHA, 5 seeds each
    assert bench.leaderboard_hours({("bert", "lcqmc"): 1.0, ("nezha", "lcqmc"): 2.0}) == pytest.approx(30.0)


@pytest.mark.slow  # a subprocess that trains two tiny encoders
def test_quick_cpu_run_reports_consistent_numbers(bench):
    report = bench.measure("tiny", ["lcqmc"], 32, False, 0.001)  # a tiny peak: MFU gets digits
    params = {name: float(count) * 1e6 for name, count in re.findall(r"(bert|nezha) ([\d.]+) M", report)}
    rows = [
        line.split(" | ")
        for line in report.splitlines()
        if line.startswith("| bert | lcqmc") or line.startswith("| nezha | lcqmc")
    ]
    assert [row[0].strip("| ") for row in rows] == ["bert", "nezha"]
    for row in rows:
        tokens_per_second, mfu = float(row[5]), float(row[6])
        expected = 6 * params[row[0].strip("| ")] * tokens_per_second / 1e9 * 100
        assert mfu == pytest.approx(expected, rel=0.02)  # the report rounds parameters to 0.01 M
    task_row = next(line for line in report.splitlines() if line.startswith("| lcqmc | 238,766 | 3 | 8,802 + 12,500"))
    total = float(re.search(r"\*\*Total: ([\d.]+) h\*\*", report).group(1))
    assert total == pytest.approx(float(task_row.split(" | ")[-1].rstrip(" |")), abs=0.01) and total > 0
