"""The CLUE tasks read from CLUE's own files: tiny files in CLUE's format for each task (OCNLI's from
the real files), ``check-task`` on every task, what each reader makes of its lines, the traps (TNEWS
codes, ``-`` labels dropped and counted, WSC's marked spans, CSL's keyword list, hidden test
labels) and bad input reported as one line naming the file and line, exit status 2.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import only_result

CLUE_TASKS = ("afqmc", "tnews", "iflytek", "cmnli", "ocnli", "cluewsc2020", "csl", "cluener")
TNEWS_CODES = ("100", "101", "102", "103", "104", "106", "107", "108", "109", "110", "112", "113", "114", "115", "116")

_PEOPLE = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏")
_THINGS = ("花呗", "借呗", "余额宝", "信用卡", "银行卡", "红包", "账单", "积分")
_ACTIONS = ("怎么还款", "为什么不能用", "如何开通", "可以提前还吗", "额度是多少", "怎么关闭")


def _question(i: int) -> str:
    return f"{_PEOPLE[i % 8]}的{_THINGS[(i // 8) % 8]}{_ACTIONS[i % 6]}第{i}次"


def _write(folder: Path, name: str, records: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(record, ensure_ascii=False) for record in records))
    return path


def _splits(make, train: int = 20, dev: int = 8, test: int = 6) -> dict[str, list[dict]]:
    """Rows ``make(i, split)`` for train, dev and test, each split from its own range of numbers."""
    return {
        "train.json.gz": [make(i, "train") for i in range(train)],
        "dev.json.gz": [make(100 + i, "dev") for i in range(dev)],
        "test.json.gz": [{"id": i, **make(200 + i, "test")} for i in range(test)],
    }


def _labelled(record: dict, split: str, label) -> dict:
    return record if split == "test" else {**record, "label": label}


def _wsc(i: int, split: str) -> dict:
    person, other = _PEOPLE[i % 8], _PEOPLE[(i + 3) % 8]
    text = f"{person}把书借给了{other}，因为他第{i}次需要它。"
    pronoun = text.index("他")
    record = {
        "target": {"span2_index": pronoun, "span1_index": 0, "span1_text": person, "span2_text": "他"},
        "idx": i,
        "text": text,
    }
    return _labelled(record, split, "true" if i % 2 else "false")


def _cluener(i: int, split: str) -> dict:
    person, company = _PEOPLE[i % 8], f"{_THINGS[i % 8]}公司"
    text = f"{person}在{company}工作了{i}年"
    record = {"text": text}
    if split != "test":
        record["label"] = {
            "name": {person: [[0, len(person) - 1]]},
            "company": {company: [[len(person) + 1, len(person) + len(company)]]},
        }
    return record


def _ocnli(data_dir: Path) -> dict[str, list[dict]]:
    """Real OCNLI lines: train from train.10k, dev's first lines with its first ``-`` line, test's first."""

    def lines(name: str) -> list[dict]:
        with gzip.open(data_dir / "ocnli" / name, "rt", encoding="utf-8") as handle:
            return [json.loads(line) for line in handle.read().split("\n") if line]

    dev = lines("dev.json.gz")
    unlabelled = next(record for record in dev if record["label"] == "-")
    return {
        "train.10k.json.gz": lines("train.10k.json.gz")[:30],
        "dev.json.gz": [record for record in dev[:8] if record["label"] != "-"] + [unlabelled],
        "test.json.gz": lines("test.json.gz")[:6],
    }


def clue_files(root: Path, shared: Path) -> Path:
    """A data directory with tiny files in CLUE's format for every CLUE task; returns it."""
    files = {
        "afqmc": _splits(
            lambda i, s: _labelled({"sentence1": _question(i), "sentence2": _question(i + 1)}, s, str(i % 2))
        ),
        "tnews": _splits(
            lambda i, s: _labelled(
                {"sentence": f"新闻标题第{i}条：{_question(i)}", "keywords": ""}, s, TNEWS_CODES[i % 15]
            )
        ),
        "iflytek": _splits(
            lambda i, s: _labelled({"sentence": f"这款应用第{i}版可以{_ACTIONS[i % 6]}"}, s, str(i % 119))
        ),
        "cmnli": _splits(
            lambda i, s: _labelled(
                {"sentence1": _question(i), "sentence2": f"{_PEOPLE[i % 8]}问了第{i}次"},
                s,
                "-" if i == 103 else ("entailment", "neutral", "contradiction")[i % 3],
            ),
            train=60,
        ),  # the task holds out every 50th train pair
        "ocnli": _ocnli(shared / "data"),
        "cluewsc2020": _splits(_wsc),
        "csl": _splits(
            lambda i, s: _labelled(
                {
                    "abst": f"本文研究第{i}种{_THINGS[i % 8]}模型的{_ACTIONS[i % 6]}问题。",
                    "keyword": [_THINGS[i % 8], f"模型{i}"],
                },
                s,
                str(i % 2),
            )
        ),
        "cluener": _splits(_cluener),
    }
    for task, splits in files.items():
        for name, records in splits.items():
            _write(root / task, name, records)
    return root


@pytest.fixture
def clue_dir(tmp_path, data_dir) -> Path:
    return clue_files(tmp_path / "clue", data_dir.parent)


@pytest.mark.parametrize("task", CLUE_TASKS)
def test_check_task_reads_every_clue_task(cnbench, clue_dir, task):
    check = cnbench("check-task", task, "--data-dir", clue_dir)
    problems = [line for line in check.err.splitlines() if line.startswith("problem:")]
    # The tiny files are not the published ones: only OCNLI's declared checksums can differ.
    assert check.code in (0, 1), check.err
    assert all("sha256" in line for line in problems), problems
    assert task in check.out


def _read(task_name: str, folder: Path, split: str = "test"):
    from cnbench.data.load import load_task_data
    from cnbench.registry import get_task

    return load_task_data(get_task(task_name), folder, source="local")


def test_tnews_labels_are_the_category_codes(clue_dir):
    data = _read("tnews", clue_dir)
    assert {example.label for example in data.splits["test"]} <= set(TNEWS_CODES)
    assert [example.label for example in data.splits["test"]] == [TNEWS_CODES[(100 + i) % 15] for i in range(8)]
    assert [example.label for example in data.splits["train"]][:6] == ["100", "101", "102", "103", "104", "106"]


def test_dash_labels_are_dropped_and_counted(clue_dir):
    data = _read("cmnli", clue_dir)
    assert len(data.splits["test"]) == 7  # 8 dev lines, one labelled "-"
    assert data.provenance["test"]["no_label_dropped"] == 1
    assert any("1 example(s) labelled - (no gold label) dropped" in note for note in data.notes)
    ocnli = _read("ocnli", clue_dir)
    assert ocnli.provenance["test"]["no_label_dropped"] == 1
    assert "-" not in {example.label for split in ocnli.splits.values() for example in split}


def test_the_epoch_is_chosen_on_train_and_the_official_dev_is_scored(clue_dir):
    data = _read("afqmc", clue_dir)
    assert len(data.splits["dev"]) == 2 and len(data.splits["train"]) == 18  # every 10th of 20 held out
    assert len(data.splits["test"]) == 8 and data.dev_split.startswith("every 10th")


def test_wsc_spans_are_marked_in_the_text(clue_dir):
    example = _read("cluewsc2020", clue_dir).splits["test"][0]
    assert example.text_a == "_陈静_把书借给了黄敏，因为[他]第100次需要它。"
    assert example.text_b is None and example.label == "false"


def test_csl_pairs_keywords_with_the_abstract(clue_dir):
    example = _read("csl", clue_dir).splits["test"][1]
    assert example.text_a == "红包 模型101" and example.text_b.startswith("本文研究第101种")


def test_cluener_spans_become_bio(clue_dir):
    sentence = _read("cluener", clue_dir).splits["test"][0]
    assert sentence.tags[:4] == ("B-name", "I-name", "O", "B-company")


@pytest.mark.parametrize(
    "task,line,message",
    [
        (
            "cluewsc2020",
            {
                "target": {"span1_index": 1, "span1_text": "张伟", "span2_index": 5, "span2_text": "他"},
                "text": "张伟说他来了",
                "label": "true",
            },
            "span1_text '张伟' is not at span1_index 1",
        ),
        ("csl", {"abst": "摘要", "keyword": "不是列表", "label": "1"}, "'keyword' is '不是列表'"),
        ("tnews", {"sentence": "标题", "label": "105"}, "label '105' is not one of"),
        ("afqmc", {"sentence1": "问题", "label": "1"}, "no 'sentence2' key"),
    ],
)
def test_a_line_not_in_clues_format_is_one_line_exit_2_nothing_written(
    cnbench, clue_dir, tmp_path, task, line, message
):
    path = clue_dir / task / "dev.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    lines[2] = json.dumps(line, ensure_ascii=False)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    out = tmp_path / "out"
    run = cnbench(
        "run",
        "--task",
        task,
        "--model",
        "scratch-tiny",
        "--data-dir",
        clue_dir,
        "--source",
        "local",
        "--limit",
        "8",
        "--epochs",
        "1",
        "--output",
        out,
    )
    assert run.code == 2
    error = run.err.strip().splitlines()
    assert len(error) == 1 and f"{path}:3:" in error[0] and message in error[0], run.err
    assert not out.exists() or not list(out.rglob("*.json"))


def test_ocnli_runs_from_the_real_files(cnbench, data_dir, tmp_path):
    """The command of the issue's proof of life, from ../shared/data/ocnli, limited."""
    run = cnbench(
        "run",
        "--task",
        "ocnli",
        "--model",
        "scratch-tiny",
        "--limit",
        "64",
        "--epochs",
        "1",
        "--data-dir",
        data_dir,
        "--output",
        tmp_path,
    )
    assert run.code == 0, run.err
    result = only_result(tmp_path)
    files = result["data"]["files"]
    assert files["test"]["no_label_dropped"] == 50 and files["test"]["checksum_ok"] is True
    assert files["train"]["cut"].startswith("train.10k")
    assert any("50 example(s) labelled -" in note for note in result["data"]["notes"])


def test_new_task_then_check_task_on_clues_own_files(cnbench, tasks_path, clue_dir, tmp_path):
    """A researcher's path: ``new-task``, the template filled in with CLUE's key names and file
    names, then ``check-task`` on CLUE's files and a run."""
    import shutil

    from test_authoring import fill_in

    assert cnbench("new-task", "my_afqmc", "--kind", "pair", "--format", "jsonl").code == 0
    fill_in(
        tasks_path / "my_afqmc.py",
        **{
            'description="TODO (sentence pair, N classes)"': 'description="AFQMC again"',
            '"text_a": "text_a", "text_b": "text_b"': '"text_a": "sentence1", "text_b": "sentence2"',
            'files={"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"}': (
                'files={"train": "train.json.gz", "test": "dev.json.gz"}, unlabelled="test.json.gz"'
            ),
            'how_to_get="TODO"': 'how_to_get="CLUE"',
            'citation="TODO"': 'citation="CLUE"',
            "dev_from_train=0.0": "dev_from_train=0.1",
        },
    )
    shutil.copytree(clue_dir / "afqmc", clue_dir / "my_afqmc")
    check = cnbench("check-task", "my_afqmc", "--data-dir", clue_dir)
    assert check.code == 0 and "every split read, no problems" in check.out, check.err
    run = cnbench(
        "run",
        "--task",
        "my_afqmc",
        "--model",
        "scratch-tiny",
        "--data-dir",
        clue_dir,
        "--epochs",
        "1",
        "--output",
        tmp_path / "out",
    )
    assert run.code == 0, run.err


def test_no_label_is_general_for_hub_rows_and_custom_readers(tmp_path):
    """``Task.no_label`` drops and counts such examples whatever the source: a Hub dataset with a
    string label column (a folder laid out as on the Hub) and a task's own reader."""
    from datasets import Dataset

    from cnbench.data.examples import TextExample
    from cnbench.data.load import load_task_data
    from cnbench.task import Defaults, HubDataset, LocalFiles, Task

    hub = tmp_path / "hub"
    hub.mkdir()
    for split, offset in (("train", 0), ("validation", 100)):
        rows = [
            {
                "premise": f"前提{offset + i}",
                "hypothesis": f"假设{offset + i}",
                "label": "-" if i == 3 else ("entailment", "neutral")[i % 2],
            }
            for i in range(12)
        ]
        Dataset.from_list(rows).to_parquet(str(hub / f"{split}.parquet"))

    def reader(path, task):
        return [TextExample(f"句子{i}", f"另一句{i}", "-" if i < 2 else "neutral") for i in range(6)]

    local = tmp_path / "local" / "nli"
    local.mkdir(parents=True)
    for name in ("train.txt", "test.txt"):
        (local / name).write_text("x\n")
    task = Task(
        name="nli",
        description="toy",
        kind="pair",
        labels=("entailment", "neutral"),
        main_metric="accuracy",
        no_label=("-",),
        dev_from_train=0.5,
        defaults=Defaults(max_len=32, epochs=1, lr=1e-4),
        local=LocalFiles(folder="nli", format=reader, files={"train": "train.txt", "test": "test.txt"}),
        hub=HubDataset(
            path=str(hub),
            splits={"train": "train", "test": "validation"},
            columns={"text_a": "premise", "text_b": "hypothesis", "label": "label"},
        ),
    )
    from_hub = load_task_data(task, None, source="hub")
    assert len(from_hub.splits["test"]) == 11 and from_hub.provenance["test"]["no_label_dropped"] == 1
    assert from_hub.provenance["test"]["rows"] == 12
    from_files = load_task_data(task, tmp_path / "local", source="local")
    assert len(from_files.splits["test"]) == 4 and from_files.provenance["test"]["no_label_dropped"] == 2
    with pytest.raises(Exception, match="no_label"):
        Task(
            name="bad",
            description="",
            kind="pair",
            labels=("-", "a"),
            main_metric="accuracy",
            no_label=("-",),
            defaults=task.defaults,
            local=task.local,
        )


def test_check_task_passes_on_the_real_ocnli_files(cnbench, data_dir):
    check = cnbench("check-task", "ocnli", "--data-dir", data_dir)
    assert check.code == 0, check.err
    assert "9985" in check.out and "2950" in check.out  # train.10k less 15 "-", dev less 50 "-"
    assert "ok; 15 labelled - (no gold label), dropped" in check.out
    assert "ok; 50 labelled - (no gold label), dropped" in check.out
    assert "1103 (37.4 %)" in check.out  # neutral: dev's majority class
