"""The CLUE score on the leaderboard (the average of CLUE's six classification tasks, shown where a
row has all six) and CLUE's published numbers: dev beside our scores, hidden-test never compared."""

from __future__ import annotations

import json

import pytest
from test_leaderboard import make_result, render, section

from cnbench.leaderboard.select import CLUE_CLASSIFICATION

SCORES = {"afqmc": 0.70, "tnews": 0.55, "iflytek": 0.60, "cmnli": 0.80, "cluewsc2020": 0.62, "csl": 0.81}


def _header_and_rows(page: str) -> tuple[list[str], dict[str, list[str]]]:
    table = [line for line in section(page, "Reproduced scores").splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    rows = {}
    for line in table[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells
    return header, rows


def test_the_clue_score_averages_the_six_tasks_where_a_row_has_all_of_them(tmp_path, results_dir):
    for task, score in SCORES.items():
        make_result(results_dir, task=task, model="bert", test=score)
        if task != "csl":  # macbert lacks CSL: no CLUE score
            make_result(results_dir, task=task, model="macbert", test=score - 0.01)
    make_result(results_dir, task="ocnli", model="bert", test=0.99)  # not one of the six: no effect
    header, rows = _header_and_rows(render(tmp_path))
    at = header.index("CLUE score")
    assert rows["bert"][at] == f"{100 * sum(SCORES.values()) / 6:.2f}"
    assert rows["macbert"][at] == "—"
    assert set(CLUE_CLASSIFICATION) == set(SCORES)


def test_no_clue_column_without_a_clue_task(tmp_path, results_dir):
    make_result(results_dir, task="chnsenticorp", model="bert")
    header, _ = _header_and_rows(render(tmp_path))
    assert "CLUE score" not in header


@pytest.mark.parametrize("split,compared", [("test", True), ("hidden_test", False)])
def test_clue_dev_numbers_are_compared_and_hidden_test_numbers_are_not(
    tmp_path,
    results_dir,
    split,
    compared,
):
    make_result(results_dir, task="afqmc", model="bert", test=0.74)
    reported = tmp_path / "reported.json"
    reported.write_text(
        json.dumps(
            {
                "sources": {"clue": {"citation": "CLUE", "url": "https://example.org"}},
                "entries": [
                    {
                        "model": "bert",
                        "task": "afqmc",
                        "split": split,
                        "metric": "accuracy",
                        "max": 74.16,
                        "source": "clue",
                    }
                ],
            }
        )
    )
    lines = [
        line
        for line in section(render(tmp_path, reported), "Reported scores").splitlines()
        if line.startswith("| afqmc")
    ]
    assert len(lines) == 1
    assert ("| 74.00 | -0.16 |" in lines[0]) == compared
