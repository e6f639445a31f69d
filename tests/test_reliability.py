"""Reliability: bad input, crashes and concurrency never lose or corrupt a result.

- a run killed with SIGKILL continues with ``--resume`` and ends exactly where an uninterrupted run
  ends; without ``--resume`` a checkpoint is ignored, and it is gone once the result is written;
- a diverging or abandoned run writes a ``failed`` result and the CLI still exits 0;
- an unwritable results folder or a disk without room for the checkpoints stops the run before it
  trains;
- concurrent runs into one folder leave complete results, and readers never see a partial one;
- bad data and model folders give one ``error: file:line: ...`` line with exit status 2 (the reader
  cases not already in ``test_readers.py``).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple

import numpy as np
import pytest
import torch
from conftest import only_result

from cnbench.checkpoint import Checkpoint, Progress
from cnbench.data.readers import read_conll, read_tsv
from cnbench.errors import CnbenchError, DataError
from cnbench.leaderboard import result_problem
from cnbench.registry import get_task
from cnbench.results import load_results, write_json_atomic
from cnbench.train import RunConfig, plan

TINY = ("--task", "chnsenticorp", "--model", "scratch-tiny", "--limit", "32", "--max-len", "32")
NER_TAGS = get_task("msra_ner").labels
GZIPPED = gzip.compress("中 O\n".encode() * 3000)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """In-process runs use one thread, like the subprocesses below: on a few shared cores, OpenMP
    threads waiting on each other make a seconds-long run take minutes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def start(*args) -> subprocess.Popen:
    """``python -m cnbench run ARGS`` in a real process (one that SIGKILL can stop mid-run)."""
    return subprocess.Popen(
        [sys.executable, "-m", "cnbench", "run", *map(str, args)],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def run_folders(checkpoints) -> list:
    return [path for path in checkpoints.glob("*") if path.is_dir()]


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


# --------------------------------------------------------------------------- resume


@pytest.mark.slow
@pytest.mark.parametrize(
    "task_args",
    [
        ("--task", "chnsenticorp", "--limit", "64", "--max-len", "32"),  # 8 steps an epoch: time to kill it
        ("--task", "drcd", "--train-on-dev", "--limit", "24", "--max-len", "96"),  # span windows, answers decoded
    ],
    ids=["sentence", "span"],
)
def test_a_run_killed_after_an_epoch_resumes_to_the_uninterrupted_result(tmp_path, task_args):
    args = (*task_args, "--model", "scratch-tiny", "--batch-size", "8", "--epochs", "3")
    reference = start(*args, "--output", tmp_path / "reference")
    victim = start(*args, "--output", tmp_path / "resumed")
    checkpoints = tmp_path / "resumed" / ".checkpoints"
    deadline = time.monotonic() + 300
    while not any(checkpoints.glob("*/last.pt")) and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    finish(reference)
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed after its first epoch"
    assert not list((tmp_path / "resumed").glob("*.json"))

    out = finish(start(*args, "--resume", "--output", tmp_path / "resumed"))
    assert "resumed from" in out and "after epoch" in out
    a, b = only_result(tmp_path / "reference"), only_result(tmp_path / "resumed")
    assert b["status"] == "completed" and b["timing"]["resumed_after_epochs"] in ([1], [2])
    assert a["metrics"] == b["metrics"] and a["predictions"] == b["predictions"]
    assert a["best_epoch"] == b["best_epoch"]
    assert [(h["train_loss"], h["dev"]) for h in a["history"]] == [(h["train_loss"], h["dev"]) for h in b["history"]]
    assert a["command"] == b["command"] and "--resume" not in b["command"]
    curve = ("step", "epoch", "loss", "grad_norm", "lr")  # the points made before the kill were kept
    assert [a["curve"][key] for key in curve] == [b["curve"][key] for key in curve]
    assert len(a["curve"]["step"]) == a["hparams"]["total_steps"]
    assert not run_folders(checkpoints), "the checkpoint outlived the result"
    assert (checkpoints / ".gitignore").read_text() == "*\n"


def test_resume_keeps_the_seeds_already_written_and_runs_the_rest(cnbench, tmp_path):
    assert cnbench("run", *TINY, "--epochs", "1", "--seed", "1", "--output", tmp_path).code == 0
    first = next(tmp_path.glob("*--seed1.json"))
    before = first.read_text(encoding="utf-8")

    result = cnbench("run", *TINY, "--epochs", "1", "--seeds", "1,2", "--resume", "--output", tmp_path)
    assert result.code == 0, result.err
    assert f"{first.name}: written already (completed); --resume keeps it" in result.out
    assert first.read_text(encoding="utf-8") == before  # not trained again
    assert sorted(r["seed"] for r in load_results(tmp_path)[0]) == [1, 2]
    assert result.out.count("result: ") == 2  # the summary still lists both seeds

    result = cnbench("run", *TINY, "--epochs", "1", "--seed", "1", "--output", tmp_path)
    assert result.code == 0 and "keeps it" not in result.out  # without --resume the seed runs again


def test_without_resume_a_checkpoint_is_ignored_and_removed(cnbench, tmp_path):
    checkpoint = Checkpoint(
        tmp_path, plan(RunConfig("chnsenticorp", "scratch-tiny", limit=32, max_len=32, epochs=1)).key
    )
    checkpoint.path.parent.mkdir(parents=True)
    checkpoint.path.write_bytes(b"not a checkpoint")

    result = cnbench("run", *TINY, "--epochs", "1", "--resume", "--output", tmp_path)
    assert result.code == 2 and "Traceback" not in result.err
    assert f"error: {checkpoint.path}: cannot read this checkpoint" in result.err and "without --resume" in result.err

    result = cnbench("run", *TINY, "--epochs", "1", "--output", tmp_path)
    assert result.code == 0, result.err
    assert f"ignoring the checkpoint of an interrupted run at {checkpoint.path}" in result.out
    assert only_result(tmp_path)["status"] == "completed"
    assert not checkpoint.path.parent.exists()


def test_checkpoint_round_trip_restores_weights_optimiser_scheduler_and_every_rng(tmp_path):
    def build():
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 2)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
        return model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (step + 1))

    model, optimizer, scheduler = build()
    model(torch.randn(3, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    order = torch.Generator().manual_seed(7)
    progress = Progress(epoch=1, history=[{"epoch": 1}], best=0.5, best_epoch=1)
    checkpoint = Checkpoint(tmp_path, "key")
    checkpoint.save(progress, model, optimizer, scheduler, order, fingerprint="data+model")
    draws = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=order).item())

    fresh, fresh_optimizer, fresh_scheduler = build()
    fresh_order = torch.Generator().manual_seed(99)
    restored = checkpoint.restore(fresh, fresh_optimizer, fresh_scheduler, fresh_order, fingerprint="data+model")
    assert (
        random.random(),
        np.random.rand(),
        torch.rand(1).item(),
        torch.rand(1, generator=fresh_order).item(),
    ) == draws
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value)
        assert torch.equal(restored.best_state[name], value)  # best epoch == last epoch: stored once
    assert fresh_optimizer.state_dict()["state"][0]["exp_avg"].equal(optimizer.state_dict()["state"][0]["exp_avg"])
    assert fresh_scheduler.state_dict()["last_epoch"] == 1
    assert (restored.epoch, restored.history, restored.best, restored.resumed_after) == (1, [{"epoch": 1}], 0.5, [1])

    with pytest.raises(CnbenchError, match="other data files, model weights or precision"):
        checkpoint.restore(fresh, fresh_optimizer, fresh_scheduler, fresh_order, fingerprint="other data")

    other_parameters = torch.nn.Sequential(torch.nn.Linear(4, 2))  # same weights, other names
    with pytest.raises(CnbenchError, match=r"weights do not match the trained parameters.*without --resume"):
        checkpoint.restore(other_parameters, fresh_optimizer, fresh_scheduler, fresh_order, fingerprint="data+model")


# --------------------------------------------------------------------------- failed runs


def test_a_diverging_run_writes_a_failed_result_and_exits_0(cnbench, tmp_path):
    result = cnbench("run", *TINY, "--epochs", "2", "--lr", "1e12", "--output", tmp_path)
    assert result.code == 0, result.err
    assert "result:" in result.out  # run() returned the failed result instead of raising
    doc = only_result(tmp_path)
    assert doc["status"] == "failed" and doc["failure"].startswith("training loss became ")
    assert f"failed: {doc['failure']}" in result.out
    assert None in doc["curve"]["loss"]  # the curve shows where it diverged (not finite: null)
    assert doc["metrics"] == {"dev": {}, "test": {}} and doc["predictions"] == {"dev": [], "test": []}
    assert result_problem(doc) is None  # the leaderboard reads it as a failed run
    assert not run_folders(tmp_path / ".checkpoints")


def test_a_crash_once_training_started_is_a_failed_seed_and_resume_goes_on_from_its_checkpoint(
    cnbench, tmp_path, monkeypatch
):
    import cnbench.train as recipe
    from cnbench.leaderboard import selection_score
    from cnbench.leaderboard.select import WORST_SCORE

    scored = recipe.evaluate

    calls = []

    def out_of_memory_in_epoch_2(*args):  # the second dev scoring
        calls.append(args)
        if len(calls) == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return scored(*args)

    monkeypatch.setattr(recipe, "evaluate", out_of_memory_in_epoch_2)
    crashed = cnbench("run", *TINY, "--epochs", "3", "--output", tmp_path)
    assert crashed.code == 1
    doc = only_result(tmp_path)
    assert doc["status"] == "failed"
    assert doc["failure"] == "crashed in epoch 2 of 3: OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert "Traceback (most recent call last)" in crashed.err and f"failed: {doc['failure']}" in crashed.out
    assert f"seed 42 failed: {doc['failure']}" in crashed.err
    assert result_problem(doc) is None and selection_score(doc) == WORST_SCORE  # counted, as the worst seed
    assert run_folders(tmp_path / ".checkpoints")  # kept for --resume

    monkeypatch.setattr(recipe, "evaluate", scored)
    resumed = cnbench("run", *TINY, "--epochs", "3", "--resume", "--output", tmp_path)
    assert resumed.code == 0, resumed.err
    assert "keeps it" not in resumed.out and "after epoch 1" in resumed.out
    doc = only_result(tmp_path)
    assert doc["status"] == "completed" and doc["timing"]["resumed_after_epochs"] == [1]
    assert [epoch["epoch"] for epoch in doc["history"]] == [1, 2, 3]
    assert not run_folders(tmp_path / ".checkpoints")


def test_a_crash_while_scoring_test_says_so_even_with_quiet_and_resume_starts_over(cnbench, tmp_path, monkeypatch):
    import cnbench.train as recipe

    scored, calls = recipe.evaluate, []

    def out_of_memory_on_test(*args):  # dev in epoch 1, then dev and test with the best weights
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("CUDA error: an illegal memory access was encountered" + " x" * 200)
        return scored(*args)

    monkeypatch.setattr(recipe, "evaluate", out_of_memory_on_test)
    crashed = cnbench("run", *TINY, "--epochs", "1", "--quiet", "--output", tmp_path)
    assert crashed.code == 1 and "Traceback (most recent call last)" in crashed.err
    failure = only_result(tmp_path)["failure"]
    assert failure.startswith("crashed while scoring test with the weights of epoch 1: RuntimeError: CUDA error: ")
    assert len(failure) < 250 and failure.endswith("…")  # a table cell, not the whole message
    assert f"seed 42 failed: {failure}" in crashed.err

    monkeypatch.setattr(recipe, "evaluate", scored)
    again = cnbench("run", *TINY, "--epochs", "1", "--resume", "--output", tmp_path)  # the last epoch saves none
    assert again.code == 0 and "no checkpoint of this run" in again.out
    assert only_result(tmp_path)["status"] == "completed"


@pytest.mark.parametrize("after", [1, 2])
def test_abandon_below_fails_a_seed_after_k_epochs(cnbench, tmp_path, after):
    result = cnbench(
        "run", *TINY, "--epochs", "2", "--abandon-below", "0.99", "--abandon-after", after, "--output", tmp_path
    )
    assert result.code == 0, result.err
    doc = only_result(tmp_path)
    assert doc["status"] == "failed" and len(doc["history"]) == after
    best = max(epoch["dev"]["accuracy"] for epoch in doc["history"])
    assert doc["failure"] == f"abandoned: dev accuracy {best:.4g} < 0.99 after epoch {after}"
    assert f"failed: {doc['failure']}" in result.out
    assert "--abandon-below 0.99" in doc["command"] and result_problem(doc) is None


def test_an_early_stop_before_the_abandon_epoch_still_checks_the_threshold(cnbench, tmp_path):
    # lr 0: dev never improves after epoch 1, so patience 1 stops the run after epoch 2, before epoch 3
    result = cnbench(
        "run",
        *TINY,
        "--epochs",
        "3",
        "--lr",
        "0",
        "--patience",
        "1",
        "--abandon-below",
        "0.99",
        "--abandon-after",
        "3",
        "--output",
        tmp_path,
    )
    assert result.code == 0, result.err
    doc = only_result(tmp_path)
    assert doc["status"] == "failed" and len(doc["history"]) == 2
    best = doc["history"][0]["dev"]["accuracy"]
    assert doc["failure"] == f"abandoned: dev accuracy {best:.4g} < 0.99 at the early stop after epoch 2"


def test_a_seed_above_the_threshold_completes_as_if_unchecked(cnbench, tmp_path):
    assert cnbench("run", *TINY, "--epochs", "1", "--output", tmp_path / "plain").code == 0
    assert cnbench("run", *TINY, "--epochs", "1", "--abandon-below", "0", "--output", tmp_path / "checked").code == 0
    plain, checked = only_result(tmp_path / "plain"), only_result(tmp_path / "checked")
    assert checked["status"] == "completed" and checked["run_key"] == plain["run_key"]
    assert checked["metrics"] == plain["metrics"]


def test_abandon_after_must_be_an_epoch_of_the_run(cnbench, tmp_path):
    result = cnbench(
        "run", *TINY, "--epochs", "2", "--abandon-below", "0.5", "--abandon-after", "3", "--output", tmp_path
    )
    assert result.code == 2 and "error: --abandon-after 3: expected an epoch from 1 to 2" in result.err


# --------------------------------------------------------------------------- up-front checks


def test_an_unwritable_results_folder_is_reported_before_anything_runs(cnbench, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = cnbench("run", *TINY, "--epochs", "1", "--output", blocker / "results")
    assert result.code == 2 and "Traceback" not in result.err
    assert f"error: results folder {blocker / 'results'} is not writable: Not a directory" in result.err
    assert "epoch" not in result.out


def test_too_little_disk_for_checkpoints_is_reported_with_the_numbers(cnbench, tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))
    result = cnbench("run", *TINY, "--epochs", "2", "--output", tmp_path)
    assert result.code == 2 and "Traceback" not in result.err
    assert f"error: {tmp_path}: 1 MiB free, but this run's checkpoints need about " in result.err
    assert "MiB (two copies of " in result.err and "epoch 1" not in result.out
    assert not list(tmp_path.rglob("*.json"))
    # ... and --no-checkpoint needs no room for them, and writes none
    monkeypatch.setattr(Checkpoint, "save", lambda *args: pytest.fail("--no-checkpoint saved a checkpoint"))
    result = cnbench("run", *TINY, "--epochs", "2", "--no-checkpoint", "--output", tmp_path)
    assert result.code == 0, result.err
    assert only_result(tmp_path)["status"] == "completed" and "--no-checkpoint" not in only_result(tmp_path)["command"]


def test_resume_without_checkpoints_is_refused(cnbench, tmp_path):
    result = cnbench("run", *TINY, "--resume", "--no-checkpoint", "--output", tmp_path)
    assert (
        result.code == 2
        and "error: --resume continues from a checkpoint, which --no-checkpoint never writes" in result.err
    )


def native_bf16(monkeypatch, available: bool) -> None:
    """Make ``--precision auto`` resolve to bf16 (``available``) or fp32, whatever this CPU has."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: available)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: available)


def test_a_checkpoint_resumes_only_in_the_precision_it_was_trained_in(cnbench, tmp_path, monkeypatch):
    # "--precision auto" keeps one run key on every machine: fp32 on one, bf16 on another, so both
    # find the same checkpoint
    save = Checkpoint.save

    def save_then_stop(self, *args, **kwargs):  # an interruption (Ctrl-C): no result is written
        save(self, *args, **kwargs)
        raise KeyboardInterrupt

    native_bf16(monkeypatch, False)
    monkeypatch.setattr(Checkpoint, "save", save_then_stop)
    assert cnbench("run", *TINY, "--epochs", "2", "--output", tmp_path).code == 130
    assert not list(tmp_path.glob("*.json"))
    monkeypatch.setattr(Checkpoint, "save", save)

    native_bf16(monkeypatch, True)
    result = cnbench("run", *TINY, "--epochs", "2", "--resume", "--output", tmp_path)
    assert result.code == 2 and "Traceback" not in result.err
    assert "model weights or precision (bf16/fp32) than this run has" in result.err

    native_bf16(monkeypatch, False)
    result = cnbench("run", *TINY, "--epochs", "2", "--resume", "--output", tmp_path)
    assert result.code == 0 and "resumed from" in result.out and "after epoch 1" in result.out
    assert only_result(tmp_path)["hparams"]["precision"] == "fp32"


def test_a_result_is_never_replaced_by_one_in_the_other_precision(cnbench, tmp_path, monkeypatch):
    native_bf16(monkeypatch, False)
    assert cnbench("run", *TINY, "--epochs", "1", "--output", tmp_path).code == 0
    fp32_file = next(tmp_path.glob("*.json"))
    before = fp32_file.read_text(encoding="utf-8")

    native_bf16(monkeypatch, True)  # the same command where "auto" means bf16 ...
    result = cnbench("run", *TINY, "--epochs", "1", "--output", tmp_path)
    assert result.code == 2 and "Traceback" not in result.err
    assert "holds this run's fp32 result, and --precision auto means bf16" in result.err
    assert fp32_file.read_text(encoding="utf-8") == before  # ... leaves the fp32 result alone

    # an explicit precision has its own run key, so both results stay side by side
    assert cnbench("run", *TINY, "--epochs", "1", "--precision", "bf16", "--output", tmp_path).code == 0
    results, problems = load_results(tmp_path)
    assert problems == [] and sorted(r["hparams"]["precision"] for r in results) == ["bf16", "fp32"]
    assert len({r["run_key"] for r in results}) == 2
    assert fp32_file.read_text(encoding="utf-8") == before


def test_a_result_on_other_data_is_neither_kept_nor_replaced(cnbench, data_dir, tmp_path):
    """The run key holds the flags, not the data: the same command on another data folder has the
    same file name, and must not pass the first folder's scores off as its own."""
    out = tmp_path / "out"
    assert cnbench("run", *TINY, "--epochs", "1", "--output", out).code == 0
    written = next(out.glob("*.json"))
    before = written.read_text(encoding="utf-8")

    flipped = tmp_path / "data" / "chnsenticorp"
    flipped.mkdir(parents=True)
    for name in ("train.tsv.gz", "dev.tsv.gz"):
        (flipped / name).write_bytes((data_dir / "chnsenticorp" / name).read_bytes())
    lines = gzip.decompress((data_dir / "chnsenticorp" / "test.tsv.gz").read_bytes()).decode().splitlines()
    lines[1:] = [("0" if line[0] == "1" else "1") + line[1:] for line in lines[1:]]
    (flipped / "test.tsv.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))

    for resume in (("--resume",), ()):
        result = cnbench("run", *TINY, "--epochs", "1", "--data-dir", tmp_path / "data", *resume, "--output", out)
        assert result.code == 2 and "Traceback" not in result.err
        assert f"{written} holds this run's result on other data" in result.err and "--output" in result.err
        assert written.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    "section, field, message",
    [
        # The same files read through an edited task declaration (another label column, another label
        # mapping) give the same data identity but other gold: the written scores are not this run's
        ("data", "gold_sha256", "scored on other test gold labels"),
        # Another text column: same files, same gold, other examples
        ("task", "declaration_sha256", "read under another declaration of task 'chnsenticorp'"),
    ],
)
def test_a_result_made_under_another_declaration_is_neither_kept_nor_replaced(
    cnbench, tmp_path, section, field, message
):
    from cnbench.registry import get_task

    out = tmp_path / "out"
    assert cnbench("run", *TINY, "--epochs", "1", "--output", out).code == 0
    written = next(out.glob("*.json"))
    document = json.loads(written.read_text(encoding="utf-8"))
    assert document["task"]["declaration_sha256"] == get_task("chnsenticorp").declaration_sha256({"local"})
    if field == "gold_sha256":
        document[section][field]["test"] = "0" * 64
    else:
        document[section][field] = "0" * 64
    written.write_text(json.dumps(document), encoding="utf-8")
    before = written.read_text(encoding="utf-8")

    for resume in (("--resume",), ()):
        result = cnbench("run", *TINY, "--epochs", "1", *resume, "--output", out)
        assert result.code == 2 and "Traceback" not in result.err
        assert f"{written} holds this run's result {message}" in result.err
        assert written.read_text(encoding="utf-8") == before


def test_the_declaration_hash_follows_what_decides_the_examples_only():
    import dataclasses
    import functools

    from cnbench.data.load import read_split
    from cnbench.registry import get_task

    task = get_task("chnsenticorp")
    both, local = ("local", "hub"), ("local",)
    same = dataclasses.replace(
        task,
        description="edited",
        citation="x",
        local=dataclasses.replace(task.local, sha256={}, how_to_get="", cut="a cut"),
    )
    assert same.declaration_sha256(both) == task.declaration_sha256(both)
    for edited in (
        dataclasses.replace(task, local=dataclasses.replace(task.local, columns=("text", "label"))),
        dataclasses.replace(task, dev_from_train=0.1),
    ):
        assert edited.declaration_sha256(local) != task.declaration_sha256(local)
    # The Hub mapping counts for runs that read the Hub, not for runs on local files
    relabelled = dataclasses.replace(
        task, hub=dataclasses.replace(task.hub, label_map={"negative": "1", "positive": "0"})
    )
    assert relabelled.declaration_sha256(local) == task.declaration_sha256(local)
    assert relabelled.declaration_sha256(both) != task.declaration_sha256(both)

    # Any callable reader has a name to hash, a partial and a callable object too, with their settings
    def hashed(reader):
        return dataclasses.replace(
            task, local=dataclasses.replace(task.local, format=reader, columns=())
        ).declaration_sha256(local)

    assert hashed(functools.partial(read_split, sep=",")) != hashed(functools.partial(read_split, sep="\t"))
    reader_class = type("Reader", (), {"__call__": lambda self, path, task: []})
    first, second = reader_class(), reader_class()
    first.sep, second.sep = ",", "\t"
    assert hashed(first) != hashed(second)
    with pytest.raises(TypeError, match="got a string"):
        task.declaration_sha256("local")


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--grad-clip", "0", "expected above 0"),
        ("--epochs", "0", "expected at least 1"),
        ("--batch-size", "0", "expected at least 1"),
        ("--limit", "-5", "expected at least 1"),
        ("--seed", "-1", "expected in [0, 2**32)"),
        ("--dropout", "1.5", "expected in [0, 1)"),
        ("--head-lr", "0", "expected above 0"),
        ("--max-len", "2", "expected at least 3"),
    ],
)
def test_a_setting_out_of_range_is_refused_before_anything_loads(cnbench, tmp_path, flag, value, expected):
    result = cnbench("run", "--task", "chnsenticorp", "--model", "scratch-tiny", flag, value, "--output", tmp_path)
    assert result.code == 2 and "Traceback" not in result.err
    assert f"error: {flag} {value}: {expected}" in result.err and "data:" not in result.out


def test_a_max_len_beyond_the_models_positions_is_refused_before_training(cnbench, tmp_path):
    result = cnbench("run", *TINY[:-2], "--max-len", "600", "--epochs", "1", "--output", tmp_path)
    assert result.code == 2 and "Traceback" not in result.err
    assert "--max-len 600: 'scratch-tiny' has 512 positions; pass --max-len 512 or less" in result.err
    assert not list(tmp_path.glob("*.json"))


def test_the_feature_cache_keeps_label_orders_apart(tmp_path, monkeypatch, tokenizer):
    """Features hold label ids: a task whose labels were reordered must not get the old ids."""
    import dataclasses

    from cnbench import train
    from cnbench.cache import examples_fingerprint
    from cnbench.data.examples import TextExample
    from cnbench.data.load import TaskData

    monkeypatch.setenv("CNBENCH_CACHE_DIR", str(tmp_path))
    examples = [TextExample("很好", None, "1"), TextExample("很差", None, "0")]
    data = TaskData(splits={"train": examples}, source="local", kind=get_task("chnsenticorp").kind_rules)
    fingerprints = {"train": examples_fingerprint(examples)}
    task = get_task("chnsenticorp")
    config = RunConfig("chnsenticorp", "scratch-tiny")
    ids = [
        train._features(labelled, config, data, fingerprints, tokenizer, {"max_len": 16}, False)[
            "train"
        ].labels.tolist()
        for labelled in (task, dataclasses.replace(task, labels=task.labels[::-1]))
    ]
    assert ids == [
        [task.labels.index("1"), task.labels.index("0")],
        [task.labels[::-1].index("1"), task.labels[::-1].index("0")],
    ]


# --------------------------------------------------------------------------- concurrency


@pytest.mark.slow
def test_concurrent_runs_into_one_folder_leave_complete_results(tmp_path):
    runs = [start(*TINY, "--epochs", "2", "--seed", seed, "--output", tmp_path) for seed in (1, 2)]
    seen = []
    while any(run.poll() is None for run in runs):  # a reader polling meanwhile never sees a partial file
        results, problems = load_results(tmp_path)
        assert problems == []
        seen.append(len(results))
        time.sleep(0.02)
    for run in runs:
        finish(run)
    results, problems = load_results(tmp_path)
    assert problems == [] and sorted(r["seed"] for r in results) == [1, 2]
    assert all(r["status"] == "completed" and result_problem(r) is None for r in results)
    assert seen == sorted(seen)
    assert not run_folders(tmp_path / ".checkpoints")


def test_an_atomic_write_flushes_the_file_and_then_its_folders_entry(tmp_path, monkeypatch):
    """Without the folder's fsync the rename may not survive a power loss, while the checkpoint
    deletion that follows a result does: both could be lost."""
    import stat

    from cnbench.atomic import atomic_file, atomic_folder

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd)))
    with atomic_file(tmp_path / "result.json", "w") as handle:
        handle.write("{}")
    assert synced == [False, True]
    synced.clear()
    with atomic_folder(tmp_path / "entry") as folder:
        (folder / "part").write_bytes(b"x")
    assert synced == [False, True]


def test_a_deep_checkpoint_path_still_gives_a_result_file_name_the_file_system_takes(tmp_path):
    from cnbench.results import MAX_FILENAME_BYTES, result_filename

    deep = "/".join(["实验结果"] * 40) + "/checkpoint-900"
    name = result_filename("msra_ner", deep, "crf", "0123456789ab", 3)
    assert len(name.encode()) <= MAX_FILENAME_BYTES and name.endswith("checkpoint-900--crf--0123456789ab--seed3.json")
    write_json_atomic(tmp_path / name, {"schema": "x"})  # too long a name would fail only here, after training
    assert (
        result_filename("msra_ner", "hfl/chinese-macbert-base", "crf", "0123456789ab", 3)
        == "msra_ner--hfl_chinese-macbert-base--crf--0123456789ab--seed3.json"
    )


def test_a_leftover_temporary_file_is_never_read_as_a_result(tmp_path):
    final = write_json_atomic(tmp_path / "run.json", {"schema": "cnbench.result/1", "seed": 1})
    (tmp_path / ".run.json.k2j4.tmp").write_text('{"schema": "cnbench.result/1", "se')  # a writer killed mid-write
    results, problems = load_results(tmp_path)
    assert problems == [] and [r["_path"] for r in results] == [str(final)]


# --------------------------------------------------------------------------- bad input


def write(path, data: str | bytes, compress: bool = False):
    data = data.encode("utf-8") if isinstance(data, str) else data
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_tsv_quotes_are_text_and_never_join_fields(tmp_path):
    path = write(tmp_path / "q.tsv", 'label\ttext\n1\t"好的\n0\t他说"不\n')
    examples, _ = read_tsv(path, ("label", "text"), ("0", "1"))
    assert [ex.text_a for ex in examples] == ['"好的', '他说"不']
    path = write(tmp_path / "split.tsv", 'label\ttext\n1\t"好\t的"\n')  # quoting does not protect a tab
    with pytest.raises(DataError, match=r"split.tsv:2: 3 tab-separated fields; expected 2"):
        read_tsv(path, ("label", "text"), ("0", "1"))


def test_cr_only_line_endings_are_named(tmp_path):
    path = write(tmp_path / "mac.tsv", "label\ttext\r1\t好\r")
    with pytest.raises(DataError, match=r"mac.tsv:1: carriage return inside the line; expected LF or CRLF"):
        read_tsv(path, ("label", "text"), ("0", "1"))


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("missing.txt", None, r"missing.txt: file not found"),
        ("empty.txt", b"", r"empty.txt: no sentences"),
        ("latin.txt", "中 O\n".encode() + b"\xe9 O\n", r"latin.txt:2: not valid UTF-8 \(byte 0: b'\\xe9'\)"),
        ("cut.txt.gz", GZIPPED[: len(GZIPPED) // 2], r"cut.txt.gz:\d+: cannot read compressed data: it ends early"),
        ("plain.txt.gz", "中 O\n".encode(), r"plain.txt.gz:1: cannot read compressed data \(Not a gzipped file"),
        ("no-tag.txt", "中 O\n国 \n".encode(), r"no-tag.txt:2: '国 ' is not 'char tag'"),
        ("no-char.txt", "中 O\n B-LOC\n".encode(), r"no-char.txt:2: ' B-LOC' is not 'char tag'"),
        (
            "start.txt",
            "中 I-LOC\n".encode(),
            r"start.txt:1: 'I-LOC' after sentence start is ill-formed BIO; expected B-LOC",
        ),
    ],
)
def test_malformed_conll_files_name_file_line_and_expectation(tmp_path, name, data, message):
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(DataError, match=message):
        read_conll(path, NER_TAGS)


def test_bio_repair_turns_stray_i_tags_into_b_and_counts_each(tmp_path):
    path = write(tmp_path / "ner.txt.gz", "\ufeff中 I-LOC\r\n国 I-LOC\r\n人 O\r\n民 I-PER\r\n\r\n", compress=True)
    (sentence,), report = read_conll(path, NER_TAGS, repair_bio=True)
    assert sentence.tags == ("B-LOC", "I-LOC", "O", "B-PER")
    assert report.repaired == [
        f"{path}:1: I-LOC after sentence start read as B-LOC",
        f"{path}:4: I-PER after 'O' read as B-PER",
    ]


def test_bad_data_through_the_cli_is_one_line_with_status_2(cnbench, tmp_path):
    folder = tmp_path / "data" / "chnsenticorp"
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        write(folder / f"{split}.tsv.gz", "label\ttext\n1\t很好\n0\t不好\n", compress=True)
    write(folder / "dev.tsv.gz", "label\ttext\n1\t很好\n2\t不好\n", compress=True)
    result = cnbench("run", *TINY, "--data-dir", tmp_path / "data", "--output", tmp_path / "out")
    assert result.code == 2
    assert result.err.strip() == f"error: {folder / 'dev.tsv.gz'}:3: label '2' is not one of ['0', '1']"
    assert not list(tmp_path.rglob("*.json"))


def test_model_folders_without_weights_or_with_a_mismatched_config_fail_clearly(cnbench, tmp_path, tiny_checkpoint):
    empty = tmp_path / "no-weights"
    shutil.copytree(tiny_checkpoint, empty)
    for weights in empty.glob("*.safetensors"):
        weights.unlink()
    (empty / "training_args.bin").write_bytes(b"not weights")  # a Trainer output folder's other .bin
    result = cnbench("run", *TINY, "--model", empty, "--output", tmp_path / "out")
    assert result.code == 2 and "Traceback" not in result.err
    assert f"error: {empty}: no model weights (*.safetensors or pytorch_model*.bin) in this folder" in result.err

    mismatched = tmp_path / "mismatched"
    shutil.copytree(tiny_checkpoint, mismatched)
    config = json.loads((mismatched / "config.json").read_text())
    (mismatched / "config.json").write_text(json.dumps({**config, "hidden_size": 64}))
    result = cnbench("run", *TINY, "--model", mismatched, "--output", tmp_path / "out")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()  # one line: transformers' load report is silenced
    assert line.startswith(f"error: {mismatched}: ") and "weights do not fit its config.json" in line
    assert "vs config (64,)" in line
    assert not list((tmp_path / "out").rglob("*.json"))


def test_model_folders_without_tokenizer_files_or_with_cut_weights_fail_clearly(cnbench, tmp_path, tiny_checkpoint):
    # save_pretrained of the model alone: transformers would build a tokenizer of special tokens
    # only, and the run would train on [UNK] and be written as completed
    weights_only = tmp_path / "weights-only"
    weights_only.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_checkpoint / name, weights_only / name)
    result = cnbench("run", *TINY, "--model", weights_only, "--output", tmp_path / "out")
    assert result.code == 2 and "Traceback" not in result.err
    assert f"error: tokenizer '{weights_only}': no tokenizer files (vocab.txt, tokenizer.json" in result.err
    assert "pass --tokenizer" in result.err

    no_config = tmp_path / "no-config"
    shutil.copytree(tiny_checkpoint, no_config)
    (no_config / "config.json").unlink()
    result = cnbench("run", *TINY, "--model", no_config, "--output", tmp_path / "out")
    assert result.code == 2 and result.err.startswith(f"error: {no_config}: ")
    assert "Hugging Face cache" not in result.err

    cut = tmp_path / "cut-weights"
    shutil.copytree(tiny_checkpoint, cut)
    weights = cut / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100_000])
    result = cnbench("run", *TINY, "--model", cut, "--output", tmp_path / "out")
    assert result.code == 2 and "Traceback" not in result.err
    assert f"error: model '{cut}': its weights cannot be read (" in result.err and "download it again" in result.err
    assert not list((tmp_path / "out").rglob("*.json"))
