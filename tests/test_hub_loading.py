"""The Hub loader (``datasets.load_dataset`` + the task's column mapping), run on local files.

``load_dataset`` takes a Hub id or a local folder through the same call, so a folder laid out as
the Hub dataset is (parquet per split, integer ClassLabel columns) tests the real code path.
"""

from __future__ import annotations

import dataclasses

import pytest

from cnbench.data.load import load_task_data
from cnbench.errors import DataError
from cnbench.registry import get_task


def save_splits(folder, rows_by_split, features):
    from datasets import Dataset

    folder.mkdir()
    for split, rows in rows_by_split.items():
        Dataset.from_list(rows, features=features).to_parquet(str(folder / f"{split}.parquet"))
    return folder


def test_sentence_pairs_from_a_hub_layout(tmp_path):
    from datasets import ClassLabel, Features, Value

    features = Features(
        {
            "premise": Value("string"),
            "hypothesis": Value("string"),
            "label": ClassLabel(names=["entailment", "neutral", "contradiction"]),
        }
    )
    rows = [
        {"premise": "他在跑步", "hypothesis": "他在运动", "label": 0},
        {"premise": "他在跑步", "hypothesis": "他在睡觉", "label": 2},
    ]
    train = [{"premise": "她在游泳", "hypothesis": "她在运动", "label": 0}]
    folder = save_splits(tmp_path / "xnli", {"train": train, "validation": rows[:1], "test": rows}, features)
    xnli = get_task("xnli_zh")
    task = dataclasses.replace(xnli, hub=dataclasses.replace(xnli.hub, path=str(folder), config=None))
    data = load_task_data(task, data_dir=None)
    assert data.source == "hub" and data.train_split == "train"
    assert [ex.label for ex in data.splits["test"]] == ["entailment", "contradiction"]
    assert data.splits["dev"][0].text_b == "他在运动"
    assert data.provenance["test"]["split"] == "test"

    # a folder has no commit: its files' bytes are its identity
    from datasets import Dataset

    rows[1]["label"] = 1
    Dataset.from_list(rows, features=features).to_parquet(str(folder / "test.parquet"))
    assert load_task_data(task, data_dir=None).identity() != data.identity()


def test_tagging_from_a_hub_layout_maps_ids_by_the_declared_names(tmp_path):
    from datasets import Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(Value("int64"))})
    # the Hub copy orders its tags O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC
    rows = [{"tokens": ["北", "京", "人"], "ner_tags": [5, 6, 0]}]
    train = [{"tokens": [chr(0x4E00 + i), "京", "人"], "ner_tags": [5, 6, 0]} for i in range(40)]
    folder = save_splits(tmp_path / "msra", {"train": train, "test": rows}, features)
    msra = get_task("msra_ner")
    task = dataclasses.replace(msra, hub=dataclasses.replace(msra.hub, path=str(folder), data_dir=None, revision=None))
    data = load_task_data(task, data_dir=None)
    assert data.splits["test"][0].tags == ("B-LOC", "I-LOC", "O")
    assert len(data.splits["dev"]) == 2 and len(data.splits["train"]) == 38  # every 20th held out


def sentiment_from_hub_rows(folder, second_train_row: dict):
    """ChnSentiCorp pointed at a Hub-layout folder whose train split's second row is ``second_train_row``."""
    from datasets import Features, Value

    features = Features({"text": Value("string"), "label": Value("int64")})
    good = {"text": "好", "label": 1}
    folder = save_splits(folder, {"train": [good, second_train_row], "validation": [good], "test": [good]}, features)
    senti = get_task("chnsenticorp")
    return dataclasses.replace(
        senti, hub=dataclasses.replace(senti.hub, path=str(folder), label_names=None, label_map={})
    )


def test_a_hub_label_outside_the_task_labels_is_reported_with_its_row(tmp_path):
    task = sentiment_from_hub_rows(tmp_path / "senti", {"text": "差", "label": 7})
    with pytest.raises(DataError, match=r"\[train\] row 1"):
        load_task_data(task, data_dir=None)


def test_a_whitespace_only_hub_text_is_refused_like_a_local_one(tmp_path):
    task = sentiment_from_hub_rows(tmp_path / "senti", {"text": " \u3000", "label": 0})
    with pytest.raises(DataError, match=r"\[train\] row 1.*'text' is ' \\u3000'; expected non-empty text"):
        load_task_data(task, data_dir=None)
