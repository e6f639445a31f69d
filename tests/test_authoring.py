"""``cnbench new-task`` (a task file to fill in) and ``cnbench check-task`` (a task's data, read
and summarised without training)."""

from __future__ import annotations

import gzip
import hashlib
import re

import pytest

from cnbench.registry import all_tasks, get_task


@pytest.mark.parametrize(
    "kind, format, reads",
    [
        ("single", None, "tsv"),
        ("pair", None, "tsv"),
        ("tagging", None, "conll"),
        ("pair", "jsonl", "jsonl"),
        ("tagging", "jsonl", "jsonl"),
        ("tagging", "spans", "spans"),
        ("single", "jsonl", "jsonl"),
    ],
)
def test_new_task_writes_a_file_that_loads_as_it_is(cnbench, tasks_path, kind, format, reads):
    result = cnbench("new-task", "my_task", "--kind", kind, *(["--format", format] if format else []))
    assert result.code == 0, result.err
    path = tasks_path / "my_task.py"
    assert str(path) in result.out and "cnbench check-task my_task" in result.out
    task = get_task("my_task")
    assert (task.kind, task.local.format, task.local.folder) == (kind, reads, "my_task")
    assert task.main_metric == ("f1" if kind == "tagging" else "accuracy")
    text = path.read_text(encoding="utf-8")
    # every field the researcher sets is explained by a comment just above it
    for field in (
        "name",
        "description",
        "kind",
        "labels",
        "main_metric",
        "folder",
        "format",
        "files",
        "sha256",
        "how_to_get",
        "defaults",
        "citation",
        "dev_from_train",
    ):
        assert re.search(rf"\n *# .*\n *{field}=", text), field
    assert "TODO" in text


def test_new_task_never_overwrites_and_checks_its_arguments(cnbench, tasks_path):
    assert cnbench("new-task", "mine", "--kind", "single").code == 0
    path = tasks_path / "mine.py"
    path.write_text(path.read_text(encoding="utf-8").replace("TODO (one text", "my edits (one text"), encoding="utf-8")
    before = path.read_bytes()
    again = cnbench("new-task", "mine", "--kind", "pair")
    assert again.code == 2 and again.err == "error: task 'mine' exists already; choose another name\n"
    assert path.read_bytes() == before
    taken = cnbench("new-task", "lcqmc", "--kind", "pair")
    assert taken.code == 2 and "task 'lcqmc' exists already" in taken.err and not (tasks_path / "lcqmc.py").exists()
    bad_name = cnbench("new-task", "My-Task", "--kind", "pair")
    assert bad_name.code == 2 and "expected lower-case letters, digits and _" in bad_name.err
    bad_format = cnbench("new-task", "ner2", "--kind", "single", "--format", "spans")
    assert bad_format.code == 2 and bad_format.err == "error: --format spans reads tagging tasks, not single\n"
    unknown = cnbench("new-task", "x", "--kind", "single", "--format", "csv")
    assert unknown.code == 2 and unknown.err == "error: --format csv: expected one of tsv, jsonl, conll, spans, squad\n"
    no_kind = cnbench("new-task", "x", "--kind", "ner")
    assert no_kind.code == 2 and no_kind.err == "error: --kind ner: expected one of single, pair, tagging, span\n"
    assert not list(tasks_path.glob("x.py"))


def test_new_task_writes_into_tasks_without_tasks_path(monkeypatch):
    from cnbench.paths import REPO_ROOT
    from cnbench.registry import new_task_folder

    monkeypatch.delenv("CNBENCH_TASKS_PATH", raising=False)
    assert new_task_folder() == REPO_ROOT / "tasks"


def fill_in(path, **replacements):
    text = path.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def test_check_task_reports_counts_lengths_labels_and_checksums(cnbench, tasks_path, tmp_path):
    assert cnbench("new-task", "sentiment", "--kind", "single").code == 0
    fill_in(
        tasks_path / "sentiment.py",
        **{
            'labels=("0", "1")': 'labels=("neg", "neu", "pos")',
            '"train.tsv"': '"train.tsv.gz"',
            "max_len=256": "max_len=100",
        },
    )
    all_tasks.cache_clear()
    data = tmp_path / "data" / "sentiment"
    data.mkdir(parents=True)
    train = "label\ttext_a\n" + "".join(f"{'pos' if i % 4 else 'neg'}\t{'好' * (i + 1)}\n" for i in range(100))
    (data / "train.tsv.gz").write_bytes(gzip.compress(train.encode(), mtime=0))
    (data / "dev.tsv").write_text("label\ttext_a\npos\t好\nneg\t坏坏\n", encoding="utf-8")
    (data / "test.tsv").write_text("label\ttext_a\npos\t好\n", encoding="utf-8")

    result = cnbench("check-task", "sentiment", "--data-dir", tmp_path / "data")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "train  train.tsv.gz  100" in result.out and "dev    dev.tsv       2" in result.out
    assert "(not declared)" in result.out
    # lengths 1..100: nearest-rank percentiles; 98 characters fit beside [CLS] and [SEP], so 99 and 100 don't
    assert re.search(r"^split\s+p50\s+p90\s+p95\s+p99\s+max\s+> 98 \(truncated\)$", result.out, re.M), result.out
    assert re.search(r"^train\s+50\s+90\s+95\s+99\s+100\s+2$", result.out, re.M), result.out
    assert re.search(r"^pos\s+75 \(75\.0 %\)\s+1 \(50\.0 %\)\s+1 \(100\.0 %\)$", result.out, re.M), result.out
    assert re.search(r"^neg\s+25 \(25\.0 %\)\s+1 \(50\.0 %\)\s+0 \(0\.0 %\)$", result.out, re.M), result.out
    assert "note: labels never seen in these files: neu" in lines
    digest = hashlib.sha256(gzip.compress(train.encode(), mtime=0)).hexdigest()
    declare = next(line for line in lines if line.strip().startswith("sha256={"))
    assert f'"train.tsv.gz": "{digest}"' in declare

    fill_in(tasks_path / "sentiment.py", **{"sha256={}": declare.strip()[:-1]})
    all_tasks.cache_clear()
    ok = cnbench("check-task", "sentiment", "--data-dir", tmp_path / "data")
    assert ok.code == 0 and f"{digest[:12]}… ok" in ok.out and "sentiment: every split read, no problems" in ok.out
    assert "note: still marked TODO: description, local.how_to_get, citation" in ok.out.splitlines()
    fill_in(
        tasks_path / "sentiment.py",
        **{
            'description="TODO (one text, N classes)"': 'description="toy sentiment"',
            'how_to_get="TODO"': 'how_to_get="make it"',
            'citation="TODO"': 'citation=""',
        },
    )
    all_tasks.cache_clear()
    finished = cnbench("check-task", "sentiment", "--data-dir", tmp_path / "data")
    assert finished.code == 0 and "TODO" not in finished.out

    (data / "dev.tsv").write_text("label\ttext_a\npos\t好\nneg\t坏\n", encoding="utf-8")
    changed = cnbench("check-task", "sentiment", "--data-dir", tmp_path / "data")
    assert changed.code == 1 and f"problem: {data / 'dev.tsv'}: sha256 " in changed.err

    (data / "test.tsv").unlink()
    missing = cnbench("check-task", "sentiment", "--data-dir", tmp_path / "data")
    assert missing.code == 1 and f"problem: {data / 'test.tsv'}: test split not found" in missing.err

    (data / "test.tsv").write_text("label\ttext_a\npos\t好\nbad\t坏\n", encoding="utf-8")
    broken = cnbench("check-task", "sentiment", "--data-dir", tmp_path / "data")
    assert broken.code == 2
    assert broken.err == f"error: {data / 'test.tsv'}:3: label 'bad' is not one of ['neg', 'neu', 'pos']\n"


@pytest.mark.slow
def test_check_task_on_the_bundled_data(cnbench, data_dir):
    result = cnbench("check-task", "msra_ner", "--data-dir", data_dir)
    assert result.code == 0, result.err
    assert re.search(
        r"^train\s+train\.txt\.gz\s+50658\s+617fd70c2bab… ok; 6 I- tags starting an entity read as B-$",
        result.out,
        re.M,
    )
    assert re.search(
        r"^test\s+test\.txt\.gz\s+4631\s+11aa441aa276… ok; 11 I- tags starting an entity read as B-$", result.out, re.M
    )
    assert "note: no dev split; runs hold out every 20th train example as dev" in result.out
    lcqmc = cnbench("check-task", "lcqmc", "--data-dir", data_dir)
    assert lcqmc.code == 1 and "train split not found (obtain it from: LCQMC is distributed" in lcqmc.err
    assert re.search(r"^0\s+4400 \(50\.0 %\)\s+6250 \(50\.0 %\)$", lcqmc.out, re.M)
    nowhere = cnbench("check-task", "lcqmc", "--data-dir", data_dir / "nowhere")
    assert nowhere.code == 2 and f"--data-dir {data_dir / 'nowhere'}: no such directory" in nowhere.err
    empty = cnbench("check-task", "lcqmc", "--data-dir", data_dir / "chnsenticorp")  # a folder without lcqmc/
    assert empty.code == 2 and "runs load the Hub dataset 'C-MTEB/LCQMC' instead" in empty.err


def test_check_task_notes_labels_that_dev_or_test_has_and_train_never_has(cnbench, tasks_path, tmp_path):
    assert cnbench("new-task", "sentiment", "--kind", "single").code == 0
    fill_in(tasks_path / "sentiment.py", **{'labels=("0", "1")': 'labels=("neg", "neu", "pos")'})
    all_tasks.cache_clear()
    data = tmp_path / "data" / "sentiment"
    data.mkdir(parents=True)
    (data / "train.tsv").write_text("label\ttext_a\npos\t好\nneg\t坏\n", encoding="utf-8")
    (data / "dev.tsv").write_text("label\ttext_a\npos\t好\nneg\t坏坏\n", encoding="utf-8")
    (data / "test.tsv").write_text("label\ttext_a\nneu\t还行\npos\t好\n", encoding="utf-8")
    result = cnbench("check-task", "sentiment", "--data-dir", tmp_path / "data")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "note: test has labels that train never has: neu" in lines
    assert not any(line.startswith("note: dev has labels") for line in lines)
