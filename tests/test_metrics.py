"""Metrics against hand-worked examples."""

from __future__ import annotations

import pytest

from cnbench.kinds.classification import classification_metrics
from cnbench.kinds.tagging import tagging_metrics


def test_accuracy_and_macro_f1_by_hand():
    scores = classification_metrics(["1", "1", "0", "0"], ["1", "0", "0", "0"], ("0", "1"))
    assert scores["accuracy"] == 0.75
    # label 0: tp 2, fp 1, fn 0 -> 0.8; label 1: tp 1, fp 0, fn 1 -> 2/3
    assert scores["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


def test_macro_f1_leaves_out_a_label_absent_from_gold_and_predictions():
    from sklearn.metrics import f1_score

    gold, predicted = ["1", "1", "0"], ["1", "0", "0"]
    scores = classification_metrics(gold, predicted, ("0", "1", "2"))  # "2" occurs nowhere
    assert scores["macro_f1"] == pytest.approx(f1_score(gold, predicted, average="macro"))
    assert classification_metrics(["1", "1"], ["1", "1"], ("0", "1"))["macro_f1"] == 1.0


def test_strict_and_lenient_f1_differ_on_an_ill_formed_prediction():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]]
    predicted = [["I-PER", "I-PER", "O", "B-LOC", "I-LOC"]]  # PER starts with I-: ill-formed
    scores = tagging_metrics(gold, predicted)
    # strict: only LOC counts -> P 1/1, R 1/2, F1 2/3; lenient: both entities match -> 1.0
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["f1_lenient"] == 1.0
    assert scores["per_type"]["PER"]["f1"] == 0.0 and scores["per_type"]["LOC"]["support"] == 1


def test_entity_f1_by_hand_with_boundary_and_type_errors():
    gold = [["B-ORG", "I-ORG", "I-ORG", "O", "B-PER"], ["B-LOC", "O"]]
    predicted = [["B-ORG", "I-ORG", "O", "O", "B-PER"], ["B-ORG", "O"]]
    # gold: ORG(0-2), PER(4), LOC(0); predicted: ORG(0-1) wrong span, PER right, ORG(0) wrong type
    scores = tagging_metrics(gold, predicted)
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["n_chars"] == 7


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError):
        tagging_metrics([["O", "O"]], [["O"]])
    with pytest.raises(ValueError):
        classification_metrics(["1"], [], ("0", "1"))
