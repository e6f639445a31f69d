import json
import random
import shutil
from pathlib import Path

import pytest

from cnbench.leaderboard import (
    ALPHA,
    BEST_MARK,
    TIE_MARK,
    Gold,
    compare_to_best,
    config_key,
    data_identity,
    load_reported,
    render_leaderboard,
    select_configs,
    selection_score,
    still_improving_at_cap,
    verify_gold,
)
from cnbench.results import SCHEMA, gold_sha256, load_results, result_filename, run_key, write_json_atomic

REPOSITORY = Path(__file__).resolve().parents[1]
GOLD = ["pos", "neg"] * 20
TEST_FILE_SHA = "a" * 64


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
    failure="loss became nan at epoch 1 step 40",
    history=(),
    train_on_dev=False,
    limit=None,
    test_predictions=None,
    created="2025-01-01T00:00:00Z",
    data=None,
    revision="main",
    tokenizer=None,
    tokenizer_override=None,
    extra_hparams=None,
    test_metrics=None,
    best_epoch=2,
) -> Path:
    """Write one schema-conformant result file and return its path."""
    main_metric = "f1" if task.endswith("_ner") else "accuracy"
    hparams = {
        "lr": lr,
        "head_lr": lr,
        "epochs": 3,
        "batch_size": 32,
        "max_len": 128,
        "lr_groups": {"encoder": lr},
        **(extra_hparams or {}),
    }
    protocol = {
        "train_split": "dev" if train_on_dev else "train",
        "train_on_dev": train_on_dev,
        "limit": limit,
        "selection": f"best dev {main_metric} over epochs",
    }
    if tokenizer_override is not None:
        protocol["tokenizer"] = tokenizer_override
    key = run_key({"task": task, "model": model, "head": head, "hparams": hparams, "protocol": protocol, "seed": seed})
    completed = status == "completed"
    document = {
        "schema": SCHEMA,
        "run_key": key,
        "status": status,
        "failure": None if completed else failure,
        "created": created,
        "command": f"cnbench train --task {task} --model {model} --head {head} --seed {seed}",
        "task": {
            "name": task,
            "kind": "tagging" if task.endswith("_ner") else "single",
            "main_metric": main_metric,
            "labels": ["neg", "pos"],
        },
        "model": {
            "alias": model,
            "id": f"org/{model}",
            "revision": revision,
            "weights_sha256": None,
            "source": "hub",
            "config": {},
        },
        "head": head,
        "seed": seed,
        "hparams": hparams,
        "protocol": protocol,
        "metrics": {"dev": {main_metric: dev}, "test": {main_metric: test, **(test_metrics or {})}}
        if completed
        else {"dev": {}, "test": {}},
        "best_epoch": best_epoch if completed else None,
        "history": [{"epoch": epoch, "dev": {main_metric: score}} for epoch, score in enumerate(history, start=1)],
        "predictions": {"dev": [], "test": test_predictions if test_predictions is not None else list(GOLD)},
        "data": data
        if data is not None
        else {
            "source": "local",
            "files": {"test": {"path": "test.tsv", "sha256": TEST_FILE_SHA}},
            "counts": {"test": len(GOLD)},
        },
        "environment": {
            "cnbench": "0.1.0",
            "git_commit": "abc",
            "python": "3.11",
            "platform": "linux",
            "packages": {},
            "hardware": {},
        },
        "timing": {"train_seconds": 1.0, "eval_seconds": 1.0, "total_seconds": 2.0},
    }
    if tokenizer is not None:
        document["tokenizer"] = tokenizer
    return write_json_atomic(folder / result_filename(task, model, head, key, seed), document)


def loaded(folder: Path) -> list[dict]:
    results, problems = load_results(folder)
    assert problems == []
    return results


def render(root: Path, reported: Path | None = None, **options) -> str:
    return render_leaderboard(
        root / "leaderboard" / "results",
        reported,
        root / "leaderboard" / "README.md",
        root / "leaderboard" / "plots",
        **options,
    )


def section(text: str, title: str) -> str:
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


# --------------------------------------------------------------------------- choosing configurations


def test_aggregates_seeds_of_a_cell_and_counts_failures(results_dir):
    for seed, test in zip((1, 2, 3), (0.90, 0.92, 0.94), strict=True):
        make_result(results_dir, seed=seed, test=test)
    make_result(results_dir, seed=4, status="failed")

    [cell] = select_configs(loaded(results_dir))
    assert (cell.column.task, cell.row.model, cell.row.head, cell.n_seeds) == ("chnsenticorp", "bert", "linear", 3)
    assert (len(cell.config.started), len(cell.config.failed)) == (4, 1)
    assert cell.config.selection == pytest.approx(0.9 * 3 / 4)  # the crashed seed counts as 0
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
    assert cell.config.hparams["lr"] == 3e-5
    assert cell.dev["mean"] == pytest.approx(0.855)
    assert cell.test["mean"] == pytest.approx(0.905)
    assert (cell.n_configs, len(cell.all_selection_scores)) == (2, 4)


def make_a_and_b(results_dir, b_failure: str, b_history=()):
    """Config A: 5 of 5 seeds completed, mean dev 94.0. Config B: 3 completed at 95-96, 2 failed."""
    for seed, dev in zip(range(1, 6), (0.93, 0.935, 0.94, 0.945, 0.95), strict=True):
        make_result(results_dir, seed=seed, lr=2e-5, dev=dev, test=0.93)
    for seed, dev in zip(range(1, 4), (0.95, 0.955, 0.96), strict=True):
        make_result(results_dir, seed=seed, lr=5e-5, dev=dev, test=0.95)
    for seed in (4, 5):
        make_result(results_dir, seed=seed, lr=5e-5, status="failed", failure=b_failure, history=b_history)


def test_a_steady_configuration_beats_one_whose_survivors_score_higher(tmp_path, results_dir):
    make_a_and_b(results_dir, "training loss became nan in epoch 2 by step 300", b_history=(0.94,))
    [cell] = select_configs(loaded(results_dir))
    assert cell.config.hparams["lr"] == 2e-5
    assert cell.config.selection == pytest.approx(0.94)
    assert cell.n_configs == 2

    text = render(tmp_path)
    assert "93.00 ± 0.00 (93.00), n=5 of 5" in section(text, "Reproduced scores")
    assert "95.00" not in section(text, "Reproduced scores")
    # B's two failures stay visible with their reason.
    b_key = next(config_key(run) for run in loaded(results_dir) if run["status"] == "failed")
    assert (
        f"| chnsenticorp | bert | linear | `{b_key}` | 3 | 2 | training loss became nan in epoch 2 by step 300 |"
        in (section(text, "Failed runs"))
    )


def test_abandoned_seeds_count_with_their_dev_score_at_abandonment(tmp_path, results_dir):
    # Abandoned at dev 0.93 and 0.935: B's mean over all 5 started seeds is 0.946 > A's 0.94, so B wins,
    # and its cell says that 2 of its 5 seeds failed and why.
    make_a_and_b(results_dir, "abandoned: dev accuracy 0.93 < 0.935 after epoch 2", b_history=(0.90, 0.93))
    results = loaded(results_dir)
    assert sorted(selection_score(run) for run in results if run["status"] == "failed") == [0.93, 0.93]
    [cell] = select_configs(results)
    assert cell.config.hparams["lr"] == 5e-5
    assert cell.config.selection == pytest.approx((0.95 + 0.955 + 0.96 + 0.93 + 0.93) / 5)

    text = render(tmp_path)
    assert "95.00 ± 0.00 (95.00), n=3 of 5, 2 failed" in section(text, "Reproduced scores")
    entry = section(text, "Reproduced scores").split('<a id="config-1">', 1)[1]
    assert "5 started, 3 completed, 2 failed" in entry
    assert "seed 4: abandoned: dev accuracy 0.93 < 0.935 after epoch 2" in entry
    assert "[seed 5 (failed)](results/" in entry
    assert "--seeds 1,2,3,4,5`" in entry


def test_a_cell_whose_seeds_all_failed_is_shown_not_hidden(tmp_path, results_dir):
    make_result(results_dir, seed=1, test=0.9)
    make_result(results_dir, model="nezha", seed=1, status="failed")
    make_result(results_dir, model="nezha", seed=2, status="failed")
    cells = select_configs(loaded(results_dir))
    nezha = next(cell for cell in cells if cell.row.model == "nezha")
    assert nezha.test is None and len(nezha.config.failed) == 2
    text = render(tmp_path)
    assert "no completed seed, n=0 of 2, 2 failed" in section(text, "Reproduced scores")


def test_a_column_without_any_completed_seed_is_rendered_and_says_so(tmp_path, results_dir):
    # The first runs of a new task all diverged: there is no best cell to compare with and nothing to plot.
    for seed in (1, 2, 3):
        make_result(results_dir, seed=seed, status="failed")
    make_result(results_dir, model="nezha", seed=1, status="failed")
    make_result(results_dir, task="msra_ner", seed=1, test_predictions=["O"] * 3)

    text = render(tmp_path, gold={"chnsenticorp": (Gold(GOLD, TEST_FILE_SHA),)})
    assert "no completed seed, n=0 of 3, 3 failed" in section(text, "Reproduced scores")
    significance = section(text, "Significance")
    chnsenticorp = significance.split("### chnsenticorp", 1)[1].split("###", 1)[0]
    assert "No cell of this column has a completed seed: nothing to compare." in chnsenticorp
    assert f"{BEST_MARK} best" in significance.split("### msra_ner", 1)[1]
    plots = section(text, "Plots")
    assert "No cell of this column has a completed seed: nothing to plot." in plots.split("### msra_ner", 1)[0]
    assert not any("chnsenticorp" in path.name for path in (tmp_path / "leaderboard" / "plots").iterdir())


def test_ties_broken_by_seed_count_then_config_key(results_dir):
    for seed in (1, 2, 3):
        make_result(results_dir, seed=seed, lr=1e-5, dev=0.85)
    for seed in (1, 2):
        make_result(results_dir, seed=seed, lr=2e-5, dev=0.85)
        make_result(results_dir, seed=seed, lr=4e-5, dev=0.85)
    results = loaded(results_dir)
    assert select_configs(results)[0].config.hparams["lr"] == 1e-5

    two_seed_configs = [result for result in results if result["hparams"]["lr"] != 1e-5]
    expected_key = min(config_key(result) for result in two_seed_configs)
    for order in range(3):
        random.Random(order).shuffle(two_seed_configs)
        assert select_configs(two_seed_configs)[0].config.key == expected_key


def test_duplicate_seed_keeps_newest_result(results_dir):
    make_result(results_dir, seed=1, test=0.80, created="2025-01-01T00:00:00Z")
    newer = make_result(results_dir / "rerun", seed=1, test=0.85, created="2025-02-01T00:00:00Z")

    [cell] = select_configs(loaded(results_dir))
    assert cell.n_seeds == 1
    assert cell.runs[0]["_path"] == str(newer)
    assert len(cell.superseded) == 1


def test_a_seed_rerun_after_failing_counts_as_its_rerun(tmp_path, results_dir):
    make_result(results_dir, seed=1, status="failed", created="2025-01-01T00:00:00Z")
    make_result(results_dir / "rerun", seed=1, test=0.90, created="2025-02-01T00:00:00Z")
    make_result(results_dir, seed=2, test=0.90)

    [cell] = select_configs(loaded(results_dir))
    assert (len(cell.config.started), len(cell.config.failed), len(cell.superseded)) == (2, 0, 1)
    text = section(render(tmp_path), "Reproduced scores")
    assert "n=2 of 2** ★" in text and "1 older duplicate result(s) ignored" in text
    assert "1 older duplicate result(s) ignored, among them earlier failures: [seed 1](" in text
    assert "): loss became nan at epoch 1 step 40" in text


def test_smoke_runs_are_excluded_from_the_main_table(tmp_path, results_dir):
    make_result(results_dir, seed=1, test=0.9012)
    make_result(results_dir, seed=2, test=0.9977, train_on_dev=True)
    make_result(results_dir, seed=3, test=0.9966, limit=64)

    [cell] = select_configs(loaded(results_dir))
    assert cell.n_seeds == 1
    text = render(tmp_path)
    assert "90.12" in section(text, "Reproduced scores")
    assert "99.77" not in text and "99.66" not in text
    smoke = section(text, "Smoke runs (not comparable)")
    assert "trained on dev" in smoke and "limit=64" in smoke


# --------------------------------------------------------------------------- comparable things


def test_runs_on_other_data_models_tokenizers_or_strategies_never_share_a_cell(tmp_path, results_dir):
    hub = {
        "source": "hub",
        "label": "hub levow/msra_ner@34593fa",
        "files": {"test": {"hub": "levow/msra_ner", "revision": "34593fa" + "0" * 33, "split": "test"}},
    }
    cased = {"source": "x", "class": "BertTokenizerFast", "lowercase": False, "normalization": "cased"}
    lower = {"source": "x", "class": "BertTokenizer", "lowercase": True, "normalization": "lowercase"}
    other_vocab = {**lower, "source": "hfl/chinese-macbert-base", "revision": "a986e004d2a7" + "0" * 28}
    variants = {
        "local": {},
        "hub data": {"data": hub},
        "other revision": {"revision": "0123abc"},
        "cased tokenizer": {"tokenizer": cased},
        "frozen": {"extra_hparams": {"tuning": "frozen", "features": "scalar-mix"}},
        "own lowercase tokenizer": {"tokenizer": lower},
        # --tokenizer with the same normalisation: still another vocabulary, so another row
        "another model's tokenizer": {"tokenizer": other_vocab, "tokenizer_override": "macbert"},
    }
    for offset, (name, options) in enumerate(variants.items()):
        for seed in (1, 2):  # one folder per variant: their file names would collide
            make_result(results_dir / name, seed=seed, dev=0.80 + offset / 100, test=0.80 + offset / 100, **options)

    cells = select_configs(loaded(results_dir))
    assert len(cells) == len(variants)
    assert all(cell.n_seeds == 2 for cell in cells)
    assert sorted(round(cell.test["mean"], 2) for cell in cells) == [0.80, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86]
    assert len({cell.column for cell in cells}) == 2  # local and Hub data: two task columns
    assert {cell.row.tokenizer for cell in cells} == {
        "unrecorded",
        "cased",
        "lowercase",
        "lowercase, --tokenizer hfl/chinese-macbert-base@a986e00",
    }
    assert {cell.row.strategy for cell in cells} == {"full", "frozen, features=scalar-mix"}

    text = render(tmp_path)
    data_notes = section(text, "Reproduced scores").split("### Data", 1)[1].split("###", 1)[0]
    assert "[D1] chnsenticorp: local, identity" in data_notes
    assert "[D2] chnsenticorp: hub levow/msra_ner@34593fa, identity `" in data_notes
    header = next(line for line in text.splitlines() if line.startswith("| Model |"))
    assert "chnsenticorp accuracy [D1](#data-1)" in header and "chnsenticorp accuracy [D2](#data-2)" in header
    # Significance never compares across data: each column has its own best.
    assert section(text, "Significance").count(f"{BEST_MARK} best") == 2


def test_derived_data_identity_follows_the_files_and_the_dev_cut(results_dir):
    base = make_result(results_dir, seed=1)
    result = json.loads(base.read_text())
    identity, label, how = data_identity(result)
    assert label == "local" and how.startswith("from test sha256 aaaaaaaaaaaa")
    other_file = json.loads(json.dumps(result))
    other_file["data"]["files"]["test"]["sha256"] = "b" * 64
    other_cut = json.loads(json.dumps(result))
    other_cut["protocol"]["dev_split"] = "every 10th train example (held out)"
    recorded = json.loads(json.dumps(result))
    recorded["data"].update(identity="0123456789ab", label="local")
    assert len({identity, data_identity(other_file)[0], data_identity(other_cut)[0]}) == 3
    assert data_identity(recorded)[0] == identity  # one formula: a recorded value never overrides it
    hub = json.loads(json.dumps(result))
    revision = "34593fa5d9e2b1c0" + "0" * 24
    hub["data"] = {
        "source": "hub",
        "files": {
            split: {"hub": "levow/msra_ner", "config": None, "revision": revision} for split in ("train", "test")
        },
    }
    hub_identity, hub_label, hub_how = data_identity(hub)
    assert hub_label == "hub levow/msra_ner@34593fa" and hub_identity != identity
    assert hub_how == f"from test levow/msra_ner@{revision}, train levow/msra_ner@{revision}"
    # The cut a task names is shown beside the identity (it separates nothing the files do not).
    for facts in hub["data"]["files"].values():
        facts["cut"] = "whole sentences"
    assert data_identity(hub)[0] == hub_identity and data_identity(hub)[2].endswith("; cut: whole sentences")


# --------------------------------------------------------------------------- significance on verified gold


def test_significance_marks_ties_and_clear_losses(results_dir):
    wrong = ["neg"] * len(GOLD)
    for seed, test in zip((1, 2, 3), (0.95, 0.96, 0.97), strict=True):
        make_result(results_dir, model="bert", seed=seed, test=test)
        make_result(results_dir, model="macbert", seed=seed, test=test - 0.001)
        make_result(results_dir, model="nezha", seed=seed, test=test - 0.45, test_predictions=wrong)
    cells = select_configs(loaded(results_dir))

    significance = compare_to_best(cells, {"chnsenticorp": (Gold(GOLD, TEST_FILE_SHA),)}, n_resamples=200)
    assert significance.problems == ()
    by_model = {cell.row.model: significance.comparisons[cell.id] for cell in cells}
    assert by_model["bert"].mark == BEST_MARK
    assert by_model["macbert"].bootstrap["p_value"] == 1.0  # identical predictions
    assert by_model["macbert"].mark == TIE_MARK
    assert by_model["nezha"].bootstrap["delta"] == pytest.approx(0.5)
    assert by_model["nezha"].significantly_worse is True
    assert by_model["nezha"].mark == ""

    without_gold = compare_to_best(cells).comparisons[next(cell.id for cell in cells if cell.row.model == "nezha")]
    assert without_gold.bootstrap is None and without_gold.seed_test is not None
    assert "gold test labels not available here" in without_gold.notes[0]


def with_wrong(n_wrong: int) -> list[str]:
    """Test predictions that get the first ``n_wrong`` examples of ``GOLD`` wrong."""
    return [("neg" if label == "pos" else "pos") if index < n_wrong else label for index, label in enumerate(GOLD)]


def test_a_row_whose_best_dev_seed_beats_the_best_rows_is_not_called_worse(tmp_path, results_dir):
    # The best row is chosen by mean test score, the bootstrap compares best-dev seeds, and their order can be
    # the reverse: here full fine-tuning's best-dev seed scores 75.0 on test (its other five 97.5), lora's 100.0
    # (its other five 70.0). The seed test finds full better, the bootstrap finds lora's model better: no verdict
    # of "worse" may come out of that, in the column or against full fine-tuning.
    for seed in range(1, 7):
        full_wrong, lora_wrong, dev = (10, 0, 0.95) if seed == 1 else (1, 12, 0.90)
        for n_wrong, strategy in ((full_wrong, {}), (lora_wrong, {"tuning": "lora"})):
            make_result(
                results_dir,
                seed=seed,
                dev=dev,
                test=1 - n_wrong / len(GOLD),
                test_predictions=with_wrong(n_wrong),
                extra_hparams=strategy,
            )
    cells = select_configs(loaded(results_dir))
    gold = {"chnsenticorp": (Gold(GOLD, TEST_FILE_SHA),)}
    significance = compare_to_best(cells, gold, n_resamples=200)
    lora = next(cell for cell in cells if cell.row.strategy == "lora")

    versus_full = significance.against_full[lora.id]
    assert versus_full.full_is_higher
    for comparison in (significance.comparisons[lora.id], versus_full.comparison):
        assert comparison.bootstrap["delta"] == pytest.approx(-0.25)  # the best row's best-dev seed is the worse one
        assert comparison.bootstrap["p_value"] == 1.0  # its advantage is absent from every resample
        assert comparison.seed_test["p_value"] < ALPHA
        assert comparison.significantly_worse is False and comparison.mark == TIE_MARK
    assert versus_full.verdict == f"{TIE_MARK} not different"
    table = section(render(tmp_path, gold=gold, n_resamples=200), "Significance")
    lora_line = next(line for line in table.splitlines() if "| bert | linear | lora |" in line)
    assert "| -25.00 [" in lora_line and f"| {TIE_MARK} not different |" in lora_line


def test_each_strategy_is_tested_against_full_fine_tuning_of_its_model_and_head(tmp_path, results_dir):
    wrong = ["neg"] * len(GOLD)
    for seed, test in zip((1, 2, 3), (0.95, 0.96, 0.97), strict=True):
        make_result(results_dir, model="bert", seed=seed, test=test)
        make_result(
            results_dir,
            model="bert",
            seed=seed,
            test=test - 0.45,
            test_predictions=wrong,
            extra_hparams={"tuning": "lora"},
        )
        make_result(results_dir, model="bert", seed=seed, test=test - 0.001, extra_hparams={"tuning": "adapter"})
        make_result(results_dir, model="macbert", seed=seed, test=test - 0.45, test_predictions=wrong)
        make_result(results_dir, model="macbert", seed=seed, test=test, extra_hparams={"tuning": "frozen"})
        make_result(results_dir, model="nezha", seed=seed, test=test, extra_hparams={"tuning": "lora"})
    cells = select_configs(loaded(results_dir))

    versus = compare_to_best(cells, {"chnsenticorp": (Gold(GOLD, TEST_FILE_SHA),)}, n_resamples=200).against_full
    by_row = {(cell.row.model, cell.row.strategy): versus.get(cell.id) for cell in cells}
    assert by_row[("bert", "full")] is None and by_row[("nezha", "lora")] is None  # nothing to compare with
    assert by_row[("bert", "lora")].full.row.strategy == "full" and by_row[("bert", "lora")].full.row.model == "bert"
    assert by_row[("bert", "lora")].verdict == "worse than full"
    assert by_row[("bert", "adapter")].verdict == f"{TIE_MARK} not different"
    assert by_row[("macbert", "frozen")].verdict == "better than full"
    assert by_row[("macbert", "frozen")].comparison.bootstrap["delta"] == pytest.approx(0.5)  # higher minus lower

    text = render(tmp_path, gold={"chnsenticorp": (Gold(GOLD, TEST_FILE_SHA),)}, n_resamples=200)
    table = section(text, "Significance").split("against full fine-tuning", 1)[1]
    frozen_line = next(line for line in table.splitlines() if "| macbert | linear | frozen |" in line)
    assert "| -45.00 | -50.00 [" in frozen_line and "| better than full |" in frozen_line
    lora_line = next(line for line in table.splitlines() if "| bert | linear | lora |" in line)
    assert "| 45.00 | 50.00 [" in lora_line and "| worse than full |" in lora_line


def with_data(**fields) -> dict:
    return {"source": "local", "files": {}, **fields}


@pytest.mark.parametrize(
    "data, predictions, problem",
    [
        (with_data(gold_sha256={"test": gold_sha256(GOLD)}), None, None),
        (with_data(files={"test": {"sha256": TEST_FILE_SHA}}), None, None),
        (with_data(gold_sha256={"test": gold_sha256(GOLD[::-1])}), None, "scored on other gold labels"),
        (with_data(files={"test": {"sha256": "c" * 64}}), None, "scored on another test file"),
        (with_data(), None, "its gold cannot be verified"),
        (with_data(gold_sha256={"test": gold_sha256(GOLD)}, counts={"test": 39}), None, "scored on 39 test examples"),
        (with_data(gold_sha256={"test": gold_sha256(GOLD)}), GOLD[:-1], "39 test predictions"),
    ],
)
def test_verify_gold(results_dir, data, predictions, problem):
    path = make_result(results_dir, data=data, test_predictions=predictions)
    reason = verify_gold(json.loads(path.read_text()), Gold(GOLD, TEST_FILE_SHA))
    assert reason is None if problem is None else problem in reason


def test_unverified_gold_is_a_problem_not_a_resample(tmp_path, results_dir):
    reordered = with_data(gold_sha256={"test": gold_sha256(GOLD[::-1])})
    for seed in (1, 2, 3):
        make_result(
            results_dir, model="bert", seed=seed, test=0.95, data=with_data(gold_sha256={"test": gold_sha256(GOLD)})
        )
        # Same data identity, but a gold fingerprint that does not match the gold loaded here.
        make_result(results_dir, model="macbert", seed=seed, test=0.90, data=reordered)
    text = render(tmp_path, gold={"chnsenticorp": (Gold(GOLD, TEST_FILE_SHA),)})
    rows = section(text, "Significance")
    macbert = next(line for line in rows.splitlines() if "| macbert |" in line)
    assert "no bootstrap: this row's best-dev seed has unverified gold (see Problems)" in macbert
    problems = section(text, "Problems")
    assert (
        "--macbert--linear--" in problems
        and "gold not verified (kept out of the bootstrap, still in its cell's mean): scored on other gold labels"
        in problems
    )
    assert "--bert--linear--" not in problems


def test_every_seed_a_cell_averages_has_its_gold_checked_not_only_the_best_dev_seed(tmp_path, results_dir):
    verified = with_data(gold_sha256={"test": gold_sha256(GOLD)})
    for seed, test in ((1, 0.95), (2, 0.94), (3, 0.96)):
        make_result(results_dir, model="bert", seed=seed, test=test, data=verified)
    # The lowest-dev seed, never resampled, was scored on other gold labels (a task edited between seeds).
    make_result(results_dir, model="macbert", seed=1, dev=0.93, test=0.90, data=verified)
    make_result(results_dir, model="macbert", seed=2, dev=0.92, test=0.91, data=verified)
    odd = make_result(
        results_dir,
        model="macbert",
        seed=3,
        dev=0.80,
        test=0.99,
        data=with_data(gold_sha256={"test": gold_sha256(GOLD[::-1])}),
    )
    problems = section(render(tmp_path, gold={"chnsenticorp": (Gold(GOLD, TEST_FILE_SHA),)}), "Problems")
    assert f"{odd.name}: gold not verified" in problems and "scored on other gold labels" in problems
    assert problems.count("gold not verified") == 1


def test_a_column_whose_seeds_were_read_under_other_task_declarations_is_a_problem(tmp_path, results_dir):
    paths = [make_result(results_dir, model=model, seed=seed) for model in ("bert", "macbert") for seed in (1, 2)]
    for path, declared in zip(paths, ("a" * 64, "a" * 64, "a" * 64, "b" * 64), strict=True):
        document = json.loads(path.read_text(encoding="utf-8"))
        document["task"]["declaration_sha256"] = declared
        path.write_text(json.dumps(document), encoding="utf-8")
    problems = section(render(tmp_path), "Problems")
    assert "chnsenticorp [D1](#data-1): its seeds were read under 2 declarations of the task" in problems
    assert f"`bbbbbbbbbbbb`: results/{paths[3].name}" in problems
    document = json.loads(paths[3].read_text(encoding="utf-8"))  # the same declaration everywhere: nothing to say
    document["task"]["declaration_sha256"] = "a" * 64
    paths[3].write_text(json.dumps(document), encoding="utf-8")
    assert "declarations of the task" not in render(tmp_path)


# --------------------------------------------------------------------------- rendering


def test_each_configuration_says_how_long_its_seeds_trained(tmp_path, results_dir):
    for seed, history in ((1, (0.8, 0.9, 0.85, 0.84, 0.83)), (2, (0.8, 0.9, 0.88, 0.87, 0.86, 0.85))):
        make_result(results_dir, seed=seed, history=history, extra_hparams={"epochs": 20, "patience": 3})
    make_result(results_dir, model="other", history=(0.7, 0.8, 0.9))

    entries = section(render(tmp_path), "Reproduced scores").split("\n- ")
    [patient] = [entry for entry in entries if "/ bert /" in entry]
    [fixed] = [entry for entry in entries if "/ other /" in entry]
    assert (
        "Training: a seed stops after 3 epochs without a dev improvement, or at the epoch cap; "
        "epochs trained (best dev epoch): "
        "seed 1 5 of 20 (best 2), seed 2 6 of 20 (best 2)."
    ) in patient
    assert "Training: fixed number of epochs; epochs trained (best dev epoch): seed 1 3 of 3 (best 2)." in fixed


@pytest.mark.parametrize(
    "hparams, epochs_trained, best_epoch, flagged",
    [
        ({"epochs": 5, "patience": 3}, 5, 4, True),  # at the cap, patience had not fired
        ({"epochs": 5, "patience": 3}, 5, 2, False),  # patience fires exactly at the cap
        ({"epochs": 20, "patience": 3}, 6, 5, False),  # stopped before the cap
        ({"epochs": 3}, 3, 3, True),  # fixed epochs, best dev in the last one
        ({"epochs": 3}, 3, 2, False),
        ({"epochs": 3}, 0, 3, False),  # no history recorded: cannot tell
    ],
)
def test_a_seed_is_still_improving_at_cap_when_patience_had_not_fired(
    results_dir, hparams, epochs_trained, best_epoch, flagged
):
    path = make_result(results_dir, history=(0.9,) * epochs_trained, best_epoch=best_epoch, extra_hparams=hparams)
    assert still_improving_at_cap(json.loads(path.read_text())) is flagged


def test_cells_and_entries_say_which_seeds_were_still_improving_at_cap(tmp_path, results_dir):
    for seed, best in ((1, 20), (2, 18), (3, 15)):
        make_result(
            results_dir, seed=seed, history=(0.9,) * 20, best_epoch=best, extra_hparams={"epochs": 20, "patience": 3}
        )
    text = section(render(tmp_path), "Reproduced scores")
    assert "n=3 of 3, 2 still improving at cap** ★ [[1]](#config-1)" in text
    assert (
        "epochs trained (best dev epoch): seed 1 20 of 20 (best 20, still improving), "
        "seed 2 20 of 20 (best 18, still improving), seed 3 20 of 20 (best 15)."
    ) in text


def test_reproduce_pins_the_precision_a_run_chose_for_itself(tmp_path, results_dir):
    for seed in (1, 2):
        make_result(results_dir, seed=seed, extra_hparams={"precision": "bf16"})
    make_result(results_dir, model="other", extra_hparams={"precision": "fp32"})
    entries = section(render(tmp_path), "Reproduced scores").split("\n- ")
    [chosen_bf16] = [entry for entry in entries if "/ bert /" in entry]
    [chosen_fp32] = [entry.strip() for entry in entries if "/ other /" in entry]
    assert chosen_bf16.endswith("--head linear --precision bf16 --seeds 1,2`.")
    assert chosen_fp32.endswith("--head linear --precision fp32 --seeds 1`.")


def test_ner_columns_show_strict_and_conlleval_f1(tmp_path, results_dir):
    for seed in (1, 2, 3):
        make_result(
            results_dir,
            task="msra_ner",
            seed=seed,
            test=0.80,
            test_metrics={"f1_lenient": 0.70},
            test_predictions=["O"] * 3,
        )
    text = render(tmp_path)
    header = next(line for line in text.splitlines() if line.startswith("| Model |"))
    assert "msra_ner strict F1 [D1](#data-1) | msra_ner conlleval F1 [D1](#data-1)" in header
    assert "80.00 ± 0.00 (80.00), n=3 of 3** ★ [[1]](#config-1) | 70.00 ± 0.00 (70.00) |" in text


def test_render_is_deterministic_including_plots(tmp_path, results_dir):
    for seed, test in zip((1, 2, 3), (0.90, 0.92, 0.94), strict=True):
        make_result(results_dir, seed=seed, test=test, dev=test - 0.01)
        make_result(results_dir, model="macbert", seed=seed, test=test - 0.01, dev=test)
        make_result(results_dir, task="msra_ner", seed=seed, test=test - 0.05, test_predictions=["O"] * 3)
    make_result(results_dir, seed=1, lr=5e-5, dev=0.5)
    gold = {"chnsenticorp": (Gold(GOLD, TEST_FILE_SHA),)}

    def snapshot(root: Path) -> dict[str, bytes]:
        folder = root / "leaderboard"
        return {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in folder.rglob("*")
            if path.suffix in (".md", ".svg")
        }

    first_text = render(tmp_path, REPOSITORY / "leaderboard" / "reported.json", gold=gold)
    first = snapshot(tmp_path)
    assert render(tmp_path, REPOSITORY / "leaderboard" / "reported.json", gold=gold) == first_text
    assert snapshot(tmp_path) == first
    names = {name.rsplit("--", 1)[0] for name in first if name.startswith("plots/")}
    assert names == {
        f"plots/{kind}--{task}" for kind in ("seed-spread", "expected-max-dev") for task in ("chnsenticorp", "msra_ner")
    }
    assert str(tmp_path) not in first_text

    # Same inputs under another folder: same bytes, because every path is relative.
    other = tmp_path / "elsewhere"
    shutil.copytree(results_dir, other / "leaderboard" / "results")
    render(other, REPOSITORY / "leaderboard" / "reported.json", gold=gold)
    assert snapshot(other) == first


def test_plots_of_columns_that_are_gone_are_removed(tmp_path, results_dir):
    make_result(results_dir, seed=1)
    ner = make_result(results_dir, task="msra_ner", seed=1, test_predictions=["O"] * 3)
    render(tmp_path)
    plots = tmp_path / "leaderboard" / "plots"
    (plots / "notes.svg").write_text("<svg/>")  # not one of ours: left alone
    assert sum("msra_ner" in path.name for path in plots.iterdir()) == 2
    ner.unlink()
    render(tmp_path)
    assert not any("msra_ner" in path.name for path in plots.iterdir())
    assert (plots / "notes.svg").exists() and len(list(plots.iterdir())) == 3


def test_readme_contents(tmp_path, results_dir):
    for seed in (1, 2, 3):
        make_result(results_dir, seed=seed, test=0.9)
    make_result(results_dir, model="nezha", seed=1, status="failed")
    text = render(tmp_path)
    assert "Generated by `cnbench leaderboard`" in text and "Do not edit by hand" in text
    assert "| bert | linear | full | `" in text
    assert "| unrecorded | **90.00 ± 0.00 (90.00), n=3 of 3** ★ [[1]](#config-1) | 90.00 |" in text
    assert "(results/chnsenticorp--bert--linear--" in text  # relative links to result files
    assert "![chnsenticorp: per-seed test scores](plots/seed-spread--chnsenticorp--" in text
    failed = section(text, "Failed runs")
    assert (
        "| chnsenticorp | nezha | linear | `" in failed and "` | 0 | 1 | loss became nan at epoch 1 step 40 |" in failed
    )


def test_a_cell_whose_seeds_partly_failed_is_not_the_best_on_its_survivors_mean(tmp_path, results_dir):
    for seed, test in ((1, 0.89), (2, 0.88), (3, 0.90)):
        make_result(results_dir, model="bert", seed=seed, test=test)
    make_result(results_dir, model="macbert", seed=1, dev=0.95, test=0.95)
    for seed in (2, 3):
        make_result(results_dir, model="macbert", seed=seed, status="failed")
    table = section(render(tmp_path), "Reproduced scores")
    bert = next(line for line in table.splitlines() if "| bert | linear |" in line)
    macbert = next(line for line in table.splitlines() if "| macbert | linear |" in line)
    assert "**89.00 ± 1.00 (90.00), n=3 of 3** ★" in bert
    assert "95.00 ± — (95.00), n=1 of 3, 2 failed" in macbert and "★" not in macbert and "**" not in macbert


def test_an_unusable_result_file_naming_a_cell_is_shown_there_and_keeps_it_from_the_best_place(tmp_path, results_dir):
    for seed, test in ((1, 0.89), (2, 0.88), (3, 0.90)):
        make_result(results_dir, model="bert", seed=seed, test=test)
    for seed, test in ((1, 0.95), (2, 0.94)):
        make_result(results_dir, model="macbert", seed=seed, dev=test, test=test)
    # seed 3 of macbert: a result cut short by hand-editing or a bad merge; it may have been a failure
    broken = results_dir / "chnsenticorp--macbert--linear--0123456789ab--seed3.json"
    broken.write_text('{"schema": "cnbench.result/1", "status": "comp', encoding="utf-8")
    text = render(tmp_path)
    table = section(text, "Reproduced scores")
    bert = next(line for line in table.splitlines() if "| bert | linear |" in line)
    macbert = next(line for line in table.splitlines() if "| macbert | linear |" in line)
    assert "n=3 of 3** ★" in bert
    assert "n=2 of 2, 1 unusable file(s)" in macbert and "★" not in macbert
    entry = next(line for line in table.splitlines() if "/ macbert / linear /" in line)
    assert f"[{broken.name}](results/{broken.name}): not readable as JSON" in entry
    assert f"results/{broken.name}: not readable as JSON" in section(text, "Problems")
    assert "unusable" not in next(line for line in table.splitlines() if "/ bert / linear /" in line)


def test_one_completed_seed_has_no_spread_to_show(tmp_path, results_dir):
    make_result(results_dir, seed=1, test=0.8933)
    make_result(results_dir, seed=2, status="failed")
    assert "**89.33 ± — (89.33), n=1 of 2, 1 failed** ★" in section(render(tmp_path), "Reproduced scores")


def test_corrupt_and_foreign_json_are_listed_and_skipped(tmp_path, results_dir):
    make_result(results_dir, seed=1, test=0.9)
    (results_dir / "broken.json").write_text("{not json", encoding="utf-8")
    (results_dir / "foreign.json").write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    (results_dir / "no-metrics.json").write_text(
        json.dumps({"schema": SCHEMA, "status": "completed"}), encoding="utf-8"
    )

    text = render(tmp_path)
    problems = section(text, "Problems")
    for name in ("results/broken.json", "results/foreign.json", "results/no-metrics.json"):
        assert f"- {name}: " in problems
    assert "90.00" in section(text, "Reproduced scores")


def test_a_problem_names_its_file_the_same_from_any_working_directory(tmp_path, results_dir, monkeypatch):
    make_result(results_dir, seed=1, test=0.9)
    (results_dir / "broken.json").write_text("{not json", encoding="utf-8")
    pages = []
    for cwd, root in ((tmp_path, Path(".")), (tmp_path / "leaderboard", Path(".."))):
        monkeypatch.chdir(cwd)
        pages.append(section(render(root), "Problems"))
    assert "- results/broken.json: " in pages[0] and pages[0] == pages[1]


@pytest.mark.parametrize(
    "where, value, problem",
    [
        (("data", "files", "test", "sha256"), 123, "data.files.test.sha256 must be a string, got 123"),
        (("hparams", "patience"), "3", "hparams.patience must be an integer or null, got '3'"),
        (("hparams", "epochs"), "3", "hparams.epochs must be an integer or null, got '3'"),
        (("history",), 3, "history must be a list, got 3"),
        (("metrics", "test", "accuracy"), 89.5, "metrics.test.accuracy must be a fraction between 0 and 1, got 89.5"),
    ],
)
def test_malformed_fields_are_listed_with_their_file_not_raised(tmp_path, results_dir, where, value, problem):
    make_result(results_dir, seed=1, test=0.90)
    # A seed that reached its cap of 3 epochs with patience: every field above is read for it.
    path = make_result(results_dir, seed=2, test=0.95, history=(0.9,) * 3, best_epoch=3, extra_hparams={"patience": 3})
    document = json.loads(path.read_text())
    *parents, name = where
    target = document
    for key in parents:
        target = target[key]
    target[name] = value
    path.write_text(json.dumps(document), encoding="utf-8")

    text = render(tmp_path)
    assert f"- results/{path.name}: {problem}" in section(text, "Problems")
    assert "90.00 ± — (90.00), n=1 of 1" in section(text, "Reproduced scores")


# --------------------------------------------------------------------------- reported scores


def test_reported_scores_never_appear_as_reproduced(tmp_path, results_dir):
    for seed in (1, 2, 3):
        make_result(results_dir, seed=seed, test=0.9, dev=0.91)
    reported = tmp_path / "reported.json"
    entry = {
        "task": "chnsenticorp",
        "split": "test",
        "metric": "accuracy",
        "max": 56.78,
        "mean": 12.34,
        "n_runs": 10,
        "source": "paper",
    }
    write_json_atomic(
        reported,
        {
            "sources": {"paper": {"citation": "Someone et al. 2020, Table 9", "url": "https://example.org/paper"}},
            "entries": [{**entry, "model": "bert"}, {**entry, "model": "nezha"}, {"model": "broken"}],
        },
    )

    text = render(tmp_path, reported)
    assert "12.34" not in section(text, "Reproduced scores") and "56.78" not in section(text, "Reproduced scores")
    assert "| nezha |" not in section(text, "Reproduced scores")
    published = section(text, "Reported scores (published, not reproduced here)")
    assert (
        "| chnsenticorp | bert | linear | test | accuracy | 56.78 | 12.34 | 10 | [D1](#data-1) [[1]](#config-1) "
        "| 90.00 | +77.66 |" in published
    )
    assert "| chnsenticorp | nezha | linear | test | accuracy | 56.78 | 12.34 | 10 | — | — | — |" in published
    assert "Someone et al. 2020, Table 9 https://example.org/paper" in section(
        text, "Reported scores (published, not reproduced here)"
    )
    assert "reported.json: entry 2 skipped" in section(text, "Problems")


def test_reported_ner_scores_are_compared_on_their_own_metric(tmp_path, results_dir):
    for seed in (1, 2, 3):
        make_result(
            results_dir,
            task="msra_ner",
            seed=seed,
            test=0.80,
            test_metrics={"f1_lenient": 0.70},
            test_predictions=["O"] * 3,
        )
    reported = tmp_path / "reported.json"
    entry = {"task": "msra_ner", "model": "bert", "split": "test", "mean": 90.0, "source": "paper"}
    write_json_atomic(
        reported,
        {
            "sources": {"paper": {"citation": "Someone", "url": "https://example.org"}},
            "entries": [
                {**entry, "metric": "conlleval F1"},
                {**entry, "metric": "strict F1"},
                {**entry, "metric": "f1"},
            ],
        },
    )
    text = render(tmp_path, reported)
    published = section(text, "Reported scores (published, not reproduced here)")
    assert "| conlleval F1 | — | 90.0 | — | [D1](#data-1) [[1]](#config-1) | 70.00 | -20.00 |" in published
    assert "| strict F1 | — | 90.0 | — | [D1](#data-1) [[1]](#config-1) | 80.00 | -10.00 |" in published
    assert (
        "reported.json: entry 2 skipped (needs model, task, split, a metric among accuracy, conlleval F1, strict F1"
        in (section(text, "Problems"))
    )


def test_missing_reported_file_is_a_problem_not_a_crash(tmp_path, results_dir):
    make_result(results_dir, seed=1)
    text = render(tmp_path, tmp_path / "absent.json")
    assert "absent.json: not readable as reported scores" in text


def test_repository_reported_scores_are_well_formed():
    entries, sources, problems = load_reported(REPOSITORY / "leaderboard" / "reported.json")
    assert problems == [] and entries
    assert all(sources[entry["source"]]["url"].startswith("https://") for entry in entries)
    assert all(entry["max"] >= entry["mean"] for entry in entries if None not in (entry["max"], entry["mean"]))
    assert len({(entry["model"], entry["task"], entry["split"], entry["metric"]) for entry in entries}) == len(entries)
