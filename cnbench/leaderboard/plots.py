"""SVG plots of the chosen cells, one pair per column (task on one data identity).

Figures are built from ``matplotlib.figure.Figure``, never pyplot: no GUI backend is ever selected
and no global figure state leaks between renders. A fixed salt and no date make the same figure
give the same SVG bytes on every render.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.figure import Figure

from cnbench.leaderboard.select import Cell, Column
from cnbench.stats import expected_max

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

_SVG_RC: dict[RcKeyType, str] = {
    "svg.hashsalt": "cnbench-leaderboard",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
}
_SVG_METADATA = {"Date": None}
PLOT_PREFIXES = ("seed-spread--", "expected-max-dev--")


def plot_names(column: Column) -> tuple[str, str]:
    """File names of a column's seed-spread and expected-maximum plots."""
    suffix = f"{column.task}--{column.data_identity}.svg"
    spread, expected = PLOT_PREFIXES
    return spread + suffix, expected + suffix


def row_label(cell: Cell) -> str:
    row = cell.row
    return f"{row.model} / {row.head} / {row.strategy} / {row.model_identity[:7]}"


def _save_svg(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata=_SVG_METADATA)


def plot_seed_spread(column: Column, cells: Sequence[Cell], path: Path) -> None:
    """Strip plot of each cell's per-seed test scores (percent) with mean ± std. Needs cells with
    completed seeds."""
    with matplotlib.rc_context(_SVG_RC):
        figure = Figure(figsize=(7, 1.2 + 0.5 * len(cells)))
        axes = figure.add_subplot()
        for position, cell in enumerate(cells):
            scores = sorted(100 * value for value in cell.test_scores)
            # Spread the dots vertically by rank rather than by random jitter: the plot stays fixed.
            step = 0.3 / max(len(scores) - 1, 1)
            heights = [position - 0.15 + step * rank for rank in range(len(scores))] if len(scores) > 1 else [position]
            axes.scatter(scores, heights, s=18, color="tab:blue", alpha=0.7, zorder=3)
            axes.errorbar(
                100 * cell.completed_test["mean"],
                position,
                xerr=100 * cell.completed_test["std"],
                fmt="|",
                color="black",
                capsize=4,
                markersize=14,
                zorder=4,
            )
        axes.set_yticks(range(len(cells)), [row_label(cell) for cell in cells])
        axes.invert_yaxis()
        axes.set_xlabel(f"test {column.metric_name} (%), one dot per completed seed; bar: mean ± std")
        axes.set_title(f"{column.task} (data {column.data_identity}): seed spread of the chosen configurations")
        axes.grid(axis="x", alpha=0.3)
        figure.tight_layout()
        _save_svg(figure, path)


def plot_expected_max(column: Column, cells: Sequence[Cell], path: Path) -> None:
    """Expected best dev score vs number of started runs (Dodge et al., 2019) per cell; failed
    runs enter with their selection score."""
    with matplotlib.rc_context(_SVG_RC):
        figure = Figure(figsize=(7, 4.5))
        axes = figure.add_subplot()
        for cell in cells:
            budgets = list(range(1, len(cell.all_selection_scores) + 1))
            curve = [100 * expected_max(cell.all_selection_scores, n) for n in budgets]
            axes.plot(budgets, curve, marker="o", markersize=3, label=row_label(cell))
        axes.set_xlabel("number of started runs (hyper-parameter configurations × seeds)")
        axes.set_ylabel(f"expected best dev {column.metric_name} (%)")
        axes.set_title(f"{column.task} (data {column.data_identity}): expected best dev score vs runs")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        _save_svg(figure, path)
