"""Span tasks through the harness: authoring, check-task on the real files, a run end to end, the
leaderboard's bootstrap statistics, and bad input refused before anything is written."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from cnbench.kinds import KIND_NAMES, kind_of
from cnbench.mrc_metric import cmrc_metrics
from cnbench.registry import get_task


def test_every_kind_resolves_and_every_task_asks_its_kind():
    from cnbench.registry import all_tasks

    assert KIND_NAMES == ("single", "pair", "tagging", "span")
    assert {name: kind_of(name).head_kind for name in KIND_NAMES} == {
        "single": "classification",
        "pair": "classification",
        "tagging": "tagging",
        "span": "span",
    }
    assert {name: task.kind for name, task in all_tasks().items() if task.kind == "span"} == {
        "cmrc2018": "span",
        "drcd": "span",
    }
    assert get_task("cmrc2018").local.files == {
        "train": "train.json.gz",
        "dev": "trial.json.gz",
        "test": "dev.json.gz",
    }  # selection on trial, official dev scored


def test_new_task_writes_a_span_declaration_that_loads(cnbench, tasks_path):
    assert cnbench("new-task", "qa", "--kind", "span").code == 0
    text = (tasks_path / "qa.py").read_text(encoding="utf-8")
    assert 'kind="span"' in text and 'format="squad"' in text and "labels=()" in text
    from cnbench.registry import all_tasks

    all_tasks.cache_clear()
    task = all_tasks()["qa"]
    assert task.kind == "span" and task.main_metric == "f1" and task.local.files["train"] == "train.json"
    refused = cnbench("new-task", "qa2", "--kind", "span", "--format", "conll")
    assert refused.code == 2 and refused.err == "error: --format conll reads tagging tasks, not span\n"


def test_check_task_counts_repairs_free_form_answers_and_windows_on_the_real_files(cnbench, data_dir):
    result = cnbench("check-task", "cmrc2018", "--data-dir", data_dir)
    assert result.code == 1  # the train file is not in the bundle: a problem, named
    assert "train.json.gz: train split not found" in result.err
    assert re.search(r"^dev\s+trial\.json\.gz\s+1002\s+63a15565fb28… ok; 5 answer\(s\) whose", result.out, re.M)
    assert re.search(r"^test\s+dev\.json\.gz\s+3219\s+390b2598c6d4… ok; 7 answer\(s\) whose", result.out, re.M)
    # questions, answers, free-form answers (193 in the official dev), questions without a located answer
    assert re.search(r"^test\s+3219\s+9657\s+193\s+0\s", result.out, re.M)
    assert re.search(r"^dev\s+1002\s+1002\s+0\s+0\s", result.out, re.M)
    drcd = cnbench("check-task", "drcd", "--data-dir", data_dir)
    assert re.search(r"^test\s+3493\s+6986\s+0\s+0\s", drcd.out, re.M)


def test_the_bootstrap_statistics_give_the_official_scores():
    span = kind_of("span")
    gold = [("北京大学",), ("《战国无双3》", "战国无双"), ("五个",)]
    predictions = ["北京的大学", "战国无双3", ""]
    official = cmrc_metrics(gold, predictions)
    assert span.summable("f1")(gold, predictions) == pytest.approx(official["f1"])
    assert span.summable("em")(gold, predictions) == pytest.approx(official["em"])
    assert span.summable("accuracy") is None


def test_a_span_run_scores_every_question_with_answers_sliced_from_the_context(cnbench, data_dir, tmp_path):
    run = cnbench(
        "run",
        "--task",
        "drcd",
        "--model",
        "scratch-tiny",
        "--train-on-dev",
        "--limit",
        "24",
        "--epochs",
        "1",
        "--max-len",
        "128",
        "--batch-size",
        "8",
        "--no-checkpoint",
        "--output",
        tmp_path,
    )
    assert run.code == 0, run.err
    [path] = tmp_path.glob("drcd--*.json")
    result = json.loads(path.read_text(encoding="utf-8"))
    test = get_task("drcd")
    from cnbench.data.load import load_task_data

    questions = load_task_data(test, data_dir, only=("test",), limit=24).splits["test"]
    predicted = result["predictions"]["test"]
    assert len(predicted) == len(questions) == result["data"]["counts"]["test"] == 24
    assert all(answer in question.context for answer, question in zip(predicted, questions, strict=True))
    scores = cmrc_metrics([[answer.text for answer in question.answers] for question in questions], predicted)
    assert result["metrics"]["test"]["f1"] == pytest.approx(scores["f1"])
    assert result["metrics"]["test"]["em"] == pytest.approx(scores["em"])
    assert result["hparams"]["doc_stride"] == 128 and result["hparams"]["max_answer_tokens"] == 64
    assert result["task"]["kind"] == "span"


def test_a_file_that_is_not_squad_shaped_is_one_line_and_nothing_is_written(cnbench, tmp_path):
    folder = tmp_path / "data" / "drcd"
    folder.mkdir(parents=True)
    for name in ("dev.json.gz", "test.json.gz"):
        with gzip.open(folder / name, "wt", encoding="utf-8") as handle:
            json.dump({"version": "1.3", "rows": []}, handle)
    run = cnbench(
        "run",
        "--task",
        "drcd",
        "--model",
        "scratch-tiny",
        "--train-on-dev",
        "--data-dir",
        tmp_path / "data",
        "--output",
        tmp_path / "out",
    )
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1
    assert str(folder / "dev.json.gz") in run.err and "data" in run.err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))


def test_the_leaderboard_shows_f1_with_em_beside_it_and_bootstraps_over_questions(tmp_path):
    from test_leaderboard import make_result, render, section

    from cnbench.leaderboard import Gold, compare_to_best, select_configs
    from cnbench.results import gold_sha256, load_results

    gold = [("北京大学",), ("五个", "5个"), ("《战国无双3》",)] * 10
    gold_lines = [json.dumps(list(answers), ensure_ascii=False) for answers in gold]
    right = [answers[0] for answers in gold]
    wrong = ["上海"] * len(gold)
    results = tmp_path / "leaderboard" / "results"
    for model, predictions in (("bert", right), ("macbert", wrong)):
        for seed in (1, 2, 3):
            scores = cmrc_metrics(gold, predictions)
            path = make_result(results, task="drcd", model=model, seed=seed, test_predictions=predictions)
            document = json.loads(path.read_text(encoding="utf-8"))
            document["task"].update(kind="span", main_metric="f1", labels=[])
            document["metrics"] = {
                "dev": {"f1": scores["f1"], "em": scores["em"]},
                "test": {"f1": scores["f1"], "em": scores["em"]},
            }
            document["data"]["gold_sha256"] = {"test": gold_sha256(gold_lines)}
            document["data"]["counts"] = {"test": len(gold)}
            path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    page = render(tmp_path)
    table = section(page, "Reproduced scores")
    assert "| drcd F1 [D1](#data-1) | drcd EM [D1](#data-1) |" in table
    cells = select_configs(load_results(results)[0])
    significance = compare_to_best(cells, {"drcd": (Gold(gold, sha256=gold_sha256(gold_lines)),)}, n_resamples=200)
    assert significance.problems == ()
    worse = next(significance.comparisons[cell.id] for cell in cells if cell.row.model == "macbert")
    assert worse.bootstrap["delta"] == pytest.approx(1.0) and worse.significantly_worse is True
