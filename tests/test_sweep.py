"""Sweeps: grid expansion, resumption, and a leaderboard that a resumed sweep leaves unchanged."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
import torch

import cnbench.executors
from cnbench.sweep import expand, run_sweep
from cnbench.train import RunConfig, plan, read_splits


def test_expand_covers_the_grid_in_a_stable_order():
    configs = expand(
        ["m1", "m2"],
        ["t"],
        ["linear"],
        [1, 2],
        {"lr": (1e-5, 2e-5), "epochs": (2,)},
        RunConfig(task="t", model="m1", limit=8),
    )
    assert len(configs) == 2 * 2 * 2
    assert [(c.model, c.lr, c.seed) for c in configs[:4]] == [
        ("m1", 1e-5, 1),
        ("m1", 1e-5, 2),
        ("m1", 2e-5, 1),
        ("m1", 2e-5, 2),
    ]
    assert all(c.limit == 8 and c.epochs == 2 for c in configs)


@pytest.mark.slow
def test_a_resumed_sweep_skips_finished_runs_and_gives_the_same_leaderboard(cnbench, tmp_path, toy_task):
    results = tmp_path / "results"
    sweep = [
        "sweep",
        "--models",
        "scratch-tiny",
        "--tasks",
        "toy",
        "--lr",
        "5e-4,1e-3",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--seeds",
        "2",
        "--data-dir",
        toy_task,
        "--output",
        results,
    ]
    first = cnbench(*sweep)
    assert first.code == 0, first.err
    assert "sweep: 4 ran, 0 already done" in first.out
    assert "[3/4] scratch-tiny toy linear lr=0.001 seed 1" in first.out  # the grid point in each label
    files = sorted(results.glob("*.json"))
    assert len(files) == 4
    stamps = [f.stat().st_mtime_ns for f in files]

    board = tmp_path / "board.md"
    assert cnbench("leaderboard", "--results", results, "--out", board).code == 0
    before = board.read_bytes()

    again = cnbench(*sweep)
    assert "sweep: 0 ran, 4 already done" in again.out
    assert [f.stat().st_mtime_ns for f in sorted(results.glob("*.json"))] == stamps
    assert cnbench("leaderboard", "--results", results, "--out", board).code == 0
    assert board.read_bytes() == before
    assert "scratch-tiny" in before.decode()
    # each leaderboard cell says how to reproduce all its seeds
    assert "Reproduce: `cnbench run --task toy --model scratch-tiny" in before.decode()
    assert "--seeds 1,2`" in before.decode()
    chosen = {json.loads(f.read_text())["hparams"]["lr"] for f in files}
    assert chosen == {5e-4, 1e-3}

    # The same flags on other data are not "done already": run would refuse those files, so the sweep does.
    other = tmp_path / "other"
    shutil.copytree(toy_task, other)
    with gzip.open(other / "toy" / "train.tsv.gz", "rt", encoding="utf-8") as source:
        rows = source.readlines()
    with gzip.open(other / "toy" / "train.tsv.gz", "wt", encoding="utf-8") as target:
        target.writelines(rows[:-1])
    elsewhere = cnbench(*[str(other) if word == toy_task else word for word in sweep])
    assert elsewhere.code == 1 and "sweep: 0 ran, 0 already done, 4 could not start" in elsewhere.out
    assert elsewhere.err.count("holds this run's result on other data") == 4
    assert [f.stat().st_mtime_ns for f in sorted(results.glob("*.json"))] == stamps

    # Nor is a result scored on other gold labels from the same files (an edited task declaration).
    regraded = sorted(results.glob("*.json"))[0]
    document = json.loads(regraded.read_text())
    document["data"]["gold_sha256"]["dev"] = "0" * 64
    regraded.write_text(json.dumps(document))
    relabelled = cnbench(*sweep)
    assert relabelled.code == 1 and "sweep: 0 ran, 3 already done, 1 could not start" in relabelled.out
    assert f"{regraded} holds this run's result scored on other dev gold labels" in relabelled.err

    # Nor one read under another declaration of the task, same files and gold (another text column).
    redeclared = sorted(results.glob("*.json"))[1]
    document = json.loads(redeclared.read_text())
    document["task"]["declaration_sha256"] = "0" * 64
    redeclared.write_text(json.dumps(document))
    again = cnbench(*sweep)
    assert again.code == 1 and "sweep: 0 ran, 2 already done, 2 could not start" in again.out
    assert f"{redeclared} holds this run's result read under another declaration of task 'toy'" in again.err


def test_a_sweep_reports_runs_that_cannot_start_and_goes_on(cnbench, tmp_path, toy_task):
    result = cnbench(
        "sweep",
        "--models",
        "scratch-tiny",
        "--tasks",
        "lcqmc,toy",
        "--lr",
        "5e-4",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--data-dir",
        toy_task,
        "--source",
        "local",
        "--output",
        tmp_path / "r",
    )  # lcqmc has no local files there
    assert result.code == 1
    assert "sweep: 1 ran, 0 already done, 1 could not start" in result.out
    assert "lcqmc" in result.err


@pytest.mark.slow
def test_the_leaderboard_counts_real_abandoned_seeds_and_bootstraps_on_verified_gold(cnbench, tmp_path, toy_task):
    from cnbench.leaderboard import selection_score

    results, board = tmp_path / "results", tmp_path / "board.md"
    common = ("--task", "toy", "--model", "scratch-tiny", "--seed", "1", "--data-dir", toy_task, "--output", results)
    for extra in (("--abandon-below", "0.99"), ("--lr", "1e-3"), ("--head", "bilstm")):
        assert cnbench("run", *common, *extra).code == 0
    failed = [
        doc for doc in map(json.loads, (f.read_text() for f in results.glob("*.json"))) if doc["status"] == "failed"
    ]
    [abandoned] = failed  # judged at the dev score it was abandoned with
    assert selection_score(abandoned) == max(epoch["dev"]["accuracy"] for epoch in abandoned["history"]) > 0

    assert cnbench("leaderboard", "--results", results, "--out", board, "--data-dir", toy_task).code == 0
    text = board.read_text()
    failed_runs = text.split("## Failed runs", 1)[1].split("## Smoke runs", 1)[0]
    assert "| toy | scratch-tiny | linear | `" in failed_runs and "` | 0 | 1 | abandoned: dev accuracy " in failed_runs
    linear = next(line for line in text.splitlines() if line.startswith("| scratch-tiny | linear |"))
    assert "n=1 of 1" in linear or "no completed seed, n=0 of 1, 1 failed" in linear
    # Real results record their test file's sha256, so the gold loaded from --data-dir is verified.
    assert "no bootstrap" not in text
    assert text.split("## Problems", 1)[1].strip() == "None."


def completed() -> dict:
    """What run_sweep reads from a finished run's result."""
    return {
        "task": {"main_metric": "accuracy"},
        "status": "completed",
        "timing": {"total_seconds": 1.0},
        "metrics": {"dev": {"accuracy": 0.5}, "test": {"accuracy": 0.5}},
    }


def test_a_run_that_crashes_is_reported_and_the_local_sweep_goes_on(tmp_path, monkeypatch):
    def crashing_run(config, log, display):
        if config.seed == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\n(details)")
        if config.seed == 2:
            raise RuntimeError("The size of tensor a (696) must match the size of tensor b (512)")
        if config.seed == 4:  # the crash came once training had started: run wrote it as failed
            return {
                **completed(),
                "status": "failed",
                "failure": "crashed in epoch 2 of 3: OutOfMemoryError: x",
                "metrics": {"dev": {}, "test": {}},
            }
        return completed()

    monkeypatch.setattr(cnbench.executors, "run", crashing_run)
    configs = [
        RunConfig(task="chnsenticorp", model="scratch-tiny", seed=seed, output_dir=str(tmp_path))
        for seed in (1, 2, 3, 4)
    ]
    lines = []
    outcome = run_sweep(configs, log=lines.append)
    assert len(outcome.ran) == 2 and outcome.skipped == []
    assert outcome.errors == [
        "[1/4] scratch-tiny chnsenticorp linear seed 1: OutOfMemoryError: CUDA out of memory. "
        "Tried to allocate 2.00 GiB",
        "[2/4] scratch-tiny chnsenticorp linear seed 2: RuntimeError: The size of tensor a (696) must match the size "
        "of tensor b (512)",
    ]
    assert outcome.crashed == [
        "[4/4] scratch-tiny chnsenticorp linear seed 4: crashed in epoch 2 of 3: OutOfMemoryError: x"
    ]
    assert any(line.startswith("[3/4] scratch-tiny chnsenticorp linear seed 3: completed") for line in lines)
    assert any(
        line.startswith("[4/4] scratch-tiny chnsenticorp linear seed 4: failed (crashed in epoch") for line in lines
    )


def test_a_local_sweep_skips_a_result_only_in_the_precision_this_machine_runs(tmp_path, monkeypatch):
    ran = []

    def recording_run(config, log, display):
        ran.append(config.seed)
        return completed()

    monkeypatch.setattr(cnbench.executors, "run", recording_run)
    monkeypatch.setattr(cnbench.executors, "_precision_here", lambda requested: "bf16")  # as on a bf16 machine
    configs = [
        RunConfig(task="chnsenticorp", model="scratch-tiny", seed=seed, output_dir=str(tmp_path))
        for seed in (1, 2, 3, 4)
    ]
    data = read_splits(plan(configs[0]).task, configs[0])  # a result kept must be on this data
    on_this_data = {"data": {"files": data.provenance}, "protocol": {"dev_split": data.dev_split}}
    written = {
        1: {"status": "completed", "hparams": {"precision": "bf16"}, **on_this_data},
        2: {"status": "completed", "hparams": {"precision": "fp32"}},
        3: {"hparams": {"precision": "bf16"}},  # no status: not a result run would keep
        4: {
            "status": "failed",
            "failure": "crashed in epoch 2 of 3: OutOfMemoryError: CUDA out of memory",
            "hparams": {"precision": "bf16"},
            **on_this_data,
        },
    }  # a crash is run again
    for config in configs:
        plan(config).path.write_text(json.dumps(written[config.seed]), encoding="utf-8")

    outcome = run_sweep(configs, log=lambda line: None)
    assert outcome.skipped == [str(plan(configs[0]).path)]
    [error] = outcome.errors  # what `cnbench run` says about the fp32 file, not "done already"
    assert error.startswith("[2/4] ") and "holds this run's fp32 result, and --precision auto means bf16" in error
    assert ran == [3, 4]
