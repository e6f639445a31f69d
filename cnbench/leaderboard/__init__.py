"""The leaderboard: what is decided (``select``: comparable runs, rows, columns, the configuration
of each cell, seed accounting; ``significance``: tests on verified gold; ``reported``: published
scores and their metrics) apart from how it is shown (``render``: Markdown; ``plots``: SVG)."""

from cnbench.leaderboard.render import render_leaderboard
from cnbench.leaderboard.reported import REPORTED_METRICS, load_reported
from cnbench.leaderboard.select import (
    Cell,
    Column,
    Row,
    config_key,
    data_identity,
    epochs_trained,
    is_smoke,
    model_identity,
    result_problem,
    select_configs,
    selection_score,
    still_improving_at_cap,
)
from cnbench.leaderboard.significance import (
    ALPHA,
    BEST_MARK,
    TIE_MARK,
    UNTESTED_MARK,
    Gold,
    compare_to_best,
    gold_test_labels,
    verify_gold,
)

__all__ = [
    "ALPHA",
    "BEST_MARK",
    "TIE_MARK",
    "UNTESTED_MARK",
    "REPORTED_METRICS",
    "Cell",
    "Column",
    "Gold",
    "Row",
    "compare_to_best",
    "config_key",
    "data_identity",
    "epochs_trained",
    "gold_test_labels",
    "is_smoke",
    "load_reported",
    "model_identity",
    "render_leaderboard",
    "result_problem",
    "select_configs",
    "selection_score",
    "still_improving_at_cap",
    "verify_gold",
]
