"""Adding a task: ``cnbench new-task`` writes a task file to fill in, ``cnbench check-task`` reads
its local data the way a run would and reports what it found, without training.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path

import click

from cnbench.data.load import local_folder
from cnbench.data.readers import FORMATS, field_defaults, format_kinds, read_split
from cnbench.display import print_table
from cnbench.errors import CnbenchError
from cnbench.task import Task

# kind -> (format by default, labels to start from, main metric, max_len, lr)
_STARTS = {
    "single": ("tsv", ("0", "1"), "accuracy", 256, 2e-5),
    "pair": ("tsv", ("0", "1"), "accuracy", 128, 2e-5),
    "tagging": ("conll", ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"), "f1", 256, 3e-5),
}

_FORMAT_LINES = {
    "tsv": '''\
        # How the files are read: "tsv", "conll", "jsonl", "spans" (CLUENER-style JSON), or your own
        # function reader(path, task) returning cnbench.data.examples.TextExample / TaggedSentence.
        format="tsv",
        # The file's columns in order; its first line must be exactly this header (header=False if it
        # has none).
        columns={columns},
        # Which column holds each of cnbench's fields; other columns (ids) are ignored.
        fields={fields},''',
    "jsonl": '''\
        # How the files are read: "tsv", "conll", "jsonl", "spans" (CLUENER-style JSON), or your own
        # function reader(path, task) returning cnbench.data.examples.TextExample / TaggedSentence.
        format="jsonl",
        # Which key of each line's JSON object holds each of cnbench's fields; other keys are ignored.
        fields={fields},''',
    "spans": '''\
        # How the files are read: "tsv", "conll", "jsonl", "spans" (CLUENER-style JSON), or your own
        # function reader(path, task) returning cnbench.data.examples.TextExample / TaggedSentence.
        # "spans": one {{"text": ..., "label": {{"PER": {{"张三": [[0, 1]]}}}}}} per line, spans inclusive.
        format="spans",
        # The keys holding the text and its entity spans.
        fields={fields},''',
    "conll": '''\
        # How the files are read: "tsv", "conll", "jsonl", "spans" (CLUENER-style JSON), or your own
        # function reader(path, task) returning cnbench.data.examples.TextExample / TaggedSentence.
        # "conll": one "char tag" line per character, a blank line between sentences.
        format="conll",''',
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
    # single: one text -> a label; pair: two texts -> a label; tagging: one BIO tag per character.
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
    dev_from_train=0.0,{tagging_lines}
)
'''

_TAGGING_LINES = '''
    # Read an I-X that starts an entity as B-X (counted in the result) instead of failing.
    repair_bio=False,'''


def write_task_file(name: str, kind: str, format: str | None, folder: Path, existing: dict[str, Task]) -> Path:
    """Write ``folder/<name>.py``, a task declaration to fill in that loads as it is. Raises
    ``CnbenchError`` for a name that is not a Python module name, one already taken, an unknown
    kind or format or a format that cannot feed the kind, or a file that exists (never overwritten)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise CnbenchError(f"task name {name!r}: expected lower-case letters, digits and _ (a Python module name)")
    if name in existing:
        raise CnbenchError(f"task {name!r} exists already; choose another name")
    if kind not in _STARTS:
        raise CnbenchError(f"--kind {kind}: expected one of {', '.join(_STARTS)}")
    default_format, labels, metric, max_len, lr = _STARTS[kind]
    format = format or default_format
    if format not in FORMATS:
        raise CnbenchError(f"--format {format}: expected one of {', '.join(FORMATS)}")
    if kind not in format_kinds(format):
        raise CnbenchError(f"--format {format} reads {' or '.join(format_kinds(format))} tasks, not {kind}")
    fields = field_defaults(format, kind)
    columns = ("label", *(name for name in fields if name != "label"))
    extension = {"tsv": "tsv", "conll": "txt", "jsonl": "jsonl", "spans": "json"}[format]
    text = _TEMPLATE.format(
        name=name, kind=kind, labels=_py(labels), metric=metric, max_len=max_len, lr=lr,
        kind_words={"single": "one text, N classes", "pair": "sentence pair, N classes",
                    "tagging": "character tagging, BIO"}[kind],
        labels_help=("every BIO tag, O first; a \"spans\" entity type X needs B-X and I-X" if kind == "tagging"
                     else "TODO: the label names exactly as written in the files"),
        metric_help=("strict entity F1 (\"f1\")" if kind == "tagging" else "\"accuracy\""),
        format_lines=_FORMAT_LINES[format].format(columns=_py(columns), fields=_py(fields)),
        files=_py({split: f"{split}.{extension}" for split in ("train", "dev", "test")}),
        hub_fields="chars, tags" if kind == "tagging" else ", ".join(n for n in ("text_a", "text_b", "label")
                                                                         if kind == "pair" or n != "text_b"),
        hub_columns=_py({"chars": "tokens", "tags": "ner_tags"} if kind == "tagging" else field_defaults("jsonl", kind)),
        tagging_lines=_TAGGING_LINES if kind == "tagging" else "",
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
            verdict += f"; {len(report.repaired)} I- tags read as B-"
        files.append((split, filename, str(len(examples)), verdict))
    if "dev" not in task.local.files:
        if task.dev_from_train <= 0:
            problems.append("no dev split and dev_from_train is 0: runs have nothing to choose the epoch on")
    print_table(f"{task.name} ({task.kind}, {len(task.labels)} labels): {folder}",
                ("split", "file", "examples", "sha256"), files, names=("file",))
    _print_lengths(task, splits)
    _print_labels(task, splits)
    if undeclared:
        click.echo("sha256 to declare in LocalFiles:")
        click.echo("        sha256={" + ", ".join(f'"{name}": "{digest}"' for name, digest in undeclared.items()) + "},")
    labels_in = {split: set(_labels_of(task, examples)) for split, examples in splits.items()}
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


def _length(example) -> int:
    if hasattr(example, "chars"):
        return len(example.chars)
    return len(example.text_a) + len(example.text_b or "")


def _print_lengths(task: Task, splits: dict[str, list]) -> None:
    room = task.defaults.max_len - (3 if task.kind == "pair" else 2)
    rows = []
    for split, examples in splits.items():
        lengths = sorted(map(_length, examples))
        ranks = [lengths[min(len(lengths) - 1, (len(lengths) * p + 99) // 100 - 1)] for p in PERCENTILES]
        longer = sum(length > room for length in lengths)
        rows.append((split, *map(str, ranks), str(lengths[-1]), str(longer)))
    cut = "windowed, not cut" if task.kind == "tagging" else "truncated"
    print_table(f"length in characters{' (text_a + text_b)' if task.kind == 'pair' else ''}",
                ("split", *(f"p{p}" for p in PERCENTILES), "max", f"> {room} ({cut})"), rows)
    click.echo(f"({room} characters fit: max_len {task.defaults.max_len} word pieces less [CLS] and "
               f"{'two [SEP]' if task.kind == 'pair' else '[SEP]'}, one piece per Chinese character)")


def _labels_of(task: Task, examples: list) -> list[str]:
    """Labels for sentence tasks; the tags of every character for tagging."""
    if task.kind == "tagging":
        return [tag for sentence in examples for tag in sentence.tags]
    return [example.label for example in examples]


def _print_labels(task: Task, splits: dict[str, list]) -> None:
    if task.kind == "tagging":  # entities, counted by their B- tags, are what the F1 is over
        counts = {split: Counter(tag[2:] for tag in _labels_of(task, examples) if tag.startswith("B-"))
                  for split, examples in splits.items()}
        names, title = sorted({tag[2:] for tag in task.labels if tag.startswith("B-")}), "entities by type"
    else:
        counts = {split: Counter(_labels_of(task, examples)) for split, examples in splits.items()}
        names, title = list(task.labels), "labels"
    rows = []
    for name in names:
        cells = []
        for split, counter in counts.items():
            total = sum(counter.values())
            cells.append(f"{counter[name]} ({100 * counter[name] / total:.1f} %)" if total else "0")
        rows.append((name, *cells))
    print_table(title, ("label" if task.kind != "tagging" else "type", *counts), rows, names=("label", "type"))

