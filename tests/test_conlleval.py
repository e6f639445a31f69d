"""The leaderboard labels seqeval's default-mode F1 (``f1_lenient``) "conlleval F1". These tests hold it
to that: an independent counter written from the CoNLL-2000 ``conlleval`` script's chunk rules must
give the same F1, on hand-made ill-formed tag sequences, on random ones, and on the committed MSRA
results' test predictions against the gold read by the task's reader."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cnbench.kinds.tagging import tagging_metrics
from cnbench.leaderboard import gold_test_labels
from cnbench.results import predicted_labels

REPOSITORY = Path(__file__).resolve().parents[1]


def conlleval_chunks(tags: list[str]) -> set[tuple[int, int, str]]:
    """Chunks as conlleval finds them in IOB tags: a chunk ends before a B, an O, or a tag of another
    type; one starts at a B, or at an I that follows an O or a tag of another type. Sentence ends
    close every chunk."""
    chunks, start = set(), None
    previous_prefix, previous_type = "O", ""
    for position, tag in enumerate([*tags, "O"]):
        prefix, _, kind = tag.partition("-") if tag != "O" else ("O", "", "")
        if start is not None and (prefix in ("B", "O") or kind != previous_type):
            chunks.add((start, position, previous_type))
            start = None
        if prefix == "B" or (prefix == "I" and (previous_prefix == "O" or kind != previous_type)):
            start = position
        previous_prefix, previous_type = prefix, kind
    return chunks


def conlleval_f1(gold: list[list[str]], predicted: list[list[str]]) -> float:
    true_positives = found = expected = 0
    for gold_tags, predicted_tags in zip(gold, predicted, strict=True):
        gold_chunks, predicted_chunks = conlleval_chunks(gold_tags), conlleval_chunks(predicted_tags)
        true_positives += len(gold_chunks & predicted_chunks)
        found += len(predicted_chunks)
        expected += len(gold_chunks)
    return 2 * true_positives / (found + expected) if found + expected else 0.0


def test_conlleval_counts_ill_formed_entities_that_strict_matching_drops():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG"]]
    predicted = [["I-PER", "I-PER", "O", "I-LOC"], ["B-ORG", "I-LOC", "I-ORG"]]
    # conlleval: PER(0,2) and LOC(3,4) match; ORG(0,1), LOC(1,2), ORG(2,3) are found, ORG(0,3) missed.
    assert conlleval_f1(gold, predicted) == pytest.approx(2 * 2 / (5 + 3))
    scores = tagging_metrics(gold, predicted)
    assert scores["f1_lenient"] == pytest.approx(conlleval_f1(gold, predicted))
    assert scores["f1"] == pytest.approx(0.0)  # strict IOB2: no prediction is a well-formed match


def test_seqeval_default_mode_equals_conlleval_on_random_tags():
    rng = random.Random(13)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(300)]
    predicted = [[rng.choice(tags) if rng.random() < 0.4 else tag for tag in sentence] for sentence in gold]
    assert tagging_metrics(gold, predicted)["f1_lenient"] == pytest.approx(conlleval_f1(gold, predicted), abs=1e-12)


@pytest.mark.slow
def test_committed_msra_results_report_conlleval_f1(data_dir):
    gold = gold_test_labels(["msra_ner"], data_dir)["msra_ner"][0].labels
    paths = sorted((REPOSITORY / "leaderboard" / "results").glob("msra_ner--*.json"))
    assert paths
    differs_from_strict = 0
    for path in paths:
        result = json.loads(path.read_text(encoding="utf-8"))
        predicted = predicted_labels(result, "test")
        expected = conlleval_f1(gold, predicted)
        assert result["metrics"]["test"]["f1_lenient"] == pytest.approx(expected, abs=1e-12), path.name
        assert tagging_metrics(gold, predicted)["f1_lenient"] == pytest.approx(expected, abs=1e-12), path.name
        differs_from_strict += abs(result["metrics"]["test"]["f1"] - expected) > 1e-3
    assert differs_from_strict  # the linear head's ill-formed tags: the two metrics really differ there
