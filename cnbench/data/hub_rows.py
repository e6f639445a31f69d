"""Reading a Hub split's rows, for every kind: the rows that hold something, and label names.

Whatever the source, one gold standard: rows that are entirely empty (the trailing row of the NER
loading scripts) are dropped and counted, and integer labels are mapped through names checked
against the dataset's ``ClassLabel``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from cnbench.errors import DataError


class ContentRows:
    """Iterate ``(row number, row)`` over the rows with any non-empty mapped column; ``dropped``
    counts the others once iterated."""

    def __init__(self, dataset, columns: dict[str, str]):
        self.dataset = dataset
        self.columns = list(columns.values())
        self.dropped = 0

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        for number, row in enumerate(self.dataset):
            if all(row[column] in (None, "", [], {}) for column in self.columns):
                self.dropped += 1
                continue
            yield number, row


def label_namer(task, dataset, column: str, where: str) -> Callable:
    """A function ``(value, here) -> task label`` for ``column``, after checking the dataset's
    own ClassLabel names against the task's declaration."""
    spec = task.hub
    feature = dataset.features[column]
    feature = getattr(feature, "feature", feature)  # a Sequence (or List) of ClassLabel
    names = tuple(feature.names) if hasattr(feature, "names") else None
    if names is not None and spec.label_names is not None and names != tuple(spec.label_names):
        raise DataError(
            where,
            None,
            f"column {column!r} has ClassLabel names {list(names)}; the task declares "
            f"{list(spec.label_names)} (the dataset changed: check the mapping)",
        )
    names = names or spec.label_names

    def name_of(value, here: str) -> str:
        if isinstance(value, float) and value.is_integer():  # a score column stored as float: 1.0 is label 1
            value = int(value)
        if names is not None and isinstance(value, int):
            name = names[value] if 0 <= value < len(names) else None
        else:
            name = None if value is None else str(value)
        label = spec.label_map.get(name, name)
        if label not in task.labels:
            raise DataError(here, None, f"label {value!r} maps to {label!r}, not one of {list(task.labels)}")
        return label

    return name_of
