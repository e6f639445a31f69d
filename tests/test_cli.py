"""End to end through the CLI: every task with scratch-tiny on a small slice, and the errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import only_result

from cnbench.paths import REPO_ROOT
from cnbench.registry import get_task
from cnbench.results import predicted_labels

SMOKE = ("--model", "scratch-tiny", "--epochs", "2", "--limit", "48", "--max-len", "64", "--batch-size", "16")


@pytest.mark.slow
@pytest.mark.parametrize("task", ["chnsenticorp", "lcqmc", "xnli_zh", "peoples_daily_ner", "msra_ner"])
def test_every_task_runs_end_to_end(cnbench, tmp_path, task):
    needs_dev = task in ("lcqmc", "xnli_zh", "peoples_daily_ner")
    args = ["run", "--task", task, *SMOKE, "--output", tmp_path]
    result = cnbench(*args, *(["--train-on-dev"] if needs_dev else []))
    assert result.code == 0, result.err
    assert "result:" in result.out

    doc = only_result(tmp_path)
    spec = get_task(task)
    assert doc["schema"] == "cnbench.result/1" and doc["status"] == "completed"
    assert doc["task"]["name"] == task and doc["task"]["main_metric"] == spec.main_metric
    assert doc["model"]["alias"] == "scratch-tiny" and doc["model"]["source"] == "scratch"
    assert doc["model"]["config"]["num_hidden_layers"] == 2
    assert doc["hparams"]["lr"] == 5e-4  # the from-scratch preset overrides the task's 2e-5/3e-5
    assert doc["hparams"]["max_len"] == 64 and doc["hparams"]["epochs"] == 2
    assert doc["protocol"]["train_on_dev"] is needs_dev and doc["protocol"]["limit"] == 48
    assert doc["protocol"]["train_split"] == ("dev" if needs_dev else "train")
    assert len(doc["history"]) == 2 and 1 <= doc["best_epoch"] <= 2
    assert doc["data"]["counts"]["test"] == 48 and len(doc["predictions"]["test"]) == 48
    for split in ("dev", "test"):
        metrics = doc["metrics"][split]
        assert 0.0 <= metrics[spec.main_metric] <= 1.0
    if spec.kind == "tagging":
        assert {"f1_lenient", "precision", "recall", "per_type"} <= set(doc["metrics"]["test"])
        # every gold character is predicted: one tag per character
        assert sum(map(len, predicted_labels(doc, "test"))) == doc["metrics"]["test"]["n_chars"]
    else:
        assert set(doc["predictions"]["test"]) <= set(spec.labels)
    if task == "chnsenticorp":  # reviews run to hundreds of characters: max_len 64 cuts many, and says so
        assert any(
            note.startswith("test: ") and note.endswith(" of 48 examples longer than max_len 64 pieces, truncated")
            for note in doc["data"]["notes"]
        ), doc["data"]["notes"]
    for split, facts in doc["data"]["files"].items():
        assert facts["checksum_ok"] is True, split
    assert doc["environment"]["packages"]["torch"] and doc["environment"]["hardware"]["cpu_count"]
    assert doc["timing"]["train_examples_per_second"] > 0 and doc["timing"]["peak_memory_mb"] > 0
    assert doc["command"].startswith(f"cnbench run --task {task} --model scratch-tiny")


@pytest.mark.slow
def test_msra_holds_out_dev_from_train_and_counts_repairs(cnbench, tmp_path):
    result = cnbench("run", "--task", "msra_ner", *SMOKE, "--output", tmp_path)
    assert result.code == 0, result.err
    doc = only_result(tmp_path)
    assert doc["protocol"]["dev_split"].startswith("every 20th train example")
    assert doc["data"]["files"]["test"]["bio_repairs"] == 11


def test_seeds_write_one_result_each_and_summarise(cnbench, tmp_path):
    result = cnbench("run", "--task", "chnsenticorp", *SMOKE, "--epochs", "1", "--seeds", "1,2", "--output", tmp_path)
    assert result.code == 0, result.err
    docs = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
    assert sorted(d["seed"] for d in docs) == [1, 2]
    assert "over 2 seeds" in result.out


def test_same_seed_same_metrics(cnbench, tmp_path):
    for folder in ("a", "b"):
        assert cnbench("run", "--task", "chnsenticorp", *SMOKE, "--output", tmp_path / folder).code == 0
    a, b = only_result(tmp_path / "a"), only_result(tmp_path / "b")
    assert a["metrics"] == b["metrics"] and a["predictions"] == b["predictions"]
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["run", "--task", "nope"],
            "unknown task 'nope'; choose one of: afqmc, chnsenticorp, cluener, cluewsc2020, cmnli, cmrc2018",
        ),
        (["run", "--task", "lcqmc", "--model", "nope"], "unknown model 'nope'; choose one of: bert,"),
        (["run", "--task", "lcqmc", "--head", "nope"], "unknown head 'nope'; choose one of:"),
        (["run", "--task", "lcqmc", "--source", "local", "--limit", "8"], "lcqmc train: "),  # whatever the cache holds
        (
            ["run", "--task", "chnsenticorp", "--data-dir", "/nonexistent", "--limit", "8"],
            "--data-dir /nonexistent: no such directory",
        ),
        (["run", "--task", "chnsenticorp", "--seeds", "x"], "--seeds 'x': expected a count"),
    ],
)
def test_bad_input_gives_one_clear_line(cnbench, tmp_path, args, message):
    result = cnbench(*args, "--output", tmp_path)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err
    assert not list(tmp_path.glob("*.json"))


def test_missing_train_message_says_how_to_get_it_and_offers_train_on_dev(cnbench, tmp_path):
    result = cnbench("run", "--task", "peoples_daily_ner", "--output", tmp_path)
    assert "peoples_daily_ner/train.txt.gz" in result.err
    assert "zjy-ucas/ChineseNER" in result.err and "--train-on-dev" in result.err


def test_help_and_list_do_not_import_torch():
    code = (
        "import sys; from cnbench.cli import main\n"
        "try: main(['list'])\nexcept SystemExit: pass\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    listing = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    for name in ("chnsenticorp", "msra_ner", "macbert", "scratch-tiny", "linear"):
        assert name in listing.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--limit", "-5"], "--limit -5: expected at least 1"),  # would drop the last 5 of every split
        (["--epochs", "0"], "--epochs 0: expected at least 1"),
        (["--seeds", "1,-2"], "--seed -2: expected in [0, 2**32)"),
        (["--seeds", "0"], "--seeds '0': expected at least one seed"),
        (["--dropout", "nan"], "--dropout nan: expected in [0, 1)"),
        (["--warmup-ratio", "1.5"], "--warmup-ratio 1.5: expected in [0, 1]"),
    ],
)
def test_out_of_range_flags_are_refused_by_run_and_sweep_before_anything_runs(cnbench, tmp_path, args, message):
    for command in (
        ["run", "--task", "chnsenticorp"],
        ["sweep", "--models", "scratch-tiny", "--tasks", "chnsenticorp"],
    ):
        result = cnbench(*command, *args, "--output", tmp_path)
        assert result.code != 0 and message in result.err and "Traceback" not in result.err, (command, result.err)
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "2,0"], "--epochs 0: expected at least 1"),
        (["--batch-size", "16,-1"], "--batch-size -1: expected at least 1"),
        (["--lr", "2e-5,x"], "'--lr': 'x' is not a valid float"),
    ],
)
def test_out_of_range_sweep_grids_are_refused(cnbench, tmp_path, args, message):
    result = cnbench("sweep", "--models", "scratch-tiny", "--tasks", "chnsenticorp", *args, "--output", tmp_path)
    assert result.code != 0 and message in result.err and "Traceback" not in result.err


def test_a_result_whose_task_has_no_name_is_a_leaderboard_problem_not_a_crash(cnbench, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    nameless = {"schema": "cnbench.result/1", "task": {"kind": "single", "main_metric": "accuracy"}, "protocol": {}}
    (results / "nameless.json").write_text(json.dumps(nameless), encoding="utf-8")
    (results / "listed.json").write_text(
        json.dumps({**nameless, "task": {"name": ["not", "a", "string"]}}), encoding="utf-8"
    )
    board = tmp_path / "board.md"
    result = cnbench("leaderboard", "--results", results, "--out", board)
    assert result.code == 0, result.err
    problems = board.read_text(encoding="utf-8").split("## Problems", 1)[1]
    assert "nameless.json: missing or malformed field 'name'" in problems and "listed.json" in problems


def test_a_leaderboard_made_without_the_data_warns_that_its_bootstrap_is_missing(cnbench, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for path in (REPO_ROOT / "leaderboard" / "results").glob("chnsenticorp--*.json"):  # two rows to compare
        shutil.copy(path, results)
    (tmp_path / "no-data").mkdir()
    result = cnbench(
        "leaderboard", "--results", results, "--out", tmp_path / "board.md", "--data-dir", tmp_path / "no-data"
    )
    assert result.code == 0, result.err
    assert (
        "warning: no gold test labels for chnsenticorp here, so its cells scored on them get no bootstrap: "
        in result.err
    )
    assert "no bootstrap: gold test labels not available here" in (tmp_path / "board.md").read_text(encoding="utf-8")
