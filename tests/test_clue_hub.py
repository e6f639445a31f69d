"""The CLUE tasks from the replica of clue/clue (``replica_hub.ReplicaHub.clue``): the Hub's traps
read right (TNEWS' index is not its code, the NLI order, WSC's ``target`` struct, CSL's keyword
sequence, ``-1`` test labels never scored) and the unlabelled test split predicted for a submission."""

from __future__ import annotations

import pytest
from replica_hub import CLUE_NLI, TNEWS_CODES

from cnbench.data.load import load_task_data
from cnbench.registry import get_task
from cnbench.submission import read_submission, read_unlabelled, write_submission


def _hub(name: str):
    return load_task_data(get_task(name), None, source="hub")


def test_tnews_class_indices_become_category_codes(replica):
    data = _hub("tnews")
    # train rows 0..23 carry indices i % 15; the holdout takes every 10th (rows 9 and 19)
    kept = [i for i in range(24) if (i + 1) % 10]
    assert [example.label for example in data.splits["train"]] == [TNEWS_CODES[i % 15] for i in kept]
    assert data.splits["train"][5].label == "106"  # index 5: code 106, there is no 105
    assert data.provenance["test"]["split"] == "validation" and len(data.splits["test"]) == 8


def test_nli_labels_follow_the_hubs_order(replica):
    data = _hub("cmnli")
    assert [example.label for example in data.splits["test"]] == [CLUE_NLI[(100 + i) % 3] for i in range(8)]
    assert data.provenance["test"]["no_label_dropped"] == 0


def test_wsc_and_csl_rows_are_read_by_their_tasks_readers(replica):
    wsc = _hub("cluewsc2020").splits["test"][0]
    assert wsc.text_a.startswith("_") and "[他]" in wsc.text_a and wsc.label == "true"  # row 100: index 0
    csl = _hub("csl").splits["test"][1]
    assert csl.text_a == "还款 模型101" and csl.text_b.startswith("本文研究")


@pytest.mark.parametrize("name", ["tnews", "cluewsc2020", "csl", "ocnli"])
def test_the_hidden_test_split_is_predicted_never_scored(replica, tmp_path, name):
    task = get_task(name)
    unlabelled = read_unlabelled(task, None, source="hub")
    assert unlabelled.ids == list(range(6)) and len(unlabelled.examples) == 6
    path = write_submission(tmp_path, task, unlabelled, [task.labels[-1]] * 6)
    assert [line["label"] for line in read_submission(path)] == [task.labels[-1]] * 6
