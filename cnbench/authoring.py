"""Adding a task: ``cnbench new-task`` writes a task file to fill in, ``cnbench check-task`` reads
its local data the way a run would and reports what it found, without training.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import click

from cnbench.data.load import local_folder, read_split
from cnbench.display import print_table
from cnbench.errors import CnbenchError
from cnbench.kinds import KIND_NAMES, kind_of, known_formats
from cnbench.task import Task

_FORMAT_LINES = {
    "tsv": """\
        # How the files are read: {formats}, or your own function reader(path, task) returning
        # cnbench.data.examples.{example}s.
        format="tsv",
        # The file's columns in order; its first line must be exactly this header (header=False if it
        # has none).
        columns={columns},
        # Which column holds each of cnbench's fields; other columns (ids) are ignored.
        fields={fields},""",
    "jsonl": """\
        # How the files are read: {formats}, or your own function reader(path, task) returning
        # cnbench.data.examples.{example}s.
        format="jsonl",
        # Which key of each line's JSON object holds each of cnbench's fields; other keys are ignored.
        fields={fields},""",
    "spans": """\
        # How the files are read: {formats}, or your own function reader(path, task) returning
        # cnbench.data.examples.{example}s.
        # "spans": one {{"text": ..., "label": {{"PER": {{"张三": [[0, 1]]}}}}}} per line, spans inclusive.
        format="spans",
        # The keys holding the text and its entity spans.
        fields={fields},""",
    "conll": """\
        # How the files are read: {formats}, or your own function reader(path, task) returning
        # cnbench.data.examples.{example}s.
        # "conll": one "char tag" line per character, a blank line between sentences.
        format="conll",""",
    "squad": """\
        # How the files are read: {formats}, or your own function reader(path, task) returning
        # cnbench.data.examples.{example}s.
        # "squad": SQuAD-v1 JSON (data -> paragraphs -> qas -> answers with text and answer_start).
        format="squad",""",
}

_TEMPLATE = '''\
"""{name}: TODO one paragraph on the data: source, size, licence, anything unusual.

Fill in every TODO, put the files in <data dir>/{name}/, then run `cnbench check-task {name}`.
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    # The name for --task and in result files; it must equal the file name.
    name="{name}",
    # One line for `cnbench list` and the leaderboard.
    description="TODO ({kind_words})",
    # single: one text -> a label; pair: two texts -> a label; tagging: one BIO tag per character;
    # span: a question answered by a span of its context.
    kind="{kind}",
    # {labels_help}
    labels={labels},
    # What picks the best epoch on dev and ranks the leaderboard: {metric_help}.
    main_metric="{metric}",
    local=LocalFiles(
        # The folder under the data directory (--data-dir, else $CNBENCH_DATA_DIR, else ../shared/data).
        folder="{name}",
{format_lines}
        # split -> file name in the folder (name it .gz to have it read as gzip). Without a "dev"
        # split, set dev_from_train below.
        files={files},
        # file name -> sha256 of the file as published; `cnbench check-task {name}` prints them. A file
        # that differs is noted in the run's output and result file, not rejected.
        sha256={{}},
        # Shown when a split is missing: where to get the files and how to save them.
        how_to_get="TODO",
    ),
    # Used for each split without a local file: a Hugging Face dataset (pin revision= to a full
    # commit), its splits (cnbench split -> dataset split) and columns (cnbench field -> dataset
    # column: {hub_fields}). label_names are the dataset's label names by index (a ClassLabel
    # column must carry exactly these); label_map={{dataset name: task label}} where they differ.
    # hub=HubDataset(path="TODO/dataset", splits={{"train": "train", "dev": "validation", "test": "test"}},
    #                columns={hub_columns}),
    # Starting hyper-parameters: max_len in word pieces, epochs, encoder learning rate (flags and
    # model presets override them).
    defaults=Defaults(max_len={max_len}, epochs=3, lr={lr:g}),
    # The paper to cite for the data.
    citation="TODO",
    # No dev split? Hold out 1/k of train to choose the epoch on: every k-th example, the same in
    # every run (0.1 holds out every 10th; k must be a whole number of at least 2).
    dev_from_train=0.0,{extra_lines}
)
'''


def write_task_file(name: str, kind: str, format: str | None, folder: Path, existing: dict[str, Task]) -> Path:
    """Write ``folder/<name>.py``, a task declaration to fill in that loads as it is. Raises
    ``CnbenchError`` for a name that is not a Python module name, one already taken, an unknown
    kind or format or a format that cannot feed the kind, or a file that exists (never overwritten)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise CnbenchError(f"task name {name!r}: expected lower-case letters, digits and _ (a Python module name)")
    if name in existing:
        raise CnbenchError(f"task {name!r} exists already; choose another name")
    if kind not in KIND_NAMES:
        raise CnbenchError(f"--kind {kind}: expected one of {', '.join(KIND_NAMES)}")
    rules = kind_of(kind)
    format = format or next(iter(rules.formats))
    if format not in rules.formats:
        readers = [name for name in KIND_NAMES if format in kind_of(name).formats]
        if not readers:
            raise CnbenchError(f"--format {format}: expected one of {', '.join(known_formats())}")
        raise CnbenchError(f"--format {format} reads {' or '.join(readers)} tasks, not {kind}")
    fields = rules.field_defaults(format)
    columns = ("label", *(name for name in fields if name != "label"))
    max_len, lr = rules.starting_defaults
    text = _TEMPLATE.format(
        name=name,
        kind=kind,
        labels=_py(rules.starting_labels),
        metric=rules.metrics[0],
        max_len=max_len,
        lr=lr,
        kind_words=rules.words,
        labels_help=rules.labels_help,
        metric_help=rules.metric_help,
        format_lines=_FORMAT_LINES[format].format(
            columns=_py(columns),
            fields=_py(fields),
            formats=", ".join(f'"{name}"' for name in rules.formats),
            example=rules.example_class,
        ),
        files=_py({split: f"{split}.{rules.file_extensions[format]}" for split in ("train", "dev", "test")}),
        hub_fields=", ".join(rules.hub_fields),
        hub_columns=_py(rules.hub_columns_example),
        extra_lines=rules.template_lines,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    try:
        with open(path, "x", encoding="utf-8") as handle:  # "x": never replace someone's task file
            handle.write(text)
    except FileExistsError:
        raise CnbenchError(f"{path} exists; not overwritten") from None
    return path


PERCENTILES = (50, 90, 95, 99)


def _py(value) -> str:
    """Python source for a tuple or dict of strings, in the double quotes of the rest of the file."""
    if isinstance(value, tuple):
        return "(" + ", ".join(json.dumps(item, ensure_ascii=False) for item in value) + ")"
    return json.dumps(value, ensure_ascii=False)


def check_task(task: Task, data_dir: Path | None) -> list[str]:
    """Read every local split of ``task`` as a run would and print, per split, the file, its count
    and checksum, length percentiles (characters) and the label or entity distribution. Returns
    the problems found (a missing split, a checksum that differs, no dev split to choose epochs
    on); a file that cannot be read raises ``DataError`` (file:line)."""
    if data_dir is None:
        raise CnbenchError("no data directory: pass --data-dir or set CNBENCH_DATA_DIR")
    folder = local_folder(task, data_dir)
    assert folder is not None  # there is a data directory
    if not folder.is_dir():
        hub = f"; runs load the Hub dataset {task.hub.path!r} instead" if task.hub else ""
        hub = hub or ("; runs fetch its source files instead" if task.download else "")
        raise CnbenchError(f"{folder}: no local folder for task {task.name!r}{hub}")
    problems: list[str] = []
    splits: dict[str, list] = {}
    files, undeclared = [], {}
    for split, filename in task.local.files.items():
        path = folder / filename
        if not path.exists():
            get = f" (obtain it from: {task.local.how_to_get})" if task.local.how_to_get else ""
            problems.append(f"{path}: {split} split not found{get}")
            files.append((split, filename, "-", "missing"))
            continue
        examples, report = read_split(task.local, path, task)
        splits[split] = examples
        expected = task.local.sha256.get(filename)
        if expected is None:
            verdict = f"{report.sha256[:12]}… (not declared)"
            undeclared[filename] = report.sha256
        elif expected == report.sha256:
            verdict = f"{report.sha256[:12]}… ok"
        else:
            verdict = f"{report.sha256[:12]}… differs from the declared {expected[:12]}…"
            problems.append(f"{path}: sha256 {report.sha256} differs from the declared {expected}")
        if report.repaired:
            verdict += f"; {task.kind_rules.repair_note(len(report.repaired))}"
        if report.no_label:  # CLUE's "-": no annotator majority, so no gold to score
            verdict += f"; {report.no_label} labelled {'/'.join(task.no_label)} (no gold label), dropped"
        files.append((split, filename, str(len(examples)), verdict))
    if "dev" not in task.local.files:
        if task.dev_from_train <= 0:
            problems.append("no dev split and dev_from_train is 0: runs have nothing to choose the epoch on")
    print_table(
        f"{task.name} ({task.kind}, {len(task.labels)} labels): {folder}",
        ("split", "file", "examples", "sha256"),
        files,
        names=("file",),
    )
    _print_lengths(task, splits)
    _print_labels(task, splits)
    _print_split_stats(task, splits)
    if undeclared:
        click.echo("sha256 to declare in LocalFiles:")
        click.echo(
            "        sha256={" + ", ".join(f'"{name}": "{digest}"' for name, digest in undeclared.items()) + "},"
        )
    labels_in = {split: task.kind_rules.labels_used(examples) for split, examples in splits.items()}
    unseen = sorted(set(task.labels).difference(*labels_in.values()))
    if splits and unseen:
        click.echo(f"note: labels never seen in these files: {', '.join(unseen)}")
    for split, labels in labels_in.items():
        untrained = sorted(labels - labels_in["train"]) if "train" in labels_in else []
        if untrained:  # scored on dev/test, but no train example shows them to the model
            click.echo(f"note: {split} has labels that train never has: {', '.join(untrained)}")
    if "dev" not in task.local.files and task.dev_from_train > 0:
        click.echo(f"note: no dev split; runs hold out every {round(1 / task.dev_from_train)}th train example as dev")
    todo = _still_todo(task)
    if todo:  # the data reads, but what `cnbench list` and the leaderboard show is unfinished
        click.echo(f"note: still marked TODO: {', '.join(todo)}")
    return problems


def _still_todo(task: Task) -> list[str]:
    """Dotted names of the declaration's text fields that still hold ``new-task``'s TODO."""
    found = []

    def visit(value, name: str) -> None:
        if dataclasses.is_dataclass(value):
            for field in dataclasses.fields(value):
                visit(getattr(value, field.name), f"{name}.{field.name}" if name else field.name)
        elif isinstance(value, (tuple, list)):
            for item in value:
                visit(item, name)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(key, name)
                visit(item, name)
        elif isinstance(value, str) and "TODO" in value and name not in found:
            found.append(name)

    visit(task, "")
    return found


def _percentiles(values: list) -> list:
    ordered = sorted(values)
    return [ordered[min(len(ordered) - 1, (len(ordered) * p + 99) // 100 - 1)] for p in PERCENTILES]


def _print_lengths(task: Task, splits: dict[str, list]) -> None:
    kind = task.kind_rules
    room = kind.room(task.defaults.max_len)
    rows = []
    for split, examples in splits.items():
        lengths = [kind.length(example) for example in examples]
        longer = sum(length > room for length in lengths)
        rows.append((split, *map(str, _percentiles(lengths)), str(max(lengths)), str(longer)))
    print_table(
        kind.length_title(), ("split", *(f"p{p}" for p in PERCENTILES), "max", f"> {room} ({kind.beyond_room()})"), rows
    )
    click.echo(f"({room} characters fit: {kind.room_explanation(task.defaults.max_len)})")


def _print_labels(task: Task, splits: dict[str, list]) -> None:
    kind = task.kind_rules
    names = kind.label_names(task)
    if not names:
        return
    counts = {split: kind.label_counts(task, examples) for split, examples in splits.items()}
    title, first_column = kind.label_title()
    rows = []
    for name in names:
        cells = []
        for counter in counts.values():
            total = sum(counter.values())
            cells.append(f"{counter[name]} ({100 * counter[name] / total:.1f} %)" if total else "0")
        rows.append((name, *cells))
    print_table(title, (first_column, *counts), rows, names=("label", "type"))


def _print_split_stats(task: Task, splits: dict[str, list]) -> None:
    """The kind's own table (span tasks: answers checked, windows per question), if it has one."""
    table = task.kind_rules.split_table(task, splits, _percentiles, PERCENTILES)
    if table is not None:
        title, header, rows = table
        print_table(title, header, rows)
