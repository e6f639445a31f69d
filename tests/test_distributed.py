"""Data-parallel runs: the sharding arithmetic, a real two-process run (gloo, CPU) launched by
``accelerate launch`` that must match the single-process run with the same global batch, and a
two-process run killed after an epoch that must resume to the uninterrupted result."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import only_result

from cnbench import distributed
from cnbench.results import predicted_labels

# Tagging with a CRF: the loss weights count scored characters, and windows (--max-len 32) are
# gathered back into sentences. 88 sentences make 169 training windows, so the last batch of 8
# has one window and rank 1 takes part with an empty (weight 0) share. fp32 and no dropout
# (head: --dropout 0; encoder: the checkpoint's config) leave only the order of floating-point
# sums to differ; the low learning rates keep the random model's predictions varied (not all
# "O"), so the gathered predictions are a real check.
RUN = (
    "run",
    "--task",
    "msra_ner",
    "--head",
    "crf",
    "--limit",
    "88",
    "--max-len",
    "32",
    "--batch-size",
    "8",
    "--epochs",
    "2",
    "--lr",
    "3e-5",
    "--crf-lr",
    "3e-5",
    "--precision",
    "fp32",
    "--dropout",
    "0",
)
# "The same run" across process counts: train losses within this relative tolerance (measured:
# 1e-7), and at most this fraction of predicted tags different (measured: none).
LOSS_RTOL = 1e-5
TAGS_DIFFERENT = 1e-3


@pytest.fixture(scope="module")
def no_dropout_model(tmp_path_factory, tokenizer):
    """A random 2-layer BERT without dropout, saved like a downloaded checkpoint."""
    from transformers import AutoConfig, BertModel

    from cnbench import paths

    folder = tmp_path_factory.mktemp("bert-no-dropout")
    config = AutoConfig.from_pretrained(
        paths.tokenizer_dir(),
        num_hidden_layers=2,
        hidden_size=128,
        num_attention_heads=2,
        intermediate_size=512,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def world(monkeypatch):
    """Pretend to be ``rank`` of ``size`` processes, for the arithmetic that needs no group."""

    def become(rank: int, size: int):
        monkeypatch.setattr(distributed, "rank", lambda: rank)
        monkeypatch.setattr(distributed, "world_size", lambda: size)

    return become


def test_shards_cover_each_batch_once_and_their_weighted_losses_average_to_the_batch_mean(world):
    rng = random.Random(0)
    terms = [rng.randint(1, 30) for _ in range(40)]  # scored characters per sequence
    per_term = [rng.random() for _ in range(40)]  # each sequence's mean loss over its terms
    batch = rng.sample(range(40), 11)
    batch_mean = sum(per_term[i] * terms[i] for i in batch) / sum(terms[i] for i in batch)
    for size in (1, 2, 3, 4):
        covered, weighted = [], []
        for rank in range(size):
            world(rank, size)
            own, weight = distributed.shard(batch, terms)
            covered += own
            own_mean = sum(per_term[i] * terms[i] for i in own) / sum(terms[i] for i in own)
            weighted.append(weight * own_mean)
        assert sorted(covered) == sorted(batch)
        assert sum(weighted) / size == pytest.approx(batch_mean, rel=1e-12)  # what DDP's average yields


def test_a_process_without_a_sequence_runs_one_with_weight_zero(world):
    world(2, 3)
    assert distributed.shard([5, 9], [1] * 10) == ([5], 0.0)


def test_each_process_but_rank_0_gets_its_own_random_stream(world):
    draws = {}
    for rank in range(3):
        world(rank, 3)
        torch.manual_seed(7)
        distributed.seed_process(7)
        draws[rank] = torch.rand(4).tolist()
    torch.manual_seed(7)
    assert draws[0] == torch.rand(4).tolist()  # rank 0: the single-process stream
    assert len({tuple(values) for values in draws.values()}) == 3


def test_evaluation_split_and_gather_score_every_sequence_once(world):
    world(1, 3)
    assert distributed.split(8) == [1, 4, 7]
    world(0, 1)
    assert distributed.gather({1: "b", 0: "a"}, 2) == ["a", "b"]
    with pytest.raises(RuntimeError, match="1 predictions of 1 distinct sequences for 2"):
        distributed.gather({0: "a"}, 2)


def launch_two_processes(run: tuple, output: Path, env: dict) -> subprocess.CompletedProcess:
    """``cnbench RUN`` as two data-parallel processes (gloo on the CPU), through ``accelerate launch``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            "0",
            "-m",
            "cnbench",
            *run,
            "--output",
            str(output),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_two_processes_give_the_single_process_result(cnbench, tmp_path, no_dropout_model, monkeypatch):
    # Both runs on the CPU whatever the machine: gloo for the two processes (accelerate's
    # --multi_gpu launcher is torchrun, which works the same without GPUs).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    run = (*RUN, "--model", str(no_dropout_model))
    single = cnbench(*run, "--output", tmp_path / "one")
    assert single.code == 0, single.err
    launch = launch_two_processes(run, tmp_path / "two", env)
    assert launch.returncode == 0, launch.stderr[-3000:]
    assert launch.stdout.count("result:") == 1  # only rank 0 prints

    one, two = only_result(tmp_path / "one"), only_result(tmp_path / "two")  # only rank 0 writes
    assert one["data"] == two["data"]  # though rank 1 never read the train file
    assert [p.name for p in (tmp_path / "one").glob("*.json")] == [p.name for p in (tmp_path / "two").glob("*.json")]
    assert not list((tmp_path / "two").glob(".checkpoints/*/*"))  # rank 0 dropped its checkpoint
    assert (one["environment"]["hardware"]["world_size"], two["environment"]["hardware"]["world_size"]) == (1, 2)
    assert one["hparams"] == two["hparams"] and two["hparams"]["batch_size"] == 8

    for split in ("dev", "test"):
        sentences = two["data"]["counts"][split]
        assert len(two["predictions"][split]) == two["metrics"][split]["n"] == sentences
        tags_one, tags_two = (
            [tag for sentence in predicted_labels(doc, split) for tag in sentence] for doc in (one, two)
        )
        assert len(tags_two) == len(tags_one) == two["metrics"][split]["n_chars"]
        assert len(set(tags_two)) > 2
        assert sum(a != b for a, b in zip(tags_one, tags_two, strict=True)) <= TAGS_DIFFERENT * len(tags_one)
    assert [h["train_loss"] for h in two["history"]] == pytest.approx(
        [h["train_loss"] for h in one["history"]], rel=LOSS_RTOL
    )
    assert one["best_epoch"] == two["best_epoch"]


@pytest.mark.slow
def test_a_span_task_under_two_processes_answers_every_question_as_one_process_does(
    cnbench, tmp_path, no_dropout_model, monkeypatch
):
    """Span windows are scored on two processes and gathered back into questions: every question
    answered once, and the answers those of the single-process run."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    run = (
        "run",
        "--task",
        "drcd",
        "--train-on-dev",
        "--limit",
        "21",
        "--max-len",
        "96",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--lr",
        "3e-5",
        "--precision",
        "fp32",
        "--dropout",
        "0",
        "--model",
        str(no_dropout_model),
    )
    single = cnbench(*run, "--output", tmp_path / "one")
    assert single.code == 0, single.err
    launch = launch_two_processes(run, tmp_path / "two", env)
    assert launch.returncode == 0, launch.stderr[-3000:]
    one, two = only_result(tmp_path / "one"), only_result(tmp_path / "two")
    for split in ("dev", "test"):
        assert len(two["predictions"][split]) == two["metrics"][split]["n"] == two["data"]["counts"][split] == 21
        assert two["predictions"][split] == one["predictions"][split]


def _load_as_process(rank: int, port: int, cache: str, out: str, tokenizer) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        CNBENCH_CACHE_DIR=cache,
    )
    from cnbench import train

    distributed.setup()
    real_load, reads = train.load_task_data, []

    def recording_load(*args, only=None):
        reads.append(list(only or ("all",)))
        return real_load(*args, only=only)

    train.load_task_data = recording_load
    report = _load_and_encode(tokenizer)
    report["reads"] = reads
    Path(out, f"rank{rank}.json").write_text(json.dumps(report), encoding="utf-8")


def _load_and_encode(tokenizer) -> dict:
    from cnbench import train
    from cnbench.registry import get_task

    config = train.RunConfig(task="chnsenticorp", model="scratch-tiny", limit=40)
    task = get_task(config.task)
    data, train_facts, fingerprints = train._load_data(task, config)
    features = train._features(task, config, data, fingerprints, tokenizer, {"max_len": 64}, False)
    data.hold_facts_only("train", train_facts)  # as ``train.run`` does
    return {
        "examples_held": sorted(data.splits),
        "counts": data.counts(),
        "gold": data.gold_sha256(),
        "provenance": data.provenance,
        "train_ids": [row.tolist() for row in features["train"].input_ids],
    }


@pytest.mark.slow
@pytest.mark.parametrize("cache", ["shared", "off"])
def test_only_the_first_process_of_a_machine_reads_the_train_split(tmp_path, tokenizer, cache):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.spawn(
        _load_as_process,
        nprocs=2,
        args=(port, str(tmp_path / "cache") if cache == "shared" else "", str(tmp_path), tokenizer),
    )
    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text(encoding="utf-8")) for rank in (0, 1)]
    assert reports[0]["reads"] == [["all"]]
    # without a cache entry to map, rank 1 reads train itself to build its features
    assert reports[1]["reads"] == ([["dev", "test"]] if cache == "shared" else [["dev", "test"], ["train"]])
    single = _load_and_encode(tokenizer)
    assert single["examples_held"] == ["dev", "test"]  # train examples are dropped once featurised
    for report in reports:
        assert {key: report[key] for key in single} == single
    assert single["counts"]["train"] == 40 and len(single["train_ids"]) == 40


def test_a_run_drops_the_train_examples_once_their_features_exist(tmp_path, monkeypatch):
    from cnbench import train

    held = []

    def recording_features(task, config, data, *rest):
        held.append(data)
        return real_features(task, config, data, *rest)

    real_features = train._features
    monkeypatch.setattr(train, "_features", recording_features)
    result = train.run(
        train.RunConfig(
            task="chnsenticorp",
            model="scratch-tiny",
            limit=32,
            max_len=32,
            batch_size=8,
            epochs=1,
            output_dir=str(tmp_path),
        ),
        log=lambda *_: None,
    )
    (data,) = held
    assert sorted(data.splits) == ["dev", "test"]
    assert result["data"]["counts"]["train"] == 32 and data.counts()["train"] == 32


@pytest.mark.slow
def test_two_processes_killed_after_an_epoch_resume_to_the_uninterrupted_result(tmp_path, monkeypatch):
    # With dropout, and reviews of varied length: the processes' sub-batches differ in shape, so
    # they draw different amounts of randomness, and each must continue with its own random state
    # for the resumed run to be the uninterrupted one. A task with its own dev split, so rank 1
    # reads no train file and must still restore a checkpoint whose data fingerprint is rank 0's.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run = (
        "run",
        "--task",
        "chnsenticorp",
        "--model",
        "scratch-tiny",
        "--limit",
        "64",
        "--max-len",
        "64",
        "--batch-size",
        "8",
        "--epochs",
        "3",
        "--precision",
        "fp32",
    )

    def launch(output, *extra) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "accelerate.commands.launch",
                "--multi_gpu",
                "--num_processes",
                "2",
                "--num_machines",
                "1",
                "--mixed_precision",
                "no",
                "--dynamo_backend",
                "no",
                "--main_process_port",
                "0",
                "-m",
                "cnbench",
                *run,
                *extra,
                "--output",
                str(output),
            ],
            env={**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def finish(process) -> str:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        return out

    finish(launch(tmp_path / "reference"))
    victim = launch(tmp_path / "resumed")
    deadline = time.monotonic() + 300
    while (
        not list((tmp_path / "resumed").glob(".checkpoints/*/last.pt"))
        and victim.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.005)
    for pid in process_tree(victim.pid):  # the launcher starts the workers in sessions of their own
        os.kill(pid, signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL, "the run ended before it could be killed after its first epoch"

    assert "resumed from" in finish(launch(tmp_path / "resumed", "--resume"))
    a, b = only_result(tmp_path / "reference"), only_result(tmp_path / "resumed")
    assert b["timing"]["resumed_after_epochs"] in ([1], [2]) and b["environment"]["hardware"]["world_size"] == 2
    assert [(h["train_loss"], h["dev"]) for h in a["history"]] == [(h["train_loss"], h["dev"]) for h in b["history"]]
    assert a["metrics"] == b["metrics"] and a["predictions"] == b["predictions"]


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (Linux ``/proc``), gathered before any is killed."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
        except OSError:  # the process ended meanwhile
            continue
        parent = int(rest.rsplit(") ", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(pid))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children.get(pid, [])
    return tree
