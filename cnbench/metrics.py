"""Scores. Sentence tasks: accuracy (plus macro-F1). Tagging: entity-level F1 by seqeval.

Macro-F1 averages over the labels that occur in the gold or the predictions (scikit-learn's
``f1_score(average="macro")``): a label absent from both, as on a small ``--limit`` subset, has no
F1 to average rather than an F1 of 0.

The main tagging metric ``f1`` is seqeval's *strict* IOB2 micro F1: an entity counts only when it
is well formed (starts with ``B-``) and matches the gold span and type exactly. ``f1_lenient`` is
seqeval's default mode, in which an ``I-X`` after ``O`` still opens an entity: it counts entities
exactly as the CoNLL ``conlleval`` script does (``tests/test_conlleval.py``), so it is the F1 that
published Chinese NER scores use;
the two differ only on ill-formed predictions, and the gap shows how often a model makes them.
"""

from __future__ import annotations


def classification_metrics(gold: list[str], predicted: list[str], labels: tuple[str, ...]) -> dict:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    correct = sum(g == p for g, p in zip(gold, predicted))
    occurring = set(gold) | set(predicted)
    f1s = []
    for label in (label for label in labels if label in occurring):
        tp = sum(g == p == label for g, p in zip(gold, predicted))
        fp = sum(p == label != g for g, p in zip(gold, predicted))
        fn = sum(g == label != p for g, p in zip(gold, predicted))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": correct / len(gold), "macro_f1": sum(f1s) / len(f1s), "n": len(gold)}


def tagging_metrics(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    from seqeval.metrics import classification_report, f1_score
    from seqeval.scheme import IOB2

    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted)):
        raise ValueError("every gold sentence needs a prediction of the same length")
    strict = dict(mode="strict", scheme=IOB2, zero_division=0)
    report = classification_report(gold, predicted, output_dict=True, **strict)
    per_type = {
        name: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for name, row in sorted(report.items())
        if " avg" not in name
    }
    micro = report["micro avg"]  # the strict micro scores over all entity types
    return {
        "f1": float(micro["f1-score"]),
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1_lenient": float(f1_score(gold, predicted, zero_division=0)),
        "per_type": per_type,
        "n": len(gold),
        "n_chars": sum(len(g) for g in gold),
    }
