"""Statistics for comparing fine-tuning runs: summaries, significance tests, expected maximum.

Nothing here depends on the scale of the scores (result files hold fractions in [0, 1]).

- ``summarize``: mean, sample std, max, min and n of a list of scores.
- ``accuracy`` and ``entity_f1``: metrics written as sums of per-example statistics
  (``SummableMetric``), so a bootstrap only re-sums a matrix. ``entity_f1`` uses strict IOB2 spans
  (``entity_spans``, ``entity_counts``); ``METRICS`` maps a task's main-metric name to its metric.
- ``paired_bootstrap``: paired bootstrap test over test examples that system A beats system B
  (Berg-Kirkpatrick et al., 2012).
- ``seed_level_test``: Welch's t-test over per-seed scores.
- ``expected_max``: expected best score after n runs (Dodge et al., 2019), exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

MIN_SEEDS_FOR_SEED_TEST = 3

# Largest number of (resample, example) index pairs drawn at once: bounds bootstrap memory to a few
# tens of MB whatever the test-set size.
_BOOTSTRAP_CHUNK_ELEMENTS = 1 << 20


def _finite_scores(values, what: str) -> list[float]:
    scores = [float(value) for value in values]
    if not scores:
        raise ValueError(f"{what} needs at least one value")
    if not all(math.isfinite(score) for score in scores):
        raise ValueError(f"{what} needs finite values, got {scores}")
    return scores


def summarize(values) -> dict:
    """``{mean, std, max, min, n}`` of an iterable of finite numbers.

    ``std`` is the sample standard deviation (ddof=1), 0.0 for a single value. Sums are exactly
    rounded (``math.fsum``), so the result does not depend on the order of ``values``: selection
    ties between configurations are then real ties, not rounding noise.
    Raises ``ValueError`` for an empty input or a non-finite value.
    """
    scores = _finite_scores(values, "summarize()")
    n = len(scores)
    mean = math.fsum(scores) / n
    std = math.sqrt(math.fsum((score - mean) ** 2 for score in scores) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "max": max(scores), "min": min(scores), "n": n}


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class SummableMetric:
    """A metric computed from per-example statistics summed over the examples.

    ``statistics(gold, pred)`` returns an ``[n_examples, k]`` array; ``from_totals`` maps totals of
    shape ``[..., k]`` to metric values of shape ``[...]``. Calling the metric on ``(gold, pred)``
    gives the plain score. ``paired_bootstrap`` uses the decomposition to re-sum rows of the matrix
    per resample instead of recomputing the metric from lists.
    """

    name: str
    statistics: Callable[[Sequence, Sequence], np.ndarray]
    from_totals: Callable[[np.ndarray], np.ndarray]

    def __call__(self, gold: Sequence, pred: Sequence) -> float:
        return float(self.from_totals(self.statistics(gold, pred).sum(axis=0)))


def _check_same_length(gold: Sequence, pred: Sequence) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} examples but predictions have {len(pred)}")


def _accuracy_statistics(gold: Sequence, pred: Sequence) -> np.ndarray:
    _check_same_length(gold, pred)
    correct = [gold_label == pred_label for gold_label, pred_label in zip(gold, pred, strict=True)]
    return np.column_stack([np.asarray(correct, dtype=np.int64), np.ones(len(gold), dtype=np.int64)])


def _accuracy_from_totals(totals: np.ndarray) -> np.ndarray:
    correct, count = totals[..., 0], totals[..., 1]
    return np.divide(correct, count, out=np.zeros(correct.shape), where=count > 0)


def entity_spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """Strict IOB2 entities of one sentence, as ``(start, end_exclusive, type)``.

    An entity starts at ``B-T`` and extends over the ``I-T`` tags directly after it. An ``I-`` tag
    that does not continue an open entity of its own type (sentence start, after ``O``, after
    another type) starts nothing and is ignored, as in seqeval's strict IOB2 mode. Any tag that is
    not ``B-x``/``I-x`` (``O``, ``X``, ...) counts as outside.
    """
    spans: set[tuple[int, int, str]] = set()
    entity: tuple[int, str] | None = None  # (start, type) of the entity read so far
    # The trailing "O" closes an entity that runs to the end of the sentence.
    for position, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        if entity is not None and prefix == "I" and label == entity[1]:
            continue
        if entity is not None:
            spans.add((entity[0], position, entity[1]))
            entity = None
        if prefix == "B" and label:
            entity = position, label
    return spans


def entity_counts(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> np.ndarray:
    """Per-sentence ``(tp, fp, fn)`` of strict IOB2 entities: an ``[n_sentences, 3]`` int array.

    An entity is a true positive only when its start, end and type all match. Summing rows and
    applying ``entity_f1.from_totals`` gives micro-averaged entity F1 over the sentences.
    Raises ``ValueError`` when the sentence counts differ or a sentence's tag sequences differ in
    length.
    """
    _check_same_length(gold_tags, pred_tags)
    counts = np.zeros((len(gold_tags), 3), dtype=np.int64)
    for index, (gold, pred) in enumerate(zip(gold_tags, pred_tags, strict=True)):
        if len(gold) != len(pred):
            raise ValueError(f"sentence {index}: {len(gold)} gold tags but {len(pred)} predicted tags")
        gold_spans, pred_spans = entity_spans(gold), entity_spans(pred)
        true_positives = len(gold_spans & pred_spans)
        counts[index] = (true_positives, len(pred_spans) - true_positives, len(gold_spans) - true_positives)
    return counts


def _f1_from_totals(totals: np.ndarray) -> np.ndarray:
    true_positives, false_positives, false_negatives = totals[..., 0], totals[..., 1], totals[..., 2]
    denominator = 2 * true_positives + false_positives + false_negatives
    # No entity in gold nor prediction: F1 is undefined; 0.0 as seqeval reports.
    return np.divide(2 * true_positives, denominator, out=np.zeros(true_positives.shape), where=denominator > 0)


accuracy = SummableMetric("accuracy", _accuracy_statistics, _accuracy_from_totals)
entity_f1 = SummableMetric("f1", entity_counts, _f1_from_totals)

METRICS: dict[str, SummableMetric] = {"accuracy": accuracy, "f1": entity_f1}


# --------------------------------------------------------------------------- significance


def _resample_indices(rng: np.random.Generator, n_examples: int, n_resamples: int) -> Iterator[np.ndarray]:
    rows_per_chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n_examples)
    remaining = n_resamples
    while remaining:
        rows = min(rows_per_chunk, remaining)
        yield rng.integers(0, n_examples, size=(rows, n_examples))
        remaining -= rows


def paired_bootstrap(
    gold: Sequence,
    pred_a: Sequence,
    pred_b: Sequence,
    metric_fn: Callable[[Sequence, Sequence], float],
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Paired bootstrap test that system A beats system B on the same examples.

    Each resample draws ``len(gold)`` example indices with replacement (Berg-Kirkpatrick et al.,
    2012) and computes ``delta* = metric(A) - metric(B)`` on it; both systems see the same draw.

    Returns ``{delta, p_value, ci_low, ci_high}``:

    - ``delta``: ``metric_fn(gold, pred_a) - metric_fn(gold, pred_b)`` on all examples.
    - ``p_value``: one-sided, for the hypothesis that A is better than B: the resamples in which
      A's advantage vanishes or reverses (``delta* <= 0``), as ``(count + 1) / (n_resamples + 1)``
      so a finite sample never claims p = 0. The direction is fixed, not taken from the observed
      difference: when A scores lower (``delta < 0``) p is near 1, so a small p is always evidence
      for A. Identical systems give p = 1. For ``delta > 0`` Berg-Kirkpatrick et al. count
      ``delta* > 2 * delta`` instead; for a bootstrap distribution symmetric around ``delta`` the
      two are equal. Being one-sided, p < 0.05 matches a 90% (not 95%) percentile interval whose
      lower end is above 0.
    - ``ci_low``, ``ci_high``: percentile interval of ``delta*`` at ``confidence``.

    ``metric_fn`` is either a ``SummableMetric`` (``accuracy``, ``entity_f1``: vectorised, fast) or
    any ``metric_fn(gold_list, pred_list) -> float`` that is called once per resample with the
    resampled lists. Both kinds see the same resamples for the same ``seed``.
    Raises ``ValueError`` for empty or mismatched inputs, ``n_resamples < 1`` or a ``confidence``
    outside (0, 1).
    """
    n_examples = len(gold)
    if n_examples == 0:
        raise ValueError("paired_bootstrap() needs at least one example")
    if len(pred_a) != n_examples or len(pred_b) != n_examples:
        raise ValueError(f"gold has {n_examples} examples but predictions have {len(pred_a)} and {len(pred_b)}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")

    rng = np.random.default_rng(seed)
    if isinstance(metric_fn, SummableMetric):
        stats_a, stats_b = metric_fn.statistics(gold, pred_a), metric_fn.statistics(gold, pred_b)
        delta = float(metric_fn.from_totals(stats_a.sum(axis=0)) - metric_fn.from_totals(stats_b.sum(axis=0)))
        resampled = [
            metric_fn.from_totals(stats_a[indices].sum(axis=1)) - metric_fn.from_totals(stats_b[indices].sum(axis=1))
            for indices in _resample_indices(rng, n_examples, n_resamples)
        ]
        deltas = np.concatenate(resampled)
    else:
        delta = float(metric_fn(gold, pred_a) - metric_fn(gold, pred_b))
        deltas = np.array(
            [
                metric_fn([gold[i] for i in row], [pred_a[i] for i in row])
                - metric_fn([gold[i] for i in row], [pred_b[i] for i in row])
                for indices in _resample_indices(rng, n_examples, n_resamples)
                for row in indices.tolist()
            ],
            dtype=float,
        )

    vanished = int(np.count_nonzero(deltas <= 0))
    tail = (1 - confidence) / 2
    ci_low, ci_high = np.quantile(deltas, [tail, 1 - tail])
    return {
        "delta": delta,
        "p_value": (vanished + 1) / (n_resamples + 1),
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
    }


def seed_level_test(scores_a, scores_b) -> dict:
    """Welch's two-sided t-test of per-seed scores of A against B: ``{delta, p_value}``.

    ``delta`` is ``mean(A) - mean(B)``. Unlike the paired bootstrap, which holds one trained model
    per system fixed, this test sees the variance between training seeds. When both sides have zero
    variance (all scores equal) the t statistic is undefined: p is 1.0 for equal means and 0.0
    otherwise.
    Raises ``ValueError`` when either side has fewer than ``MIN_SEEDS_FOR_SEED_TEST`` scores or a
    non-finite score.
    """
    a = _finite_scores(scores_a, "seed_level_test()")
    b = _finite_scores(scores_b, "seed_level_test()")
    if min(len(a), len(b)) < MIN_SEEDS_FOR_SEED_TEST:
        raise ValueError(
            f"seed_level_test() needs >= {MIN_SEEDS_FOR_SEED_TEST} seeds per side, got {len(a)} and {len(b)}"
        )
    delta = summarize(a)["mean"] - summarize(b)["mean"]
    if len(set(a)) == 1 and len(set(b)) == 1:
        return {"delta": delta, "p_value": 1.0 if a[0] == b[0] else 0.0}
    result = scipy_stats.ttest_ind(a, b, equal_var=False)
    return {"delta": delta, "p_value": float(result.pvalue)}


# --------------------------------------------------------------------------- expected maximum


def expected_max(values, n: int) -> float:
    """Expected maximum of ``n`` scores drawn with replacement from ``values`` (Dodge et al., 2019).

    With the N observed scores sorted, ``v(1) <= ... <= v(N)``, and their empirical CDF
    ``F(v(i)) = i / N``, the maximum of n draws is at most ``v(i)`` with probability ``(i / N) ** n``,
    so ``E[max] = sum_i v(i) * ((i / N) ** n - ((i - 1) / N) ** n)``. Exact, no sampling; ``n`` may
    exceed N. ``n = 1`` gives the mean; large ``n`` tends to the maximum.
    Raises ``ValueError`` for empty or non-finite ``values`` or ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    scores = np.sort(np.asarray(_finite_scores(values, "expected_max()")))
    cdf = np.arange(1, scores.size + 1) / scores.size
    previous_cdf = np.concatenate(([0.0], cdf[:-1]))
    return float(np.dot(cdf**n - previous_cdf**n, scores))
