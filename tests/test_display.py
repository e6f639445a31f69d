"""``cnbench list`` and the run summary print every task and model name whole: through a pipe or
into a CI log (plain aligned lines), and on a terminal of any width."""

from __future__ import annotations

import io
import sys

import pytest

from cnbench.cli import _print_summary
from cnbench.models.presets import PRESETS
from cnbench.registry import all_tasks

LONG_MODEL = "/data/checkpoints/hfl-chinese-roberta-wwm-ext-large-further-pretrained-on-clue-2024-06-01"


class Terminal(io.StringIO):
    """What rich and the display code see when stdout is a terminal."""

    def isatty(self) -> bool:
        return True


def summary_results(alias: str) -> list[dict]:
    return [
        {
            "task": {"name": "peoples_daily_ner_with_a_long_name", "kind": "tagging", "main_metric": "f1"},
            "metrics": {"dev": {"f1": 0.5}, "test": {"f1": 0.25}},
            "model": {"alias": alias},
            "head": "bilstm-crf",
            "seed": seed,
            "status": "completed",
            "best_epoch": 2,
            "timing": {"train_seconds": 12.3},
            "hparams": {"lr": 3e-5},
            "data": {"files": {}},
            "protocol": {"train_on_dev": False, "limit": None},
            "_path": f"/results/{seed}.json",
        }
        for seed in (1, 2)
    ]


def names_in(out: str) -> set[str]:
    return {cell for line in out.splitlines() for cell in line.replace("│", " ").split()}


def test_list_through_a_pipe_prints_every_name_whole(cnbench):
    result = cnbench("list")  # captured output is not a terminal, like a pipe or a CI log
    assert result.code == 0
    cells = names_in(result.out)
    hub_ids = {task.hub.path for task in all_tasks().values() if task.hub}
    model_ids = {preset.hub_id for preset in PRESETS.values() if preset.hub_id}
    assert set(all_tasks()) | set(PRESETS) | hub_ids | model_ids <= cells
    assert "…" not in result.out and "┃" not in result.out
    assert any(line.split()[:2] == ["peoples_daily_ner", "tagging"] for line in result.out.splitlines())


def test_the_run_summary_through_a_pipe_keeps_long_model_paths(capsys):
    _print_summary(summary_results(LONG_MODEL))
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(LONG_MODEL)]
    assert len(rows) == 2 and rows[0].split() == [
        LONG_MODEL,
        "bilstm-crf",
        "1",
        "completed",
        "2",
        "0.5000",
        "0.2500",
        "12",
    ]
    assert out.splitlines()[0] == "peoples_daily_ner_with_a_long_name: f1"
    assert "test f1 over 2 seeds" in out and "result: /results/2.json" in out


@pytest.mark.parametrize("columns", ["40", "100", "300"])
def test_on_a_terminal_of_any_width_names_stay_whole(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    _print_summary(summary_results(LONG_MODEL))
    out = screen.getvalue()
    assert LONG_MODEL in names_in(out) and "…" not in out
    # a table that fits is drawn by rich; one that would cut a name is printed as plain lines
    assert ("┃" in out) == (columns == "300")
