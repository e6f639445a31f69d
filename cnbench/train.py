"""Fine-tune one (task, model, head, seed) and write its result file.

``run(config)`` is the whole recipe, readable top to bottom:

1. resolve hyper-parameters: task defaults <- head defaults <- model preset <- explicit flags;
2. seed python, numpy and torch (weights and data order);
3. load the task's examples and turn them into features (tagging: windows, first-piece labels);
4. build encoder + head, AdamW with per-part learning rates (encoder with optional layer-wise
   decay, head, CRF), linear warm-up then linear decay, gradient clipping, bf16 autocast where the
   hardware runs it natively (``cnbench.precision``), deterministic algorithms on request
   (``cnbench.determinism``);
5. each epoch: train, score dev, keep the best-dev weights (early stop after ``patience`` epochs
   without improvement), checkpoint (``cnbench.checkpoint``) so ``resume`` continues from here;
6. score test once with the best-dev weights, write the result JSON atomically, drop the
   checkpoint, return the result.

Launched as several processes (``accelerate launch`` / ``torchrun``), the same recipe runs data
parallel (``cnbench.distributed``): the global batch stays ``batch_size``, every dev and test
sequence is scored once, and only rank 0 writes checkpoints and the result, which records
``environment.hardware.world_size``. Hyper-parameters and run key are those of the
single-process run with the same global batch.

A run that cannot finish still writes its result, with ``status: "failed"`` and the reason, and
``run`` returns it rather than raising, so a sweep goes on: a loss that becomes NaN/inf
(``"training loss became nan in epoch 1 by step 2"``), or a seed abandoned by ``abandon_below``
(``"abandoned: dev accuracy 0.51 < 0.6 after epoch 1"``), or an exception once training has started
(``"crashed in epoch 2 of 3: OutOfMemoryError: ..."``, or ``"crashed while scoring test with the
weights of epoch 3: ..."``; the traceback goes to stderr). A crashed run keeps its last end-of-epoch
checkpoint and is the one failure ``--resume`` does not keep: it goes on from that checkpoint, or
from the start when there is none (a crash in epoch 1; the last epoch writes none), and
``cnbench run`` exits 1 after a crash. Under a data-parallel launcher only rank 0 writes: a crash
on another process shows on its stderr, and the launcher ends the run without a result. Bad
input (unknown names, missing or malformed data, a results folder that cannot be written or lacks
room for the checkpoints, a ``--precision auto`` run whose result file holds a result made in the
other precision) raises ``CnbenchError`` before any training starts.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnbench import allocator, determinism, distributed, paths
from cnbench.batching import collate, evaluation_batches, training_batches
from cnbench.cache import cached_features, caching_enabled, examples_fingerprint, tokenizer_fingerprint
from cnbench.checkpoint import Checkpoint, Progress, ensure_disk_space, ensure_writable, load_weights, model_weights
from cnbench.data.load import TaskData, load_task_data
from cnbench.errors import CnbenchError, first_line
from cnbench.features import Features
from cnbench.heads import HEAD_DEFAULTS, build_head, head_input, head_names
from cnbench.models.encoders import check_length_fits, load_model, sentence_vector, tokenizer_source
from cnbench.models.fast_dropout import use_fast_dropout
from cnbench.models.presets import PRESETS, check_model_name
from cnbench.precision import bf16_autocast, choose, resolve_precision
from cnbench.progress import Display, sync_step
from cnbench.registry import get_task
from cnbench.results import (
    CRASHED_PREFIX,
    crashed,
    data_identity,
    read_sources,
    result_document,
    result_filename,
    run_key,
    write_json_atomic,
)
from cnbench.runinfo import environment_info, peak_memory_mb, reset_peak_memory
from cnbench.task import Task
from cnbench.tuning import (
    apply_strategy,
    build_features,
    feature_hparams,
    num_layers,
    parameter_depths,
    pooler_trains,
    strategy_hparams,
    tuning_report,
)

HPARAM_KEYS = (
    "lr",
    "head_lr",
    "crf_lr",
    "llrd",
    "epochs",
    "batch_size",
    "max_len",
    "warmup_ratio",
    "weight_decay",
    "grad_clip",
    "dropout",
    "patience",
)


# What each numeric setting must be; a value outside stops the run before anything is loaded
# (``--grad-clip 0`` would zero every gradient and "complete" at chance level).
VALID_SETTINGS = {
    "lr": (lambda v: v >= 0, "0 or more"),
    "head_lr": (lambda v: v > 0, "above 0"),
    "crf_lr": (lambda v: v > 0, "above 0"),
    "llrd": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "epochs": (lambda v: v >= 1, "at least 1"),
    "batch_size": (lambda v: v >= 1, "at least 1"),
    "max_len": (lambda v: v >= 3, "at least 3 ([CLS], one token, [SEP])"),
    "warmup_ratio": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "weight_decay": (lambda v: v >= 0, "0 or more"),
    "grad_clip": (lambda v: v > 0, "above 0"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "patience": (lambda v: v >= 1, "at least 1"),
    "limit": (lambda v: v >= 1, "at least 1"),
    "seed": (lambda v: 0 <= v < 2**32, "in [0, 2**32)"),
}


def check_settings(config: RunConfig) -> None:
    """Refuse a setting out of ``VALID_SETTINGS``' range, naming its flag, and a ``--tokenizer``
    that cannot name one (``alias@revision``), before any data is read."""
    for name, (valid, expected) in VALID_SETTINGS.items():
        value = getattr(config, name)
        if value is not None and not valid(value):
            shown = f"{value:g}" if isinstance(value, float) else value
            raise CnbenchError(f"--{name.replace('_', '-')} {shown}: expected {expected}")
    if config.tokenizer is not None:
        tokenizer_source(config.tokenizer)


@dataclass
class RunConfig:
    """One run. Hyper-parameters left as ``None`` come from the task, head and model defaults."""

    task: str
    model: str
    head: str = "linear"
    seed: int = 42
    lr: float | None = None
    head_lr: float | None = None
    crf_lr: float | None = None
    llrd: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    max_len: int | None = None
    warmup_ratio: float | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    dropout: float | None = None
    patience: int | None = None
    word_boundaries: bool = False
    train_on_dev: bool = False
    limit: int | None = None
    data_dir: str | None = None
    source: str = "auto"  # "auto" (per split: local file, else remote) | "local" | "hub"
    tokenizer: str | None = None  # alias, folder or Hub id (id@commit) replacing the checkpoint's tokenizer
    output_dir: str | None = None
    precision: str = "auto"  # "auto" | "bf16" | "fp32"
    compile: bool = False
    deterministic: bool = False  # torch's deterministic algorithms (cnbench.determinism); not in the run key
    # Fine-tuning strategy and head features (``cnbench.tuning``); None: full fine-tuning, the
    # head's default features, and each strategy's default options.
    tuning: str | None = None  # "full" | "frozen" | "top-K" | "adapter" | "lora"
    features: str | None = None  # "last" | "pooler" | "scalar-mix"
    adapter_size: int | None = None
    lora_rank: int | None = None
    lora_alpha: float | None = None
    lora_targets: str | None = None  # comma-separated module names
    # How the run is carried out, not what it computes: none of these enter the run key, so a
    # resumed run, or a seed that passes the abandon check, is the same run as one without them.
    resume: bool = False  # keep a result already written; else continue from its last end-of-epoch checkpoint
    save_checkpoints: bool = True  # False: no end-of-epoch checkpoints (tight disks); cannot resume
    abandon_below: float | None = None  # fail the seed if its best dev score after ...
    abandon_after: int = 1  # ... this many epochs is below this threshold
    # Predict the task's unlabelled split (CLUE's hidden test) with the best-dev weights and write
    # its submission file into this folder (``cnbench.submission``).
    submission: str | None = None


@dataclass
class RunPlan:
    """What a config resolves to before anything is loaded: enough to find its result file."""

    config: RunConfig
    task: Task
    hparams: dict
    protocol: dict
    key: str
    path: Path


def plan(config: RunConfig) -> RunPlan:
    check_settings(config)
    task = get_task(config.task)
    if config.head not in head_names():
        raise CnbenchError(f"unknown head {config.head!r}; choose one of: {', '.join(head_names())}")
    hparams: dict[str, Any] = {
        "llrd": 1.0,
        "grad_clip": 1.0,
        "dropout": 0.1,
        "patience": None,
        "head_lr": None,
        "crf_lr": None,
    }
    hparams.update(asdict(task.defaults))
    hparams.update(task.kind_rules.hparams)  # span: window stride, answer length (absent elsewhere: keys unchanged)
    hparams.update(HEAD_DEFAULTS.get(config.head, {}))
    check_model_name(config.model)
    preset = PRESETS.get(config.model)
    hparams.update(preset.overrides if preset else {})
    hparams.update({key: getattr(config, key) for key in HPARAM_KEYS if getattr(config, key) is not None})
    hparams["head_lr"] = hparams["head_lr"] or hparams["lr"]
    hparams["word_boundaries"] = config.word_boundaries
    hparams.update(
        strategy_hparams(
            config.tuning,
            {name: getattr(config, name) for name in ("adapter_size", "lora_rank", "lora_alpha", "lora_targets")},
        )
    )
    hparams.update(feature_hparams(config.features, config.head, task.kind_rules))
    task.kind_rules.check_hparams(hparams)
    if config.resume and not config.save_checkpoints:
        raise CnbenchError("--resume continues from a checkpoint, which --no-checkpoint never writes")
    if config.abandon_below is not None and not 1 <= config.abandon_after <= hparams["epochs"]:
        raise CnbenchError(f"--abandon-after {config.abandon_after}: expected an epoch from 1 to {hparams['epochs']}")
    protocol: dict[str, Any] = {"train_on_dev": config.train_on_dev, "limit": config.limit}
    if config.source != "auto":  # only non-defaults enter the key: earlier runs keep theirs
        protocol["source"] = config.source
    if config.tokenizer is not None:
        protocol["tokenizer"] = config.tokenizer
    spec = {
        "task": task.name,
        "model": config.model,
        "head": config.head,
        "hparams": hparams,
        "protocol": protocol,
        "seed": config.seed,
    }
    if config.precision != "auto":  # "auto" resolves on the machine that runs; see written_result
        spec["precision"] = config.precision
    key = run_key(spec)
    folder = Path(config.output_dir) if config.output_dir else paths.results_dir()
    path = folder / result_filename(task.name, config.model, config.head, key, config.seed)
    return RunPlan(config, task, hparams, protocol, key, path)


MAX_REASON = 160  # characters of a crash's message kept in its failure reason


def run(config: RunConfig, log=print, display: Display | None = None) -> dict:
    """``display`` shows progress and training curves (default: none shown); ``log`` prints lines."""
    started = time.perf_counter()
    p = plan(config)
    ensure_writable(p.path.parent)
    seed_everything(config.seed)
    device = _set_up_device()
    precision = resolve_precision(device, config.precision)
    written = written_result(p.path, precision)

    # -- data and model -----------------------------------------------------------------------------
    data, train_facts, fingerprints = _load_data(p.task, config)
    _say(log, f"data: {data.label()}", *(f"note: {note}" for note in data.notes))
    unlabelled = _read_unlabelled(p.task, config)  # before training: a bad test file stops the run here
    if written is not None and _keeps_written(p, written, data, train_facts, log):
        if unlabelled is not None:
            log("no submission written: the kept result's weights are not stored; run without --resume")
        return {**written, "_path": str(p.path)}
    loaded = _load_model(config, p.hparams, log)
    features = _features(p.task, config, data, fingerprints, loaded.tokenizer, p.hparams, loaded.uses_word_boundaries)
    _note_encoding(p.task, data, features, loaded.tokenizer, p.hparams, train_facts, log)
    if device.type == "cpu":
        allocator.give_back_free_heap()
    training = _build_training(p, loaded, features["train"], device, precision)
    log(training.header(p, features["train"]))

    # -- train, select on dev, score test once, write -----------------------------------------------
    checkpoint = Checkpoint(p.path.parent, p.key)
    # What a checkpoint must have been made from; the stored dtype is read for the record only (the
    # weights train in fp32 whatever it is), so checkpoints written before it was recorded still resume.
    model_facts = {key: value for key, value in loaded.provenance.items() if key != "stored_dtype"}
    fingerprint = run_key({"data": data.provenance, "model": model_facts, "precision": precision})
    progress = _resume_or_start(p, training, checkpoint, fingerprint, log)
    started -= progress.elapsed_seconds  # total_seconds counts an interrupted process's time too
    monitor = (display or Display("quiet")).watch_run(
        p.path.stem,
        training.optimizer,
        features["train"].lengths(),
        training.steps_per_epoch,
        p.hparams["epochs"],
        progress.epoch + 1,
        progress.curve,
    )
    outcome = _train_and_score(p, training, data, features, progress, monitor, checkpoint, fingerprint, started, log)
    result = _result(p, loaded, training, data, outcome, progress, monitor.finish(), started)
    if distributed.is_main():
        write_json_atomic(p.path, result)
        if outcome.crash is None:  # a crashed run keeps its last checkpoint: --resume goes on from there
            checkpoint.discard()
    result["_path"] = str(p.path)
    if unlabelled is not None and not outcome.failure:  # after the result: the best-dev weights are still loaded
        _write_submission(p, training, loaded, unlabelled, log)
    return result


def _read_unlabelled(task, config: RunConfig):
    if config.submission is None:
        return None
    from cnbench.submission import read_unlabelled

    return read_unlabelled(task, paths.data_dir(config.data_dir), config.source)


def _write_submission(p: RunPlan, training: Training, loaded, unlabelled, log) -> None:
    """Predict the unlabelled split with the model as it is (the best-dev weights) and write the
    task's submission file."""
    from cnbench.submission import write_submission

    task, hp = p.task, p.hparams
    assert p.config.submission is not None  # the unlabelled split is read for --submission only
    try:  # the run's result is written already: a submission that cannot be made must not lose it
        features = task.kind_rules.encode(task, unlabelled.examples, loaded.tokenizer, hp, loaded.uses_word_boundaries)
        _, stored = evaluate(
            training.forward,
            task,
            unlabelled.examples,
            features,
            hp,
            training.pad_id,
            training.device,
            training.autocast,
            lambda count: None,
            training.max_width,
        )
        if distributed.is_main():
            # One folder per model build, head and seed holds that model's files for every task, the
            # set CLUE's upload takes; another model's files never replace them.
            build = f"{p.config.model.replace('/', '_')}--{p.config.head}"
            path = write_submission(
                Path(p.config.submission) / build / f"seed{p.config.seed}", task, unlabelled, stored
            )
            log(f"submission: {path} ({len(stored)} predictions of {unlabelled.where})")
    except Exception as err:  # out of memory, a folder that is a file: said, the result stands
        log(f"WARNING: no submission written for {p.path.name}: {type(err).__name__}: {first_line(err)}")


def _say(log, *lines: str) -> None:
    for line in lines:
        log(line)


def _set_up_device():
    device = distributed.setup()
    if device.type == "cpu":  # activation tensors of every batch width would stay on the heap
        allocator.return_large_blocks()
    reset_peak_memory(device)
    return device


def _keeps_written(p: RunPlan, written: dict, data: TaskData, train_facts: dict, log) -> bool:
    """Whether the result this run wrote before stands (``--resume`` keeps one that did not crash);
    one written on other data is refused, never replaced."""
    refuse_other_data(
        p.path, written, p.task, data.identity_with("train", train_facts), data.label(), data.scored_gold()
    )
    if p.config.resume and not crashed(written):  # "--seeds 1,2,3 --resume" goes on where it stopped
        log(f"{p.path.name}: written already ({written['status']}); --resume keeps it")
        return True
    return False


def _load_model(config: RunConfig, hp: dict, log):
    """The encoder, its tokenizer and what identifies them, checked against the run's lengths."""
    loaded = load_model(
        config.model, config.seed, use_word_boundaries=config.word_boundaries, tokenizer=config.tokenizer
    )
    check_length_fits(loaded, hp["max_len"])
    if loaded.provenance.get("loading", {}).get("pooler") == "initialised randomly":
        log(
            f"WARNING: {config.model} has no pooler weights: the pooler is initialised randomly "
            "(recorded in the result as model.loading.pooler)"
        )
    if "warning" in loaded.tokenizer_info:
        log(f"WARNING: {loaded.tokenizer_info['warning']} (recorded in the result as tokenizer.warning)")
    return loaded


@dataclass
class Training:
    """What a run trains with, built once the model and the train features are known."""

    model: TaskModel
    forward: Callable[..., Any]  # the model as called: wrapped for data parallelism, compiled on request
    optimizer: torch.optim.Optimizer
    lr_groups: dict
    scheduler: torch.optim.lr_scheduler.LambdaLR
    order: torch.Generator  # the data order, saved with checkpoints
    steps_per_epoch: int
    warmup_steps: int
    total_steps: int
    device: torch.device
    precision: str
    autocast: torch.autocast | None  # a bf16 autocast context, or None for fp32
    pad_id: int
    max_width: int | None = None  # the encoder's positions: no padded batch is wider (None: no limit)
    determinism: dict = field(default_factory=dict)  # cnbench.determinism.configure's facts

    def header(self, p: RunPlan, train: Features) -> str:
        hp, processes = p.hparams, distributed.world_size()
        return (
            f"{p.task.name} | {p.config.model} + {p.config.head} | seed {p.config.seed} | {len(train)} train "
            f"sequences, {hp['epochs']} epochs, lr {hp['lr']:g}, batch {hp['batch_size']}, {self.device}"
            f"{' bf16' if self.autocast is not None else ''}{f' x {processes} processes' if processes > 1 else ''}"
        )


def _build_training(p: RunPlan, loaded, train: Features, device, precision: str) -> Training:
    """Encoder + head, the fine-tuning strategy, AdamW with per-part learning rates, and linear
    warm-up then linear decay."""
    hp, task = p.hparams, p.task
    determinism_facts = determinism.configure(p.config.deterministic)  # each run sets the mode it asks for
    head = build_head(
        p.config.head,
        task.head_kind,
        loaded.encoder.hidden_size,
        len(task.labels),
        label_names=task.labels,
        dropout=hp["dropout"],
    )
    model = TaskModel(loaded.encoder, head, build_features(hp, loaded.encoder))
    apply_strategy(model, hp)  # after the head, so every strategy starts from the same head weights
    loaded.provenance["head_input"] = head_input(head, sentence_vector(loaded, pooler_trains(model)))
    model = model.to(device)
    if device.type == "cpu":  # one bulk random draw per dropout mask instead of one per element
        use_fast_dropout(model)
    optimizer, lr_groups = build_optimizer(model, hp, device)
    forward: Callable[..., Any] = distributed.wrap(model)
    distributed.seed_process(p.config.seed)  # same weights everywhere, independent dropout masks
    forward = torch.compile(forward) if p.config.compile else forward
    steps_per_epoch = math.ceil(len(train) / hp["batch_size"])
    total_steps = steps_per_epoch * hp["epochs"]
    warmup_steps = int(hp["warmup_ratio"] * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(
            (step + 1) / max(1, warmup_steps), max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
        ),
    )
    return Training(
        model,
        forward,
        optimizer,
        lr_groups,
        scheduler,
        torch.Generator().manual_seed(p.config.seed),
        steps_per_epoch,
        warmup_steps,
        total_steps,
        device,
        precision,
        bf16_autocast(device, precision),
        loaded.tokenizer.pad_token_id,
        max_width=loaded.max_positions,
        determinism=determinism_facts,
    )


def _resume_or_start(p: RunPlan, training: Training, checkpoint: Checkpoint, fingerprint: str, log) -> Progress:
    """Continue an interrupted run from its last end-of-epoch checkpoint (``--resume``), or start afresh."""
    config = p.config
    if p.hparams["epochs"] > 1 and config.save_checkpoints:  # checkpoints are written between epochs only
        ensure_disk_space(p.path.parent, training.model)
    if checkpoint.exists() and config.resume:
        progress = checkpoint.restore(
            training.model, training.optimizer, training.scheduler, training.order, fingerprint
        )
        log(f"resumed from {checkpoint.path} after epoch {progress.epoch}")
        return progress
    if checkpoint.exists():
        log(
            f"note: ignoring the checkpoint of an interrupted run at {checkpoint.path} (it will be "
            "overwritten); pass --resume to continue from it"
        )
    elif config.resume:
        log(f"note: no checkpoint of this run at {checkpoint.path}; starting from epoch 1")
    return Progress()


@dataclass
class Outcome:
    """How the training ended: scores and predictions (empty for a failed run), why it failed, and
    a crash's traceback."""

    metrics: dict = field(default_factory=lambda: {"dev": {}, "test": {}})
    predictions: dict = field(default_factory=lambda: {"dev": [], "test": []})
    failure: str | None = None
    crash: str | None = None


def _train_and_score(
    p: RunPlan,
    training: Training,
    data: TaskData,
    features: dict[str, Features],
    progress: Progress,
    monitor,
    checkpoint: Checkpoint,
    fingerprint: str,
    started: float,
    log,
) -> Outcome:
    """Each epoch: train, score dev, keep the best-dev weights (early stop after ``patience`` epochs
    without improvement), checkpoint; then score dev and test once with the best-dev weights. An
    exception once training has started is a failed run, written with its reason."""
    hp, task, outcome = p.hparams, p.task, Outcome()
    stage = "before epoch 1"
    try:
        for epoch in range(progress.epoch + 1, hp["epochs"] + 1):
            stage = f"in epoch {epoch} of {hp['epochs']}"
            epoch_start = time.perf_counter()
            epoch_loss, outcome.failure = _train_epoch(p, training, features["train"], epoch, progress, monitor)
            if outcome.failure:
                break
            dev_metrics, _ = _evaluate_split(training, task, data, features, "dev", hp, progress, monitor)
            score = dev_metrics[task.main_metric]
            progress.history.append(
                {
                    "epoch": epoch,
                    "train_loss": epoch_loss,
                    "dev": _brief(dev_metrics),
                    "seconds": round(time.perf_counter() - epoch_start, 2),
                }
            )
            log(f"epoch {epoch}: train loss {epoch_loss:.4f}  dev {task.main_metric} {score:.4f}")
            improved = score > progress.best
            stopping = (
                not improved
                and hp["patience"] is not None
                and progress.best_epoch is not None
                and epoch - progress.best_epoch >= hp["patience"]
            )
            outcome.failure = _abandoned(p.config, task.main_metric, epoch, max(score, progress.best), stopping)
            if outcome.failure:
                break
            if improved:
                progress.best, progress.best_epoch, progress.best_state = score, epoch, model_weights(training.model)
            elif stopping:
                log(f"early stop: no dev improvement for {hp['patience']} epochs")
                break
            progress.epoch = epoch
            if epoch < hp["epochs"] and p.config.save_checkpoints:  # after the last epoch the result file takes over
                progress.elapsed_seconds = time.perf_counter() - started
                checkpoint.save(
                    progress, training.model, training.optimizer, training.scheduler, training.order, fingerprint
                )
        if not outcome.failure:  # test once, with the best-dev weights
            assert progress.best_state is not None  # the first scored epoch improves on -inf
            load_weights(training.model, progress.best_state)
            for split in ("dev", "test"):
                stage = f"while scoring {split} with the weights of epoch {progress.best_epoch}"
                outcome.metrics[split], outcome.predictions[split] = _evaluate_split(
                    training, task, data, features, split, hp, progress, monitor
                )
    except Exception as err:  # out of memory, a bug: the seed was started, so it is written as failed
        outcome = Outcome(crash=traceback.format_exc())
        message = first_line(err) or "(no message)"  # short: it is a table cell on the leaderboard
        message = message if len(message) <= MAX_REASON else message[: MAX_REASON - 1] + "…"
        outcome.failure = f"{CRASHED_PREFIX} {stage}: {type(err).__name__}: {message}"
        print(outcome.crash, file=sys.stderr, end="", flush=True)  # on every process, whatever the display shows
    if outcome.failure:
        log(f"failed: {outcome.failure}")
    return outcome


def _train_epoch(
    p: RunPlan, training: Training, train: Features, epoch: int, progress: Progress, monitor
) -> tuple[float, str | None]:
    """One pass over the length-grouped train batches: ``(mean loss, failure or None)``. The loss
    is synced every ``SYNC_EVERY`` steps only, and a NaN/inf loss fails the run."""
    hp, kind, device = p.hparams, p.task.kind_rules, training.device
    lengths, terms = train.lengths(), kind.loss_terms(train)
    started = time.perf_counter()
    training.model.train()
    loss_sum, failure = torch.zeros((), device=device), None
    batches = training_batches(lengths, hp["batch_size"], training.order)  # the same on every process
    monitor.start_epoch(epoch, len(batches))
    for step, global_batch in enumerate(batches, start=1):
        indices, weight = distributed.shard(global_batch, terms)
        batch = _to_device(collate(train, indices, training.pad_id, kind, training.max_width), device)
        with training.autocast or nullcontext():
            loss = training.forward(**batch).loss * weight
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(training.model.parameters(), hp["grad_clip"])
        training.optimizer.step()
        monitor.step(global_batch, loss.detach(), grad_norm)
        training.scheduler.step()
        training.optimizer.zero_grad(set_to_none=True)
        loss_sum += loss.detach()
        if sync_step(step, len(batches)):  # one host sync per SYNC_EVERY steps, not per step
            epoch_loss = distributed.average(loss_sum)  # every process must take the same decision
            monitor.synced(step, epoch_loss)
            if not torch.isfinite(epoch_loss):
                failure = f"training loss became {epoch_loss.item()} in epoch {epoch} by step {step}"
                break
    progress.tokens_seen += sum(lengths)
    progress.examples_seen += len(lengths)
    progress.train_seconds += time.perf_counter() - started
    return epoch_loss.item() / len(batches), failure


def _evaluate_split(
    training: Training,
    task,
    data: TaskData,
    features: dict[str, Features],
    split: str,
    hp: dict,
    progress: Progress,
    monitor,
) -> tuple[dict, list]:
    started = time.perf_counter()
    with monitor.evaluating(split, len(features[split])) as advance:
        scored = evaluate(
            training.forward,
            task,
            data.splits[split],
            features[split],
            hp,
            training.pad_id,
            training.device,
            training.autocast,
            advance,
            training.max_width,
        )
    progress.eval_seconds += time.perf_counter() - started
    return scored


def _result(
    p: RunPlan, loaded, training: Training, data: TaskData, outcome: Outcome, progress: Progress, curve, started: float
) -> dict:
    """The result document (``cnbench.results``) of a finished or failed run."""
    device = training.device
    environment = environment_info(device)
    environment["hardware"]["world_size"] = distributed.world_size()
    environment["dropout_masks"] = "cnbench bulk draw" if device.type == "cpu" else "torch"
    environment["precision_reason"] = choose(device, p.config.precision).reason
    environment["determinism"] = training.determinism
    environment["repeatability"] = determinism.repeatability(device, p.config.deterministic)
    timing = {
        "train_seconds": round(progress.train_seconds, 2),
        "eval_seconds": round(progress.eval_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "train_examples_per_second": (
            round(progress.examples_seen / progress.train_seconds, 2) if progress.train_seconds else None
        ),
        "train_tokens_per_second": (
            round(progress.tokens_seen / progress.train_seconds, 1) if progress.train_seconds else None
        ),
        "peak_memory_mb": peak_memory_mb(device),
        "resumed_after_epochs": progress.resumed_after,
    }
    hparams = {
        **p.hparams,
        "lr_groups": training.lr_groups,
        "warmup_steps": training.warmup_steps,
        "total_steps": training.total_steps,
        "precision": training.precision,
    }
    return result_document(
        key=p.key,
        failure=outcome.failure,
        command=reproduce_command(p.config),
        task=p.task,
        model=loaded,
        head=p.config.head,
        tuning=tuning_report(training.model, p.hparams, p.config.head, p.task.kind_rules),
        seed=p.config.seed,
        hparams=hparams,
        protocol=p.protocol,
        data=data,
        metrics=outcome.metrics,
        best_epoch=progress.best_epoch,
        history=progress.history,
        curve=curve,
        predictions=outcome.predictions,
        environment=environment,
        timing=timing,
    )


class TaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, head: nn.Module, features: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.features = features  # a cnbench.tuning.LayerFeatures, or None: the head's default input

    def forward(self, input_ids, attention_mask, token_type_ids, labels=None, score_mask=None, boundary_ids=None):
        if self.features is None:
            hidden, pooled = self.encoder(input_ids, attention_mask, token_type_ids, boundary_ids=boundary_ids)
        else:
            hidden, pooled = self.features(self.encoder, input_ids, attention_mask, token_type_ids, boundary_ids)
        return self.head(hidden, pooled, attention_mask, score_mask, labels)


@torch.no_grad()
def evaluate(
    model, task, examples, features, hp, pad_id, device, autocast, advance, max_width: int | None = None
) -> tuple[dict, list]:
    """Score one split; returns (metrics, predictions per example in split order, as the result
    file stores them). Under several processes each scores its share of the sequences and all get
    every prediction. ``advance(n)`` is called as about ``n`` more sequences (over all processes)
    are scored."""
    kind = task.kind_rules
    model.eval()
    own, lengths = distributed.split(len(features)), features.lengths()
    rows: dict[int, Any] = {}  # feature index -> its kind's per-sequence output
    for batch_positions in evaluation_batches([lengths[i] for i in own], hp["batch_size"]):
        indices = [own[position] for position in batch_positions]
        batch = _to_device(collate(features, indices, pad_id, kind, max_width), device)
        with autocast or nullcontext():
            outputs = kind.outputs(model(**batch).predictions, [lengths[i] for i in indices])
        rows.update(zip(indices, outputs, strict=True))
        advance(len(indices) * distributed.world_size())
    per_sequence = distributed.gather(rows, len(features))
    model.train()
    predictions = kind.predict(task, examples, features, per_sequence, hp)
    return kind.score(task, examples, predictions), [kind.stored(prediction) for prediction in predictions]


def build_optimizer(model: TaskModel, hp: dict, device) -> tuple[torch.optim.Optimizer, dict]:
    """AdamW over the trainable parameters with a learning rate per part: encoder (layer ``i`` of
    ``L`` scaled by ``llrd ** (L + 1 - depth)``; adapters and LoRA matrices by their layer), head
    and scalar mix, and CRF transitions. No weight decay on biases, norms, CRF scores and mix
    weights. Returns the optimiser and ``{group name: lr}`` for the result file."""
    layers = num_layers(model.encoder)
    depths = parameter_depths(model.encoder, prefix="encoder")  # by the model's structure, not names
    groups: dict[tuple[str, bool], list] = {}
    rates: dict[str, float] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name.startswith("head.") and ".crf." in f".{name[5:]}":
            group, lr = "crf", hp["crf_lr"] or hp["head_lr"]
        elif name.startswith(("head.", "features.")):
            group, lr = "head", hp["head_lr"]
        else:
            depth = depths[name]
            group = "encoder" if hp["llrd"] == 1.0 else f"encoder.depth{depth}"
            lr = hp["lr"] * hp["llrd"] ** (layers + 1 - depth)
        decay = parameter.ndim >= 2 and group != "crf"
        groups.setdefault((group, decay), []).append(parameter)
        rates[group] = lr
    param_groups = [
        {"params": params, "lr": rates[group], "weight_decay": hp["weight_decay"] if decay else 0.0, "name": group}
        for (group, decay), params in groups.items()
    ]
    optimizer = torch.optim.AdamW(param_groups, fused=device.type in ("cuda", "cpu"))
    return optimizer, dict(sorted(rates.items()))


def _abandoned(config: RunConfig, metric: str, epoch: int, best: float, stopping_early: bool) -> str | None:
    """The failure reason when the seed's best dev score after ``abandon_after`` epochs (or at an
    early stop before then) is below ``abandon_below``, else None. "Start many seeds, stop the
    clearly failing ones early" (Dodge et al., 2020): a bad seed rarely recovers, and its remaining
    epochs are better spent on another. Checking at an early stop too keeps the rule independent of
    ``patience``: a seed below the threshold never counts as completed.
    """
    if config.abandon_below is None or best >= config.abandon_below:
        return None
    if epoch == config.abandon_after:
        return f"abandoned: dev {metric} {best:.4g} < {config.abandon_below:g} after epoch {epoch}"
    if stopping_early and epoch < config.abandon_after:
        return f"abandoned: dev {metric} {best:.4g} < {config.abandon_below:g} at the early stop after epoch {epoch}"
    return None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def _load_data(task, config: RunConfig) -> tuple[TaskData, dict, dict[str, str | None]]:
    """This process's examples, what the result file records of the train split
    (``TaskData.split_facts``), and per split the fingerprint of its examples for the feature
    cache (``None`` with caching off).

    Under a data-parallel launcher only the first process of each machine reads the train split:
    the others read dev and test, take train's facts and fingerprint from rank 0, and map the
    features their machine's first process caches (``_features``), so a machine holds the train
    examples once. Where dev is held out of train, or ``--train-on-dev`` trains on dev, every
    process reads every split."""
    reads_train = distributed.is_local_main() or config.train_on_dev or "dev" not in task.splits
    data = read_splits(task, config, only=None if reads_train else ("dev", "test"))
    fingerprints = {
        split: examples_fingerprint(examples) if caching_enabled() else None for split, examples in data.splits.items()
    }
    own = (data.split_facts("train"), fingerprints["train"]) if reads_train else None
    train_facts, fingerprints["train"] = distributed.all_objects(own)[0]  # rank 0 always reads train
    return data, train_facts, {split: fingerprints[split] for split in ("train", "dev", "test")}


def read_splits(task, config: RunConfig, only: tuple[str, ...] | None = None) -> TaskData:
    """The data ``config`` names (``--data-dir``, ``--source``, ``--limit``, ``--train-on-dev``)."""
    return load_task_data(
        task, paths.data_dir(config.data_dir), config.train_on_dev, config.limit, config.source, only=only
    )


def _features(
    task,
    config: RunConfig,
    data: TaskData,
    fingerprints: dict[str, str | None],
    tokenizer,
    hp: dict,
    word_boundaries: bool,
) -> dict[str, Features]:
    """Features of every split, from the on-disk cache when this exact input was seen before."""
    kind = task.kind_rules

    def build(split: str) -> Features:
        examples = data.splits.get(split)
        if examples is None:  # train, left to this machine's first process, which cached no entry
            examples = read_splits(task, config, only=(split,)).splits[split]
        if split == "train":
            examples = kind.training_examples(examples)
        return kind.encode(task, examples, tokenizer, hp, word_boundaries)

    # Features hold label ids: another label order is another entry; so is another kind setting.
    parts = {
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_len": hp["max_len"],
        "word_boundaries": word_boundaries,
        "labels": list(task.labels),
        **{name: hp[name] for name in kind.hparams},
    }
    return {
        split: cached_features(f"{task.name}-{split}", parts, fingerprint, functools.partial(build, split))
        for split, fingerprint in fingerprints.items()
    }


def _note_encoding(
    task, data: TaskData, features: dict[str, Features], tokenizer, hp: dict, train_facts: dict, log
) -> None:
    """Say and record what encoding cut or left out; then let train's examples go (only dev and
    test are scored against examples)."""
    for split, examples in data.splits.items():
        for note in task.kind_rules.feature_notes(split, examples, features[split], tokenizer, hp):
            data.notes.append(note)
            log(f"note: {note}")
    data.hold_facts_only("train", train_facts)


def read_result(path: Path) -> dict | None:
    """The result document at ``path``; None where there is none a run would keep (no file, not
    JSON, no ``status``): a run replaces such a file."""
    try:
        written = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return written if isinstance(written, dict) and "status" in written else None


def written_result(path: Path, precision: str) -> dict | None:
    """The result this run already wrote, if any. One made in the other precision is refused: with
    ``--precision auto`` the run key (and so the file name) is the same on every machine, but a
    bf16 and an fp32 run are two configurations, and one must not silently take the other's place."""
    written = read_result(path)
    if written is None:  # no result yet
        return None
    try:
        existing = written["hparams"]["precision"]
    except (KeyError, TypeError):  # none that can be kept
        return None
    if existing != precision:
        raise CnbenchError(
            f"{path} holds this run's {existing} result, and --precision auto means {precision} "
            f"on this machine; pass --precision {precision} (its own run key) or --output "
            "another folder to keep both"
        )
    return written


_KEEP_BOTH = "Pass --output another folder to keep both, or remove the file to replace it"


def refuse_other_data(path: Path, written: dict, task: Task, identity: str, label: str, gold: dict[str, str]) -> None:
    """The run key holds flags, not data: a result written on other data (another ``--data-dir``,
    a split now read from the Hub) must neither be kept by ``--resume`` (or a sweep's skip) nor
    silently replaced. Nor one scored on other gold labels from the same files, nor one read under
    another task declaration (another text column, another holdout: ``Task.declaration_sha256``,
    compared when the result records it). ``identity``, ``label`` and ``gold`` (split ->
    ``gold_sha256`` of the scored splits): this run's data (``TaskData``)."""
    data_written = written.get("data") or {}
    written_identity = data_identity(data_written.get("files") or {}, (written.get("protocol") or {}).get("dev_split"))
    if written_identity != identity:
        raise CnbenchError(
            f"{path} holds this run's result on other data (identity {written_identity}, "
            f"{data_written.get('label', '?')}); this run's data is {identity} ({label}). {_KEEP_BOTH}"
        )
    recorded = data_written.get("gold_sha256") or {}
    changed = [split for split, digest in gold.items() if recorded.get(split) not in (None, digest)]
    if changed:
        raise CnbenchError(
            f"{path} holds this run's result scored on other {' and '.join(changed)} gold labels "
            f"from the same files (has the task's declaration changed?). {_KEEP_BOTH}"
        )
    declared = (written.get("task") or {}).get("declaration_sha256")
    now = task.declaration_sha256(read_sources(data_written.get("files") or {}))  # its sources are this run's
    if declared not in (None, now):
        raise CnbenchError(
            f"{path} holds this run's result read under another declaration of task {task.name!r} "
            f"(declaration_sha256 {str(declared)[:12]}, now {now[:12]}). {_KEEP_BOTH}"
        )


def _to_device(batch: dict, device) -> dict:
    if device.type == "cpu":
        return batch
    return {key: value.pin_memory().to(device, non_blocking=True) for key, value in batch.items()}


def _brief(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if not isinstance(value, dict)}


def reproduce_command(config: RunConfig) -> str:
    """The ``cnbench run`` command line that repeats this run (settings left at default omitted)."""
    words = ["cnbench", "run"]
    for spec in fields(RunConfig):
        value = getattr(config, spec.name)
        if value == spec.default or spec.name in ("output_dir", "resume", "save_checkpoints", "submission"):
            continue
        flag = "--" + spec.name.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    return " ".join(shlex.quote(word) for word in words)
