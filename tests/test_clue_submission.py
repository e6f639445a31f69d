"""CLUE submission files (``cnbench.submission``): the unlabelled test split read with each task's
reader, one line per test example in CLUE's format and file name, read back to the same
predictions with every id once; bad unlabelled files named by file and line."""

from __future__ import annotations

import gzip
import json

import pytest
from test_clue_tasks import CLUE_TASKS, clue_files

from cnbench.errors import DataError
from cnbench.registry import get_task
from cnbench.submission import (
    SUBMISSION_FILES,
    entities,
    read_submission,
    read_unlabelled,
    read_unlabelled_file,
    write_submission,
)


@pytest.fixture
def clue_dir(tmp_path, data_dir):
    return clue_files(tmp_path / "clue", data_dir.parent)


def _fake_predictions(task, unlabelled) -> list:
    """Predictions as a run stores them (``Kind.stored``), varied across the labels."""
    kind = task.kind_rules
    if hasattr(unlabelled.examples[0], "chars"):
        stored = []
        for example in unlabelled.examples:
            tags = ["O"] * len(example.chars)
            tags[0], tags[1] = "B-name", "I-name"
            stored.append(kind.stored(tags))
        return stored
    return [kind.stored(task.labels[(3 * i) % len(task.labels)]) for i in range(len(unlabelled.examples))]


@pytest.mark.parametrize("name", CLUE_TASKS)
def test_a_written_submission_reads_back_to_the_same_predictions(clue_dir, tmp_path, name):
    task = get_task(name)
    unlabelled = read_unlabelled(task, clue_dir, source="local")
    assert unlabelled.ids == list(range(6))  # CLUE's test ids, every line once
    stored = _fake_predictions(task, unlabelled)
    path = write_submission(tmp_path / "submit", task, unlabelled, stored)
    assert path.name == SUBMISSION_FILES[name]
    lines = read_submission(path)
    assert [line["id"] for line in lines] == unlabelled.ids
    kind = task.kind_rules
    for line, example, value in zip(lines, unlabelled.examples, stored, strict=True):
        prediction = kind.read_stored(value)
        if isinstance(prediction, str):
            assert line["label"] == prediction and isinstance(line["label"], str)
        else:  # CLUENER: the entities as CLUE's JSON, inclusive ends, read back to the same tags
            mention = "".join(example.chars[:2])
            assert line["label"] == {"name": {mention: [[0, 1]]}}


def test_labels_are_written_as_clue_writes_them(clue_dir, tmp_path):
    for name, expected in (("tnews", "100"), ("cmnli", "entailment"), ("cluewsc2020", "true")):
        task = get_task(name)
        unlabelled = read_unlabelled(task, clue_dir, source="local")
        path = write_submission(tmp_path, task, unlabelled, [task.labels[0]] * len(unlabelled.ids))
        assert json.loads(path.read_text(encoding="utf-8").splitlines()[0]) == {"id": 0, "label": expected}


def test_entities_follow_conlleval_reading():
    chars = list("张伟在花呗公司")
    tags = ["B-name", "I-name", "O", "I-company", "I-company", "B-company", "I-company"]
    assert entities(chars, tags) == {"name": {"张伟": [[0, 1]]}, "company": {"花呗": [[3, 4]], "公司": [[5, 6]]}}


def test_a_repeated_id_or_a_bad_line_is_named_by_file_and_line(clue_dir):
    task = get_task("afqmc")
    path = clue_dir / "afqmc" / "test.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    broken = lines[:3] + [lines[1]] + lines[3:]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(broken))
    with pytest.raises(DataError, match=r"test\.json\.gz:4: id 1 repeats line 2"):
        read_unlabelled_file(task, path)
    broken = lines[:2] + [json.dumps({"id": 9, "sentence1": "只有一句"}, ensure_ascii=False)]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(broken))
    with pytest.raises(DataError) as caught:
        read_unlabelled_file(task, path)
    assert str(caught.value).startswith(f"{path}:3: ") and "sentence2" in str(caught.value)


def test_unlabelled_wsc_spans_are_checked(clue_dir):
    task = get_task("cluewsc2020")
    path = clue_dir / "cluewsc2020" / "test.json.gz"
    record = {
        "id": 0,
        "text": "他说张伟来了",
        "target": {"span1_text": "张伟", "span1_index": 0, "span2_text": "他", "span2_index": 0},
    }
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False))
    with pytest.raises(DataError, match=r"test\.json\.gz:1: span1_text '张伟' is not at span1_index 0"):
        read_unlabelled_file(task, path)


def test_a_run_writes_the_submission_from_its_best_dev_weights(cnbench, clue_dir, tmp_path):
    from conftest import only_result

    out, submit = tmp_path / "out", tmp_path / "submit"
    run = cnbench(
        "run",
        "--task",
        "cluewsc2020",
        "--model",
        "scratch-tiny",
        "--data-dir",
        clue_dir,
        "--epochs",
        "2",
        "--output",
        out,
        "--submission",
        submit,
    )
    assert run.code == 0, run.err
    path = submit / "scratch-tiny--linear" / "seed42" / "cluewsc11_predict.json"
    lines = read_submission(path)
    assert [line["id"] for line in lines] == list(range(6)) and {line["label"] for line in lines} <= {"true", "false"}
    assert f"submission: {path}" in run.out
    assert "--submission" not in only_result(out)["command"]  # where files go is not what the run computes


def test_a_submission_that_cannot_be_written_never_loses_the_run(cnbench, clue_dir, tmp_path):
    from conftest import only_result

    blocker = tmp_path / "taken"
    blocker.write_text("a file where the submission folder's parent would go", encoding="utf-8")
    out, submit = tmp_path / "out", blocker / "submit"
    run = cnbench(
        "run",
        "--task",
        "cluewsc2020",
        "--model",
        "scratch-tiny",
        "--data-dir",
        clue_dir,
        "--epochs",
        "1",
        "--output",
        out,
        "--submission",
        submit,
    )
    assert run.code == 0, run.err
    assert "WARNING: no submission written" in run.out
    assert only_result(out)["status"] == "completed"


def test_a_bad_unlabelled_file_stops_the_run_before_training(cnbench, clue_dir, tmp_path):
    path = clue_dir / "tnews" / "test.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"id": 0, "sentence": "标题"}\n{"id": 1}\n')
    out, submit = tmp_path / "out", tmp_path / "submit"
    run = cnbench(
        "run",
        "--task",
        "tnews",
        "--model",
        "scratch-tiny",
        "--data-dir",
        clue_dir,
        "--epochs",
        "1",
        "--output",
        out,
        "--submission",
        submit,
    )
    assert run.code == 2
    error = run.err.strip().splitlines()
    assert len(error) == 1 and f"{path}:2: no 'sentence' key" in error[0], run.err
    assert not submit.exists() and (not out.exists() or not list(out.rglob("*.json")))
