"""Submission files for benchmarks whose test labels are hidden (CLUE).

A task that declares an unlabelled split (``LocalFiles.unlabelled``, CLUE's ``test.json``, or
``HubDataset.unlabelled``, the Hub's ``test`` split with labels ``-1``) can have it predicted at the
end of a run, with the best-dev weights (``cnbench run --submission DIR``). The file is what CLUE's
upload reads (CLUE's submission instructions, "提交文件的命名规范"): one JSON object per line, in
the order of the test file, ``{"id": ..., "label": ...}``, the label written as the data writes
it (TNEWS' category code, NLI label names, WSC's ``"true"``/``"false"``), and for CLUENER the
entities as CLUENER's own JSON, ``{type: {mention: [[start, end]]}}`` with inclusive ends. The
file is named as CLUE expects (``SUBMISSION_FILES``); a zip of several such files is one upload.

Reading the unlabelled split uses the task's own reader: each line gets a placeholder label (the
task's first label, or no entities) that is never scored. Ids are the file's ``id`` key, else the
line's position (0-based), as the Hub's ``idx`` is; duplicate ids are refused.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cnbench.data.readers import json_object, read_lines, short_repr
from cnbench.errors import CnbenchError, DataError

# CLUE's submission file names (CLUE 1.1: its test sets of TNEWS and CLUEWSC2020 replaced 1.0's; the
# Hub's cluewsc2020 test split, 2,574 rows, is 1.1's). CLUENER's: cluener_public.zip ships a sample
# cluener_predict.json beside test.json (as third-party READMEs list the zip's files); its content
# was not seen, so the line format written for CLUENER follows CLUENER's data format: UNVERIFIED.
SUBMISSION_FILES = {
    "afqmc": "afqmc_predict.json",
    "tnews": "tnews11_predict.json",
    "iflytek": "iflytek_predict.json",
    "cmnli": "cmnli_predict.json",
    "ocnli": "ocnli_50k_predict.json",
    "cluewsc2020": "cluewsc11_predict.json",
    "csl": "csl_predict.json",
    "cluener": "cluener_predict.json",
}


def submission_name(task) -> str:
    return SUBMISSION_FILES.get(task.name, f"{task.name}_predict.json")


@dataclass
class Unlabelled:
    """The split a submission predicts: its ids and examples (with placeholder labels), in order."""

    ids: list
    examples: list
    where: str  # the file or Hub split it came from


def has_unlabelled(task) -> bool:
    return bool(task.local.unlabelled) or (task.hub is not None and bool(task.hub.unlabelled))


def read_unlabelled(task, data_dir: Path | None, source: str = "auto") -> Unlabelled:
    """The task's unlabelled split: the local file where it exists (unless ``source`` is ``hub``),
    else the Hub's unlabelled split (unless ``source`` is ``local``)."""
    from cnbench.data.load import local_folder

    if not has_unlabelled(task):
        raise CnbenchError(f"task {task.name!r} declares no unlabelled split to predict for a submission")
    folder = None if source == "hub" or data_dir is None else local_folder(task, Path(data_dir))
    path = folder / task.local.unlabelled if folder is not None and task.local.unlabelled else None
    if path is not None and path.is_file():
        return read_unlabelled_file(task, path)
    if source != "local" and task.hub is not None and task.hub.unlabelled:
        return read_unlabelled_hub(task)
    wanted = str(path) if path is not None else f"{task.local.folder}/{task.local.unlabelled or '?'}"
    raise CnbenchError(
        f"{task.name}: unlabelled split {wanted} not found"
        + (f". Obtain it from: {task.local.how_to_get}" if task.local.how_to_get else "")
    )


def _placeholders(task) -> dict:
    """Key -> placeholder value that makes an unlabelled line readable by the task's reader."""
    local, kind = task.local, task.kind_rules
    if callable(local.format):
        return {"label": task.labels[0]}
    fields = {**kind.field_defaults(local.format), **local.fields}
    if "label" in fields:
        return {fields["label"]: task.labels[0]}
    if "spans" in fields:
        return {fields["spans"]: {}}
    raise CnbenchError(
        f"task {task.name!r}: an unlabelled {local.format!r} file cannot be read for a submission "
        "(JSON-lines formats only)"
    )


def read_unlabelled_file(task, path: Path) -> Unlabelled:
    """Read an unlabelled JSON-lines file (CLUE's ``test.json``) with the task's reader. Errors name
    this file and its line."""
    path = Path(path)
    placeholders = _placeholders(task)
    ids: list[int | str] = []
    seen: dict[int | str, int] = {}  # id -> the line that holds it
    lines = []
    for number, line in read_lines(path):
        record = json_object(path, number, line, {})
        identifier = record.get("id", len(ids))
        if not isinstance(identifier, (int, str)) or isinstance(identifier, bool):
            raise DataError(path, number, f"id {short_repr(identifier)} is not a number or a string")
        if identifier in seen:
            raise DataError(path, number, f"id {identifier!r} repeats line {seen[identifier]}; expected unique ids")
        seen[identifier] = number
        ids.append(identifier)
        lines.append(json.dumps({**record, **placeholders}, ensure_ascii=False))
    if not ids:
        raise DataError(path, None, "no lines; expected one JSON object per line")
    with tempfile.TemporaryDirectory(prefix="cnbench-unlabelled-") as folder:
        copy = Path(folder) / "unlabelled.json"
        copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            from cnbench.data.load import read_split

            examples, _ = read_split(task.local, copy, task)
        except DataError as err:  # the copy's lines are the file's lines: name the file
            prefix = f"{err.path}:{err.line}: " if err.line is not None else f"{err.path}: "
            raise DataError(path, err.line, str(err).removeprefix(prefix)) from None
    if len(examples) != len(ids):
        raise CnbenchError(
            f"{path}: the task's reader returned {len(examples)} examples for {len(ids)} lines; "
            "a submission needs one prediction per line"
        )
    return Unlabelled(ids, examples, str(path))


def read_unlabelled_hub(task) -> Unlabelled:
    """The Hub's unlabelled split (labels ``-1``): ids from ``idx`` (else the row number)."""
    from cnbench.data.load import _Rows, hub_rows_prepared, load_hub_split

    spec = task.hub
    dataset, where = load_hub_split(task, spec.unlabelled)
    label = spec.columns.get("label")
    rows = []
    for original in dataset:
        row = dict(original)
        if label is not None:
            row[label] = 0 if spec.label_names or hasattr(dataset.features.get(label), "names") else task.labels[0]
        rows.append(row)
    ids = [row.get("idx", row.get("id", number)) for number, row in enumerate(rows)]
    if len(set(ids)) != len(ids):
        raise CnbenchError(f"{where}: ids (idx) are not unique; a submission needs one line per test example")
    prepared, _ = hub_rows_prepared(task, _Rows(dataset.features, rows))
    examples, dropped, _ = task.kind_rules.from_hub(task, prepared, where)
    if dropped or len(examples) != len(ids):
        raise CnbenchError(
            f"{where}: {len(examples)} examples from {len(ids)} rows; a submission needs one prediction per row"
        )
    return Unlabelled(ids, examples, where)


# -- writing and reading back ------------------------------------------------------------------------


def entities(chars, tags) -> dict:
    """BIO tags -> CLUENER's ``{type: {mention: [[start, end], ...]}}`` (inclusive ends). An ``I-X``
    that does not continue an ``X`` entity starts one, as conlleval reads it."""
    found: dict = {}
    start = kind = None

    def close(end: int) -> None:
        if kind is not None:
            mention = "".join(chars[start : end + 1])
            found.setdefault(kind, {}).setdefault(mention, []).append([start, end])

    for index, tag in enumerate(list(tags) + ["O"]):
        prefix, _, name = tag.partition("-")
        if prefix == "I" and name == kind:
            continue
        close(index - 1)
        start, kind = (index, name) if prefix in ("B", "I") else (None, None)
    return found


def submission_lines(task, unlabelled: Unlabelled, stored: list) -> list[dict]:
    """One CLUE line per example: ``{"id", "label"}``. ``stored`` are the run's predictions as result
    files store them (``Kind.stored``), in the split's order."""
    if len(stored) != len(unlabelled.ids):
        raise ValueError(f"{len(stored)} predictions for {len(unlabelled.ids)} examples")
    kind = task.kind_rules
    lines = []
    for identifier, example, value in zip(unlabelled.ids, unlabelled.examples, stored, strict=True):
        prediction = kind.read_stored(value)
        label: str | dict
        if isinstance(prediction, str):
            label = prediction
        elif isinstance(prediction, (list, tuple)) and hasattr(example, "chars"):
            label = entities(example.chars, prediction)
        else:
            raise CnbenchError(f"task {task.name!r}: predictions of its kind cannot be written as a CLUE submission")
        lines.append({"id": identifier, "label": label})
    return lines


def write_submission(folder: Path, task, unlabelled: Unlabelled, stored: list) -> Path:
    """Write the task's submission file into ``folder`` (atomically); returns its path."""
    from cnbench.atomic import atomic_file

    lines = submission_lines(task, unlabelled, stored)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / submission_name(task)
    with atomic_file(path, "w", permissions=0o644) as handle:
        handle.write("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    return path


def read_submission(path: Path) -> list[dict]:
    """A submission file read back: its lines, each checked to hold ``id`` and ``label``, ids unique."""
    lines, seen = [], set()
    for number, line in read_lines(Path(path)):
        record = json_object(path, number, line, {"id": "id", "label": "label"})
        if set(record) != {"id", "label"}:
            raise DataError(path, number, f"{short_repr(record)}: expected exactly the keys 'id' and 'label'")
        if record["id"] in seen:
            raise DataError(path, number, f"id {record['id']!r} repeats an earlier line")
        seen.add(record["id"])
        lines.append(record)
    return lines
