"""Load a task's splits, locally (``<data_dir>/<task folder>``) or from the Hub.

``load_task_data`` returns train/dev/test examples plus provenance for the result file. It decides
where each split comes from and says so when a split is missing:

- a local folder exists for the task -> local files; a missing train split is an error that says
  how to obtain it, unless ``train_on_dev`` (a smoke run: train on dev, score test);
- no local folder -> the task's Hub dataset via ``datasets.load_dataset`` (the same call works on
  a local dataset folder, which is how it is tested);
- no dev split and ``task.dev_from_train`` -> every k-th train example is held out as dev.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnbench.data.examples import TaggedSentence, TextExample
from cnbench.data.readers import read_split
from cnbench.errors import CnbenchError, DataError
from cnbench.task import Task


@dataclass
class TaskData:
    splits: dict[str, list]  # "train" / "dev" / "test" -> examples
    source: str  # "local" | "hub"
    provenance: dict[str, dict] = field(default_factory=dict)  # split -> file/hub facts
    notes: list[str] = field(default_factory=list)  # repairs, substitutions: shown and recorded
    train_split: str = "train"  # what the model was trained on ("train" or "dev")
    dev_split: str = "dev"  # "dev", or "train holdout" for tasks without a dev split


def load_task_data(
    task: Task, data_dir: Path | None, train_on_dev: bool = False, limit: int | None = None
) -> TaskData:
    local_folder = data_dir / task.local.folder if data_dir is not None else None
    if local_folder is not None and local_folder.is_dir():
        data = _load_local(task, local_folder, train_on_dev)
    elif task.hub is not None:
        data = _load_hub(task, train_on_dev)
    else:
        where = local_folder or "no data directory (set --data-dir or CNBENCH_DATA_DIR)"
        raise CnbenchError(f"task {task.name!r}: no local data at {where} and no Hub dataset declared")

    if "dev" not in data.splits:
        if task.dev_from_train <= 0:
            raise CnbenchError(f"task {task.name!r} has no dev split to select epochs on")
        every = round(1 / task.dev_from_train)
        train = data.splits["train"]
        data.splits["dev"] = train[every - 1 :: every]
        data.splits["train"] = [ex for i, ex in enumerate(train) if (i + 1) % every]
        data.dev_split = f"every {every}th train example (held out)"
    if limit is not None:
        data.splits = {name: examples[:limit] for name, examples in data.splits.items()}
    return data


def _load_local(task: Task, folder: Path, train_on_dev: bool) -> TaskData:
    data = TaskData(splits={}, source="local")
    for split, filename in task.local.files.items():
        path = folder / filename
        if not path.exists():
            continue
        examples, report = read_split(task.local, path, task)
        data.splits[split] = examples
        expected = task.local.sha256.get(filename)
        data.provenance[split] = {
            "path": str(path),
            "sha256": report.sha256,
            "expected_sha256": expected,
            "checksum_ok": None if expected is None else expected == report.sha256,
        }
        if expected is not None and expected != report.sha256:
            data.notes.append(f"{path}: sha256 differs from the published {expected[:12]}…")
        if report.repaired:
            data.provenance[split]["bio_repairs"] = len(report.repaired)
            data.notes.append(f"{path}: {len(report.repaired)} I- tags starting an entity read as B-")

    for split in ("dev", "test"):
        if split in task.local.files and split not in data.splits:
            path = folder / task.local.files[split]
            raise CnbenchError(f"{path}: {task.name} {split} split not found. {_how_to_get(task)}")
    if "train" not in data.splits:
        path = folder / task.local.files["train"]
        if not train_on_dev:
            raise CnbenchError(
                f"{path}: {task.name} has no train split here. {_how_to_get(task)} "
                "Or pass --train-on-dev for a smoke run that trains on dev and scores test "
                "(its results are marked and never ranked)."
            )
        data.splits["train"] = data.splits["dev"]
        data.train_split = "dev"
        data.notes.append(f"trained on dev ({path} not found): a smoke run, not a comparable score")
    return data


def _how_to_get(task: Task) -> str:
    hint = f"Obtain it from: {task.local.how_to_get}." if task.local.how_to_get else ""
    if task.hub is not None:
        hint += f" Without a local folder cnbench loads the Hub dataset {task.hub.path!r}."
    return hint.strip()


def _load_hub(task: Task, train_on_dev: bool) -> TaskData:
    import datasets

    hub = task.hub
    data = TaskData(splits={}, source="hub")
    for split, hub_split in hub.splits.items():
        try:
            dataset = datasets.load_dataset(hub.path, hub.config, revision=hub.revision, split=hub_split)
        except Exception as err:  # network, missing split, wrong id: say which dataset and split
            raise CnbenchError(
                f"cannot load Hub dataset {hub.path!r} (config {hub.config}, split {hub_split}): {err}"
            ) from None
        data.splits[split] = _convert_hub_rows(task, dataset, f"{hub.path}[{hub_split}]")
        data.provenance[split] = {
            "hub": hub.path,
            "config": hub.config,
            "revision": hub.revision,
            "split": hub_split,
            "fingerprint": getattr(dataset, "_fingerprint", None),
        }
    if train_on_dev:
        data.splits["train"] = data.splits["dev"]
        data.train_split = "dev"
    return data


def _names_for(dataset, column: str, declared: tuple[str, ...] | None):
    """How to turn a column's integer values into label names."""
    if declared is not None:
        return declared
    feature = dataset.features[column]
    feature = getattr(feature, "feature", feature)  # a Sequence of ClassLabel
    return tuple(feature.names) if hasattr(feature, "names") else None


def _label_name(value, names, where: str, labels: tuple[str, ...]) -> str:
    if names is not None and isinstance(value, int):
        name = names[value] if 0 <= value < len(names) else None
    else:
        name = str(value)
    if name not in labels:
        raise DataError(where, None, f"label {value!r} maps to {name!r}, not one of {list(labels)}")
    return name


def _convert_hub_rows(task: Task, dataset, where: str) -> list:
    columns = task.hub.columns
    label_column = columns["tags"] if task.kind == "tagging" else columns["label"]
    names = _names_for(dataset, label_column, task.hub.label_names)
    examples = []
    for row_number, row in enumerate(dataset):
        here = f"{where} row {row_number}"
        if task.kind == "tagging":
            chars = tuple(row[columns["chars"]])
            tags = tuple(_label_name(t, names, here, task.labels) for t in row[columns["tags"]])
            if len(chars) != len(tags) or not chars:
                raise DataError(here, None, f"{len(chars)} characters but {len(tags)} tags")
            examples.append(TaggedSentence(chars, tags))
        else:
            text_a = row[columns["text_a"]]
            text_b = row[columns["text_b"]] if "text_b" in columns else None
            if not text_a or (text_b is not None and not text_b):
                raise DataError(here, None, "empty text; expected non-empty text")
            label = _label_name(row[columns["label"]], names, here, task.labels)
            examples.append(TextExample(text_a, text_b, label))
    return examples
