"""Task kinds: one module each, holding everything that differs between kinds.

A task declares its ``kind`` (``Task.kind``); the harness asks that kind's ``Kind`` object and never
tests the kind's name. A kind says:

- what an example is (``cnbench.data.examples``), which local formats it reads and how a custom
  reader's examples and a Hub dataset's rows become examples;
- how examples become encoder inputs (``encode``: windows, labels) and which heads fit (``head_kind``,
  the key heads register under in ``cnbench.heads.HEADS``);
- how model outputs become predictions, the metrics (``score``), the per-example statistics the
  leaderboard's bootstrap resamples (``summable``), and what is hashed as gold (``gold_line``);
- what the leaderboard shows beside the main metric, and what ``check-task`` and ``new-task`` show.

Kinds: ``single`` and ``pair`` (``cnbench.kinds.classification``), ``tagging``
(``cnbench.kinds.tagging``), ``span`` (``cnbench.kinds.span``). A new kind is one module with one
``Kind`` subclass instance, named in ``_KINDS``.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cnbench.errors import CnbenchError

if TYPE_CHECKING:
    from cnbench.features import Features
    from cnbench.stats import SummableMetric

# Task.kind -> "module:attribute" of its Kind, imported on first use (listing tasks stays light).
_KINDS = {
    "single": "cnbench.kinds.classification:SINGLE",
    "pair": "cnbench.kinds.classification:PAIR",
    "tagging": "cnbench.kinds.tagging:TAGGING",
    "span": "cnbench.kinds.span:SPAN",
}
KIND_NAMES = tuple(_KINDS)


def kind_of(name: str) -> Kind:
    """The ``Kind`` a task of kind ``name`` uses; ``CnbenchError`` for an unknown name."""
    if name not in _KINDS:
        raise CnbenchError(f"kind {name!r} is not one of {', '.join(KIND_NAMES)}")
    module, attribute = _KINDS[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def known_formats() -> tuple[str, ...]:
    """Every built-in local format, over all kinds, in the order the kinds list them."""
    return tuple(dict.fromkeys(name for kind in KIND_NAMES for name in kind_of(kind).formats))


class Kind:
    """What a task kind decides. Subclasses fill in the attributes and methods; the defaults here
    are those most kinds share."""

    name: str  # the Task.kind value
    head_kind: str  # the key heads register under (cnbench.heads.HEADS)
    metrics: tuple[str, ...]  # what can be a task's main_metric (the first is the usual one)
    # Metrics the leaderboard shows beside the main one: (key in result files, display name).
    side_metrics: tuple[tuple[str, str], ...] = ()
    metric_names: dict[str, str] = {}  # display names of metrics, where the key is not enough
    # Local formats -> reader(local, path, task) -> (examples, ReadReport); the first is the default.
    formats: dict[str, Callable]
    file_extensions: dict[str, str] = {}  # format -> file extension new-task suggests
    hub_fields: tuple[str, ...]  # cnbench fields a HubDataset's ``columns`` must map
    hparams: dict = {}  # settings of this kind that enter a run's hyper-parameters
    pooled_heads: tuple[str, ...] = ()  # heads that read the pooled sentence vector by default

    # -- declaration and data ---------------------------------------------------------------------
    def check_task(self, task, where: str) -> None:
        """Refuse what this kind cannot run (labels, formats), with a line naming ``where``."""

    def field_defaults(self, format: str) -> dict[str, str]:
        """The fields a format reads for this kind, each mapped to its default key or column."""
        return {}

    def check_hparams(self, hp: dict) -> None:
        """Refuse settings this kind cannot run with, before any data is read."""

    def check_example(self, example, task, where: str, report, path) -> object:
        """A custom reader's example checked (and repaired where the task allows): the example
        to keep, or ``DataError``."""
        raise NotImplementedError

    def from_hub(self, task, dataset, where: str) -> tuple[list, int, list[str]]:
        """A Hub split's rows -> ``(examples, empty rows dropped, repair lines)``."""
        raise NotImplementedError

    def gold_line(self, example) -> str:
        """What ``cnbench.results.gold_sha256`` hashes of an example: one line of text."""
        raise NotImplementedError

    def scoring_gold(self, example):
        """The gold the leaderboard's bootstrap compares predictions with."""
        raise NotImplementedError

    def text_of(self, example):
        """What counts as the same example when dev or test is looked up in train."""
        raise NotImplementedError

    repairs_key = "repairs"  # where a split's provenance records how many repairs reading it made

    def repair_note(self, count: int) -> str:
        """The note recorded for ``count`` repairs made while reading a split."""
        return f"{count} repair(s)"

    # -- features, batches, predictions, metrics ---------------------------------------------------
    def encode(self, task, examples: list, tokenizer, hp: dict, word_boundaries: bool) -> Features:
        raise NotImplementedError

    def feature_notes(self, split: str, examples: list, features: Features, tokenizer, hp: dict) -> list[str]:
        """Notes on what encoding did to a split (truncation); recorded with the data."""
        return []

    def training_examples(self, examples: list) -> list:
        """The train examples a model learns from (a kind may leave out what cannot teach it,
        saying so in ``feature_notes``)."""
        return examples

    def loss_terms(self, features: Features) -> list[int]:
        """How many terms each sequence adds to a head's mean loss (for data-parallel weighting)."""
        return [1] * len(features)

    def batch_labels(self, features: Features, rows, padded: Callable) -> dict:
        """The label part of a batch of ``rows``; ``padded(ragged, value)`` pads a per-token field."""
        raise NotImplementedError

    def outputs(self, predictions, lengths: Sequence[int]) -> list:
        """A batch's head predictions -> one entry per sequence, as ``predict`` reads them."""
        return predictions.cpu().tolist()

    def predict(self, task, examples: list, features: Features, per_sequence: list, hp: dict) -> list:
        """Per-sequence outputs -> one prediction per example, in split order."""
        raise NotImplementedError

    def score(self, task, examples: list, predictions: list) -> dict:
        """The metrics of ``predictions`` against ``examples``' gold (fractions in [0, 1])."""
        raise NotImplementedError

    def stored(self, prediction):
        """A prediction as a result file stores it (JSON)."""
        return prediction

    def read_stored(self, value):
        """A stored prediction read back (the inverse of ``stored``)."""
        return value

    def summable(self, metric: str) -> SummableMetric | None:
        """The main metric as per-example statistics for the bootstrap; None where it has none."""
        return None

    # -- authoring (new-task, check-task) --------------------------------------------------------
    starting_labels: tuple[str, ...] = ()
    starting_defaults: tuple[int, float] = (256, 2e-5)  # max_len, lr
    words: str = ""  # a few words for the description's TODO
    labels_help: str = "TODO: the label names exactly as written in the files"
    metric_help: str = '"accuracy"'
    example_class: str = "TextExample"
    hub_columns_example: dict[str, str] = {}
    template_lines: str = ""  # declaration lines only this kind's tasks have

    def room_explanation(self, max_len: int) -> str:
        return f"max_len {max_len} word pieces less [CLS] and [SEP], one piece per Chinese character"

    def split_table(self, task, splits: dict[str, list], percentiles: Callable, ranks: tuple[int, ...]):
        """check-task's extra table for this kind: ``(title, header, rows)``, or None."""
        return None

    def length(self, example) -> int:
        """An example's length in characters, for check-task's percentiles."""
        raise NotImplementedError

    def length_title(self) -> str:
        return "length in characters"

    def room(self, max_len: int) -> int:
        """Characters that fit in one encoder input of ``max_len`` pieces."""
        return max_len - 2

    def beyond_room(self) -> str:
        """What happens to an example longer than ``room``: truncated, windowed."""
        return "truncated"

    def label_counts(self, task, examples: list) -> Counter:
        """Label (or entity type) counts of a split, for check-task."""
        return Counter()

    def label_title(self) -> tuple[str, str]:
        """(table title, first column) of check-task's label table."""
        return "labels", "label"

    def label_names(self, task) -> list[str]:
        return list(task.labels)

    def labels_used(self, examples: list) -> set[str]:
        """The task labels a split's examples use (check-task notes labels never seen, or never
        trained on)."""
        return set()

    def split_stats(self, task, examples: list, report) -> list[tuple[str, str]]:
        """Extra check-task lines of one split: (what, value)."""
        return []
