"""Significance of each cell against its column's best, on verified gold.

Per column (one task on one data identity), each cell with completed seeds is compared with the
cell of the best mean test score (ties: first in row order):

- paired bootstrap (``cnbench.stats.paired_bootstrap``) on the test set, comparing the predictions of
  each cell's *best-dev seed* (its chosen configuration's completed run with the highest dev score,
  lowest seed on ties): one model per cell, picked the way a user would pick it, without looking at
  test. Result files hold predictions, not gold: the gold comes from the data the leaderboard loads
  (``gold_test_labels``) and is used only for a run shown to have been scored on that very gold
  (``verify_gold``). A run that cannot be shown so is reported as a problem, never resampled.
- Welch's t-test over per-seed test scores (``cnbench.stats.seed_level_test``) when both cells have
  at least ``MIN_SEEDS_FOR_SEED_TEST`` completed seeds.

A cell counts as significantly worse than the best only when every test that could be run gives
p < ``ALPHA``: the bootstrap ignores seed variance and the seed test ignores example variance, so a
difference has to survive both. Both must also point the same way. The best cell has the highest
mean test score, so the seed test's difference never favours the other cell; the best-dev seeds,
though, can be in the reverse order, and the bootstrap's p is one-sided for the best cell's seed
being the better one, so a reversed pair gets p near 1 instead of counting as a significant loss.

The same two tests compare every cell of a fine-tuning strategy other than full fine-tuning
(``--tuning``/``--features``) with the full fine-tuning cell of its row's model build and head in
the same column, when there is one: the question a strategy exists to answer. There the tests run
in the direction of the difference (the higher mean test score against the lower), so a strategy
that beats full fine-tuning shows up as such.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cnbench.kinds import kind_of
from cnbench.leaderboard.select import Cell, Column, mapping
from cnbench.results import gold_sha256, predicted_labels
from cnbench.stats import MIN_SEEDS_FOR_SEED_TEST, paired_bootstrap, seed_level_test

ALPHA = 0.05
BEST_MARK = "★"
TIE_MARK = "≈"
UNTESTED_MARK = "?"


@dataclass(frozen=True)
class Gold:
    """A task's gold test labels as the leaderboard loaded them.

    ``labels`` in split order, as the kind's bootstrap metric reads them (``Kind.scoring_gold``:
    label names; for tagging one list of tags per sentence; for span the answer texts per question);
    ``file_sha256`` the sha256 of the local test file they were read from (``None`` for Hub data);
    ``sha256`` the ``cnbench.results.gold_sha256`` fingerprint runs record of this gold: given by
    the loader (``TaskData.split_facts``, which hashes each kind's ``gold_line``), or, left empty,
    computed from ``labels``, which equals it for label names and tag lists only (span gold must
    be given its ``sha256``).
    """

    labels: Sequence
    file_sha256: str | None = None
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", gold_sha256(list(self.labels)))


def verify_gold(result: dict, gold: Gold) -> str | None:
    """Why ``result`` cannot be shown to have been scored on ``gold``; ``None`` when it can.

    The result's test predictions and its recorded test count must match the gold's length, and
    then either its ``data.gold_sha256["test"]`` equals ``gold.sha256``, or, for results that
    predate that field, its ``data.files["test"].sha256`` equals ``gold.file_sha256`` (the same
    file read by the same reader). Anything else is unverifiable.
    """
    data = mapping(result.get("data"))
    try:
        n_predicted = len(predicted_labels(result, "test"))
    except (KeyError, TypeError, AttributeError):
        return "test predictions missing or malformed"
    if n_predicted != len(gold.labels):
        return f"{n_predicted} test predictions, but the gold loaded here has {len(gold.labels)} examples"
    count = mapping(data.get("counts")).get("test")
    if count is not None and count != len(gold.labels):
        return f"scored on {count} test examples, but the gold loaded here has {len(gold.labels)}"
    recorded = mapping(data.get("gold_sha256")).get("test")
    if recorded is not None:
        if recorded == gold.sha256:
            return None
        return f"scored on other gold labels (gold_sha256 {str(recorded)[:12]}, loaded here {gold.sha256[:12]})"
    file_sha = mapping(mapping(data.get("files")).get("test")).get("sha256")
    if file_sha is not None and gold.file_sha256 is not None:
        if file_sha == gold.file_sha256:
            return None
        return f"scored on another test file (sha256 {str(file_sha)[:12]}, loaded here {gold.file_sha256[:12]})"
    return "its gold cannot be verified (no data.gold_sha256.test, and no test file sha256 to compare)"


@dataclass(frozen=True)
class Comparison:
    """One cell compared with its column's best cell (by mean test score).

    ``bootstrap`` is ``paired_bootstrap(gold, best, cell)`` on best-dev-seed test predictions (its
    ``delta`` is best minus cell, its ``p_value`` one-sided for the best's seed being the better),
    ``seed_test`` is ``seed_level_test(best, cell)``; either is ``None`` when it could not be run,
    with the reason in ``notes``.
    """

    is_best: bool
    bootstrap: dict | None = None
    seed_test: dict | None = None
    notes: tuple[str, ...] = ()

    @property
    def significantly_worse(self) -> bool | None:
        """True when every test that ran gives p < ``ALPHA`` for the best cell being the better (see
        the module); ``None`` for the best cell or untested."""
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

    def verdict(self, worse_text: str = "worse") -> str:
        """The verdict in words; ``worse_text`` names a significant difference."""
        worse = self.significantly_worse
        if worse is None:
            return f"{UNTESTED_MARK} untested"
        return worse_text if worse else f"{TIE_MARK} not different"


@dataclass(frozen=True)
class AgainstFull:
    """A strategy's cell compared with the full fine-tuning cell of the same model build and head.
    ``comparison`` tests the higher-scoring of the two (mean test) against the lower;
    ``full_is_higher`` says which that was."""

    full: Cell
    comparison: Comparison
    full_is_higher: bool

    @property
    def verdict(self) -> str:
        return self.comparison.verdict("worse than full" if self.full_is_higher else "better than full")


@dataclass(frozen=True)
class Significance:
    """``comparisons[cell.id]`` for every cell with completed seeds; ``against_full[cell.id]`` for
    every such cell of a strategy other than full fine-tuning that has a full fine-tuning cell to
    compare with; ``problems``: one line per completed seed of a shown configuration whose gold
    could not be verified, as ``(result path, reason)``."""

    comparisons: dict
    against_full: dict
    problems: tuple[tuple[str, str], ...]


def gold_for(run: dict, candidates: Sequence[Gold]) -> Gold | None:
    """The gold among a task's ``candidates`` (local, Hub) that ``run`` records it was scored on
    (``data.gold_sha256.test``), else the first, for ``verify_gold`` to say why it does not fit."""
    recorded = mapping(mapping(run.get("data")).get("gold_sha256")).get("test")
    return next((gold for gold in candidates if gold.sha256 == recorded), candidates[0] if candidates else None)


def _bootstrap(reference: Cell, cell: Cell, candidates: Sequence[Gold], unverified: dict, n_resamples: int, seed: int):
    metric = kind_of(cell.column.kind).summable(cell.column.main_metric)
    if metric is None:
        return None, f"no bootstrap: no summable metric for {cell.column.main_metric!r}"
    gold = gold_for(reference.best_dev_run, candidates)
    if gold is None:
        return None, "no bootstrap: gold test labels not available here"
    for which, run in (("the compared row's", reference.best_dev_run), ("this row's", cell.best_dev_run)):
        path = str(run.get("_path") or id(run))
        if path not in unverified:
            unverified[path] = verify_gold(run, gold)
        if unverified[path] is not None:
            return None, f"no bootstrap: {which} best-dev seed has unverified gold (see Problems)"
    try:
        result = paired_bootstrap(
            gold.labels,
            predicted_labels(reference.best_dev_run, "test"),
            predicted_labels(cell.best_dev_run, "test"),
            metric,
            n_resamples,
            seed,
        )
    except (ValueError, TypeError, AttributeError) as err:  # predictions of the wrong shape or type
        return None, f"no bootstrap: {err}"
    return result, None


def compare_to_best(
    cells: Sequence[Cell],
    gold: Mapping[str, Sequence[Gold]] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Significance:
    """Per column, compare every cell that has completed seeds with the column's best cell (the
    highest mean test score among ``clean`` cells: no failed seed, no unusable result file; among
    all when none is clean), and every strategy's cell with its full fine-tuning cell.

    ``gold`` maps a task name to its ``Gold`` test labels, one per data source loaded (local, Hub;
    ``gold_test_labels``): each run is checked against the one it records (``gold_for``). A task
    without gold gets the seed-level test alone.
    Cells whose chosen configuration completed no seed are not compared.
    """
    gold = gold or {}
    by_column: dict[Column, list[Cell]] = defaultdict(list)
    for cell in cells:
        if cell.runs:
            by_column[cell.column].append(cell)

    unverified: dict = {}

    def compare(reference: Cell, cell: Cell) -> Comparison:
        bootstrap, note = _bootstrap(
            reference, cell, tuple(gold.get(cell.column.task, ())), unverified, n_resamples, seed
        )
        notes = [note] if note else []
        seed_test = None
        if min(reference.n_seeds, cell.n_seeds) >= MIN_SEEDS_FOR_SEED_TEST:
            seed_test = seed_level_test(reference.test_scores, cell.test_scores)
        else:
            notes.append(f"no seed-level test: fewer than {MIN_SEEDS_FOR_SEED_TEST} completed seeds")
        return Comparison(False, bootstrap, seed_test, tuple(notes))

    comparisons, against_full = {}, {}
    for column_cells in by_column.values():
        # A cell whose seeds partly failed never takes the best place on its survivors' mean: the
        # best is chosen among clean cells (every started seed completed, no unusable file naming
        # them), when there is one.
        contenders = [cell for cell in column_cells if cell.clean] or column_cells
        best = min(contenders, key=lambda cell: (-cell.completed_test["mean"], cell.row.sort_key()))
        full_cells = {_build_and_head(cell.row): cell for cell in column_cells if cell.row.strategy == "full"}
        for cell in column_cells:
            comparisons[cell.id] = Comparison(is_best=True) if cell is best else compare(best, cell)
            full = None if cell.row.strategy == "full" else full_cells.get(_build_and_head(cell.row))
            if full is not None:
                full_is_higher = full.completed_test["mean"] >= cell.completed_test["mean"]
                higher, lower = (full, cell) if full_is_higher else (cell, full)
                against_full[cell.id] = AgainstFull(full, compare(higher, lower), full_is_higher)
    # Every seed a cell averages, not only the best-dev seeds the bootstrap resamples: a seed scored
    # on other gold labels (a task declaration edited between seeds) would pass into the mean unremarked.
    for cell in (cell for column_cells in by_column.values() for cell in column_cells):
        candidates = tuple(gold.get(cell.column.task, ()))
        for run in cell.runs if candidates else ():
            path = str(run.get("_path") or id(run))
            run_gold = gold_for(run, candidates)
            if path not in unverified and run_gold is not None:  # not None: there are candidates
                unverified[path] = verify_gold(run, run_gold)
    problems = tuple(sorted((str(path), reason) for path, reason in unverified.items() if reason is not None))
    return Significance(comparisons, against_full, problems)


def _build_and_head(row) -> tuple:
    return (row.model, row.model_identity, row.tokenizer, row.head)


def gold_test_labels(
    task_names: Sequence[str], data_dir=None, warn=lambda line: None, hub_tasks: Sequence[str] = ()
) -> dict[str, tuple[Gold, ...]]:
    """Each task's gold test labels, for the paired bootstrap: read from the local data (or the
    task's Hub dataset when no local folder exists), and for ``hub_tasks`` (tasks with results
    scored on Hub test data) from the Hub dataset as well. Data that cannot be loaded here is left
    out: cells scored on it get the seed-level test alone, the leaderboard says so, and ``warn``
    gets a line with the reason (a page regenerated without the data differs from one made with it)."""
    from cnbench import paths
    from cnbench.data.load import load_task_data
    from cnbench.errors import CnbenchError
    from cnbench.registry import get_task

    gold: dict[str, tuple[Gold, ...]] = {}
    for name in task_names:
        found: list[Gold] = []
        for source in ("auto", "hub") if name in hub_tasks else ("auto",):
            try:
                task = get_task(name)
                data = load_task_data(
                    task, paths.data_dir(data_dir) if source == "auto" else None, only=("test",), source=source
                )
            except CnbenchError as err:
                where = "" if source == "auto" else " on the Hub"
                warn(f"no gold test labels for {name}{where} here, so its cells scored on them get no bootstrap: {err}")
                continue
            labels = [task.kind_rules.scoring_gold(example) for example in data.splits["test"]]
            loaded = Gold(
                labels, data.provenance.get("test", {}).get("sha256"), data.split_facts("test")["gold_sha256"]
            )
            if all(loaded.sha256 != other.sha256 for other in found):
                found.append(loaded)
        if found:
            gold[name] = tuple(found)
    return gold
