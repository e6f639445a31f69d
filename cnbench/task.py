"""What a task is: a declaration, not code.

A task module in ``tasks/`` defines one ``TASK = Task(...)``: its kind, labels, main metric, where
its data lives (the local ``../shared/data`` layout and a Hub dataset with a column mapping), the
checksums of the local files, and default hyper-parameters from the literature. The registry
(``cnbench.registry``) discovers these modules; the harness does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from cnbench.data.readers import check_declaration, check_format

KINDS = ("single", "pair", "tagging")


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

    An unknown format raises ``CnbenchError`` here; a format that does not suit the task's kind,
    or fields it does not read, raise it when the ``Task`` is built. ``sha256`` maps a file name to
    the published hash of the file as distributed; a mismatch is reported, not fatal.
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
    # (MSRA: 100-character chunks here, whole sentences on the Hub); part of the data identity.
    cut: str = ""

    def __post_init__(self):
        check_format(self)


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
    name: str
    description: str
    kind: str  # "single" | "pair" | "tagging"
    labels: tuple[str, ...]
    main_metric: str  # "accuracy" for sentence tasks, "f1" (strict entity F1) for tagging
    local: LocalFiles
    defaults: Defaults
    hub: HubDataset | None = None
    download: SourceFiles | None = None  # instead of ``hub`` when the Hub copy is script-only
    citation: str = ""
    # Turn an ``I-X`` that starts an entity into ``B-X`` (counted and reported) instead of failing.
    repair_bio: bool = False
    # For data with no dev split: every round(1/fraction)-th train example becomes dev (fixed, not
    # seeded, so every run of the task selects epochs on the same examples).
    dev_from_train: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.hub is not None and self.download is not None:
            raise ValueError(f"task {self.name!r}: declare either a Hub dataset or source files to download, not both")
        check_declaration(self.local, self.kind)

    @property
    def head_kind(self) -> str:
        return "tagging" if self.kind == "tagging" else "classification"

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.local.files)
