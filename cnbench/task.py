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
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from cnbench.data.readers import tsv_default_fields
from cnbench.errors import CnbenchError
from cnbench.kinds import KIND_NAMES, Kind, kind_of, known_formats

SPLITS = ("train", "dev", "test")


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
    - ``"squad"``: SQuAD-v1 JSON as CMRC 2018 and DRCD publish it (span tasks); ``"jsonl"`` for
      span tasks: one question per line (``id``, ``context``, ``question``, ``answers``).
    - a function ``reader(path, task)`` returning a list of the kind's examples
      (``cnbench.data.examples``).

    ``files`` maps a split (``train``, ``dev``, ``test``; ``train`` is required) to its file name.
    ``unlabelled`` names a file of the same format whose labels are hidden (CLUE's ``test.json``):
    never read for training or scoring, only predicted for a submission (``cnbench.submission``).
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
    unlabelled: str = ""

    def __post_init__(self):
        where = f"LocalFiles(folder={self.folder!r})"
        if not callable(self.format) and self.format not in known_formats():
            raise CnbenchError(
                f"{where}: format {self.format!r} is not one of {', '.join(known_formats())} (or a reader function)"
            )
        unknown = [split for split in self.files if split not in SPLITS]
        if unknown:
            raise CnbenchError(
                f"{where}: files has splits {unknown}; expected only {', '.join(SPLITS)} (a validation split is 'dev')"
            )
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

    ``row_reader``, for rows whose fields are not plain columns (CLUEWSC2020's spans in a ``target``
    struct, CSL's keyword list): a function ``(row) -> dict`` whose keys are added to every row
    before ``columns`` are looked up, so ``columns`` may name them. ``unlabelled`` names the split
    whose labels are hidden (``-1``), predicted only for a submission, never scored.
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
    row_reader: Callable | None = None
    unlabelled: str = ""


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
    hours into a run. ``main_metric`` must be one of the kind's ``metrics``; tagging labels
    must be BIO (``O``, ``B-X``, ``I-X``, both prefixes for each type X); ``dev_from_train`` must be
    0 or ``1/k`` for a whole ``k >= 2`` (0.5, 0.1, 0.05, ...), so that the share held out is the
    fraction declared."""

    name: str
    description: str
    kind: str  # "single" | "pair" | "tagging" | "span": a module of cnbench.kinds
    labels: tuple[str, ...]
    main_metric: str  # "accuracy" for sentence tasks, "f1" (strict entity F1) for tagging, "f1" for span
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
    # Label values that mean "no gold label" (CLUE's NLI files write ``-`` where the annotators did
    # not agree): such examples are dropped and counted in the notes, from files and Hub rows alike.
    no_label: tuple[str, ...] = ()

    def __post_init__(self):
        where = f"task {self.name!r}"
        if self.kind not in KIND_NAMES:
            raise CnbenchError(f"{where}: kind {self.kind!r} is not one of {', '.join(KIND_NAMES)}")
        if set(self.no_label) & set(self.labels):
            raise CnbenchError(
                f"{where}: no_label {sorted(set(self.no_label) & set(self.labels))} are also "
                "labels; a value cannot both be a label and mean 'no label'"
            )
        if self.hub is not None and self.download is not None:
            raise CnbenchError(f"{where}: declare either a Hub dataset or source files to download, not both")
        kind = self.kind_rules
        _check_files(self.local, kind)
        if self.main_metric not in kind.metrics:
            raise CnbenchError(
                f"{where}: main_metric {self.main_metric!r} is not one of {', '.join(kind.metrics)}, "
                f"the metrics a {self.kind} task is scored by"
            )
        kind.check_task(self, where)
        if self.dev_from_train != 0:
            _check_holdout(where, self.dev_from_train)

    @property
    def kind_rules(self) -> Kind:
        """What this task's kind decides (``cnbench.kinds``)."""
        return kind_of(self.kind)

    @property
    def head_kind(self) -> str:
        return self.kind_rules.head_kind

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
        facts: dict = {
            "kind": self.kind,
            "labels": list(self.labels),
            "main_metric": self.main_metric,
            "repair_bio": self.repair_bio,
            "dev_from_train": self.dev_from_train,
        }
        if self.no_label:  # only when declared: the hashes of tasks without it stay as they were
            facts["no_label"] = list(self.no_label)
        if {"local", "download"} & set(sources):
            local = self.local
            facts["files"] = {
                "format": _callable_name(local.format) if callable(local.format) else local.format,
                "columns": list(local.columns),
                "fields": local.fields,
                "header": local.header,
            }
        if "hub" in sources and self.hub is not None:
            facts["hub"] = {
                "columns": self.hub.columns,
                "label_names": self.hub.label_names,
                "label_map": self.hub.label_map,
            }
            if self.hub.row_reader is not None:
                facts["hub"]["row_reader"] = _callable_name(self.hub.row_reader)
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
    attributes = sorted(vars(reader).items()) if hasattr(reader, "__dict__") else []
    return f"{type(reader).__module__}.{type(reader).__qualname__}{attributes!r}"


def _check_files(local: LocalFiles, kind: Kind) -> None:
    """Check that a task's file format is one its kind reads and that its field mapping names
    known fields (and, for TSV, existing columns). Raises ``CnbenchError`` saying what is expected."""
    if callable(local.format):
        return
    where = f"LocalFiles(folder={local.folder!r}, format={local.format!r})"
    if local.format not in kind.formats:
        kinds = [name for name in KIND_NAMES if local.format in kind_of(name).formats]
        raise CnbenchError(f"{where}: reads {' or '.join(kinds)} tasks, not {kind.name!r}")
    known = kind.field_defaults(local.format)
    if not known:
        if local.fields:
            raise CnbenchError(f"{where}: takes no fields (each line is 'char tag')")
        return
    if local.format == "tsv" and not local.columns:
        raise CnbenchError(f"{where}: needs columns, the file's column names in order")
    declared = local.fields or local.format != "tsv"
    fields = local.fields if declared else tsv_default_fields(local.columns)
    hint = (
        ""
        if declared
        else (
            " (without fields=, the columns must be 'label' plus one text column per "
            "sentence; map the others with fields={'text_a': ..., 'label': ...})"
        )
    )
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise CnbenchError(f"{where}: fields {unknown} are not among {sorted(known)} for a {kind.name} task{hint}")
    if local.format != "tsv":
        return
    missing = sorted(set(known) - set(fields))
    if missing:
        raise CnbenchError(f"{where}: no column for {missing}{hint}")
    absent = sorted(column for column in fields.values() if column not in local.columns)
    if absent:
        raise CnbenchError(f"{where}: fields name columns {absent} that are not among {local.columns}")


def _check_holdout(where: str, fraction: float) -> None:
    """The holdout takes every k-th train example (``cnbench.data.load``), so only 1/k holds out
    what it says: 0.3 would hold out a third, and 0.7 or more everything."""
    every = 1 / fraction if fraction > 0 else math.inf
    if not (math.isfinite(every) and every >= 2 and math.isclose(every, round(every), rel_tol=1e-9)):
        raise CnbenchError(
            f"{where}: dev_from_train {fraction!r}: expected 0 (no holdout) or 1/k for a whole "
            "k >= 2, every k-th train example becoming dev (e.g. 0.5, 0.2, 0.1, 0.05)"
        )
