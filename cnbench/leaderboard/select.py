"""What the leaderboard decides: which runs are comparable, how they group, which configuration
each cell shows, and what happened to every seed it started.

**Comparable runs.** Result files with a known status (``completed`` or ``failed``), trained on the
train split (``protocol.train_on_dev`` false) on the full data (``protocol.limit`` null). Smoke runs
(train-on-dev or limited) are listed apart, never ranked.

**Rows, columns, cells.** A *row* is one model build and fine-tuning strategy: model alias, model
identity, tokenizer normalisation (and ``--tokenizer``), head, ``hparams["tuning"]`` (default ``"full"``) and
``hparams["features"]`` (default none). A *column* is one task on one exact data identity. A *cell*
is a (column, row). Runs that differ in data, model weights or tokenizer normalisation therefore
never share a cell, a mean or a significance test. The data and model identities are always
derived from what the result records (``data_identity`` from ``data.files`` and
``protocol.dev_split``, ``model_identity`` from ``model``), never read from its ``data.identity`` or
``model.identity``: one formula for every result, so results written before those fields existed
compare equal to later ones. The tokenizer normalisation is read from ``tokenizer.normalization``;
an unrecorded one reads ``"unrecorded"``; a ``--tokenizer`` that replaced the checkpoint's own adds
what was read (Hub id and commit, or a folder tokenizer's fingerprint).

**Unusable result files.** A file that cannot be used (unreadable, unknown status, malformed) has
no configuration to count in; when its name is one a cell's runs would write (task, model, head,
run key, seed: ``cnbench.results.result_filename``), the cell carries it as ``unusable`` and is not
``clean``, so it never takes the column's best place on its usable seeds alone.

**Configurations.** Within a cell, runs are grouped by ``config_key`` (hyper-parameters and
protocol: everything but the seed). Repeated runs of one configuration and seed keep the newest
(``created``); the others are listed as superseded. A seed re-run after failing therefore counts as
its re-run, completed or not.

**The choice rule: every started seed counts.** A configuration is judged by the mean, over all the
seeds it started, of each seed's *selection score* (``selection_score``):

- completed seed: its dev main metric (at the epoch chosen on dev);
- abandoned seed (``failure`` starting ``"abandoned:"``): the best dev main metric in its history,
  i.e. the score it was abandoned at (``WORST_SCORE`` when it has none);
- any other failed seed (loss became NaN/inf, crash): ``WORST_SCORE`` (0, the worst value of the
  fractions every main metric lives in), whatever earlier epochs scored: it produced no model.

The configuration with the highest mean wins; ties go to more completed seeds, then to more started
seeds, then to the smaller ``config_key``. Test scores never take part. A configuration that fails
often thus loses to a steadier one even when its surviving seeds score higher, and the cell reports
``n=completed of started, k failed`` with each failure's reason.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeGuard

from cnbench import results
from cnbench.kinds import KIND_NAMES, kind_of
from cnbench.results import result_filename, run_key
from cnbench.stats import summarize

WORST_SCORE = 0.0
ABANDONED_PREFIX = "abandoned:"
UNRECORDED = "unrecorded"

TASK_ORDER = (
    "chnsenticorp",
    "lcqmc",
    "xnli_zh",
    "peoples_daily_ner",
    "msra_ner",
    "cmrc2018",
    "drcd",
    "afqmc",
    "tnews",
    "iflytek",
    "cmnli",
    "ocnli",
    "cluewsc2020",
    "csl",
    "cluener",
)
# CLUE's classification score: the plain average of these six tasks' main metrics (CLUE README,
# "分类任务": Score = average of 6 tasks). OCNLI and CLUENER are not part of it.
CLUE_CLASSIFICATION = ("afqmc", "tnews", "iflytek", "cmnli", "cluewsc2020", "csl")
MODEL_ORDER = (
    "bert",
    "bert-wwm-ext",
    "roberta-wwm-ext",
    "macbert",
    "nezha",
    "scratch-tiny",
    "scratch-small",
    "char-embed",
)
HEAD_ORDER = ("linear", "crf", "bilstm", "bilstm-crf")


def ordered(name: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(name) if name in order else len(order), name)


def is_finite_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- validity


def result_problem(result: dict) -> str | None:
    """Why a loaded ``cnbench.result/1`` document cannot be used, or ``None`` when it can.

    Checks the fields the leaderboard reads: task name, kind and main metric, model alias, head, an
    integer seed, hparams (``epochs`` and ``patience`` integers when given), protocol
    (``train_on_dev``, ``limit``), a known status, a list ``history`` when given, string
    ``data.files.<split>.sha256`` when given, and for a completed run a dev and test main metric
    between 0 and 1.
    """
    try:
        task, protocol = result["task"], result["protocol"]
        texts = (task["name"], task["kind"], task["main_metric"], result["model"]["alias"], result["head"])
        seed, hparams, status = result["seed"], result["hparams"], result["status"]
        train_on_dev, limit = protocol["train_on_dev"], protocol["limit"]
    except (KeyError, TypeError) as err:
        return f"missing or malformed field {err}"
    if not all(isinstance(text, str) and text for text in texts):
        return "task name, kind, main metric, model alias and head must be non-empty strings"
    if task["kind"] not in KIND_NAMES:
        return f"unknown task kind {task['kind']!r}; expected one of {', '.join(KIND_NAMES)}"
    if type(seed) is not int:
        return f"seed must be an integer, got {seed!r}"
    if not isinstance(hparams, dict):
        return "hparams must be an object"
    for name in ("epochs", "patience"):
        if not (hparams.get(name) is None or type(hparams[name]) is int):
            return f"hparams.{name} must be an integer or null, got {hparams[name]!r}"
    if not (result.get("history") is None or isinstance(result["history"], list)):
        return f"history must be a list, got {result['history']!r}"
    for split, facts in mapping(mapping(result.get("data")).get("files")).items():
        sha256 = mapping(facts).get("sha256")
        if not (sha256 is None or isinstance(sha256, str)):
            return f"data.files.{split}.sha256 must be a string, got {sha256!r}"
    if not isinstance(train_on_dev, bool) or not (limit is None or type(limit) is int):
        return "protocol.train_on_dev must be a boolean and protocol.limit null or an integer"
    if status not in ("completed", "failed"):
        return f"unknown status {status!r}"
    if status == "completed":
        metric = task["main_metric"]
        for split in ("dev", "test"):
            try:
                score = result["metrics"][split][metric]
            except (KeyError, TypeError):
                return f"completed run without metrics.{split}.{metric}"
            if not is_finite_number(score):
                return f"metrics.{split}.{metric} is not a finite number: {score!r}"
            if not 0 <= score <= 1:  # every kind's metrics are fractions (a percentage would rank first)
                return f"metrics.{split}.{metric} must be a fraction between 0 and 1, got {score!r}"
    return None


def is_smoke(result: dict) -> bool:
    """True for a run trained on dev or on a limited subset: never comparable."""
    protocol = result["protocol"]
    trained_on_dev = protocol["train_on_dev"] or protocol.get("train_split", "train") != "train"
    return trained_on_dev or protocol["limit"] is not None


# --------------------------------------------------------------------------- identities


def mapping(value) -> dict:
    """``value`` when it is a dict, else an empty one: old or hand-made results may lack a section."""
    return value if isinstance(value, dict) else {}


def data_identity(result: dict) -> tuple[str, str, str]:
    """``(identity, label, how)`` of the exact data a result was trained and scored on: the one
    ``cnbench.results.data_identity`` over its recorded files, so results written before runs
    recorded it compare equal to later ones on the same data."""
    data = mapping(result.get("data"))
    files = {split: mapping(facts) for split, facts in mapping(data.get("files")).items()}
    dev_split = mapping(result.get("protocol")).get("dev_split")
    identity = results.data_identity(files, dev_split)
    hubs = sorted(
        {
            f"{facts['hub']}@{str(facts.get('revision') or 'unpinned')[:7]}"
            for facts in files.values()
            if facts.get("hub")
        }
    )
    label = str(data.get("label") or " ".join([str(data.get("source") or "?")] + hubs))
    described = ", ".join(
        f"{split} sha256 {facts['sha256'][:12]}"
        if facts.get("sha256")
        else f"{split} {facts.get('hub')}@{facts.get('revision')}"
        for split, facts in sorted(files.items())
    )
    cuts = sorted({str(facts["cut"]) for facts in files.values() if facts.get("cut")})
    how = (
        f"from {described or 'no recorded files'}"
        + (f"; dev split: {dev_split}" if dev_split else "")
        + (f"; cut: {' / '.join(cuts)}" if cuts else "")
    )
    return identity, label, how


def model_identity(result: dict) -> str:
    """The encoder's identity (``cnbench.results.model_identity``), recorded or not."""
    return results.model_identity(mapping(result.get("model")))


def tokenizer_normalization(result: dict) -> str:
    """How the run tokenised: the normalisation, and which tokenizer when ``--tokenizer`` replaced
    the checkpoint's own (another vocabulary with the same normalisation is another model build)."""
    tokenizer = mapping(result.get("tokenizer"))
    value = tokenizer.get("normalization")
    normalization = value if isinstance(value, str) and value else UNRECORDED
    override = mapping(result.get("protocol")).get("tokenizer")
    if not override:
        return normalization
    # What was read, not how it was named: an alias and its Hub id at the same commit are one tokenizer
    if tokenizer.get("revision"):
        return f"{normalization}, --tokenizer {tokenizer.get('source')}@{str(tokenizer['revision'])[:7]}"
    if tokenizer.get("fingerprint"):
        return f"{normalization}, --tokenizer folder with fingerprint {str(tokenizer['fingerprint'])[:12]}"
    return f"{normalization}, --tokenizer {override}"


def _hparam_text(value) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Row:
    """One model build and fine-tuning strategy: a line of the table."""

    model: str
    head: str
    tuning: str
    features: str | None
    model_identity: str
    tokenizer: str

    def sort_key(self) -> tuple:
        return (
            ordered(self.model, MODEL_ORDER),
            ordered(self.head, HEAD_ORDER),
            self.tuning,
            self.features or "",
            self.model_identity,
            self.tokenizer,
        )

    @property
    def strategy(self) -> str:
        return self.tuning + (f", features={self.features}" if self.features else "")


@dataclass(frozen=True)
class Column:
    """One task on one exact data identity."""

    task: str
    data_identity: str
    kind: str
    main_metric: str

    def sort_key(self) -> tuple:
        return (ordered(self.task, TASK_ORDER), self.data_identity)

    @property
    def metric_name(self) -> str:
        return kind_of(self.kind).metric_names.get(self.main_metric, self.main_metric)

    @property
    def side_metrics(self) -> tuple[tuple[str, str], ...]:
        """Metrics shown beside the main one (the kind's ``side_metrics``): for tagging seqeval's
        default-mode F1, which counts entities exactly as the CoNLL conlleval script does."""
        return kind_of(self.kind).side_metrics


def row_of(result: dict) -> Row:
    hparams = result["hparams"]
    return Row(
        model=result["model"]["alias"],
        head=result["head"],
        tuning=_hparam_text(hparams.get("tuning")) or "full",
        features=_hparam_text(hparams.get("features")),
        model_identity=model_identity(result),
        tokenizer=tokenizer_normalization(result),
    )


def column_of(result: dict) -> Column:
    task = result["task"]
    return Column(task["name"], data_identity(result)[0], task["kind"], task["main_metric"])


def config_key(result: dict) -> str:
    """12-hex-digit key of what the seeds of one configuration share: ``hparams`` and ``protocol``.

    The seed is a top-level field of a result, not a hyper-parameter, so runs that differ only in
    seed share a key. Task, data, model and head are not part of the key: configurations are only
    compared within one cell, which already fixes them.
    """
    return run_key({"hparams": result["hparams"], "protocol": result["protocol"]})


# --------------------------------------------------------------------------- seeds and choice


def score(result: dict, split: str, metric: str | None = None) -> float:
    return float(result["metrics"][split][metric or result["task"]["main_metric"]])


def selection_score(result: dict) -> float:
    """The dev score a seed contributes to its configuration's judgement (see the module rule)."""
    if result["status"] == "completed":
        return score(result, "dev")
    failure = str(result.get("failure") or "")
    if not failure.startswith(ABANDONED_PREFIX):
        return WORST_SCORE
    metric = result["task"]["main_metric"]
    history = result.get("history")
    if not isinstance(history, list):
        history = []
    dev_scores = [mapping(mapping(epoch).get("dev")).get(metric) for epoch in history]
    return max((value for value in dev_scores if is_finite_number(value)), default=WORST_SCORE)


def still_improving_at_cap(run: dict) -> bool:
    """Whether a seed trained every epoch of its cap while dev was still improving: its best dev
    epoch lies within the cap's last ``patience`` epochs (the last epoch, without patience), so
    patience had not fired and a longer schedule may score higher. A run whose history, cap or best
    epoch is not recorded is not flagged."""
    cap, best, history = run["hparams"].get("epochs"), run.get("best_epoch"), run.get("history")
    if not (isinstance(cap, int) and isinstance(best, int) and isinstance(history, list)) or len(history) < cap:
        return False
    return cap - best < (run["hparams"].get("patience") or 1)


def epochs_trained(run: dict) -> str:
    """How long a seed trained, e.g. ``7 of 20 (best 4)``: epochs trained of its cap and its best
    dev epoch, with ``, still improving`` added when ``still_improving_at_cap``."""
    flag = ", still improving" if still_improving_at_cap(run) else ""
    return (
        f"{len(run.get('history') or [])} of {run['hparams'].get('epochs', '?')} "
        f"(best {run.get('best_epoch') or '?'}{flag})"
    )


@dataclass(frozen=True)
class Config:
    """One configuration of a cell: every seed it started (newest result per seed), by seed."""

    key: str
    started: tuple[dict, ...]

    @property
    def hparams(self) -> dict:
        return self.started[0]["hparams"]

    @property
    def completed(self) -> tuple[dict, ...]:
        return tuple(run for run in self.started if run["status"] == "completed")

    @property
    def failed(self) -> tuple[dict, ...]:
        return tuple(run for run in self.started if run["status"] != "completed")

    @property
    def still_improving(self) -> tuple[dict, ...]:
        """Completed seeds that the epoch cap stopped while dev was still improving."""
        return tuple(run for run in self.completed if still_improving_at_cap(run))

    @property
    def selection(self) -> float:
        """Mean selection score over every started seed."""
        return summarize(selection_score(run) for run in self.started)["mean"]

    def rank(self) -> tuple:
        return (-self.selection, -len(self.completed), -len(self.started), self.key)


@dataclass(frozen=True)
class Cell:
    """The chosen configuration of one (column, row) and what it scored.

    ``configs`` are all the cell's configurations, best first; ``config`` the chosen one.
    ``dev``/``test`` summarise the chosen configuration's completed seeds' main metric (``None``
    when none completed). ``all_selection_scores`` holds the selection score of every started seed
    of the cell, all configurations together (the hyper-parameter search, for the expected-maximum
    curve). ``superseded`` lists the results replaced by a newer result of the same configuration
    and seed (a failure among them is still named on the page). ``unusable`` lists the result
    files that could not be used (corrupt, unknown status, ...) whose file name names this cell's
    task, model and head: they cannot be placed in a configuration, but are never out of sight.
    """

    column: Column
    row: Row
    config: Config
    configs: tuple[Config, ...]
    all_selection_scores: tuple[float, ...]
    superseded: tuple[dict, ...]
    unusable: tuple[tuple[str, str], ...] = ()  # (path, reason) of result files that name this cell

    @property
    def clean(self) -> bool:
        """Every started seed of the chosen configuration completed, and no unusable result file
        names the cell (a corrupt file may be a seed that failed)."""
        return not self.config.failed and not self.unusable

    @property
    def id(self) -> tuple[Column, Row]:
        return (self.column, self.row)

    @property
    def n_configs(self) -> int:
        return len(self.configs)

    @property
    def runs(self) -> tuple[dict, ...]:
        return self.config.completed

    @property
    def n_seeds(self) -> int:
        return len(self.runs)

    @property
    def dev(self) -> dict | None:
        return summarize(score(run, "dev") for run in self.runs) if self.runs else None

    @property
    def test(self) -> dict | None:
        return self.metric_summary("test", self.column.main_metric)

    @property
    def completed_test(self) -> dict:
        """``test`` of a cell with completed seeds: the cells that are compared and plotted."""
        test = self.test
        if test is None:
            raise ValueError(f"{self.column.task} / {self.row.model}: no completed seed with a test score")
        return test

    def metric_summary(self, split: str, metric: str) -> dict | None:
        """``summarize`` of one metric over the completed seeds, ``None`` unless every one has it."""
        values = [run.get("metrics", {}).get(split, {}).get(metric) for run in self.runs]
        if not values or not all(is_finite_number(value) for value in values):
            return None
        return summarize(values)

    @property
    def test_scores(self) -> list[float]:
        return [score(run, "test") for run in self.runs]

    @property
    def best_dev_run(self) -> dict:
        """The completed run with the highest dev score; lowest seed on ties."""
        return min(self.runs, key=lambda run: (-score(run, "dev"), run["seed"]))


def _newest_per_seed(runs: list[dict]) -> tuple[list[dict], list[dict]]:
    newest_first = sorted(runs, key=lambda run: (str(run.get("created", "")), run.get("_path", "")), reverse=True)
    kept: dict[int, dict] = {}
    superseded = []
    for run in newest_first:
        if run["seed"] in kept:
            superseded.append(run)
        else:
            kept[run["seed"]] = run
    return sorted(kept.values(), key=lambda run: run["seed"]), superseded


def _choose(column: Column, row: Row, runs: list[dict]) -> Cell:
    by_key: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        by_key[config_key(run)].append(run)
    configs, superseded = [], []
    for key, config_runs in by_key.items():
        started, replaced = _newest_per_seed(config_runs)
        configs.append(Config(key, tuple(started)))
        superseded.extend(replaced)
    return Cell(
        column=column,
        row=row,
        config=min(configs, key=Config.rank),
        configs=tuple(sorted(configs, key=Config.rank)),
        all_selection_scores=tuple(sorted(selection_score(run) for config in configs for run in config.started)),
        superseded=tuple(sorted(superseded, key=lambda run: run.get("_path", ""))),
    )


def declaration_conflicts(cells: Sequence[Cell]) -> dict[Column, dict[str, list[str]]]:
    """Columns whose shown seeds were read under more than one declaration of their task (the
    recorded ``task.declaration_sha256``; results without it say nothing): declaration -> result
    paths. The data files and gold match, or the runs would sit in other columns, but another text
    column or BIO repair makes other examples, so the column's scores do not compare."""
    found: dict[Column, dict[str, list[str]]] = {}
    for cell in cells:
        for run in cell.runs:
            declared = mapping(run.get("task")).get("declaration_sha256")
            if isinstance(declared, str):
                found.setdefault(cell.column, {}).setdefault(declared, []).append(str(run.get("_path", "?")))
    return {column: paths for column, paths in found.items() if len(paths) > 1}


def _key_and_seed(path: str) -> tuple[str, int] | None:
    """The run key and seed that end a result file's name (``...--<key>--seed<n>.json``), or ``None``."""
    match = re.search(r"--([0-9a-f]{12})--seed(\d+)\.json$", Path(path).name)
    return None if match is None else (match.group(1), int(match.group(2)))


def select_configs(results: Sequence[dict], unusable: Sequence[tuple[str, str]] = ()) -> list[Cell]:
    """One ``Cell`` per (column, row) with comparable runs, in table order (columns, then rows).

    Skips results that ``result_problem`` rejects and smoke runs; failed runs take part (see the
    module's choice rule). A cell whose chosen configuration completed no seed is kept, with
    ``dev``/``test`` ``None``. ``unusable`` holds ``(path, reason)`` of the result files that could
    not be used; each is attached to every cell of the task, model and head its name gives.
    """
    by_cell: dict[tuple[Column, Row], list[dict]] = defaultdict(list)
    for result in results:
        if result_problem(result) is None and not is_smoke(result):
            by_cell[(column_of(result), row_of(result))].append(result)
    named = [(path, reason, _key_and_seed(path)) for path, reason in unusable]
    cells = []
    for (column, row), runs in by_cell.items():
        cell = _choose(column, row, runs)
        # the name this cell's run would write with that key and seed (results.result_filename)
        naming = tuple(
            (path, reason)
            for path, reason, found in named
            if found is not None and Path(path).name == result_filename(column.task, row.model, row.head, *found)
        )
        cells.append(replace(cell, unusable=naming) if naming else cell)
    return sorted(cells, key=lambda cell: (cell.column.sort_key(), cell.row.sort_key()))
