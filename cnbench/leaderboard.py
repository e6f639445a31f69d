"""The leaderboard: choose each cell's configuration by dev score, test significance, render README.

A *cell* is one (task, model alias, head). Only comparable runs enter a cell: result files with
status ``completed``, trained on the train split (``protocol.train_on_dev`` false) on the full data
(``protocol.limit`` null). Smoke runs (train-on-dev or limited) are listed apart as not comparable.

Within a cell, runs are grouped by ``config_key`` (hyper-parameters + protocol: everything but the
seed). The configuration with the best **mean dev** main metric is chosen; test scores never take
part in the choice. Its test scores are reported as ``mean ± std (max), n=seeds``.

Significance, per task, of each row against the row with the best mean test score:

- paired bootstrap (``cnbench.stats.paired_bootstrap``) on the test set, comparing the predictions of
  each row's *best-dev seed* (the chosen configuration's run with the highest dev score, lowest seed
  on ties): one model per row, picked the way a user would pick it, without looking at test. Needs
  the gold test labels, which result files do not hold: pass them as ``gold_labels``.
- Welch's t-test over per-seed test scores (``cnbench.stats.seed_level_test``) when both rows have
  at least 3 seeds.

A row counts as significantly worse than the best only when every test that could be run gives
p < 0.05: the bootstrap ignores seed variance and the seed test ignores example variance, so a
difference has to survive both. Otherwise the row is marked as not significantly different.

Metrics in result files are fractions in [0, 1]; the README shows percentages. Published scores
(``leaderboard/reported.json``, in percent) appear only in their own table, with their citations.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
from matplotlib.figure import Figure

from cnbench.results import load_results, predicted_labels, run_key
from cnbench.stats import (
    METRICS,
    MIN_SEEDS_FOR_SEED_TEST,
    expected_max,
    paired_bootstrap,
    seed_level_test,
    summarize,
)

ALPHA = 0.05
TASK_ORDER = ("chnsenticorp", "lcqmc", "xnli_zh", "peoples_daily_ner", "msra_ner")
MODEL_ORDER = (
    "bert", "bert-wwm-ext", "roberta-wwm-ext", "macbert", "nezha",
    "scratch-tiny", "scratch-small", "char-embed",
)
HEAD_ORDER = ("linear", "crf", "bilstm", "bilstm-crf")

BEST_MARK = "★"
TIE_MARK = "≈"
UNTESTED_MARK = "?"

# A fixed salt and no date: the same figure then gives the same SVG bytes on every render.
_SVG_RC = {"svg.hashsalt": "cnbench-leaderboard", "svg.fonttype": "path", "font.family": "DejaVu Sans"}
_SVG_METADATA = {"Date": None}


def _ordered(name: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(name) if name in order else len(order), name)


def _task_order(task: str) -> tuple[int, str]:
    return _ordered(task, TASK_ORDER)


def _row_order(model: str, head: str) -> tuple:
    return (_ordered(model, MODEL_ORDER), _ordered(head, HEAD_ORDER))


# --------------------------------------------------------------------------- reading results


def _is_finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def result_problem(result: dict) -> str | None:
    """Why a loaded ``cnbench.result/1`` document cannot be used, or ``None`` when it can.

    Checks the fields the leaderboard reads: task name and main metric, model alias, head, an
    integer seed, hparams, protocol (``train_on_dev``, ``limit``), a known status, and for a
    completed run a finite dev and test main metric.
    """
    try:
        task, protocol = result["task"], result["protocol"]
        texts = (task["name"], task["main_metric"], result["model"]["alias"], result["head"])
        seed, hparams, status = result["seed"], result["hparams"], result["status"]
        train_on_dev, limit = protocol["train_on_dev"], protocol["limit"]
    except (KeyError, TypeError) as err:
        return f"missing or malformed field {err}"
    if not all(isinstance(text, str) and text for text in texts):
        return "task name, main metric, model alias and head must be non-empty strings"
    if type(seed) is not int:
        return f"seed must be an integer, got {seed!r}"
    if not isinstance(hparams, dict):
        return "hparams must be an object"
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
            if not _is_finite_number(score):
                return f"metrics.{split}.{metric} is not a finite number: {score!r}"
    return None


def is_smoke(result: dict) -> bool:
    """True for a run trained on dev or on a limited subset: never comparable."""
    protocol = result["protocol"]
    trained_on_dev = protocol["train_on_dev"] or protocol.get("train_split", "train") != "train"
    return trained_on_dev or protocol["limit"] is not None


def config_key(result: dict) -> str:
    """12-hex-digit key of what the seeds of one configuration share: ``hparams`` and ``protocol``.

    The seed is a top-level field of a result, not a hyper-parameter, so runs that differ only in
    seed share a key. Model and task are not part of the key because configurations are only
    compared within one (task, model, head) cell.
    """
    return run_key({"hparams": result["hparams"], "protocol": result["protocol"]})


def _score(result: dict, split: str) -> float:
    return float(result["metrics"][split][result["task"]["main_metric"]])


# --------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Cell:
    """The chosen configuration of one (task, model, head) and what it scored.

    ``runs`` are the chosen configuration's completed runs, one per seed, sorted by seed; ``dev``
    and ``test`` are ``summarize()`` of their main metric. ``all_dev_scores`` holds the dev score of
    every comparable completed run of the cell, all configurations together (the hyper-parameter
    search, for the expected-maximum curve). ``superseded`` lists result paths replaced by a newer
    result (``created``) of the same configuration and seed.
    """

    task: str
    model: str
    head: str
    main_metric: str
    config_key: str
    hparams: dict
    runs: tuple[dict, ...]
    dev: dict
    test: dict
    n_failed: int
    n_configs: int
    all_dev_scores: tuple[float, ...]
    superseded: tuple[str, ...]

    @property
    def id(self) -> tuple[str, str, str]:
        return (self.task, self.model, self.head)

    @property
    def n_seeds(self) -> int:
        return len(self.runs)

    @property
    def test_scores(self) -> list[float]:
        return [_score(run, "test") for run in self.runs]

    @property
    def best_dev_run(self) -> dict:
        """The chosen configuration's run with the highest dev score; lowest seed on ties."""
        return min(self.runs, key=lambda run: (-_score(run, "dev"), run["seed"]))


def _newest_per_seed(runs: list[dict]) -> tuple[list[dict], list[str]]:
    newest_first = sorted(
        runs, key=lambda run: (str(run.get("created", "")), run.get("_path", "")), reverse=True
    )
    kept: dict[int, dict] = {}
    superseded = []
    for run in newest_first:
        if run["seed"] in kept:
            superseded.append(run.get("_path", ""))
        else:
            kept[run["seed"]] = run
    return sorted(kept.values(), key=lambda run: run["seed"]), superseded


def _choose_config(task: str, model: str, head: str, runs: list[dict]) -> Cell:
    completed = [run for run in runs if run["status"] == "completed"]
    by_config: dict[str, list[dict]] = defaultdict(list)
    for run in completed:
        by_config[config_key(run)].append(run)
    configs, superseded = {}, []
    for key, config_runs in by_config.items():
        configs[key], replaced = _newest_per_seed(config_runs)
        superseded.extend(replaced)

    def rank(key: str) -> tuple:
        mean_dev = summarize(_score(run, "dev") for run in configs[key])["mean"]
        return (-mean_dev, -len(configs[key]), key)

    chosen_key = min(configs, key=rank)
    chosen = configs[chosen_key]
    return Cell(
        task=task,
        model=model,
        head=head,
        main_metric=chosen[0]["task"]["main_metric"],
        config_key=chosen_key,
        hparams=chosen[0]["hparams"],
        runs=tuple(chosen),
        dev=summarize(_score(run, "dev") for run in chosen),
        test=summarize(_score(run, "test") for run in chosen),
        n_failed=len(runs) - len(completed),
        n_configs=len(configs),
        all_dev_scores=tuple(sorted(_score(run, "dev") for seeds in configs.values() for run in seeds)),
        superseded=tuple(sorted(superseded)),
    )


def select_configs(results: Sequence[dict]) -> list[Cell]:
    """One ``Cell`` per (task, model, head) that has comparable completed runs, in table order.

    Skips results that ``result_problem`` rejects and smoke runs. Within a cell, runs of the same
    configuration and seed are deduplicated (newest ``created`` kept). The configuration with the
    highest mean dev main metric wins; ties go to more seeds, then to the smaller ``config_key``.
    ``n_failed`` counts failed comparable runs of the cell, any configuration.
    """
    by_cell: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for result in results:
        if result_problem(result) is None and not is_smoke(result):
            by_cell[(result["task"]["name"], result["model"]["alias"], result["head"])].append(result)
    cells = [
        _choose_config(task, model, head, runs)
        for (task, model, head), runs in by_cell.items()
        if any(run["status"] == "completed" for run in runs)
    ]
    return sorted(cells, key=lambda cell: (_task_order(cell.task), _row_order(cell.model, cell.head)))


# --------------------------------------------------------------------------- significance


@dataclass(frozen=True)
class Comparison:
    """One row of a task compared with the task's best row (by mean test score).

    ``bootstrap`` is ``paired_bootstrap(gold, best, row)`` on best-dev-seed test predictions (its
    ``delta`` is best minus row), ``seed_test`` is ``seed_level_test(best, row)``; either is
    ``None`` when it could not be run, with the reason in ``notes``.
    """

    is_best: bool
    bootstrap: dict | None = None
    seed_test: dict | None = None
    notes: tuple[str, ...] = ()

    @property
    def significantly_worse(self) -> bool | None:
        """True when every test that ran gives p < ``ALPHA``; ``None`` for the best row or untested."""
        p_values = [test["p_value"] for test in (self.bootstrap, self.seed_test) if test is not None]
        if self.is_best or not p_values:
            return None
        return all(p < ALPHA for p in p_values)

    @property
    def mark(self) -> str:
        if self.is_best:
            return BEST_MARK
        worse = self.significantly_worse
        return UNTESTED_MARK if worse is None else ("" if worse else TIE_MARK)


def _test_predictions(cell: Cell):
    try:
        return predicted_labels(cell.best_dev_run, "test")
    except (KeyError, TypeError, AttributeError):  # missing or malformed: reported as "no bootstrap"
        return None


def _bootstrap_against_best(
    best: Cell, cell: Cell, gold, n_resamples: int, seed: int
) -> tuple[dict | None, str | None]:
    metric = METRICS.get(cell.main_metric)
    if metric is None:
        return None, f"no bootstrap: no summable metric for {cell.main_metric!r}"
    if gold is None:
        return None, "no bootstrap: gold test labels not given"
    best_predictions, predictions = _test_predictions(best), _test_predictions(cell)
    if not best_predictions or not predictions:
        return None, "no bootstrap: test predictions missing from the result file"
    try:
        result = paired_bootstrap(gold, best_predictions, predictions, metric, n_resamples, seed)
    except (ValueError, TypeError, AttributeError) as err:  # predictions of the wrong shape or type
        return None, f"no bootstrap: {err}"
    return result, None


def compare_to_best(
    cells: Sequence[Cell],
    gold_labels: Mapping[str, Sequence] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[tuple[str, str, str], Comparison]:
    """Per task, compare every cell with the cell of the best mean test score.

    ``gold_labels`` maps a task name to its gold test labels, in split order (label names; for
    tagging tasks one list of tags per sentence). Without them the paired bootstrap is skipped and
    only the seed-level test runs. The best cell has the highest mean test score; ties go to the
    first in model and head order. Returns ``{(task, model, head): Comparison}``.
    """
    gold_labels = gold_labels or {}
    by_task: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        by_task[cell.task].append(cell)

    comparisons = {}
    for task, task_cells in by_task.items():
        best = min(task_cells, key=lambda cell: (-cell.test["mean"], _row_order(cell.model, cell.head)))
        for cell in task_cells:
            if cell is best:
                comparisons[cell.id] = Comparison(is_best=True)
                continue
            bootstrap, note = _bootstrap_against_best(best, cell, gold_labels.get(task), n_resamples, seed)
            notes = [note] if note else []
            seed_test = None
            if min(best.n_seeds, cell.n_seeds) >= MIN_SEEDS_FOR_SEED_TEST:
                seed_test = seed_level_test(best.test_scores, cell.test_scores)
            else:
                notes.append(f"no seed-level test: fewer than {MIN_SEEDS_FOR_SEED_TEST} seeds")
            comparisons[cell.id] = Comparison(False, bootstrap, seed_test, tuple(notes))
    return comparisons


# --------------------------------------------------------------------------- reported scores


def _reported_entry_ok(entry, sources: dict) -> bool:
    if not isinstance(entry, dict):
        return False
    values = [entry.get("max"), entry.get("mean")]
    return (
        all(isinstance(entry.get(key), str) for key in ("model", "task", "metric", "source"))
        and entry.get("split") in ("dev", "test")
        and isinstance(sources.get(entry.get("source")), dict)
        and any(_is_finite_number(value) for value in values)
        and all(value is None or _is_finite_number(value) for value in values)
    )


def load_reported(path: Path | None) -> tuple[list[dict], dict, list[str]]:
    """Published scores from ``reported.json``: ``(entries, sources, problems)``.

    The file holds ``{"sources": {key: {citation, url}}, "entries": [...]}``; each entry needs
    ``model``, ``task``, ``split`` ("dev" or "test"), ``metric``, ``source`` (a key of ``sources``)
    and a number in ``max`` and/or ``mean`` (percent); ``head`` defaults to "linear". A missing or
    unreadable file, or a malformed entry, is reported in ``problems`` and skipped, never raised.
    ``path=None`` means no file.
    """
    if path is None:
        return [], {}, []
    name = Path(path).name
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        sources, raw_entries = document["sources"], document["entries"]
        if not isinstance(sources, dict) or not isinstance(raw_entries, list):
            raise TypeError("'sources' must be an object and 'entries' a list")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        return [], {}, [f"{name}: not readable as reported scores ({err})"]

    entries, problems = [], []
    for index, entry in enumerate(raw_entries):
        if _reported_entry_ok(entry, sources):
            entries.append(entry)
        else:
            problems.append(
                f"{name}: entry {index} skipped (needs model, task, split, metric, "
                "a known source and a number in max or mean)"
            )
    return entries, sources, problems


# --------------------------------------------------------------------------- plots
# Figures are built from matplotlib.figure.Figure, never pyplot: no GUI backend is ever selected and
# no global figure state leaks between renders.


def _row_label(cell: Cell) -> str:
    return f"{cell.model} / {cell.head}"


def _save_svg(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata=_SVG_METADATA)


def plot_seed_spread(task: str, cells: Sequence[Cell], path: Path) -> None:
    """Strip plot of each row's per-seed test scores (percent) with mean ± std, as SVG."""
    with matplotlib.rc_context(_SVG_RC):
        figure = Figure(figsize=(7, 1.2 + 0.5 * len(cells)))
        axes = figure.add_subplot()
        for row, cell in enumerate(cells):
            scores = sorted(100 * score for score in cell.test_scores)
            # Spread the dots vertically by rank rather than by random jitter: the plot stays fixed.
            step = 0.3 / max(len(scores) - 1, 1)
            heights = [row - 0.15 + step * rank for rank in range(len(scores))] if len(scores) > 1 else [row]
            axes.scatter(scores, heights, s=18, color="tab:blue", alpha=0.7, zorder=3)
            axes.errorbar(
                100 * cell.test["mean"], row, xerr=100 * cell.test["std"],
                fmt="|", color="black", capsize=4, markersize=14, zorder=4,
            )
        axes.set_yticks(range(len(cells)), [_row_label(cell) for cell in cells])
        axes.invert_yaxis()
        axes.set_xlabel(f"test {cells[0].main_metric} (%), one dot per seed; bar: mean ± std")
        axes.set_title(f"{task}: seed spread of the chosen configurations")
        axes.grid(axis="x", alpha=0.3)
        figure.tight_layout()
        _save_svg(figure, path)


def plot_expected_max(task: str, cells: Sequence[Cell], path: Path) -> None:
    """Expected best dev score vs number of runs (Dodge et al., 2019) per row, as SVG."""
    with matplotlib.rc_context(_SVG_RC):
        figure = Figure(figsize=(7, 4.5))
        axes = figure.add_subplot()
        for cell in cells:
            budgets = list(range(1, len(cell.all_dev_scores) + 1))
            curve = [100 * expected_max(cell.all_dev_scores, n) for n in budgets]
            axes.plot(budgets, curve, marker="o", markersize=3, label=_row_label(cell))
        axes.set_xlabel("number of runs (hyper-parameter configurations × seeds)")
        axes.set_ylabel(f"expected best dev {cells[0].main_metric} (%)")
        axes.set_title(f"{task}: expected best dev score vs runs")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        _save_svg(figure, path)


# --------------------------------------------------------------------------- rendering


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.2f}"


def _published(value) -> str:
    return "—" if value is None else repr(float(value))


def _link(path: str | Path, base: Path) -> str:
    return Path(os.path.relpath(Path(path), base)).as_posix()


def _relative_problem(problem: str, base: Path) -> str:
    location, separator, reason = problem.partition(": ")
    return f"{_link(location, base)}: {reason}" if separator and os.path.isabs(location) else problem


def _format_hparams(hparams: dict) -> str:
    return ", ".join(
        f"{name}={json.dumps(hparams[name], sort_keys=True, ensure_ascii=False)}" for name in sorted(hparams)
    )


def _cell_text(cell: Cell, mark: str, number: int) -> str:
    test = cell.test
    text = f"{_pct(test['mean'])} ± {_pct(test['std'])} ({_pct(test['max'])}), n={cell.n_seeds}"
    if mark == BEST_MARK:
        text = f"**{text}**"
    return f"{text} {mark}".rstrip() + f" [[{number}]](#config-{number})"


def _reproduced_section(cells: list[Cell], comparisons: dict, base: Path) -> list[str]:
    tasks = sorted({cell.task for cell in cells}, key=_task_order)
    rows = sorted({(cell.model, cell.head) for cell in cells}, key=lambda row: _row_order(*row))
    by_id = {cell.id: cell for cell in cells}
    metric_of = {cell.task: cell.main_metric for cell in cells}
    numbers = {cell.id: number for number, cell in enumerate(cells, start=1)}

    lines = [
        "## Reproduced scores",
        "",
        "Test-set main metric in percent: `mean ± std (max), n=seeds` of the configuration with the",
        "best **mean dev** score in each cell (test scores never take part in the choice); std is the",
        "sample standard deviation over seeds. Each cell's [number] links to its hyper-parameters and",
        f"result files. {BEST_MARK} best mean test score of the task; {TIE_MARK} not significantly",
        f"different from {BEST_MARK} (p ≥ {ALPHA} in at least one test, see [Significance](#significance));",
        f"{UNTESTED_MARK} no test could be run; no mark: significantly worse. The average needs every task.",
        "",
        "| Model | Head | " + " | ".join(f"{task} ({metric_of[task]})" for task in tasks) + " | Average |",
        "|---|---|" + "---|" * len(tasks) + "---|",
    ]
    for model, head in rows:
        row_cells = [by_id.get((task, model, head)) for task in tasks]
        entries = [
            "—" if cell is None else _cell_text(cell, comparisons[cell.id].mark, numbers[cell.id])
            for cell in row_cells
        ]
        means = [cell.test["mean"] for cell in row_cells if cell is not None]
        average = _pct(math.fsum(means) / len(means)) if len(means) == len(tasks) else "—"
        lines.append(f"| {model} | {head} | " + " | ".join(entries) + f" | {average} |")

    lines += ["", "### Chosen configurations", ""]
    for cell in cells:
        number = numbers[cell.id]
        links = ", ".join(f"[seed {run['seed']}]({_link(run['_path'], base)})" for run in cell.runs if "_path" in run)
        duplicates = f"; {len(cell.superseded)} older duplicate result(s) ignored" if cell.superseded else ""
        lines.append(
            f'- <a id="config-{number}"></a>[{number}] {cell.task} / {cell.model} / {cell.head}: '
            f"config `{cell.config_key}`, best mean dev {_pct(cell.dev['mean'])} of {cell.n_configs} "
            f"configuration(s), {cell.n_failed} failed run(s){duplicates}. "
            f"Hyper-parameters: {_format_hparams(cell.hparams)}. Results: {links or '—'}. "
            f"Reproduce: {_reproduce_command(cell)}."
        )
    return lines


def _reproduce_command(cell: Cell) -> str:
    """The command stored with one seed's result, widened to run every seed of the cell."""
    words = str(cell.runs[0].get("command") or "").split()
    if not words:
        return "—"
    if "--seed" in words:
        at = words.index("--seed")
        del words[at : at + 2]
    return "`" + " ".join(words + ["--seeds", ",".join(str(run["seed"]) for run in cell.runs)]) + "`"


def _significance_row(cell: Cell, best: Cell, comparison: Comparison) -> str:
    if comparison.is_best:
        return f"| {cell.model} | {cell.head} | — | — | — | — | {BEST_MARK} best | |"
    boot, seed_test = comparison.bootstrap, comparison.seed_test
    boot_delta = f"{_pct(boot['delta'])} [{_pct(boot['ci_low'])}, {_pct(boot['ci_high'])}]" if boot else "—"
    boot_p = f"{boot['p_value']:.4f}" if boot else "—"
    seed_p = f"{seed_test['p_value']:.4f}" if seed_test else "—"
    verdict = {None: f"{UNTESTED_MARK} untested", True: "worse", False: f"{TIE_MARK} not different"}
    return (
        f"| {cell.model} | {cell.head} | {_pct(best.test['mean'] - cell.test['mean'])} | {boot_delta} | "
        f"{boot_p} | {seed_p} | {verdict[comparison.significantly_worse]} | {'; '.join(comparison.notes)} |"
    )


def _significance_section(cells: list[Cell], comparisons: dict, n_resamples: int) -> list[str]:
    lines = [
        "## Significance",
        "",
        f"Each row against its task's {BEST_MARK} row. Bootstrap: paired bootstrap over test examples",
        f"({n_resamples} resamples of the test set's size, drawn with replacement) on the predictions of",
        "each row's best-dev seed; Δ = best − row; p = share of resamples in which the best row's",
        "advantage vanishes or reverses (one-sided). Seed test: Welch's two-sided t-test over per-seed",
        f"test scores (needs ≥ {MIN_SEEDS_FOR_SEED_TEST} seeds on both sides). Significantly worse: every",
        f"test that ran has p < {ALPHA}.",
    ]
    for task in sorted({cell.task for cell in cells}, key=_task_order):
        task_cells = [cell for cell in cells if cell.task == task]
        best = next(cell for cell in task_cells if comparisons[cell.id].is_best)
        lines += [
            "",
            f"### {task}",
            "",
            "| Model | Head | Mean test Δ | Bootstrap Δ [95% CI] | Bootstrap p | Seed-test p | Verdict | Notes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [_significance_row(cell, best, comparisons[cell.id]) for cell in task_cells]
    return lines


def _plots_section(cells: list[Cell], plots_dir: Path, base: Path) -> list[str]:
    lines = ["## Plots", ""]
    for task in sorted({cell.task for cell in cells}, key=_task_order):
        task_cells = [cell for cell in cells if cell.task == task]
        spread = plots_dir / f"seed-spread--{task}.svg"
        curve = plots_dir / f"expected-max-dev--{task}.svg"
        plot_seed_spread(task, task_cells, spread)
        plot_expected_max(task, task_cells, curve)
        lines += [
            f"### {task}",
            "",
            f"![{task}: per-seed test scores]({_link(spread, base)})",
            "",
            f"![{task}: expected best dev score vs number of runs]({_link(curve, base)})",
            "",
        ]
    return lines


def _run_groups_table(runs: list[dict], describe_protocol) -> list[str]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        groups[(run["task"]["name"], run["model"]["alias"], run["head"], describe_protocol(run))].append(run)
    lines = [
        "| Task | Model | Head | Protocol | Completed | Failed | Failure reasons |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in sorted(groups, key=lambda key: (_task_order(key[0]), _row_order(key[1], key[2]), key[3])):
        task, model, head, protocol = key
        failed = [run for run in groups[key] if run["status"] == "failed"]
        # A "|" or newline in a reason would break the Markdown table.
        reasons = sorted({str(run.get("failure") or "unknown").replace("|", "/").replace("\n", " ") for run in failed})
        lines.append(
            f"| {task} | {model} | {head} | {protocol} | {len(groups[key]) - len(failed)} | {len(failed)} | "
            f"{'; '.join(reasons)} |"
        )
    return lines


def _smoke_protocol(run: dict) -> str:
    protocol = run["protocol"]
    parts = []
    if protocol["train_on_dev"] or protocol.get("train_split", "train") != "train":
        parts.append(f"trained on {protocol.get('train_split', 'dev')}")
    if protocol["limit"] is not None:
        parts.append(f"limit={protocol['limit']}")
    return ", ".join(parts)


def _runs_sections(usable: list[dict]) -> list[str]:
    failed = [run for run in usable if not is_smoke(run) and run["status"] == "failed"]
    smoke = [run for run in usable if is_smoke(run)]
    lines = ["## Failed runs", ""]
    if failed:
        lines += ["Comparable runs that did not complete (not part of any score above).", ""]
        lines += _run_groups_table(failed, lambda run: "full")
    else:
        lines.append("None.")
    lines += [
        "",
        "## Smoke runs (not comparable)",
        "",
        "Runs trained on the dev split or on a limited subset. They check that the pipeline works;",
        "their scores are **not comparable** and appear nowhere else on this page.",
        "",
    ]
    lines += _run_groups_table(smoke, _smoke_protocol) if smoke else ["None."]
    return lines


def _reported_row(entry: dict, cell: Cell | None) -> str:
    head = entry.get("head", "linear")
    published = entry["mean"] if entry.get("mean") is not None else entry["max"]
    reproduced = None if cell is None else (cell.dev if entry["split"] == "dev" else cell.test)["mean"]
    reproduced_text = "—" if reproduced is None else _pct(reproduced)
    delta = "—" if reproduced is None else f"{100 * reproduced - float(published):+.2f}"
    source = f"[{entry['source']}](#source-{entry['source']}) {entry.get('location', '')}".rstrip()
    return (
        f"| {entry['task']} | {entry['model']} | {head} | {entry['split']} | {entry['metric']} | "
        f"{_published(entry.get('max'))} | {_published(entry.get('mean'))} | {entry.get('n_runs', '—')} | "
        f"{reproduced_text} | {delta} | {source} |"
    )


def _reported_section(entries: list[dict], sources: dict, cells: list[Cell]) -> list[str]:
    lines = [
        "## Reported scores (published, not reproduced here)",
        "",
        "Scores copied from the cited publications, in percent (HFL reports the max and, in brackets,",
        "the mean of 10 runs). Their data versions, preprocessing and tuning differ from ours: they are",
        "context, not results of this harness. Δ = our reproduced mean − published mean (published max",
        "when no mean is given) for the same model, task, head and split; our dev mean is that of the",
        "configuration chosen by it, so it is optimistic.",
        "",
    ]
    if not entries:
        return lines + ["None."]
    by_id = {cell.id: cell for cell in cells}
    ordered = sorted(
        entries,
        key=lambda entry: (
            _task_order(entry["task"]),
            _row_order(entry["model"], entry.get("head", "linear")),
            entry["split"],
            entry["source"],
        ),
    )
    lines += [
        "| Task | Model | Head | Split | Metric | Published max | Published mean | Runs | Reproduced mean | Δ "
        "| Source |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        _reported_row(entry, by_id.get((entry["task"], entry["model"], entry.get("head", "linear"))))
        for entry in ordered
    ]
    lines += ["", "### Sources", ""]
    for key in sorted({entry["source"] for entry in entries}):
        source = sources[key]
        citation = f"{source.get('citation', '')} {source.get('url', '')}".rstrip()
        lines.append(f'- <a id="source-{key}"></a>`{key}`: {citation}')
    return lines


def render_leaderboard(
    results_dir: str | Path,
    reported_path: str | Path | None,
    out_path: str | Path,
    plots_dir: str | Path,
    *,
    gold_labels: Mapping[str, Sequence] | None = None,
    n_resamples: int = 1000,
) -> str:
    """Write the leaderboard Markdown to ``out_path`` and its SVG plots under ``plots_dir``.

    Reads every result under ``results_dir`` (``load_results``) and the published scores in
    ``reported_path`` (may be ``None`` or missing). ``gold_labels`` maps task names to gold test
    labels for the paired bootstrap (see ``compare_to_best``). Unreadable or foreign JSON, malformed
    results and malformed reported entries are listed by file name under "Problems" and skipped,
    never raised. Output is deterministic: the same inputs give the same bytes (no timestamps,
    sorted orders, fixed float formats, paths relative to ``out_path``'s folder, fixed-salt SVGs).
    Returns the Markdown text.
    """
    results_dir, out_path, plots_dir = Path(results_dir), Path(out_path), Path(plots_dir)
    base = out_path.parent
    results, load_problems = load_results(results_dir)
    problems = [_relative_problem(problem, base) for problem in load_problems]
    usable = []
    for result in results:
        problem = result_problem(result)
        if problem is None:
            usable.append(result)
        else:
            problems.append(f"{_link(result['_path'], base)}: {problem}")
    cells = select_configs(usable)
    comparisons = compare_to_best(cells, gold_labels, n_resamples=n_resamples)
    entries, sources, reported_problems = load_reported(None if reported_path is None else Path(reported_path))
    problems += reported_problems

    lines = [
        "# cnbench leaderboard",
        "",
        "<!-- Generated by `cnbench leaderboard`. Do not edit by hand: changes are overwritten. -->",
        f"> Generated by `cnbench leaderboard` from the result files in `{_link(results_dir, base)}/`."
        " Do not edit by hand; re-run the command instead.",
        "",
    ]
    if cells:
        lines += _reproduced_section(cells, comparisons, base) + [""]
        lines += _significance_section(cells, comparisons, n_resamples) + [""]
        lines += _plots_section(cells, plots_dir, base)
    else:
        lines += ["## Reproduced scores", "", "No comparable completed runs yet.", ""]
    lines += _runs_sections(usable) + [""]
    lines += _reported_section(entries, sources, cells) + [""]
    lines += ["## Problems", ""]
    lines += [f"- {problem}" for problem in sorted(problems)] if problems else ["None."]
    text = "\n".join(lines) + "\n"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return text


def gold_test_labels(task_names: Sequence[str], data_dir=None) -> dict[str, list]:
    """Gold test labels per task, read from the local data, for the paired bootstrap.

    Result files hold predictions only; a task whose data cannot be loaded here is left out (its
    rows then get the seed-level test alone, and the leaderboard says so).
    """
    from cnbench import paths
    from cnbench.data.load import load_task_data
    from cnbench.errors import CnbenchError
    from cnbench.registry import get_task

    gold = {}
    for name in task_names:
        try:
            task = get_task(name)
            data = load_task_data(task, paths.data_dir(data_dir), train_on_dev=True)
        except CnbenchError:
            continue
        gold[name] = [list(ex.tags) if task.kind == "tagging" else ex.label for ex in data.splits["test"]]
    return gold
