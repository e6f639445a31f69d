"""Every script in benchmarks/ still runs: each in its ``--small`` mode, as a subprocess, writing
its table into a temporary folder and never over the committed results. Each script run starts a
fresh interpreter that imports torch, so those tests are marked ``slow``: the full suite runs them,
the quick tier keeps only the checks that need no subprocess."""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from argparse import Namespace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
RESULTS = BENCHMARKS / "results"


@pytest.fixture(autouse=True)
def committed_results_untouched():
    """No small run may write into benchmarks/results/."""

    def snapshot() -> dict[Path, bytes]:
        return {path: path.read_bytes() for path in RESULTS.rglob("*") if path.is_file()}

    before = snapshot()
    yield
    assert snapshot() == before


def small(tmp_path: Path, script: str, *args: str) -> tuple[str, Path]:
    """Run ``benchmarks/<script> --small ARGS`` with its temporary folders under ``tmp_path``;
    return what it printed and the results file it names last."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--small", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    named = re.findall(r"^(?:appended to|wrote) (\S+)$", done.stdout + "\n" + done.stderr, re.MULTILINE)
    assert named, f"{script} named no results file:\n{done.stdout[-2000:]}"
    written = Path(named[-1])
    assert written.is_file() and tmp_path in written.parents
    return done.stdout, written


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    """The cells of the markdown table rows whose first cell is ``first_cell``."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith(f"| {first_cell} |")
    ]


def percent(cell: str) -> float:
    value = float(cell.rstrip("%"))
    assert 0 <= value <= 100
    return value


def test_small_mode_writes_to_a_fresh_temporary_folder_unless_out_is_given(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    from small_mode import output_path

    committed, given = RESULTS / "table.md", tmp_path / "mine.md"
    assert output_path(Namespace(out=None, small=False), committed) == committed
    assert output_path(Namespace(out=given, small=True), committed) == given
    first, second = (output_path(Namespace(out=None, small=True), committed) for _ in range(2))
    assert first.name == second.name == "table.md" and first.parent.is_dir() and tmp_path in first.parents
    assert first.parent != second.parent  # one check never sees another's table


# -- scripts that tabulate or analyse existing result files ------------------------------------------


@pytest.mark.slow
def test_tabulate_runs_reproduces_the_committed_probe_table(tmp_path):
    _, written = small(tmp_path, "tabulate_runs.py", "--results", str(RESULTS / "chnsenticorp_cap_probe"))
    rows = [line for line in written.read_text(encoding="utf-8").splitlines() if line.startswith("| chnsenticorp")]
    committed = (RESULTS / "chnsenticorp_cap_probe.md").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 and rows == [line for line in committed if line.startswith("| chnsenticorp")]


@pytest.mark.slow
def test_tabulate_runs_still_needs_out_and_title_outside_small_mode(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "tabulate_runs.py"), "--results", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--out and --title are required" in done.stderr


@pytest.mark.slow
def test_ocnli_learns_rewrites_the_committed_table_from_the_committed_runs(tmp_path, data_dir):
    _, written = small(tmp_path, "ocnli_learns.py", str(RESULTS / "ocnli_learns"))
    assert written.read_text(encoding="utf-8") == (RESULTS / "ocnli_learns.md").read_text(encoding="utf-8")


@pytest.mark.slow  # three configurations, each seed bootstrapped against a baseline over DRCD test
def test_span_learns_rewrites_the_committed_table_from_the_committed_runs(tmp_path, data_dir):
    folders = [str(RESULTS / "span_learns" / name) for name in ("limit1000_len256", "limit1500_len128", "all_len512")]
    _, written = small(tmp_path, "span_learns.py", *folders)
    assert written.read_text(encoding="utf-8") == (RESULTS / "span_learns.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_analyse_msra_ner_splits_recall_by_seen_and_unseen_entities(tmp_path, data_dir):
    _, written = small(tmp_path, "analyse_msra_ner.py", "--results", str(RESULTS / "msra_ner_cap_probe"))
    text = written.read_text(encoding="utf-8")
    rows = table_rows(text, "scratch-tiny")
    assert len(rows) == len(list((RESULTS / "msra_ner_cap_probe").glob("*.json"))) == 4
    for row in rows:
        test_f1, dev_f1, seen, unseen = (percent(cell) for cell in row[5:9])
        assert seen > unseen  # what the analysis shows: unseen entities are the hard part
    share = "- Test entities whose type + characters occur as an entity in train:"
    committed = (RESULTS / "msra_ner_gap.md").read_text(encoding="utf-8")  # the same data, other results
    assert next(line for line in text.splitlines() if line.startswith(share)) in committed


# -- scripts that measure, at small sizes ----------------------------------------------------------------


@pytest.mark.slow
def test_mrc_metric_tokenisation_small(tmp_path, data_dir):
    _, written = small(tmp_path, "mrc_metric_tokenisation.py")
    text = written.read_text(encoding="utf-8")
    assert re.search(r"^\d+ distinct runs in all\.$", text, re.MULTILINE)
    for label in ("CMRC dev", "CMRC trial", "DRCD dev", "DRCD test"):
        (shifted,) = [row for row in table_rows(text, label) if row[1] == "shifted gold spans"]
        assert int(shifted[2]) <= 200
        percent(shifted[3])  # cnbench's F1
        for cell in shifted[4:]:  # each alternative's F1 and how many predictions it changed
            f1, changed = re.fullmatch(r"([\d.]+) \((\d+)\)", cell).groups()
            percent(f1)
            assert int(changed) <= int(shifted[2])


@pytest.mark.slow
def test_bench_span_pipeline_small(tmp_path, data_dir):
    _, written = small(tmp_path, "bench_span_pipeline.py")
    text = written.read_text(encoding="utf-8")
    assert "## CMRC 2018 dev (50 questions" in text
    for max_len in ("512", "384"):
        (row,) = table_rows(text, max_len)
        assert int(row[1].replace(",", "")) >= 50  # at least one window per question
    for split in ("cmrc2018/dev", "cmrc2018/trial", "drcd/dev", "drcd/test"):
        (row,) = table_rows(text, split)
        assert 0 < int(row[1]) <= 50 and float(row[2]) <= float(row[4])  # median <= longest


@pytest.mark.slow
def test_bench_startup_small(tmp_path):
    stdout, written = small(tmp_path, "bench_startup.py")
    text = written.read_text(encoding="utf-8")
    assert "1 runs each" in text
    (bare,) = table_rows(text, "python -c pass")
    assert bare[2] == "1.0x"  # the interpreter against itself
    for command in ("cnbench --help", "cnbench list"):
        (row,) = table_rows(text, command)
        assert float(row[1]) > 0 and re.fullmatch(r"[\d.]+x", row[2])


@pytest.mark.slow
def test_bench_bilstm_small_agrees_with_the_packed_lstm(tmp_path):
    _, written = small(tmp_path, "bench_bilstm.py")
    (row,) = table_rows(written.read_text(encoding="utf-8"), "4 × 16 × 32")
    assert float(row[1]) > 0 and float(row[2]) > 0 and row[3].endswith("×")
    assert float(row[4]) < 1e-4 and float(row[5]) < 1e-4  # the same function, outputs and gradients


@pytest.mark.slow
def test_bench_crf_small(tmp_path):
    _, written = small(tmp_path, "bench_crf.py")
    text = written.read_text(encoding="utf-8")
    against_pytorch_crf, *sequential_vs_scan = table_rows(text, "cpu")
    assert against_pytorch_crf[1] == "4, 16, 7"
    assert against_pytorch_crf[6].endswith("x") and against_pytorch_crf[11].endswith("x")  # speed-ups
    crossover = {row[1]: row for row in sequential_vs_scan}
    assert crossover["1, 16, 7"][2] == "343" and crossover["2, 16, 21"][2] == str(2 * 21**3)
    assert "batch 2 x 32 (1 rows padded from 25)" in text
    assert re.search(r"Overhead of `crf` over `linear`: [+-][\d.]+ %", text)


@pytest.mark.slow
def test_bench_nezha_small(tmp_path):
    _, written = small(tmp_path, "bench_nezha.py")
    text = written.read_text(encoding="utf-8")
    assert "--layers 1 --batch 2 --seq-len 16 --steps 1" in text
    (nezha,) = table_rows(text, "NEZHA (cnbench)")
    assert nezha[4] == "1.00" and nezha[5] == "1.00"  # NEZHA against itself
    assert len(table_rows(text, "BERT, sdpa")) == len(table_rows(text, "BERT, eager")) == 1


@pytest.mark.slow
def test_bench_throughput_small(tmp_path, data_dir):
    _, written = small(tmp_path, "bench_throughput.py")
    text = written.read_text(encoding="utf-8")
    assert "## tiny-size random-init encoders, first 32 examples per split" in text
    for architecture in ("bert", "nezha"):
        (row,) = table_rows(text, architecture)
        assert row[1] == "lcqmc" and float(row[4]) > 0 and float(row[5]) > 0
    assert re.search(r"\*\*Total: [\d.]+ h\*\*", text)


@pytest.mark.slow
def test_bench_memory_small_trains_on_pairs_that_are_not_the_evaluation_pairs(tmp_path, data_dir):
    # cnbench refuses a train set holding the dev or test set, so a finished run is the proof
    stdout, written = small(tmp_path, "bench_memory.py")
    assert "1 process(es)" in stdout
    (row,) = table_rows(written.read_text(encoding="utf-8"), "after")
    assert row[2] == "1" and row[3] == "2,000" and int(row[4].replace(",", "")) > 2_000
    assert float(row[10]) > 0  # the hit phase reached its first training step


def test_bench_memory_train_pairs_are_the_evaluation_pairs_swapped(tmp_path, data_dir):
    spec = importlib.util.spec_from_file_location("bench_memory", BENCHMARKS / "bench_memory.py")
    bench_memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_memory)
    bench_memory.write_data(tmp_path, 50)

    def rows(name: str) -> list[list[str]]:
        text = gzip.decompress((tmp_path / "xnli_zh" / name).read_bytes()).decode("utf-8")
        return [line.split("\t") for line in text.splitlines()[1:]]

    dev = rows("dev.tsv.gz")
    assert [[b, a, label] for a, b, label in rows("train.tsv.gz")] == dev[:50]


@pytest.mark.slow
def test_bench_chnsenticorp_small(tmp_path, data_dir):
    _, written = small(tmp_path, "bench_chnsenticorp.py")
    (row,) = table_rows(written.read_text(encoding="utf-8"), "42")
    assert row[1] == "1"  # one epoch
    for accuracy in row[2:4]:  # test and dev
        percent(accuracy)


@pytest.mark.slow
def test_bench_msra_small(tmp_path, data_dir):
    _, written = small(tmp_path, "bench_msra.py")
    (row,) = table_rows(written.read_text(encoding="utf-8"), "char-embed")
    assert row[1] == "bilstm-crf" and row[6] == "1/1"
    for f1 in row[3:6]:  # test strict and lenient, dev
        percent(f1)


@pytest.mark.slow
def test_bench_tuning_small(tmp_path, data_dir):
    _, written = small(tmp_path, "bench_tuning.py")
    text = written.read_text(encoding="utf-8")
    assert "first 64 examples per split" in text
    (full,) = table_rows(text, "full")
    (mix,) = table_rows(text, "frozen+scalar-mix")
    assert full[5] == "1.00×" and full[2] == "100.00 %"
    assert int(mix[1].replace(",", "")) < int(full[1].replace(",", ""))  # frozen: only the head and the mix train
    weights = [float(weight) for weight in mix[11].split()]
    assert len(weights) == 5 and sum(weights) == pytest.approx(1.0, abs=0.01)  # embeddings and 4 layers


@pytest.mark.slow
def test_bench_vs_trainer_small(tmp_path, data_dir):
    _, written = small(tmp_path, "bench_vs_trainer.py")
    text = written.read_text(encoding="utf-8")
    assert "## scratch-tiny, ChnSentiCorp, first 64 examples per split, 1 epochs" in text
    (ours,) = table_rows(text, "cnbench")
    assert ours[4] == "1.00x"
    for name in ("cnbench", "HF Trainer (group_by_length)", "HF Trainer (random)"):
        (row,) = table_rows(text, name)
        assert 0 <= float(row[2]) <= 1 and 0 <= float(row[3]) <= 1
