"""Published scores (``leaderboard/reported.json``) and which reproduced metric each compares with.

Every entry names the metric the publication used; ``REPORTED_METRICS`` maps that name to the metric
key in result files, so a published number is only ever set beside our score on the same metric
(published Chinese NER F1 comes from conlleval, not from strict IOB2 matching). "EM" and "F1" are the
reading-comprehension metrics of the official CMRC 2018 evaluator (``baseline/cmrc2018_evaluate.py``,
which HFL also applies to DRCD); ``cnbench.mrc_metric`` reimplements it and span tasks store them as
"em" and "f1".
"""

from __future__ import annotations

import json
from pathlib import Path

from cnbench.leaderboard.select import is_finite_number

REPORTED_METRICS = {
    "accuracy": "accuracy",
    "conlleval F1": "f1_lenient",
    "strict F1": "f1",
    # Span tasks (CMRC 2018, DRCD): the official CMRC 2018 evaluator's exact match and F1.
    "EM": "em",
    "F1": "f1",
}


# "hidden_test": a score on a test set whose labels are not public (CLUE's): shown for context, never
# set beside a score of ours, since no cnbench split is that set.
REPORTED_SPLITS = ("dev", "test", "hidden_test")


def _entry_ok(entry, sources: dict) -> bool:
    if not isinstance(entry, dict):
        return False
    values = [entry.get("max"), entry.get("mean")]
    return (
        all(isinstance(entry.get(key), str) for key in ("model", "task", "metric", "source"))
        and entry.get("metric") in REPORTED_METRICS
        and entry.get("split") in REPORTED_SPLITS
        and isinstance(sources.get(entry.get("source")), dict)
        and any(is_finite_number(value) for value in values)
        and all(value is None or is_finite_number(value) for value in values)
    )


def load_reported(path: Path | None) -> tuple[list[dict], dict, list[str]]:
    """Published scores from ``reported.json``: ``(entries, sources, problems)``.

    The file holds ``{"sources": {key: {citation, url}}, "entries": [...]}``; each entry needs
    ``model``, ``task``, ``split`` ("dev", "test" or "hidden_test"), ``metric`` (a key of
    ``REPORTED_METRICS``), ``source`` (a key of ``sources``) and a number in ``max`` and/or ``mean``
    (percent); ``head``
    defaults to "linear". A missing or unreadable file, or a malformed entry, is reported in
    ``problems`` and skipped, never raised. ``path=None`` means no file.
    """
    if path is None:
        return [], {}, []
    name = Path(path).name
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        sources, raw_entries = document["sources"], document["entries"]
        if not isinstance(sources, dict) or not isinstance(raw_entries, list):
            raise TypeError("'sources' must be an object and 'entries' a list")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        return [], {}, [f"{name}: not readable as reported scores ({err})"]

    entries, problems = [], []
    for index, entry in enumerate(raw_entries):
        if _entry_ok(entry, sources):
            entries.append(entry)
        else:
            problems.append(
                f"{name}: entry {index} skipped (needs model, task, split, a metric among "
                f"{', '.join(REPORTED_METRICS)}, a known source and a number in max or mean)"
            )
    return entries, sources, problems
