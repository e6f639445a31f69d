"""Every head on every task it supports, end to end through the CLI with scratch-tiny."""

from __future__ import annotations

import pytest
from conftest import only_result

from cnbench import paths
from cnbench.heads import HEADS
from cnbench.registry import all_tasks
from cnbench.results import predicted_labels

NEEDS_TRAIN_ON_DEV = {"lcqmc", "xnli_zh", "peoples_daily_ner", "cmrc2018", "drcd"}
TINY = ("--epochs", "1", "--limit", "32", "--max-len", "48", "--batch-size", "16")
# Tasks whose data the shared bundle holds (the CLUE tasks but OCNLI run from tiny CLUE-format files in
# tests/test_clue_tasks.py and from the replica Hub instead).
_BUNDLE = paths.data_dir()
CASES = [
    (head, task)
    for head in sorted(HEADS)
    for task, spec in all_tasks().items()
    if spec.head_kind in HEADS[head] and _BUNDLE is not None and (_BUNDLE / spec.local.folder).is_dir()
]


def smoke_args(task):
    room = ["--max-len", "96"] if all_tasks()[task].kind == "span" else []  # a window holds a 64-piece question
    return (["--train-on-dev"] if task in NEEDS_TRAIN_ON_DEV else []) + room


@pytest.mark.slow
@pytest.mark.parametrize("head, task", CASES, ids=[f"{h}-{t}" for h, t in CASES])
def test_head_runs_end_to_end(cnbench, tmp_path, head, task):
    result = cnbench(
        "run", "--task", task, "--model", "scratch-tiny", "--head", head, *TINY, *smoke_args(task), "--output", tmp_path
    )
    assert result.code == 0, result.err
    doc = only_result(tmp_path)
    assert doc["head"] == head and doc["status"] == "completed"
    groups = doc["hparams"]["lr_groups"]
    assert groups["encoder"] == 5e-4
    if "crf" in head:
        assert groups["crf"] == 1e-2  # CRF transitions get their own, larger rate
    if "bilstm" in head:
        assert groups["head"] == 1e-3
    if all_tasks()[task].kind == "tagging":
        assert sum(map(len, predicted_labels(doc, "test"))) == doc["metrics"]["test"]["n_chars"]


def test_crf_on_a_classification_task_is_a_clear_error(cnbench, tmp_path):
    result = cnbench("run", "--task", "chnsenticorp", "--head", "crf", *TINY, "--output", tmp_path)
    assert result.code == 2
    assert "head 'crf' does not support classification tasks" in result.err
    assert "tagging (NER)" in result.err


@pytest.mark.slow
def test_char_embed_bilstm_crf_with_jieba_boundaries(cnbench, tmp_path):
    result = cnbench(
        "run",
        "--task",
        "msra_ner",
        "--model",
        "char-embed",
        "--head",
        "bilstm-crf",
        "--word-boundaries",
        *TINY,
        "--output",
        tmp_path,
    )
    assert result.code == 0, result.err
    doc = only_result(tmp_path)
    assert doc["model"]["config"] == {"embedding_dim": 144, "word_boundaries": True}
    assert doc["hparams"]["lr_groups"] == {"crf": 1e-2, "encoder": 1e-3, "head": 1e-3}


@pytest.mark.slow
def test_lr_flags_and_layerwise_decay_are_recorded(cnbench, tmp_path):
    result = cnbench(
        "run",
        "--task",
        "msra_ner",
        "--head",
        "crf",
        *TINY,
        "--lr",
        "1e-4",
        "--crf-lr",
        "5e-3",
        "--head-lr",
        "2e-4",
        "--llrd",
        "0.5",
        "--output",
        tmp_path,
    )
    assert result.code == 0, result.err
    groups = only_result(tmp_path)["hparams"]["lr_groups"]
    # 2 layers: embeddings at depth 0 get lr * 0.5**3, layer 0 lr * 0.5**2, layer 1 lr * 0.5, pooler lr
    assert groups == {
        "crf": 5e-3,
        "encoder.depth0": 1e-4 * 0.125,
        "encoder.depth1": 1e-4 * 0.25,
        "encoder.depth2": 1e-4 * 0.5,
        "encoder.depth3": 1e-4,
        "head": 2e-4,
    }
