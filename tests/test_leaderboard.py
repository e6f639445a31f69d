import json
import random
import shutil
from pathlib import Path

import pytest

from cnbench.leaderboard import (
    BEST_MARK,
    TIE_MARK,
    compare_to_best,
    config_key,
    load_reported,
    render_leaderboard,
    select_configs,
)
from cnbench.results import SCHEMA, load_results, result_filename, run_key, write_json_atomic

REPOSITORY = Path(__file__).resolve().parents[1]
GOLD = ["pos", "neg"] * 20


def make_result(
    folder: Path,
    *,
    task="chnsenticorp",
    model="bert",
    head="linear",
    seed=1,
    lr=2e-5,
    dev=0.90,
    test=0.90,
    status="completed",
    train_on_dev=False,
    limit=None,
    test_predictions=None,
    created="2025-01-01T00:00:00Z",
) -> Path:
    """Write one schema-conformant result file and return its path."""
    main_metric = "f1" if task.endswith("_ner") else "accuracy"
    hparams = {"lr": lr, "head_lr": lr, "epochs": 3, "batch_size": 32, "max_len": 128, "lr_groups": {"encoder": lr}}
    protocol = {
        "train_split": "dev" if train_on_dev else "train",
        "train_on_dev": train_on_dev,
        "limit": limit,
        "selection": f"best dev {main_metric} over epochs",
    }
    key = run_key({"task": task, "model": model, "head": head, "hparams": hparams, "protocol": protocol, "seed": seed})
    completed = status == "completed"
    document = {
        "schema": SCHEMA,
        "run_key": key,
        "status": status,
        "failure": None if completed else "loss became nan at epoch 1 step 40",
        "created": created,
        "command": f"cnbench train --task {task} --model {model} --head {head} --seed {seed}",
        "task": {"name": task, "kind": "tagging" if task.endswith("_ner") else "single",
                 "main_metric": main_metric, "labels": ["neg", "pos"]},
        "model": {"alias": model, "id": f"org/{model}", "revision": "main", "weights_sha256": None, "source": "hub", "config": {}},
        "head": head,
        "seed": seed,
        "hparams": hparams,
        "protocol": protocol,
        "metrics": {"dev": {main_metric: dev}, "test": {main_metric: test}} if completed else {"dev": {}, "test": {}},
        "best_epoch": 2 if completed else None,
        "history": [],
        "predictions": {"dev": [], "test": test_predictions if test_predictions is not None else list(GOLD)},
        "data": {"source": "local", "files": {}, "counts": {"test": len(GOLD)}},
        "environment": {"cnbench": "0.1.0", "git_commit": "abc", "python": "3.11", "platform": "linux", "packages": {}, "hardware": {}},
        "timing": {"train_seconds": 1.0, "eval_seconds": 1.0, "total_seconds": 2.0},
    }
    return write_json_atomic(folder / result_filename(task, model, head, key, seed), document)


def loaded(folder: Path) -> list[dict]:
    results, problems = load_results(folder)
    assert problems == []
    return results


def render(root: Path, reported: Path | None = None, **options) -> str:
    return render_leaderboard(
        root / "leaderboard" / "results", reported, root / "leaderboard" / "README.md", root / "leaderboard" / "plots", **options
    )


def reproduced_part(text: str) -> str:
    return text.split("## Reproduced scores", 1)[1].split("## Significance", 1)[0]


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return tmp_path / "leaderboard" / "results"


def test_aggregates_seeds_of_a_cell_and_counts_failures(results_dir):
    for seed, test in zip((1, 2, 3), (0.90, 0.92, 0.94)):
        make_result(results_dir, seed=seed, test=test)
    make_result(results_dir, seed=4, status="failed")

    [cell] = select_configs(loaded(results_dir))
    assert (cell.task, cell.model, cell.head, cell.n_seeds, cell.n_failed) == ("chnsenticorp", "bert", "linear", 3, 1)
    assert cell.test["mean"] == pytest.approx(0.92)
    assert cell.test["std"] == pytest.approx(0.02)
    assert cell.test["max"] == pytest.approx(0.94)
    assert cell.test["n"] == 3


def test_selects_by_mean_dev_not_by_test(results_dir):
    # lr=1e-5 has the best test scores but the worse mean dev score: it must lose.
    for seed, dev, test in ((1, 0.80, 0.95), (2, 0.82, 0.96)):
        make_result(results_dir, seed=seed, lr=1e-5, dev=dev, test=test)
    for seed, dev, test in ((1, 0.85, 0.90), (2, 0.86, 0.91)):
        make_result(results_dir, seed=seed, lr=3e-5, dev=dev, test=test)

    [cell] = select_configs(loaded(results_dir))
    assert cell.hparams["lr"] == 3e-5
    assert cell.dev["mean"] == pytest.approx(0.855)
    assert cell.test["mean"] == pytest.approx(0.905)
    assert (cell.n_configs, len(cell.all_dev_scores)) == (2, 4)


def test_ties_broken_by_seed_count_then_config_key(results_dir):
    for seed in (1, 2, 3):
        make_result(results_dir, seed=seed, lr=1e-5, dev=0.85)
    for seed in (1, 2):
        make_result(results_dir, seed=seed, lr=2e-5, dev=0.85)
        make_result(results_dir, seed=seed, lr=4e-5, dev=0.85)
    results = loaded(results_dir)
    assert select_configs(results)[0].hparams["lr"] == 1e-5

    two_seed_configs = [result for result in results if result["hparams"]["lr"] != 1e-5]
    expected_key = min(config_key(result) for result in two_seed_configs)
    for order in range(3):
        random.Random(order).shuffle(two_seed_configs)
        assert select_configs(two_seed_configs)[0].config_key == expected_key


def test_duplicate_seed_keeps_newest_result(results_dir):
    make_result(results_dir, seed=1, test=0.80, created="2025-01-01T00:00:00Z")
    newer = make_result(results_dir / "rerun", seed=1, test=0.85, created="2025-02-01T00:00:00Z")

    [cell] = select_configs(loaded(results_dir))
    assert cell.n_seeds == 1
    assert cell.runs[0]["_path"] == str(newer)
    assert len(cell.superseded) == 1


def test_smoke_runs_are_excluded_from_the_main_table(tmp_path, results_dir):
    make_result(results_dir, seed=1, test=0.9012)
    make_result(results_dir, seed=2, test=0.9977, train_on_dev=True)
    make_result(results_dir, seed=3, test=0.9966, limit=64)

    [cell] = select_configs(loaded(results_dir))
    assert cell.n_seeds == 1
    text = render(tmp_path)
    assert "90.12" in reproduced_part(text)
    assert "99.77" not in text and "99.66" not in text
    smoke = text.split("## Smoke runs (not comparable)", 1)[1].split("## Reported", 1)[0]
    assert "trained on dev" in smoke and "limit=64" in smoke


def test_significance_marks_ties_and_clear_losses(results_dir):
    wrong = ["neg"] * len(GOLD)
    for seed, test in zip((1, 2, 3), (0.95, 0.96, 0.97)):
        make_result(results_dir, model="bert", seed=seed, test=test)
        make_result(results_dir, model="macbert", seed=seed, test=test - 0.001)
        make_result(results_dir, model="nezha", seed=seed, test=test - 0.45, test_predictions=wrong)
    cells = select_configs(loaded(results_dir))

    comparisons = compare_to_best(cells, {"chnsenticorp": GOLD}, n_resamples=200)
    by_model = {model: comparisons[("chnsenticorp", model, "linear")] for model in ("bert", "macbert", "nezha")}
    assert by_model["bert"].mark == BEST_MARK
    assert by_model["macbert"].bootstrap["p_value"] == 1.0  # identical predictions
    assert by_model["macbert"].mark == TIE_MARK
    assert by_model["nezha"].bootstrap["delta"] == pytest.approx(0.5)
    assert by_model["nezha"].significantly_worse is True
    assert by_model["nezha"].mark == ""

    without_gold = compare_to_best(cells)[("chnsenticorp", "nezha", "linear")]
    assert without_gold.bootstrap is None and without_gold.seed_test is not None
    assert "gold test labels not given" in without_gold.notes[0]


def test_render_is_deterministic_including_plots(tmp_path, results_dir):
    for seed, test in zip((1, 2, 3), (0.90, 0.92, 0.94)):
        make_result(results_dir, seed=seed, test=test, dev=test - 0.01)
        make_result(results_dir, model="macbert", seed=seed, test=test - 0.01, dev=test)
        make_result(results_dir, task="msra_ner", seed=seed, test=test - 0.05, test_predictions=["O"] * 3)
    make_result(results_dir, seed=1, lr=5e-5, dev=0.5)

    def snapshot(root: Path) -> dict[str, bytes]:
        folder = root / "leaderboard"
        return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.suffix in (".md", ".svg")}

    first_text = render(tmp_path, REPOSITORY / "leaderboard" / "reported.json", gold_labels={"chnsenticorp": GOLD})
    first = snapshot(tmp_path)
    assert render(tmp_path, REPOSITORY / "leaderboard" / "reported.json", gold_labels={"chnsenticorp": GOLD}) == first_text
    assert snapshot(tmp_path) == first
    assert {"plots/seed-spread--chnsenticorp.svg", "plots/expected-max-dev--msra_ner.svg"} <= set(first)
    assert str(tmp_path) not in first_text

    # Same inputs under another folder: same bytes, because every path is relative.
    other = tmp_path / "elsewhere"
    shutil.copytree(results_dir, other / "leaderboard" / "results")
    render(other, REPOSITORY / "leaderboard" / "reported.json", gold_labels={"chnsenticorp": GOLD})
    assert snapshot(other) == first


def test_readme_contents(tmp_path, results_dir):
    for seed in (1, 2, 3):
        make_result(results_dir, seed=seed, test=0.9)
    make_result(results_dir, model="nezha", seed=1, status="failed")
    text = render(tmp_path)
    assert "Generated by `cnbench leaderboard`" in text and "Do not edit by hand" in text
    assert "| bert | linear | **90.00 ± 0.00 (90.00), n=3** ★ [[1]](#config-1) | 90.00 |" in text
    assert "(results/chnsenticorp--bert--linear--" in text  # relative links to result files
    assert "![chnsenticorp: per-seed test scores](plots/seed-spread--chnsenticorp.svg)" in text
    failed = text.split("## Failed runs", 1)[1].split("## Smoke runs", 1)[0]
    assert "| chnsenticorp | nezha | linear | full | 0 | 1 | loss became nan at epoch 1 step 40 |" in failed


def test_corrupt_and_foreign_json_are_listed_and_skipped(tmp_path, results_dir):
    make_result(results_dir, seed=1, test=0.9)
    (results_dir / "broken.json").write_text("{not json", encoding="utf-8")
    (results_dir / "foreign.json").write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    (results_dir / "no-metrics.json").write_text(json.dumps({"schema": SCHEMA, "status": "completed"}), encoding="utf-8")

    text = render(tmp_path)
    problems = text.split("## Problems", 1)[1]
    for name in ("results/broken.json", "results/foreign.json", "results/no-metrics.json"):
        assert f"- {name}: " in problems
    assert "90.00" in reproduced_part(text)


def test_reported_scores_never_appear_as_reproduced(tmp_path, results_dir):
    for seed in (1, 2, 3):
        make_result(results_dir, seed=seed, test=0.9, dev=0.91)
    reported = tmp_path / "reported.json"
    entry = {"task": "chnsenticorp", "split": "test", "metric": "accuracy", "max": 56.78, "mean": 12.34, "n_runs": 10, "source": "paper"}
    write_json_atomic(
        reported,
        {
            "sources": {"paper": {"citation": "Someone et al. 2020, Table 9", "url": "https://example.org/paper"}},
            "entries": [{**entry, "model": "bert"}, {**entry, "model": "nezha"}, {"model": "broken"}],
        },
    )

    text = render(tmp_path, reported)
    assert "12.34" not in reproduced_part(text) and "56.78" not in reproduced_part(text)
    assert "| nezha |" not in reproduced_part(text)
    published = text.split("## Reported scores", 1)[1]
    assert "| chnsenticorp | bert | linear | test | accuracy | 56.78 | 12.34 | 10 | 90.00 | +77.66 |" in published
    assert "| chnsenticorp | nezha | linear | test | accuracy | 56.78 | 12.34 | 10 | — | — |" in published
    assert "Someone et al. 2020, Table 9 https://example.org/paper" in published
    assert "reported.json: entry 2 skipped" in text.split("## Problems", 1)[1]


def test_missing_reported_file_is_a_problem_not_a_crash(tmp_path, results_dir):
    make_result(results_dir, seed=1)
    text = render(tmp_path, tmp_path / "absent.json")
    assert "absent.json: not readable as reported scores" in text


def test_repository_reported_scores_are_well_formed():
    entries, sources, problems = load_reported(REPOSITORY / "leaderboard" / "reported.json")
    assert problems == [] and entries
    assert all(sources[entry["source"]]["url"].startswith("https://") for entry in entries)
    assert all(entry["max"] >= entry["mean"] for entry in entries)
    assert len({(entry["model"], entry["task"], entry["split"]) for entry in entries}) == len(entries)
