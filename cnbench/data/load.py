"""Load a task's splits, each from its local file or from the task's remote source, and say which.

``load_task_data`` returns train/dev/test examples plus, for the result file, where every split
came from and what identifies the data exactly. ``source`` chooses:

- ``"auto"`` (default): per split, the local file ``<data_dir>/<task folder>/<file>`` when it
  exists, else the remote source;
- ``"local"``: local files only; a missing train file is an error that says how to obtain it,
  unless ``train_on_dev`` (a smoke run: train on dev, score test);
- ``"hub"``: the remote source only.

The remote source is the task's Hub dataset (the repository is fetched through the Hugging Face
cache, so the resolved commit is known and recorded, then read with ``datasets.load_dataset``),
or, for corpora whose Hub copy is only a loading script, the original files by URL, checked
against the checksums the task declares. Whatever the source, one gold standard: the task's kind
turns files and Hub rows into the same examples (``cnbench.kinds``: ``formats``, ``from_hub``), rows
that are entirely empty are dropped and counted in the notes, and every repair a kind makes (BIO
tags, answer offsets) is counted in them too. Without a dev split, with ``task.dev_from_train``, every k-th train
example is held out as dev.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cnbench.data.readers import ReadReport
from cnbench.errors import CnbenchError, DataError, first_line
from cnbench.hashing import file_sha256, files_sha256
from cnbench.kinds import Kind
from cnbench.results import data_identity, gold_sha256
from cnbench.task import SPLITS, HubDataset, SourceFiles, Task

SOURCES = ("auto", "local", "hub")


@dataclass
class TaskData:
    splits: dict[str, list]  # "train" / "dev" / "test" -> examples
    source: str  # "local" | "hub" | "download", or "mixed" when splits differ
    kind: Kind  # the task's kind: what its examples are, what is hashed as gold
    provenance: dict[str, dict] = field(default_factory=dict)  # split -> file/hub facts
    notes: list[str] = field(default_factory=list)  # repairs, substitutions: shown and recorded
    train_split: str = "train"  # what the model was trained on ("train" or "dev")
    dev_split: str = "dev"  # "dev", or "train holdout" for tasks without a dev split
    # Splits whose examples this process does not hold (``hold_facts_only``): split -> their
    # ``count`` and ``gold_sha256``, which the result file records.
    facts_only: dict[str, dict] = field(default_factory=dict)

    def identity(self) -> str:
        return data_identity(self.provenance, self.dev_split)

    def label(self) -> str:
        """Short text for tables: ``local``, ``hub C-MTEB/LCQMC@17f9b09``, or per split when mixed."""
        per_split = {split: _source_label(self.provenance[split]) for split in SPLITS if split in self.provenance}
        if len(set(per_split.values())) == 1:
            return next(iter(per_split.values()))
        return ", ".join(f"{split}: {label}" for split, label in per_split.items())

    def counts(self) -> dict[str, int]:
        return {split: self.split_facts(split)["count"] for split in self._split_names()}

    def gold_sha256(self) -> dict[str, str]:
        return {split: self.split_facts(split)["gold_sha256"] for split in self._split_names()}

    def scored_gold(self) -> dict[str, str]:
        """``gold_sha256`` of the splits scores are reported on (dev, test), as far as held here."""
        return {split: self.split_facts(split)["gold_sha256"] for split in self._split_names() if split != "train"}

    def split_facts(self, split: str) -> dict:
        """What the result file records of ``split``: where it came from, its size and gold hash."""
        if split in self.facts_only:
            return {"provenance": self.provenance.get(split), **self.facts_only[split]}
        examples = self.splits[split]
        return {
            "provenance": self.provenance.get(split),
            "count": len(examples),
            "gold_sha256": gold_sha256([self.kind.gold_line(example) for example in examples]),
        }

    def hold_facts_only(self, split: str, facts: dict | None = None) -> None:
        """Drop ``split``'s examples, keeping what the result file records of it: this process's own
        facts, or ``facts`` (``split_facts`` of another process that loaded the split)."""
        facts = facts or self.split_facts(split)
        self.facts_only[split] = {"count": facts["count"], "gold_sha256": facts["gold_sha256"]}
        self.splits.pop(split, None)
        self.provenance = self._provenance_with(split, facts)

    def identity_with(self, split: str, facts: dict) -> str:
        """``identity()`` once ``split`` is the one ``facts`` describe (``split_facts`` of the
        process that loaded it), without dropping this process's examples."""
        return data_identity(self._provenance_with(split, facts), self.dev_split)

    def _provenance_with(self, split: str, facts: dict) -> dict[str, dict]:
        if facts["provenance"] is None:
            return self.provenance
        provenance = {**self.provenance, split: facts["provenance"]}
        return {name: provenance[name] for name in SPLITS if name in provenance}

    def _split_names(self) -> list[str]:
        return [split for split in SPLITS if split in self.splits or split in self.facts_only]


def _source_label(facts: dict) -> str:
    if facts["source"] == "hub":
        return f"hub {facts['hub']}@{(facts['revision'] or '?')[:7]}"
    return facts["source"]


def local_folder(task: Task, data_dir: Path | None) -> Path | None:
    """``<data_dir>/<task folder>`` (None without a data directory). A data directory named one
    level too high, with the task folder under its ``data/``, is an error naming the right one."""
    if data_dir is None:
        return None
    folder = data_dir / task.local.folder
    if not folder.is_dir() and (data_dir / "data" / task.local.folder).is_dir():
        raise CnbenchError(
            f"data directory {data_dir} has no {task.local.folder}/ folder, but "
            f"{data_dir / 'data' / task.local.folder} exists: name {data_dir / 'data'} instead "
            "(--data-dir or CNBENCH_DATA_DIR)"
        )
    return folder


def load_task_data(
    task: Task,
    data_dir: Path | None,
    train_on_dev: bool = False,
    limit: int | None = None,
    source: str = "auto",
    only: tuple[str, ...] | None = None,
) -> TaskData:
    """``only`` names the splits wanted (the leaderboard needs test gold alone); default: all, with
    a dev split held out of train where the task has none."""
    if source not in SOURCES:
        raise CnbenchError(f"--source {source!r}: expected one of {', '.join(SOURCES)}")
    if train_on_dev and "dev" not in task.splits:
        raise CnbenchError(f"--train-on-dev: task {task.name!r} has no dev split (its dev is held out of train)")
    folder = None if source == "hub" else local_folder(task, data_dir)
    wanted = [
        split for split in task.splits if not (train_on_dev and split == "train") and (only is None or split in only)
    ]
    local = {
        split: folder / task.local.files[split]
        for split in wanted
        if source != "hub" and folder is not None and (folder / task.local.files[split]).is_file()
    }
    remote = [split for split in wanted if split not in local]
    if source == "local" and remote:
        raise CnbenchError(_missing_local(task, folder, remote))
    if remote and task.hub is None and task.download is None:
        raise CnbenchError(_missing_local(task, folder, remote) + " The task declares no remote source.")

    data = TaskData(splits={}, source="", kind=task.kind_rules)
    for split, path in local.items():
        _read_local(task, split, path, data)
    if remote:
        try:
            if task.hub is not None:
                _load_hub(task, task.hub, remote, data)
            elif task.download is not None:
                _download(task, task.download, remote, data)
        except CnbenchError as err:
            if source == "auto" and folder is not None:
                raise CnbenchError(f"{err}. Locally, {_missing_local(task, folder, remote)}") from None
            raise
    data.source = _overall_source(data)

    if train_on_dev:
        data.splits["train"] = data.splits["dev"]
        data.train_split = "dev"
        data.notes.append("trained on dev: a smoke run, not a comparable score")
    if only is None and "dev" not in data.splits:
        if task.dev_from_train <= 0:
            raise CnbenchError(f"task {task.name!r} has no dev split to select epochs on")
        every = round(1 / task.dev_from_train)
        train = data.splits["train"]
        if len(train) < every:
            raise CnbenchError(
                f"task {task.name!r}: train has {len(train)} examples, so holding out every "
                f"{every}th as dev (dev_from_train) leaves no dev split to choose epochs on"
            )
        data.splits["dev"] = train[every - 1 :: every]
        data.splits["train"] = [ex for i, ex in enumerate(train) if (i + 1) % every]
        data.dev_split = f"every {every}th train example (held out)"
    data.splits = {split: data.splits[split] for split in SPLITS if split in data.splits}
    if not train_on_dev and "train" in data.splits:
        _check_overlap_with_train(task, data)
    if limit is not None:
        data.splits = {name: examples[:limit] for name, examples in data.splits.items()}
    return data


# More than this share of an evaluation split found verbatim in train means train was cut from it.
# The real data sits far from it either way: ChnSentiCorp's dev and test repeat 28 % of their texts
# from train, MSRA's 0.1 %, while People's Daily dev and test lie 92 % inside MSRA's train.
MAX_SHARE_IN_TRAIN = 0.5


def _check_overlap_with_train(task: Task, data: TaskData) -> None:
    """Note how many dev and test examples occur verbatim (same text) in train, and refuse a train
    split that holds most of an evaluation split: its scores would measure memory, not the task."""
    text = task.kind_rules.text_of
    train = {text(example) for example in data.splits["train"]}
    for split in ("dev", "test"):
        examples = data.splits.get(split)
        if not examples:
            continue
        shared = sum(text(example) in train for example in examples)
        if shared > MAX_SHARE_IN_TRAIN * len(examples):
            raise CnbenchError(
                f"{task.name}: {shared} of {len(examples)} {split} examples occur verbatim in train "
                f"({data.provenance['train'].get('path') or _source_label(data.provenance['train'])}): that train "
                f"set holds the {split} set, so its scores would not measure the task. Train on data that "
                "does not contain the evaluation splits"
            )
        if shared:
            data.notes.append(f"{split}: {shared} of {len(examples)} examples also occur verbatim in train")


def _overall_source(data: TaskData) -> str:
    sources = {facts["source"] for facts in data.provenance.values()}
    return sources.pop() if len(sources) == 1 else "mixed"


def _missing_local(task: Task, folder: Path | None, splits: list[str]) -> str:
    if folder is None:
        where = "no local data directory (--data-dir, CNBENCH_DATA_DIR or ../shared/data)"
    else:
        where = ", ".join(str(folder / task.local.files[split]) for split in splits) + " not found"
    message = f"{task.name} {'/'.join(splits)}: {where}."
    if task.local.how_to_get:
        message += f" Obtain it from: {task.local.how_to_get}."
    if "train" in splits:
        message += (
            " Or pass --train-on-dev for a smoke run that trains on dev and scores test "
            "(its results are marked and never ranked)."
        )
    return message


# -- local files ---------------------------------------------------------------------------------


def read_custom(reader: Callable, path: Path, task: Task) -> tuple[list, ReadReport]:
    """Run a task's own reader and check what it returns as the built-in readers check files: a
    non-empty list of the examples the task's kind reads (``Kind.check_example``: shapes, known
    labels, BIO repaired only under ``repair_bio``). An exception other than ``CnbenchError``
    becomes a ``DataError`` naming the reader.
    """
    path = Path(path)
    name = getattr(reader, "__name__", repr(reader))
    try:
        examples = list(reader(path, task))
    except CnbenchError:
        raise
    except Exception as err:  # the task's own code: report it in the error contract, with its name
        raise DataError(path, None, f"reader {name} failed: {type(err).__name__}: {err}") from err
    if not path.is_file():
        raise DataError(path, None, "file not found")
    report = ReadReport(str(path), file_sha256(path))
    if task.no_label:  # examples whose label means "no gold label": dropped and counted, as by the built-in readers
        kept = [example for example in examples if getattr(example, "label", None) not in task.no_label]
        report.no_label = len(examples) - len(kept)
        examples = kept
    kind = task.kind_rules
    checked = [
        kind.check_example(example, task, f"example {index} from reader {name}", report, path)
        for index, example in enumerate(examples)
    ]
    if not checked:
        raise DataError(path, None, f"reader {name} returned no examples")
    return checked, report


def read_split(local, path: Path, task: Task) -> tuple[list, ReadReport]:
    """Read one split's file the way the task declares: a format its kind reads, or its own reader."""
    if callable(local.format):
        return read_custom(local.format, path, task)
    return task.kind_rules.formats[local.format](local, path, task)


def _read_local(task: Task, split: str, path: Path, data: TaskData) -> None:
    examples, report = read_split(task.local, path, task)
    expected = task.local.sha256.get(path.name)
    data.splits[split] = examples
    data.provenance[split] = {
        "source": "local",
        "path": str(path),
        "sha256": report.sha256,
        "expected_sha256": expected,
        "checksum_ok": None if expected is None else expected == report.sha256,
        "cut": task.local.cut,
    }
    if expected is not None and expected != report.sha256:
        data.notes.append(f"{path}: sha256 differs from the published {expected[:12]}…")
    _note_no_label(task, data, split, str(path), report.no_label)
    _note_repairs(task, data, split, str(path), report.repaired)


def _note_no_label(task: Task, data: TaskData, split: str, where: str, count: int) -> None:
    """Record the examples dropped for a ``no_label`` label (CLUE's ``-``), for every source alike."""
    if task.no_label:
        data.provenance[split]["no_label_dropped"] = count
    if count:
        data.notes.append(f"{where}: {count} example(s) labelled {'/'.join(task.no_label)} (no gold label) dropped")


def _note_repairs(task: Task, data: TaskData, split: str, where: str, repairs: list[str]) -> None:
    if repairs:
        kind = task.kind_rules
        data.provenance[split][kind.repairs_key] = len(repairs)
        data.notes.append(f"{where}: {kind.repair_note(len(repairs))}")


# -- original files by URL -------------------------------------------------------------------------


def _download(task: Task, source: SourceFiles, splits: list[str], data: TaskData) -> None:
    from cnbench.data.download import fetch_verified

    for split in splits:
        url, checksum = source.urls[split], source.checksums[split]
        path = fetch_verified(url, checksum, task.name)
        examples, report = read_split(task.local, path, task)
        data.splits[split] = examples
        data.provenance[split] = {
            "source": "download",
            "url": url,
            "checksum": checksum,
            "path": str(path),
            "sha256": report.sha256,
            "cut": source.cut,
        }
        _note_no_label(task, data, split, url, report.no_label)
        _note_repairs(task, data, split, url, report.repaired)


# -- Hub datasets ----------------------------------------------------------------------------------


def _hub_of(task: Task) -> HubDataset:
    if task.hub is None:
        raise CnbenchError(f"task {task.name!r} has no Hub dataset")
    return task.hub


def _hub_folder(spec: HubDataset) -> tuple[Path, str | None, str | None]:
    """``(folder, resolved commit, content hash)`` of a task's Hub dataset, fetched as needed."""
    from cnbench import hub

    if Path(spec.path).is_dir():  # a dataset folder laid out as on the Hub: the same reading code
        # No commit names its content, so its files' bytes do (the data identity reads ``sha256``).
        folder = Path(spec.path)
        return folder, None, files_sha256(sorted(path for path in folder.rglob("*") if path.is_file()))
    patterns = None if spec.files is None else [*spec.files, "README.md", "dataset_infos.json"]
    folder, commit = hub.snapshot(spec.path, "dataset", spec.revision, patterns)
    return folder, commit, None


def _hub_split(spec: HubDataset, folder: Path, hub_split: str):
    import datasets

    try:
        with _quiet_datasets():
            return datasets.load_dataset(
                str(folder),
                spec.config,
                data_dir=spec.data_dir,
                split=hub_split,
                data_files=_card_data_files(folder, spec.config),
            )
    except Exception as err:  # a split or config the repository does not have: one line
        raise CnbenchError(
            f"Hub dataset {spec.path!r} (config {spec.config}, split {hub_split}): "
            f"{first_line(err) or type(err).__name__}"
        ) from None


def load_hub_split(task: Task, hub_split: str):
    """One split of the task's Hub dataset, as read (no rows converted): ``(dataset, where)``. For
    a split no run reads, such as the unlabelled test split a submission predicts."""
    spec = _hub_of(task)
    folder, commit, _ = _hub_folder(spec)
    return _hub_split(spec, folder, hub_split), f"{spec.path}@{(commit or 'folder')[:7]}[{hub_split}]"


def _load_hub(task: Task, spec: HubDataset, splits: list[str], data: TaskData) -> None:
    folder, commit, content = _hub_folder(spec)
    for split in splits:
        hub_split = spec.splits[split]
        where = f"{spec.path}@{(commit or 'folder')[:7]}[{hub_split}]"
        dataset = _hub_split(spec, folder, hub_split)
        rows = len(dataset)
        dataset, no_label = hub_rows_prepared(task, dataset)
        examples, dropped, repairs = task.kind_rules.from_hub(task, dataset, where)
        data.splits[split] = examples
        data.provenance[split] = {
            "source": "hub",
            "hub": spec.path,
            "config": spec.config,
            "revision": commit,
            "requested_revision": spec.revision,
            "data_dir": spec.data_dir,
            "split": hub_split,
            "rows": rows,
            "cut": spec.cut,
        }
        if content is not None:
            data.provenance[split]["sha256"] = content
        if dropped:
            data.provenance[split]["empty_rows_dropped"] = dropped
            data.notes.append(f"{where}: {dropped} empty row(s) dropped")
        _note_no_label(task, data, split, where, no_label)
        _note_repairs(task, data, split, where, repairs)


def hub_rows_prepared(task: Task, dataset):
    """A Hub split as its kind reads it: the columns of the task's ``row_reader`` added to each row,
    and rows whose label is one of the task's ``no_label`` values dropped. Returns the dataset and
    how many rows were dropped."""
    spec = _hub_of(task)
    label_column = spec.columns.get("label")
    feature = dataset.features.get(label_column) if label_column is not None else None
    names = tuple(feature.names) if feature is not None and hasattr(feature, "names") else spec.label_names
    # Only a column that can hold such a value is filtered: a ClassLabel without it cannot.
    could_hold = names is None or any(spec.label_map.get(name, name) in task.no_label for name in names)
    filtering = bool(task.no_label) and feature is not None and could_hold
    if spec.row_reader is None and not filtering:
        return dataset, 0

    def has_label(row) -> bool:
        value = row[label_column]
        if names is not None and isinstance(value, int) and 0 <= value < len(names):
            value = names[value]
        return not (isinstance(value, str) and spec.label_map.get(value, value) in task.no_label)

    rows = [{**row, **spec.row_reader(dict(row))} if spec.row_reader is not None else row for row in dataset]
    kept = [row for row in rows if has_label(row)] if filtering else rows
    return _Rows(dataset.features, kept), len(rows) - len(kept)


class _Rows:
    """Rows read from a Hub split and prepared (``hub_rows_prepared``), with the split's features:
    what a kind's ``from_hub`` reads of a dataset."""

    def __init__(self, features, rows: list[dict]):
        self.features, self.rows = features, rows

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _card_data_files(folder: Path, config: str | None):
    """The data files the dataset card declares for ``config``; None when it declares none.

    ``datasets`` reads a local folder with the file format of the card's *first* configuration, so
    it fails when those files were not downloaded: XNLI's card lists ``all_languages`` first, and
    the task downloads only ``zh/*``. Naming the wanted configuration's own files avoids that."""
    from huggingface_hub import DatasetCard

    readme = folder / "README.md"
    if config is None or not readme.is_file():
        return None
    for entry in DatasetCard.load(readme).data.get("configs") or []:
        if entry.get("config_name") == config:
            return entry.get("data_files")
    return None


@contextmanager
def _quiet_datasets():
    """No progress bars for tiny local reads: the run prints its own lines."""
    from datasets.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()
