"""What a task is: a declaration, not code.

A task module in ``tasks/`` defines one ``TASK = Task(...)``: its kind, labels, main metric, where
its data lives (the local ``../shared/data`` layout and a Hub dataset with a column mapping), the
checksums of the local files, and default hyper-parameters from the literature. The registry
(``cnbench.registry``) discovers these modules; the harness does the rest.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Callable, Collection

from cnbench.data.readers import check_declaration, check_format
from cnbench.errors import CnbenchError

KINDS = ("single", "pair", "tagging")
SPLITS = ("train", "dev", "test")
# What each head kind is scored by (``cnbench.metrics``: ``classification_metrics`` and
# ``tagging_metrics``), and so what can pick the best epoch on dev.
METRICS = {"classification": ("accuracy", "macro_f1"), "tagging": ("f1", "f1_lenient", "precision", "recall")}
# A tagging label as seqeval's strict IOB2 scores it: outside, or the beginning or inside of an entity type.
_BIO_TAG = re.compile(r"O|[BI]-(.+)")


@dataclass(frozen=True)
class LocalFiles:
    """Files under the data directory: ``<data_dir>/<folder>/<files[split]>`` (plain or ``.gz``).

    ``format`` is how each file is read (``cnbench.data.readers`` documents each):

    - ``"tsv"``: tab-separated with a header equal to ``columns`` (``header=False``: no header
      line, ``columns`` names the columns in order). ``fields`` maps ``text_a``/``text_b``/``label``
      to column names; without it, ``label`` is the label and the other one or two columns the text.
    - ``"conll"``: ``char tag`` lines, blank lines between sentences (tagging tasks).
    - ``"jsonl"``: one JSON object per line; ``fields`` maps ``text_a``/``text_b``/``label`` (or
      ``chars``/``tags`` for tagging) to keys, by default keys of those names.
    - ``"spans"``: CLUENER2020-style JSON lines with inclusive entity spans (tagging tasks);
      ``fields`` maps ``text`` and ``spans`` to keys, by default ``"text"`` and ``"label"``.
    - a function ``reader(path, task)`` returning a list of ``TextExample`` or ``TaggedSentence``.

    ``files`` maps a split (``train``, ``dev``, ``test``; ``train`` is required) to its file name.
    An unknown format or split raises ``CnbenchError`` here; a format that does not suit the task's
    kind, or fields it does not read, raise it when the ``Task`` is built. ``sha256`` maps a file
    name to the published hash of the file as distributed; a mismatch is reported, not fatal.
    """

    folder: str
    format: str | Callable
    files: dict[str, str]
    columns: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)
    header: bool = True
    sha256: dict[str, str] = field(default_factory=dict)
    how_to_get: str = ""
    # Names this copy of the data when another source holds a different cut of the same corpus
    # (MSRA: 100-character chunks here, whole sentences on the Hub); recorded per split in results
    # and shown in the leaderboard's data footnote.
    cut: str = ""

    def __post_init__(self):
        check_format(self)
        where = f"LocalFiles(folder={self.folder!r})"
        unknown = [split for split in self.files if split not in SPLITS]
        if unknown:
            raise CnbenchError(f"{where}: files has splits {unknown}; expected only {', '.join(SPLITS)} "
                               "(a validation split is 'dev')")
        if "train" not in self.files:
            raise CnbenchError(f"{where}: files has no 'train' split; expected the train file's name there")


@dataclass(frozen=True)
class HubDataset:
    """A Hugging Face dataset and how its columns map to cnbench's fields.

    ``columns`` maps cnbench field -> dataset column: ``text_a``/``text_b``/``label`` for sentence
    tasks, ``chars``/``tags`` for tagging. ``splits`` maps cnbench split -> dataset split.

    Labels: ``label_names`` are the dataset's own names by index, as its card declares them; when
    the column is a ``ClassLabel`` its names must equal these (a reordered or renamed Hub dataset
    is an error, not a silent relabelling), and when the column is a plain integer (or an integral
    float) they name its values. ``label_map`` then turns dataset names into the task's labels
    where the two differ. ``revision`` pins a branch, tag or commit (``refs/convert/parquet``
    for the Hub's parquet conversion of a script-only dataset), ``data_dir`` a folder in it.
    """

    path: str
    splits: dict[str, str]
    columns: dict[str, str]
    config: str | None = None
    revision: str | None = None
    data_dir: str | None = None
    # Glob patterns of the files to fetch, for repositories far larger than the task (XNLI holds 15
    # languages); None fetches the whole repository. The card and infos files always come along.
    files: tuple[str, ...] | None = None
    label_names: tuple[str, ...] | None = None
    label_map: dict[str, str] = field(default_factory=dict)
    cut: str = ""


@dataclass(frozen=True)
class SourceFiles:
    """The original files, fetched by URL, for data whose Hub copy cannot be loaded (a dataset
    repository holding only a loading script, which ``datasets`` no longer runs).

    ``urls`` maps split -> URL; ``checksums`` maps split -> ``"sha256:<hex>"`` or
    ``"git-blob:<sha1>"`` (the id ``git hash-object`` prints, for files whose repository is the
    only record). A downloaded file whose checksum differs is rejected. The files are read with
    the task's local ``format``.
    """

    urls: dict[str, str]
    checksums: dict[str, str]
    cut: str = ""


@dataclass(frozen=True)
class Defaults:
    """Fine-tuning hyper-parameters a task starts from (model presets and flags override)."""

    max_len: int
    epochs: int
    lr: float
    batch_size: int = 32
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01


@dataclass(frozen=True)
class Task:
    """A task declaration, checked when it is built: a bad one raises ``CnbenchError`` here, not
    hours into a run. ``main_metric`` must be one of ``METRICS`` for the task's kind; tagging labels
    must be BIO (``O``, ``B-X``, ``I-X``, both prefixes for each type X); ``dev_from_train`` must be
    0 or ``1/k`` for a whole ``k >= 2`` (0.5, 0.1, 0.05, ...), so that the share held out is the
    fraction declared."""

    name: str
    description: str
    kind: str  # "single" | "pair" | "tagging"
    labels: tuple[str, ...]
    main_metric: str  # "accuracy" for sentence tasks, "f1" (strict entity F1) for tagging; see METRICS
    local: LocalFiles
    defaults: Defaults
    hub: HubDataset | None = None
    download: SourceFiles | None = None  # instead of ``hub`` when the Hub copy is script-only
    citation: str = ""
    # Turn an ``I-X`` that starts an entity into ``B-X`` (counted and reported) instead of failing.
    repair_bio: bool = False
    # For data with no dev split: a fraction 1/k, and every k-th train example becomes dev (fixed,
    # not seeded, so every run of the task selects epochs on the same examples).
    dev_from_train: float = 0.0

    def __post_init__(self):
        where = f"task {self.name!r}"
        if self.kind not in KINDS:
            raise CnbenchError(f"{where}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.hub is not None and self.download is not None:
            raise CnbenchError(f"{where}: declare either a Hub dataset or source files to download, not both")
        check_declaration(self.local, self.kind)
        metrics = METRICS[self.head_kind]
        if self.main_metric not in metrics:
            raise CnbenchError(f"{where}: main_metric {self.main_metric!r} is not one of {', '.join(metrics)}, "
                               f"the metrics a {self.kind} task is scored by")
        if self.kind == "tagging":
            _check_bio(where, self.labels)
        if self.dev_from_train != 0:
            _check_holdout(where, self.dev_from_train)

    @property
    def head_kind(self) -> str:
        return "tagging" if self.kind == "tagging" else "classification"

    def declaration_sha256(self, sources: Collection[str]) -> str:
        """sha256 of what in this declaration decides the examples a run reads from ``sources``
        (the ``source`` of each split it read: ``local``, ``download``, ``hub``) and how it scores
        them: kind, labels, main metric, the dev holdout and BIO repair, and for files (local or
        downloaded) how they are parsed (format, columns, fields, header), for a Hub dataset how
        its columns and labels map. What the data identity holds already (file bytes, Hub
        coordinates), text for people (description, citation, how_to_get, cut), checksums and
        default hyper-parameters (recorded with each run) are left out, and so are the sources a
        run did not read. A custom reader counts by its module and name, and a partial's or a
        callable object's settings with it."""
        if isinstance(sources, str):  # "local" would read as the set of its letters
            raise TypeError("sources: expected a collection of source names, got a string")
        facts: dict = {"kind": self.kind, "labels": list(self.labels), "main_metric": self.main_metric,
                       "repair_bio": self.repair_bio, "dev_from_train": self.dev_from_train}
        if {"local", "download"} & set(sources):
            local = self.local
            facts["files"] = {"format": _callable_name(local.format) if callable(local.format) else local.format,
                              "columns": list(local.columns), "fields": local.fields, "header": local.header}
        if "hub" in sources and self.hub is not None:
            facts["hub"] = {"columns": self.hub.columns, "label_names": self.hub.label_names,
                            "label_map": self.hub.label_map}
        canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"), default=list, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.local.files)


def _callable_name(reader) -> str:
    """``module.name`` of a custom reader (a function, a ``functools.partial``, a callable object),
    with what else decides how it parses: a partial's arguments, a callable object's attributes."""
    if isinstance(reader, functools.partial):
        settings = f"({reader.args!r}, {sorted(reader.keywords.items())!r})"
        return _callable_name(reader.func) + settings
    if hasattr(reader, "__qualname__"):
        return f"{getattr(reader, '__module__', '?')}.{reader.__qualname__}"
    settings = sorted(vars(reader).items()) if hasattr(reader, "__dict__") else []
    return f"{type(reader).__module__}.{type(reader).__qualname__}{settings!r}"


def _check_bio(where: str, labels: tuple[str, ...]) -> None:
    """Tagging labels are scored as strict IOB2 (seqeval), so each must be ``O``, ``B-X`` or ``I-X``,
    and a type with one prefix needs the other: ``repair_bio`` turns ``I-X`` into ``B-X``."""
    types: dict[str, set[str]] = {}
    for label in labels:
        match = _BIO_TAG.fullmatch(label)
        if match is None:
            raise CnbenchError(f"{where}: label {label!r} is not BIO; expected 'O', 'B-<type>' or 'I-<type>' "
                               "(strict IOB2: convert BIOES/BMES or IO tags to BIO)")
        if match.group(1) is not None:
            types.setdefault(match.group(1), set()).add(label[0])
    for name, prefixes in sorted(types.items()):
        if prefixes != {"B", "I"}:
            [present] = prefixes
            absent = "I" if present == "B" else "B"
            raise CnbenchError(f"{where}: labels have {present}-{name} but no {absent}-{name}; "
                               "expected both for every entity type")


def _check_holdout(where: str, fraction: float) -> None:
    """The holdout takes every k-th train example (``cnbench.data.load``), so only 1/k holds out
    what it says: 0.3 would hold out a third, and 0.7 or more everything."""
    every = 1 / fraction if fraction > 0 else math.inf
    if not (math.isfinite(every) and every >= 2 and math.isclose(every, round(every), rel_tol=1e-9)):
        raise CnbenchError(f"{where}: dev_from_train {fraction!r}: expected 0 (no holdout) or 1/k for a whole "
                           "k >= 2, every k-th train example becoming dev (e.g. 0.5, 0.2, 0.1, 0.05)")
