"""The worked example of adding a task in a format of its own: ``tests/example_tasks/cluener_example.py``
declares a CLUENER2020-style span-annotated JSON task, is found through ``$CNBENCH_TASKS_PATH``
(nothing under ``cnbench/`` knows of it), and is checked and run end to end on a tiny data set
written here in CLUENER's layout."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from conftest import only_result

from cnbench.hashing import file_sha256
from cnbench.registry import all_tasks, get_task
from cnbench.results import predicted_labels

EXAMPLES = Path(__file__).parent / "example_tasks"
NAMES = ("叶老桂", "张三", "李明华", "王芳", "陈忠实")
COMPANIES = ("浙商银行", "华为公司", "腾讯", "阿里巴巴集团")
POSITIONS = ("博士", "经理", "董事长")
GAMES = ("CSOL", "魔兽世界", "王者荣耀")


def cluener_lines(count: int, seed: int) -> list[str]:
    """Sentences from a few templates, their entities as CLUENER writes them: type -> mention ->
    inclusive [start, end] spans."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        name, company, position, game = (
            rng.choice(NAMES),
            rng.choice(COMPANIES),
            rng.choice(POSITIONS),
            rng.choice(GAMES),
        )
        parts = rng.choice(
            [
                [(company, "company"), "企业信贷部", (name, "name"), (position, "position"), "认为如此。"],
                ["生生不息", (game, "game"), "让你填弹狂扫"],
                [(name, "name"), "说：没有实体的句子也要标注。"],
            ]
        )
        text, label = "", {}
        for part in parts:
            if isinstance(part, tuple):
                mention, entity_type = part
                label.setdefault(entity_type, {}).setdefault(mention, []).append(
                    [len(text), len(text) + len(mention) - 1]
                )
                part = mention
            text += part
        text += f"（{rng.randrange(10**6)}）"  # a train set holding the evaluation sentences is refused
        lines.append(json.dumps({"text": text, "label": label}, ensure_ascii=False))
    return lines


@pytest.fixture
def example_task(tmp_path, monkeypatch):
    """The example task registered from outside cnbench/, and a data directory in CLUENER's layout."""
    folder = tmp_path / "data" / "cluener"
    folder.mkdir(parents=True)
    (folder / "train.json").write_text("\n".join(cluener_lines(80, seed=1)) + "\n", encoding="utf-8")
    (folder / "dev.json").write_text("\n".join(cluener_lines(30, seed=2)) + "\n", encoding="utf-8")
    monkeypatch.setenv("CNBENCH_TASKS_PATH", str(EXAMPLES))
    all_tasks.cache_clear()
    yield tmp_path / "data"
    all_tasks.cache_clear()


def test_the_example_task_is_checked_and_runs_end_to_end(cnbench, tmp_path, example_task):
    data = example_task
    task = get_task("cluener_example")
    assert task.local.format == "spans" and len(task.labels) == 21

    checked = cnbench("check-task", "cluener_example", "--data-dir", data)
    assert checked.code == 0, checked.err
    assert "train  train.json  80" in checked.out and "test   dev.json    30" in checked.out
    names_in_train = sum(line.count('"name"') for line in cluener_lines(80, seed=1))
    assert f"name          {names_in_train} (" in checked.out
    assert f'"train.json": "{file_sha256(data / "cluener" / "train.json")}"' in checked.out
    assert "held out every 10th" not in checked.out and "every 10th train example as dev" in checked.out

    result = cnbench(
        "run",
        "--model",
        "scratch-tiny",
        "--task",
        "cluener_example",
        "--epochs",
        "1",
        "--data-dir",
        data,
        "--output",
        tmp_path / "results",
        "--max-len",
        "64",
        "--batch-size",
        "16",
    )
    assert result.code == 0, result.err
    assert "cluener_example: f1" in result.out
    doc = only_result(tmp_path / "results")
    assert doc["status"] == "completed" and doc["task"]["name"] == "cluener_example"
    assert doc["data"]["counts"] == {"train": 72, "dev": 8, "test": 30}
    assert doc["data"]["files"]["test"]["sha256"] == file_sha256(data / "cluener" / "dev.json")
    test_tags = predicted_labels(doc, "test")
    dev_lengths = [len(json.loads(line)["text"]) for line in cluener_lines(30, seed=2)]
    assert [len(tags) for tags in test_tags] == dev_lengths  # one predicted tag per character, none cut
    assert 0.0 <= doc["metrics"]["test"]["f1"] <= 1.0
    gold_types = Counter(t for line in cluener_lines(30, seed=2) for t in json.loads(line)["label"])
    assert set(doc["metrics"]["test"]["per_type"]) >= set(gold_types)


def test_a_bad_span_in_the_example_data_is_an_error_with_file_and_line(cnbench, tmp_path, example_task):
    dev = example_task / "cluener" / "dev.json"
    lines = dev.read_text(encoding="utf-8").splitlines()
    lines[2] = json.dumps(
        {"text": "张三在浙商银行", "label": {"name": {"张三": [[0, 1]]}, "company": {"浙商银行": [[3, 7]]}}},
        ensure_ascii=False,
    )
    dev.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cnbench(
        "run",
        "--model",
        "scratch-tiny",
        "--task",
        "cluener_example",
        "--epochs",
        "1",
        "--data-dir",
        example_task,
        "--output",
        tmp_path / "results",
    )
    assert result.code == 2
    assert result.err.strip() == (
        f"error: {dev}:3: company '浙商银行': span [3, 7] is outside the text "
        "(characters 0 to 6) or ends before it starts"
    )
    assert cnbench("check-task", "cluener_example", "--data-dir", example_task).err.startswith(f"error: {dev}:3: ")
