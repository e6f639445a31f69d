import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnbench.stats import (
    accuracy,
    entity_counts,
    entity_f1,
    entity_spans,
    expected_max,
    paired_bootstrap,
    seed_level_test,
    summarize,
)


def test_summarize_uses_sample_std():
    summary = summarize([0.90, 0.92, 0.94])
    assert summary["mean"] == pytest.approx(0.92)
    assert summary["std"] == pytest.approx(0.02)  # sqrt(((-.02)^2 + 0 + .02^2) / 2)
    assert (summary["max"], summary["min"], summary["n"]) == (0.94, 0.90, 3)


def test_summarize_single_value_has_zero_std():
    assert summarize([0.5]) == {"mean": 0.5, "std": 0.0, "max": 0.5, "min": 0.5, "n": 1}


def test_summarize_does_not_depend_on_order():
    values = [0.1, 0.2, 0.3, 1e-17, 0.7]
    assert summarize(values) == summarize(list(reversed(values)))


@pytest.mark.parametrize("values", [[], [0.5, math.nan]])
def test_summarize_rejects_empty_and_nan(values):
    with pytest.raises(ValueError):
        summarize(values)


def test_expected_max_hand_worked():
    # Sorted [1, 2, 3], CDF 1/3, 2/3, 1; n = 2: weights 1/9, 4/9 - 1/9, 1 - 4/9.
    assert expected_max([3, 1, 2], 2) == pytest.approx(1 * 1 / 9 + 2 * 3 / 9 + 3 * 5 / 9)
    assert expected_max([3, 1, 2], 1) == pytest.approx(2.0)
    assert expected_max([3, 1, 2], 200) == pytest.approx(3.0)
    assert expected_max([0.7], 5) == pytest.approx(0.7)


def test_expected_max_rejects_bad_input():
    with pytest.raises(ValueError):
        expected_max([], 1)
    with pytest.raises(ValueError):
        expected_max([1.0], 0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12), st.integers(1, 30))
def test_expected_max_is_monotone_and_bounded(values, n):
    low, high = expected_max(values, n), expected_max(values, n + 1)
    assert min(values) - 1e-12 <= low <= high + 1e-12
    assert high <= max(values) + 1e-12


def test_entity_spans_strict_iob2():
    assert entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == {(0, 2, "PER"), (3, 4, "LOC")}
    assert entity_spans(["O", "I-PER", "I-PER"]) == set()  # no B-: no entity
    assert entity_spans(["B-PER", "I-LOC", "O"]) == {(0, 1, "PER")}  # type change ends it
    assert entity_spans(["B-PER", "B-PER", "I-PER"]) == {(0, 1, "PER"), (1, 3, "PER")}


def test_entity_spans_agree_with_seqeval_strict_mode():
    scheme = pytest.importorskip("seqeval.scheme")
    sentences = [
        ["B-PER", "I-PER", "O", "I-ORG", "B-LOC", "I-LOC", "I-PER", "B-ORG"],
        ["I-LOC", "B-LOC", "B-LOC", "O", "B-PER", "I-PER", "I-PER"],
    ]
    expected = scheme.Entities(sentences, scheme.IOB2, suffix=False).entities
    for tags, entities in zip(sentences, expected, strict=True):
        assert entity_spans(tags) == {(entity.start, entity.end, entity.tag) for entity in entities}


def test_entity_counts_and_f1():
    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O"], ["B-LOC", "I-LOC", "O"]]
    assert entity_counts(gold, pred).tolist() == [[1, 0, 0], [0, 1, 2]]
    # tp = 1, fp = 1, fn = 2: F1 = 2 / (2 + 1 + 2)
    assert entity_f1(gold, pred) == pytest.approx(0.4)


def test_entity_counts_rejects_length_mismatch():
    with pytest.raises(ValueError, match="sentence 0"):
        entity_counts([["O", "O"]], [["O"]])


def test_bootstrap_identical_systems():
    gold = ["a", "b"] * 50
    pred = ["a"] * 100
    result = paired_bootstrap(gold, pred, pred, accuracy, n_resamples=200)
    assert result == {"delta": 0.0, "p_value": 1.0, "ci_low": 0.0, "ci_high": 0.0}


def test_bootstrap_strictly_better_system():
    gold = ["a", "b"] * 50
    result = paired_bootstrap(gold, gold, ["c"] * 100, accuracy, n_resamples=500)
    assert result["delta"] == 1.0
    assert result["p_value"] == pytest.approx(1 / 501)  # no resample reverses: smallest p possible
    assert result["ci_low"] == result["ci_high"] == 1.0


def test_bootstrap_p_is_for_the_first_system_being_better():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 2, 300).tolist()
    pred_a = [g if rng.random() < 0.8 else 1 - g for g in gold]
    pred_b = [g if rng.random() < 0.75 else 1 - g for g in gold]
    forward = paired_bootstrap(gold, pred_a, pred_b, accuracy, n_resamples=300, seed=3)
    backward = paired_bootstrap(gold, pred_b, pred_a, accuracy, n_resamples=300, seed=3)
    assert backward["delta"] == pytest.approx(-forward["delta"])
    assert (backward["ci_low"], backward["ci_high"]) == pytest.approx((-forward["ci_high"], -forward["ci_low"]))
    assert forward["ci_low"] <= forward["delta"] <= forward["ci_high"]
    # A is better: small p. Swapped, B is not better than A: p near 1, whatever the size of the difference.
    assert forward["p_value"] < 0.05 and backward["p_value"] > 0.95
    # Each resample counts in one direction or the other (ties, delta* == 0, in both).
    assert forward["p_value"] + backward["p_value"] >= 1 + 1 / 301


def test_bootstrap_vectorised_f1_matches_plain_callable():
    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "O"], ["O", "B-ORG", "I-ORG"], ["B-PER", "O", "B-LOC"]] * 5
    pred_a = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "O"], ["O", "B-ORG", "O"], ["B-PER", "O", "O"]] * 5
    pred_b = [["B-PER", "O", "O"], ["O", "O", "O"], ["O", "B-ORG", "I-ORG"], ["B-PER", "O", "B-LOC"]] * 5

    def plain_f1(gold_lists, pred_lists):
        return entity_f1(gold_lists, pred_lists)  # a plain function: no vectorised path

    fast = paired_bootstrap(gold, pred_a, pred_b, entity_f1, n_resamples=100, seed=7)
    slow = paired_bootstrap(gold, pred_a, pred_b, plain_f1, n_resamples=100, seed=7)
    assert fast == pytest.approx(slow)


def test_bootstrap_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        paired_bootstrap(["a", "b"], ["a"], ["a", "b"], accuracy)


def test_seed_level_test():
    separated = seed_level_test([0.90, 0.91, 0.92], [0.80, 0.81, 0.82])
    assert separated["delta"] == pytest.approx(0.10)
    assert separated["p_value"] < 0.001
    assert seed_level_test([0.9, 0.91, 0.92], [0.92, 0.9, 0.91])["p_value"] == pytest.approx(1.0)
    assert seed_level_test([0.9] * 3, [0.9] * 3)["p_value"] == 1.0
    assert seed_level_test([0.9] * 3, [0.8] * 3)["p_value"] == 0.0
    with pytest.raises(ValueError):
        seed_level_test([0.9, 0.8], [0.9, 0.8, 0.7])
