"""How the leaderboard is shown: the Markdown page and its plots, from what ``select`` and
``significance`` decided.

Metrics in result files are fractions in [0, 1]; the page shows percentages. Output is
deterministic: the same inputs give the same bytes (no timestamps, sorted orders, fixed float
formats, paths relative to the page's folder, fixed-salt SVGs).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from cnbench.atomic import atomic_file
from cnbench.leaderboard.plots import PLOT_PREFIXES, plot_expected_max, plot_names, plot_seed_spread
from cnbench.leaderboard.reported import REPORTED_METRICS, load_reported
from cnbench.leaderboard.select import (
    ABANDONED_PREFIX,
    CLUE_CLASSIFICATION,
    HEAD_ORDER,
    MODEL_ORDER,
    TASK_ORDER,
    WORST_SCORE,
    Cell,
    Column,
    config_key,
    data_identity,
    declaration_conflicts,
    epochs_trained,
    is_smoke,
    ordered,
    result_problem,
    select_configs,
)
from cnbench.leaderboard.significance import (
    ALPHA,
    BEST_MARK,
    TIE_MARK,
    UNTESTED_MARK,
    AgainstFull,
    Comparison,
    Gold,
    compare_to_best,
)
from cnbench.results import load_results
from cnbench.stats import MIN_SEEDS_FOR_SEED_TEST

NOTES_FILE = "notes.md"


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.2f}"


def _spread(summary: dict) -> str:
    # The sample std of one value is undefined; "± 0.00" would read as "no spread".
    std = _pct(summary["std"]) if summary["n"] > 1 else "—"
    return f"{_pct(summary['mean'])} ± {std} ({_pct(summary['max'])})"


def _published(value) -> str:
    return "—" if value is None else repr(float(value))


def _link(path: str | Path, base: Path) -> str:
    return Path(os.path.relpath(Path(path), base)).as_posix()


def _table_text(text: str) -> str:
    """A "|" or newline would break a Markdown table row."""
    return text.replace("|", "/").replace("\n", " ")


def _format_hparams(hparams: dict) -> str:
    return ", ".join(
        f"{name}={json.dumps(hparams[name], sort_keys=True, ensure_ascii=False)}" for name in sorted(hparams)
    )


def _seed_counts(cell: Cell) -> str:
    config = cell.config
    text = f"n={len(config.completed)} of {len(config.started)}"
    text += f", {len(config.failed)} failed" if config.failed else ""
    text += f", {len(cell.unusable)} unusable file(s)" if cell.unusable else ""
    improving = len(config.still_improving)
    return text + (f", {improving} still improving at cap" if improving else "")


class _Page:
    """Numbering shared by every section: cells [N] and data columns [DN]."""

    def __init__(self, cells: list[Cell], comparisons: dict, against_full: dict, base: Path):
        self.cells, self.comparisons, self.against_full, self.base = cells, comparisons, against_full, base
        self.columns = sorted({cell.column for cell in cells}, key=Column.sort_key)
        self.rows = sorted({cell.row for cell in cells}, key=lambda row: row.sort_key())
        self.number = {cell.id: number for number, cell in enumerate(cells, start=1)}
        self.data_number = {column: number for number, column in enumerate(self.columns, start=1)}

    def cell_link(self, cell: Cell) -> str:
        number = self.number[cell.id]
        return f"[[{number}]](#config-{number})"

    def data_ref(self, column: Column) -> str:
        number = self.data_number[column]
        return f"[D{number}](#data-{number})"


# --------------------------------------------------------------------------- reproduced scores


def _main_text(page: _Page, cell: Cell) -> str:
    if cell.test is None:
        return f"no completed seed, {_seed_counts(cell)} {page.cell_link(cell)}"
    text = f"{_spread(cell.test)}, {_seed_counts(cell)}"
    mark = page.comparisons[cell.id].mark
    if mark == BEST_MARK:
        text = f"**{text}**"
    return f"{text} {mark}".rstrip() + f" {page.cell_link(cell)}"


def _side_text(cell: Cell | None, metric: str) -> str:
    summary = None if cell is None else cell.metric_summary("test", metric)
    return "—" if summary is None else _spread(summary)


def _reproduced_table(page: _Page) -> list[str]:
    headers, separators = ["Model", "Head", "Tuning", "Model identity", "Tokenizer"], "|---|---|---|---|---|"
    for column in page.columns:
        headers.append(f"{column.task} {column.metric_name} {page.data_ref(column)}")
        headers += [f"{column.task} {name} {page.data_ref(column)}" for _, name in column.side_metrics]
        separators += "---|" * (1 + len(column.side_metrics))
    clue = any(column.task in CLUE_CLASSIFICATION for column in page.columns)
    lines = [
        "| " + " | ".join(headers + ["Average"] + (["CLUE score"] if clue else [])) + " |",
        separators + "---|" + ("---|" if clue else ""),
    ]
    by_id = {cell.id: cell for cell in page.cells}
    for row in page.rows:
        entries, means = [], []
        for column in page.columns:
            cell = by_id.get((column, row))
            entries.append("—" if cell is None else _main_text(page, cell))
            entries += [_side_text(cell, metric) for metric, _ in column.side_metrics]
            if cell is not None and cell.test is not None:
                means.append(cell.test["mean"])
        average = _pct(math.fsum(means) / len(means)) if len(means) == len(page.columns) else "—"
        lines.append(
            f"| {row.model} | {row.head} | {row.strategy} | `{row.model_identity}` | {row.tokenizer} | "
            + " | ".join(entries)
            + f" | {average} |"
            + (f" {clue_score(page, row)} |" if clue else "")
        )
    return lines


def clue_score(page: _Page, row) -> str:
    """CLUE's classification score of a row: the mean of the six tasks' mean main metrics, shown
    only where each of the six has exactly one cell in the row with a completed seed (a task on
    two data identities, or a missing task, leaves it out: "—")."""
    by_id = {cell.id: cell for cell in page.cells}
    means = []
    for task in CLUE_CLASSIFICATION:
        cells = [by_id[(column, row)] for column in page.columns if column.task == task and (column, row) in by_id]
        if len(cells) != 1 or cells[0].test is None:
            return "—"
        means.append(cells[0].test["mean"])
    return _pct(math.fsum(means) / len(means))


def _data_notes(page: _Page) -> list[str]:
    lines = [
        "### Data",
        "",
        "Each task column is one exact data identity; runs on other data get their own column.",
        "",
    ]
    for column in page.columns:
        number = page.data_number[column]
        first = next(cell for cell in page.cells if cell.column == column).config.started[0]
        _, label, how = data_identity(first)
        lines.append(
            f'- <a id="data-{number}"></a>[D{number}] {column.task}: {label}, '
            f"identity `{column.data_identity}` ({how})."
        )
    return lines


def _reproduce_command(cell: Cell) -> str:
    """The command stored with one seed's result, widened to run every seed the configuration started.
    A precision the run chose itself (``--precision auto``, the default) is pinned: the same command
    on hardware without native bf16 would otherwise train another configuration, in fp32."""
    words = str(cell.config.started[0].get("command") or "").split()
    if not words:
        return "—"
    if "--seed" in words:
        at = words.index("--seed")
        del words[at : at + 2]
    precision = cell.config.hparams.get("precision")
    if precision and "--precision" not in words:
        words += ["--precision", str(precision)]
    return "`" + " ".join(words + ["--seeds", ",".join(str(run["seed"]) for run in cell.config.started)]) + "`"


def _training_length(config) -> str:
    """Per completed seed, epochs trained of the cap and the best-dev epoch: shows at a glance
    whether a configuration stopped on a fixed budget or because dev stopped improving."""
    patience = config.hparams.get("patience")
    rule = (
        f"a seed stops after {patience} epochs without a dev improvement, or at the epoch cap"
        if patience
        else "fixed number of epochs"
    )
    seeds = ", ".join(f"seed {run['seed']} {epochs_trained(run)}" for run in config.completed)
    return f"{rule}; epochs trained (best dev epoch): {seeds or 'none completed'}"


def _config_entry(page: _Page, cell: Cell) -> str:
    number, config, base = page.number[cell.id], cell.config, page.base
    links = ", ".join(
        f"[seed {run['seed']}{'' if run['status'] == 'completed' else ' (failed)'}]({_link(run['_path'], base)})"
        for run in config.started
        if "_path" in run
    )
    failures = "; ".join(f"seed {run['seed']}: {run.get('failure') or 'no reason recorded'}" for run in config.failed)
    completed_dev = "" if cell.dev is None else f"; mean dev of the completed seeds {_pct(cell.dev['mean'])}"
    duplicates = f"; {len(cell.superseded)} older duplicate result(s) ignored" if cell.superseded else ""
    earlier_failures = [run for run in cell.superseded if run["status"] == "failed"]
    if earlier_failures:  # a seed re-run until it passed still shows that it failed before
        duplicates += ", among them earlier failures: " + "; ".join(
            f"[seed {run['seed']}]({_link(run['_path'], base)}): {run.get('failure') or 'no reason recorded'}"
            for run in earlier_failures
            if "_path" in run
        )
    return (
        f'- <a id="config-{number}"></a>[{number}] {cell.column.task} {page.data_ref(cell.column)} / '
        f"{cell.row.model} / {cell.row.head} / {cell.row.strategy}: config `{config.key}`, chosen among "
        f"{cell.n_configs} configuration(s) with mean dev {_pct(config.selection)} over all "
        f"{len(config.started)} started seed(s){completed_dev}. Seeds: {len(config.started)} started, "
        f"{len(config.completed)} completed, {len(config.failed)} failed{duplicates}. "
        f"Failures: {failures or 'none'}. {_unusable_text(cell, base)}"
        f"Model identity `{cell.row.model_identity}`; tokenizer normalisation: {cell.row.tokenizer}. "
        f"Training: {_training_length(config)}. "
        f"Hyper-parameters: {_format_hparams(config.hparams)}. "
        f"Results: {links or '—'}. Reproduce: {_reproduce_command(cell)}."
    )


def _unusable_text(cell: Cell, base: Path) -> str:
    if not cell.unusable:
        return ""
    files = "; ".join(f"[{Path(path).name}]({_link(path, base)}): {reason}" for path, reason in cell.unusable)
    return (
        f"Unusable result files that name this task, model and head (counted nowhere, maybe a failed "
        f"seed of this cell): {files}. "
    )


def _reproduced_section(page: _Page) -> list[str]:
    lines = [
        "## Reproduced scores",
        "",
        "Test-set main metric in percent: `mean ± std (max)` over the completed seeds of the chosen",
        "configuration of each cell, then `n=completed of started` and how many seeds failed. NER",
        "columns show seqeval's strict IOB2 F1 and, beside it, conlleval F1 (the CoNLL script's",
        "counting, which published Chinese NER scores use); reading-comprehension columns show the CMRC",
        "2018 evaluator's F1 and, beside it, its EM, averaged over every question. A row is one model",
        "build (model identity,",
        "tokenizer normalisation and any `--tokenizer` replacing the checkpoint's own) with one head and",
        "fine-tuning strategy; a column is one task on",
        "one exact data identity ([Data](#data)).",
        "",
        "Choice: in each cell, the configuration with the best mean **dev** score over **every seed it",
        "started** wins (test scores never take part). A completed seed counts with its dev score, a",
        "seed abandoned early with its best dev score before abandonment, and any other failed seed",
        f"(diverged, crashed) with {_pct(WORST_SCORE)}; ties go to more completed seeds, then to more",
        "started seeds, then to the smaller config key. A seed counts with its newest result: one re-run",
        "after failing counts as its re-run, and the failed result is listed, with its reason, as an",
        "older duplicate in the configuration's entry.",
        "std is the sample standard deviation over completed seeds (`± —` for a single one). Each",
        f"cell's [number] links to its configuration, seeds, failures and result files. {BEST_MARK} best mean",
        "test score of the column among the cells whose every started seed completed and that no",
        "unusable result file names (among all cells",
        f"when none did; on a tie, the first row); {TIE_MARK} not significantly different from",
        f"{BEST_MARK} (p ≥ {ALPHA} in at least one test, see [Significance](#significance)); {UNTESTED_MARK} no test",
        "could be run; no mark: significantly worse. `k still improving at cap`: k completed seeds",
        "trained every epoch of their cap with their best dev epoch among the last `patience` epochs",
        "(the last epoch, without patience), so dev had not stopped improving and a longer schedule may",
        "score higher. `k unusable file(s)`: result files that could not be read or used but whose",
        "file name gives this cell's task, model and head (named in its entry and under Problems).",
        "The average (of main metrics) needs every column.",
        "",
    ]
    if any(column.task in CLUE_CLASSIFICATION for column in page.columns):
        lines += [
            "CLUE score: CLUE's classification score, the plain average of the main metric of AFQMC,",
            "TNEWS', IFLYTEK', CMNLI, CLUEWSC2020 and CSL, shown where the row has exactly one cell of each.",
            "CLUE's test labels are hidden, so the CLUE columns score CLUE's official dev sets (epochs chosen",
            "on a train holdout): compare them with CLUE's published dev numbers, not with its test Score.",
            "",
        ]
    lines += _reproduced_table(page)
    lines += [""] + _data_notes(page)
    lines += ["", "### Chosen configurations", ""]
    lines += [_config_entry(page, cell) for cell in page.cells]
    return lines


# --------------------------------------------------------------------------- significance


def _significance_row(page: _Page, cell: Cell, best: Cell, comparison: Comparison) -> str:
    label = f"| {page.cell_link(cell)} | {cell.row.model} | {cell.row.head} | {cell.row.strategy} |"
    if comparison.is_best:
        return f"{label} — | — | — | — | {BEST_MARK} best | |"
    return (
        f"{label} {_pct(best.completed_test['mean'] - cell.completed_test['mean'])} | {_test_columns(comparison)} | "
        f"{comparison.verdict()} | {'; '.join(comparison.notes)} |"
    )


def _test_columns(comparison: Comparison, sign: int = 1) -> str:
    """``Bootstrap Δ [95% CI] | Bootstrap p | Seed-test p``; ``sign=-1`` turns the bootstrap's
    Δ (first minus second) around."""
    boot, seed_test = comparison.bootstrap, comparison.seed_test
    boot_delta, boot_p = "—", "—"
    if boot:
        low, high = sorted((sign * boot["ci_low"], sign * boot["ci_high"]))
        boot_delta, boot_p = f"{_pct(sign * boot['delta'])} [{_pct(low)}, {_pct(high)}]", f"{boot['p_value']:.4f}"
    seed_p = f"{seed_test['p_value']:.4f}" if seed_test else "—"
    return f"{boot_delta} | {boot_p} | {seed_p}"


def _significance_section(page: _Page, n_resamples: int) -> list[str]:
    lines = [
        "## Significance",
        "",
        f"Each cell against its column's {BEST_MARK} cell (same task, same data). Bootstrap: paired",
        f"bootstrap over test examples ({n_resamples} resamples of the test set's size, drawn with",
        "replacement) on the predictions of each cell's best-dev seed, against gold labels loaded here and",
        "verified to be the gold each run was scored on (else listed under [Problems](#problems), not",
        "resampled); Δ = best − row, with its 95% percentile interval; p = (number of resamples in which",
        "the best row's advantage vanishes or reverses + 1) / (resamples + 1), one-sided for the best row",
        "being the better, so a row whose best-dev seed beats the best row's gets p near 1. A one-sided",
        f"p < {ALPHA} corresponds to a 90% interval above 0: the 95% interval of a row found significantly",
        "worse can still reach 0. Seed test: Welch's two-sided t-test over per-seed test scores (needs",
        f"≥ {MIN_SEEDS_FOR_SEED_TEST} completed seeds on both sides). Significantly worse: every test that",
        f"ran has p < {ALPHA}. Cells without a completed seed are not compared.",
    ]
    for column in page.columns:
        column_cells = [cell for cell in page.cells if cell.column == column and cell.id in page.comparisons]
        lines += ["", f"### {column.task} {page.data_ref(column)}", ""]
        if not column_cells:
            lines.append("No cell of this column has a completed seed: nothing to compare.")
            continue
        best = next(cell for cell in column_cells if page.comparisons[cell.id].is_best)
        lines += [
            "| Cell | Model | Head | Tuning | Mean test Δ | Bootstrap Δ [95% CI] | Bootstrap p | Seed-test p "
            "| Verdict | Notes |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [_significance_row(page, cell, best, page.comparisons[cell.id]) for cell in column_cells]
        against_full = [(cell, page.against_full[cell.id]) for cell in column_cells if cell.id in page.against_full]
        if against_full:
            lines += [
                "",
                "Each fine-tuning strategy against full fine-tuning of the same model build and head "
                "(Δ = full − row; both tests run from the higher mean test score to the lower, and the "
                "bootstrap's p is one-sided for the higher one being the better):",
                "",
                "| Cell | Model | Head | Tuning | Full fine-tuning | Mean test Δ | Bootstrap Δ [95% CI] | "
                "Bootstrap p | Seed-test p | Verdict | Notes |",
                "|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            lines += [_against_full_row(page, cell, versus) for cell, versus in against_full]
    return lines


def _against_full_row(page: _Page, cell: Cell, versus: AgainstFull) -> str:
    return (
        f"| {page.cell_link(cell)} | {cell.row.model} | {cell.row.head} | {cell.row.strategy} | "
        f"{page.cell_link(versus.full)} | {_pct(versus.full.completed_test['mean'] - cell.completed_test['mean'])} | "
        f"{_test_columns(versus.comparison, 1 if versus.full_is_higher else -1)} | {versus.verdict} | "
        f"{'; '.join(versus.comparison.notes)} |"
    )


# --------------------------------------------------------------------------- plots


def _plots_section(page: _Page, plots_dir: Path) -> list[str]:
    lines = ["## Plots", ""]
    written = set()
    for column in page.columns:
        column_cells = [cell for cell in page.cells if cell.column == column and cell.runs]
        lines += [f"### {column.task} {page.data_ref(column)}", ""]
        if not column_cells:
            lines += ["No cell of this column has a completed seed: nothing to plot.", ""]
            continue
        spread, curve = (plots_dir / name for name in plot_names(column))
        plot_seed_spread(column, column_cells, spread)
        plot_expected_max(column, column_cells, curve)
        written |= {spread.name, curve.name}
        lines += [
            f"![{column.task}: per-seed test scores]({_link(spread, page.base)})",
            "",
            f"![{column.task}: expected best dev score vs number of runs]({_link(curve, page.base)})",
            "",
        ]
    _remove_stale_plots(plots_dir, written)
    return lines


def _remove_stale_plots(plots_dir: Path, written: set[str]) -> None:
    """Plots of columns that no longer exist would otherwise linger beside the page."""
    if plots_dir.is_dir():
        for path in plots_dir.glob("*.svg"):
            if path.name.startswith(PLOT_PREFIXES) and path.name not in written:
                path.unlink()


# --------------------------------------------------------------------------- failed and smoke runs


def _run_groups_table(runs: list[dict], what: str, describe) -> list[str]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        groups[(run["task"]["name"], run["model"]["alias"], run["head"], describe(run))].append(run)
    lines = [
        f"| Task | Model | Head | {what} | Completed | Failed | Failure reasons |",
        "|---|---|---|---|---|---|---|",
    ]

    def order(key: tuple) -> tuple:
        return ordered(key[0], TASK_ORDER), ordered(key[1], MODEL_ORDER), ordered(key[2], HEAD_ORDER), key[3]

    for key in sorted(groups, key=order):
        task, model, head, described = key
        failed = [run for run in groups[key] if run["status"] == "failed"]
        reasons = sorted({_table_text(str(run.get("failure") or "unknown")) for run in failed})
        lines.append(
            f"| {task} | {model} | {head} | {described} | {len(groups[key]) - len(failed)} | {len(failed)} | "
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


def _runs_sections(cells: list[Cell], usable: list[dict]) -> list[str]:
    with_failures = [run for cell in cells for config in cell.configs if config.failed for run in config.started]
    smoke = [run for run in usable if is_smoke(run)]
    lines = ["## Failed runs", ""]
    if with_failures:
        lines += [
            "Every configuration, chosen or not, that started a seed which did not complete, with all its",
            "seeds. Failed seeds count in their configuration's choice (abandoned ones, whose reason starts",
            f"`{ABANDONED_PREFIX}`, with their dev score before abandonment; others with {_pct(WORST_SCORE)}).",
            "",
        ]
        lines += _run_groups_table(with_failures, "Config", lambda run: f"`{config_key(run)}`")
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
    lines += _run_groups_table(smoke, "Protocol", _smoke_protocol) if smoke else ["None."]
    return lines


# --------------------------------------------------------------------------- reported scores


def _reported_rows(page: _Page, entry: dict) -> list[str]:
    head = entry.get("head", "linear")
    published = entry["mean"] if entry.get("mean") is not None else entry["max"]
    source = f"[{entry['source']}](#source-{entry['source']}) {entry.get('location', '')}".rstrip()
    prefix = (
        f"| {entry['task']} | {entry['model']} | {head} | {entry['split']} | {entry['metric']} | "
        f"{_published(entry.get('max'))} | {_published(entry.get('mean'))} | {entry.get('n_runs', '—')} |"
    )
    matches = [
        cell
        for cell in page.cells
        if (cell.column.task, cell.row.model, cell.row.head, cell.row.strategy)
        == (entry["task"], entry["model"], head, "full")
    ]
    rows = []
    for cell in matches:
        summary = cell.metric_summary(entry["split"], REPORTED_METRICS[entry["metric"]])
        if summary is not None:
            delta = f"{100 * summary['mean'] - float(published):+.2f}"
            rows.append(
                f"{prefix} {page.data_ref(cell.column)} {page.cell_link(cell)} | "
                f"{_pct(summary['mean'])} | {delta} | {source} |"
            )
    return rows or [f"{prefix} — | — | — | {source} |"]


def _reported_section(entries: list[dict], sources: dict, page: _Page) -> list[str]:
    lines = [
        "## Reported scores (published, not reproduced here)",
        "",
        "Scores copied from the cited publications, in percent (HFL reports the max and, in brackets,",
        "the mean of 10 runs), each on the metric the publication used and compared with our score on",
        "that same metric. Their data versions, preprocessing and tuning differ from ours: they are",
        "context, not results of this harness. Δ = our reproduced mean − published mean (published max",
        "when no mean is given) for the same model, task, head and split, one line per matching cell of",
        "ours (with its data); our dev mean is that of the configuration chosen by it, so it is optimistic.",
        "",
    ]
    if not entries:
        return lines + ["None."]
    if any(entry["split"] == "hidden_test" for entry in entries):
        lines += [
            "Split `hidden_test`: a score on a test set whose labels are not public (CLUE's); no split",
            "of ours is that set, so such entries are shown for context and never compared.",
            "",
        ]
    ordered_entries = sorted(
        entries,
        key=lambda entry: (
            ordered(entry["task"], TASK_ORDER),
            ordered(entry["model"], MODEL_ORDER),
            ordered(entry.get("head", "linear"), HEAD_ORDER),
            entry["split"],
            entry["metric"],
            entry["source"],
        ),
    )
    lines += [
        "| Task | Model | Head | Split | Metric | Published max | Published mean | Runs | Our cell | Reproduced mean "
        "| Δ | Source |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in ordered_entries:
        lines += _reported_rows(page, entry)
    lines += ["", "### Sources", ""]
    for key in sorted({entry["source"] for entry in entries}):
        source = sources[key]
        citation = f"{source.get('citation', '')} {source.get('url', '')}".rstrip()
        lines.append(f'- <a id="source-{key}"></a>`{key}`: {citation}')
    return lines


# --------------------------------------------------------------------------- the page


def render_leaderboard(
    results_dir: str | Path,
    reported_path: str | Path | None,
    out_path: str | Path,
    plots_dir: str | Path,
    *,
    gold: Mapping[str, Sequence[Gold]] | None = None,
    n_resamples: int = 1000,
) -> str:
    """Write the leaderboard Markdown to ``out_path`` and its SVG plots under ``plots_dir``.

    Reads every result under ``results_dir`` (``load_results``) and the published scores in
    ``reported_path`` (may be ``None`` or missing), and ``notes.md`` beside ``out_path`` if there
    is one, shown as the Notes section. ``gold`` maps task names to their ``Gold`` test
    labels, one or several (local and Hub), for the paired bootstrap (``gold_test_labels``).
    Unreadable or foreign JSON, malformed results, malformed reported entries and results whose
    gold cannot be verified are listed under "Problems", never raised. Plots this page no longer
    shows are removed from ``plots_dir``.
    Returns the Markdown text.
    """
    results_dir, out_path, plots_dir = Path(results_dir), Path(out_path), Path(plots_dir)
    base = out_path.parent
    results, load_problems = load_results(results_dir)
    unusable = list(load_problems)
    usable = []
    for result in results:
        problem = result_problem(result)
        if problem is None:
            usable.append(result)
        else:
            unusable.append((result["_path"], problem))
    problems = [f"{_link(path, base)}: {reason}" for path, reason in unusable]
    cells = select_configs(usable, unusable)
    significance = compare_to_best(cells, gold, n_resamples=n_resamples)
    problems += [
        f"{_link(path, base)}: gold not verified (kept out of the bootstrap, still in its cell's mean): {reason}"
        for path, reason in significance.problems
    ]
    entries, sources, reported_problems = load_reported(None if reported_path is None else Path(reported_path))
    problems += reported_problems
    page = _Page(cells, significance.comparisons, significance.against_full, base)
    for column, declared in declaration_conflicts(cells).items():
        groups = "; ".join(
            f"`{digest[:12]}`: {', '.join(_link(path, base) for path in sorted(paths))}"
            for digest, paths in sorted(declared.items())
        )
        problems.append(
            f"{column.task} {page.data_ref(column)}: its seeds were read under {len(declared)} "
            f"declarations of the task, so its scores do not compare (declaration_sha256 {groups})"
        )

    lines = [
        "# cnbench leaderboard",
        "",
        "<!-- Generated by `cnbench leaderboard`. Do not edit by hand: changes are overwritten. -->",
        f"> Generated by `cnbench leaderboard` from the result files in `{_link(results_dir, base)}/`."
        " Do not edit by hand; re-run the command instead.",
        "",
    ]
    if cells:
        lines += _reproduced_section(page) + [""]
        lines += _significance_section(page, n_resamples) + [""]
        lines += _plots_section(page, plots_dir)
    else:
        lines += ["## Reproduced scores", "", "No comparable runs yet.", ""]
        _remove_stale_plots(plots_dir, set())
    lines += _runs_sections(cells, usable) + [""]
    lines += _reported_section(entries, sources, page) + [""]
    notes = out_path.parent / NOTES_FILE
    if notes.is_file():  # findings written by people, kept beside the numbers they explain
        lines += ["## Notes", "", notes.read_text(encoding="utf-8").strip(), ""]
    lines += ["## Problems", ""]
    lines += [f"- {problem}" for problem in sorted(problems)] if problems else ["None."]
    text = "\n".join(lines) + "\n"
    with atomic_file(out_path, "w", permissions=0o644) as handle:  # a crash never leaves half a page
        handle.write(text)
    return text
