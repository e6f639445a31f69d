"""Fine-tune one (task, model, head, seed) and write its result file.

``run(config)`` is the whole recipe, readable top to bottom:

1. resolve hyper-parameters: task defaults <- head defaults <- model preset <- explicit flags;
2. seed python, numpy and torch (weights and data order);
3. load the task's examples and turn them into features (tagging: windows, first-piece labels);
4. build encoder + head, AdamW with per-part learning rates (encoder with optional layer-wise
   decay, head, CRF), linear warm-up then linear decay, gradient clipping, bf16 autocast where the
   hardware has it;
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
on another process shows on its stderr, and the launcher ends the run without a result. Bad input (unknown names, missing or
malformed data, a results folder that cannot be written or lacks room for the checkpoints, a
``--precision auto`` run whose result file holds a result made in the other precision) raises
``CnbenchError`` before any training starts.
"""

from __future__ import annotations

import json
import math
import os
import random
import shlex
import sys
import time
import traceback
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnbench import allocator, distributed, paths
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
from cnbench.progress import Display, sync_step
from cnbench.registry import get_task
from cnbench.results import (CRASHED_PREFIX, crashed, data_identity, read_sources, result_document,
                             result_filename, run_key, write_json_atomic)
from cnbench.runinfo import environment_info, peak_memory_mb, reset_peak_memory
from cnbench.task import Task
from cnbench.tuning import (apply_strategy, build_features, feature_hparams, layer_depth, num_layers,
                            strategy_hparams, tuning_report)

HPARAM_KEYS = ("lr", "head_lr", "crf_lr", "llrd", "epochs", "batch_size", "max_len",
               "warmup_ratio", "weight_decay", "grad_clip", "dropout", "patience")


# What each numeric setting must be; a value outside stops the run before anything is loaded
# (``--grad-clip 0`` would zero every gradient and "complete" at chance level).
VALID_SETTINGS = {
    "lr": (lambda v: v >= 0, "0 or more"), "head_lr": (lambda v: v > 0, "above 0"),
    "crf_lr": (lambda v: v > 0, "above 0"), "llrd": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "epochs": (lambda v: v >= 1, "at least 1"), "batch_size": (lambda v: v >= 1, "at least 1"),
    "max_len": (lambda v: v >= 3, "at least 3 ([CLS], one token, [SEP])"),
    "warmup_ratio": (lambda v: 0 <= v <= 1, "in [0, 1]"), "weight_decay": (lambda v: v >= 0, "0 or more"),
    "grad_clip": (lambda v: v > 0, "above 0"), "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "patience": (lambda v: v >= 1, "at least 1"), "limit": (lambda v: v >= 1, "at least 1"),
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


@dataclass
class RunPlan:
    """What a config resolves to before anything is loaded: enough to find its result file."""

    config: RunConfig
    task: object
    hparams: dict
    protocol: dict
    key: str
    path: Path


def plan(config: RunConfig) -> RunPlan:
    check_settings(config)
    task = get_task(config.task)
    if config.head not in head_names():
        raise CnbenchError(f"unknown head {config.head!r}; choose one of: {', '.join(head_names())}")
    hparams = {"llrd": 1.0, "grad_clip": 1.0, "dropout": 0.1, "patience": None, "head_lr": None, "crf_lr": None}
    hparams.update(asdict(task.defaults))
    hparams.update(task.kind_rules.hparams)  # span: window stride, answer length (absent elsewhere: keys unchanged)
    hparams.update(HEAD_DEFAULTS.get(config.head, {}))
    check_model_name(config.model)
    preset = PRESETS.get(config.model)
    hparams.update(preset.overrides if preset else {})
    hparams.update({key: getattr(config, key) for key in HPARAM_KEYS if getattr(config, key) is not None})
    hparams["head_lr"] = hparams["head_lr"] or hparams["lr"]
    hparams["word_boundaries"] = config.word_boundaries
    hparams.update(strategy_hparams(config.tuning, {name: getattr(config, name) for name in
                                                    ("adapter_size", "lora_rank", "lora_alpha", "lora_targets")}))
    hparams.update(feature_hparams(config.features, config.head, task.head_kind))
    if config.resume and not config.save_checkpoints:
        raise CnbenchError("--resume continues from a checkpoint, which --no-checkpoint never writes")
    if config.abandon_below is not None and not 1 <= config.abandon_after <= hparams["epochs"]:
        raise CnbenchError(f"--abandon-after {config.abandon_after}: expected an epoch from 1 to {hparams['epochs']}")
    protocol = {"train_on_dev": config.train_on_dev, "limit": config.limit}
    if config.source != "auto":  # only non-defaults enter the key: earlier runs keep theirs
        protocol["source"] = config.source
    if config.tokenizer is not None:
        protocol["tokenizer"] = config.tokenizer
    spec = {"task": task.name, "model": config.model, "head": config.head, "hparams": hparams,
            "protocol": protocol, "seed": config.seed}
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
    task, hp = p.task, p.hparams
    ensure_writable(p.path.parent)
    seed_everything(config.seed)
    device = distributed.setup()
    if device.type == "cpu":  # activation tensors of every batch width would stay on the heap
        allocator.return_large_blocks()
    reset_peak_memory(device)
    precision = resolve_precision(device, config.precision)
    autocast = bf16_autocast(device, precision)
    written = written_result(p.path, precision)

    # -- data: examples -> features ----------------------------------------------------------
    data, train_facts, fingerprints = _load_data(task, config)
    log(f"data: {data.label()}")
    for note in data.notes:
        log(f"note: {note}")
    if written is not None:
        refuse_other_data(p.path, written, task, data.identity_with("train", train_facts), data.label(),
                          data.scored_gold())
        if config.resume and not crashed(written):  # "--seeds 1,2,3 --resume" goes on where it stopped
            log(f"{p.path.name}: written already ({written['status']}); --resume keeps it")
            return {**written, "_path": str(p.path)}
    loaded = load_model(config.model, config.seed, use_word_boundaries=config.word_boundaries,
                        tokenizer=config.tokenizer)
    check_length_fits(loaded, hp["max_len"])
    if loaded.provenance.get("loading", {}).get("pooler") == "initialised randomly":
        log(f"WARNING: {config.model} has no pooler weights: the pooler is initialised randomly "
            "(recorded in the result as model.loading.pooler)")
    if "warning" in loaded.tokenizer_info:
        log(f"WARNING: {loaded.tokenizer_info['warning']} (recorded in the result as tokenizer.warning)")
    tokenizer = loaded.tokenizer
    features = _features(task, config, data, fingerprints, tokenizer, hp, loaded.uses_word_boundaries)
    for split, examples in data.splits.items():  # what encoding cut or left out, said and recorded
        for note in task.kind_rules.feature_notes(split, examples, features[split], tokenizer, hp):
            data.notes.append(note)
            log(f"note: {note}")
    data.hold_facts_only("train", train_facts)  # only dev and test are scored against examples
    if device.type == "cpu":
        allocator.give_back_free_heap()

    # -- model and optimiser -----------------------------------------------------------------
    head = build_head(config.head, task.head_kind, loaded.encoder.hidden_size, len(task.labels),
                      label_names=task.labels, dropout=hp["dropout"])
    loaded.provenance["head_input"] = head_input(head, sentence_vector(loaded))
    model = TaskModel(loaded.encoder, head, build_features(hp, loaded.encoder))
    apply_strategy(model, hp)  # after the head, so every strategy starts from the same head weights
    model = model.to(device)
    if device.type == "cpu":  # one bulk random draw per dropout mask instead of one per element
        use_fast_dropout(model)
    optimizer, lr_groups = build_optimizer(model, hp, device)
    forward = distributed.wrap(model)
    distributed.seed_process(config.seed)  # same weights everywhere, independent dropout masks
    forward = torch.compile(forward) if config.compile else forward
    steps_per_epoch = math.ceil(len(features["train"]) / hp["batch_size"])
    total_steps = steps_per_epoch * hp["epochs"]
    warmup_steps = int(hp["warmup_ratio"] * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / max(1, warmup_steps), max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps)))
    )
    order = torch.Generator().manual_seed(config.seed)
    pad_id = tokenizer.pad_token_id
    processes = f" x {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
    log(f"{task.name} | {config.model} + {config.head} | seed {config.seed} | {len(features['train'])} train "
        f"sequences, {hp['epochs']} epochs, lr {hp['lr']:g}, batch {hp['batch_size']}, {device}"
        f"{' bf16' if autocast is not None else ''}{processes}")

    # -- continue an interrupted run, or start afresh ----------------------------------------
    if hp["epochs"] > 1 and config.save_checkpoints:  # checkpoints are written between epochs only
        ensure_disk_space(p.path.parent, model)
    checkpoint = Checkpoint(p.path.parent, p.key)
    fingerprint = run_key({"data": data.provenance, "model": loaded.provenance, "precision": precision})
    progress = Progress()
    if checkpoint.exists() and config.resume:
        progress = checkpoint.restore(model, optimizer, scheduler, order, fingerprint)
        started -= progress.elapsed_seconds  # total_seconds counts the interrupted process's time too
        log(f"resumed from {checkpoint.path} after epoch {progress.epoch}")
    elif checkpoint.exists():
        log(f"note: ignoring the checkpoint of an interrupted run at {checkpoint.path} (it will be "
            "overwritten); pass --resume to continue from it")
    elif config.resume:
        log(f"note: no checkpoint of this run at {checkpoint.path}; starting from epoch 1")

    # -- train, select on dev ----------------------------------------------------------------
    failure = None
    train_lengths, train_terms = features["train"].lengths(), task.kind_rules.loss_terms(features["train"])
    monitor = (display or Display("quiet")).watch_run(p.path.stem, optimizer, train_lengths, steps_per_epoch,
                                                      hp["epochs"], progress.epoch + 1, progress.curve)
    metrics, predictions = {"dev": {}, "test": {}}, {"dev": [], "test": []}
    crash, stage = None, "before epoch 1"
    try:
        for epoch in range(progress.epoch + 1, hp["epochs"] + 1):
            stage = f"in epoch {epoch} of {hp['epochs']}"
            model.train()
            epoch_start = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            batches = training_batches(train_lengths, hp["batch_size"], order)  # the same on every process
            monitor.start_epoch(epoch, len(batches))
            for step, global_batch in enumerate(batches, start=1):
                indices, weight = distributed.shard(global_batch, train_terms)
                batch = _to_device(collate(features["train"], indices, pad_id, task.kind_rules), device)
                with autocast or nullcontext():
                    loss = forward(**batch).loss * weight
                loss.backward()
                grad_norm = nn.utils.clip_grad_norm_(model.parameters(), hp["grad_clip"])
                optimizer.step()
                monitor.step(global_batch, loss.detach(), grad_norm)
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                loss_sum += loss.detach()
                if sync_step(step, len(batches)):  # one host sync per SYNC_EVERY steps, not per step
                    epoch_loss = distributed.average(loss_sum)  # every process must take the same decision
                    monitor.synced(step, epoch_loss)
                    if not torch.isfinite(epoch_loss):
                        failure = f"training loss became {epoch_loss.item()} in epoch {epoch} by step {step}"
                        break
            progress.tokens_seen += sum(train_lengths)
            progress.examples_seen += len(train_lengths)
            progress.train_seconds += time.perf_counter() - epoch_start
            if failure:
                break
            eval_start = time.perf_counter()
            with monitor.evaluating("dev", len(features["dev"])) as advance:
                dev_metrics, _ = evaluate(forward, task, data.splits["dev"], features["dev"], hp, pad_id,
                                          device, autocast, advance)
            progress.eval_seconds += time.perf_counter() - eval_start
            score = dev_metrics[task.main_metric]
            progress.history.append({"epoch": epoch, "train_loss": epoch_loss.item() / len(batches),
                                     "dev": _brief(dev_metrics),
                                     "seconds": round(time.perf_counter() - epoch_start, 2)})
            log(f"epoch {epoch}: train loss {progress.history[-1]['train_loss']:.4f}  "
                f"dev {task.main_metric} {score:.4f}")
            improved = score > progress.best
            stopping = not improved and hp["patience"] is not None and epoch - progress.best_epoch >= hp["patience"]
            failure = _abandoned(config, task.main_metric, epoch, max(score, progress.best), stopping)
            if failure:
                break
            if improved:
                progress.best, progress.best_epoch, progress.best_state = score, epoch, model_weights(model)
            elif stopping:
                log(f"early stop: no dev improvement for {hp['patience']} epochs")
                break
            progress.epoch = epoch
            if epoch < hp["epochs"] and config.save_checkpoints:  # after the last epoch the result file takes over
                progress.elapsed_seconds = time.perf_counter() - started
                checkpoint.save(progress, model, optimizer, scheduler, order, fingerprint)

        # -- test once, with the best-dev weights ------------------------------------------------
        if not failure:
            load_weights(model, progress.best_state)
            eval_start = time.perf_counter()
            for split in ("dev", "test"):
                stage = f"while scoring {split} with the weights of epoch {progress.best_epoch}"
                with monitor.evaluating(split, len(features[split])) as advance:
                    metrics[split], predictions[split] = evaluate(forward, task, data.splits[split], features[split],
                                                                  hp, pad_id, device, autocast, advance)
            progress.eval_seconds += time.perf_counter() - eval_start
    except Exception as err:  # out of memory, a bug: the seed was started, so it is written as failed
        crash = traceback.format_exc()
        message = first_line(err) or "(no message)"  # short: it is a table cell on the leaderboard
        message = message if len(message) <= MAX_REASON else message[:MAX_REASON - 1] + "…"
        failure = f"{CRASHED_PREFIX} {stage}: {type(err).__name__}: {message}"
        metrics, predictions = {"dev": {}, "test": {}}, {"dev": [], "test": []}
    if crash:  # on stderr on every process, whatever the display shows
        print(crash, file=sys.stderr, end="", flush=True)
    if failure:
        log(f"failed: {failure}")
    curve = monitor.finish()

    environment = environment_info(device)
    environment["hardware"]["world_size"] = distributed.world_size()
    environment["dropout_masks"] = "cnbench bulk draw" if device.type == "cpu" else "torch"
    timing = {
        "train_seconds": round(progress.train_seconds, 2),
        "eval_seconds": round(progress.eval_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "train_examples_per_second": (round(progress.examples_seen / progress.train_seconds, 2)
                                      if progress.train_seconds else None),
        "train_tokens_per_second": (round(progress.tokens_seen / progress.train_seconds, 1)
                                    if progress.train_seconds else None),
        "peak_memory_mb": peak_memory_mb(device),
        "resumed_after_epochs": progress.resumed_after,
    }
    hparams = {**hp, "lr_groups": lr_groups, "warmup_steps": warmup_steps, "total_steps": total_steps,
               "precision": precision}
    result = result_document(
        key=p.key, failure=failure, command=reproduce_command(config), task=task, model=loaded, head=config.head,
        tuning=tuning_report(model, hp, config.head, task.head_kind), seed=config.seed, hparams=hparams,
        protocol=p.protocol, data=data, metrics=metrics, best_epoch=progress.best_epoch, history=progress.history, curve=curve,
        predictions=predictions,
        environment=environment, timing=timing,
    )
    if distributed.is_main():
        write_json_atomic(p.path, result)
        if crash is None:  # a crashed run keeps its last checkpoint: --resume goes on from there
            checkpoint.discard()
    result["_path"] = str(p.path)
    return result


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
def evaluate(model, task, examples, features, hp, pad_id, device, autocast, advance) -> tuple[dict, list]:
    """Score one split; returns (metrics, predictions per example in split order, as the result
    file stores them). Under several processes each scores its share of the sequences and all get
    every prediction. ``advance(n)`` is called as about ``n`` more sequences (over all processes)
    are scored."""
    kind = task.kind_rules
    model.eval()
    own, lengths = distributed.split(len(features)), features.lengths()
    rows = {}
    for batch_positions in evaluation_batches([lengths[i] for i in own], hp["batch_size"]):
        indices = [own[position] for position in batch_positions]
        batch = _to_device(collate(features, indices, pad_id, kind), device)
        with autocast or nullcontext():
            outputs = kind.outputs(model(**batch).predictions, [lengths[i] for i in indices])
        rows.update(zip(indices, outputs))
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
            depth = layer_depth(name, layers)
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
    fingerprints = {split: examples_fingerprint(examples) if caching_enabled() else None
                    for split, examples in data.splits.items()}
    own = (data.split_facts("train"), fingerprints["train"]) if reads_train else None
    train_facts, fingerprints["train"] = distributed.all_objects(own)[0]  # rank 0 always reads train
    return data, train_facts, {split: fingerprints[split] for split in ("train", "dev", "test")}


def read_splits(task, config: RunConfig, only: tuple[str, ...] | None = None) -> TaskData:
    """The data ``config`` names (``--data-dir``, ``--source``, ``--limit``, ``--train-on-dev``)."""
    return load_task_data(task, paths.data_dir(config.data_dir), config.train_on_dev, config.limit, config.source,
                          only=only)


def _features(task, config: RunConfig, data: TaskData, fingerprints: dict[str, str | None], tokenizer,
              hp: dict, word_boundaries: bool) -> dict[str, Features]:
    """Features of every split, from the on-disk cache when this exact input was seen before."""
    def build(split: str) -> Features:
        examples = data.splits.get(split)
        if examples is None:  # train, left to this machine's first process, which cached no entry
            examples = read_splits(task, config, only=(split,)).splits[split]
        if split == "train":
            examples = kind.training_examples(examples)
        return kind.encode(task, examples, tokenizer, hp, word_boundaries)

    kind = task.kind_rules
    # Features hold label ids: another label order is another entry; so is another kind setting.
    parts = {"tokenizer": tokenizer_fingerprint(tokenizer), "max_len": hp["max_len"], "word_boundaries": word_boundaries,
             "labels": list(task.labels), **{name: hp[name] for name in kind.hparams}}
    features = {split: cached_features(f"{task.name}-{split}", parts, fingerprint, lambda split=split: build(split))
                for split, fingerprint in fingerprints.items()}
    return features


def resolve_precision(device, requested: str) -> str:
    """What ``--precision`` means on ``device``: bf16 where the hardware runs it natively
    (AVX512-BF16/AMX CPUs, Ampere+ GPUs) and ``auto`` or ``bf16`` was asked for, else fp32.
    ``bf16`` on hardware without it raises ``CnbenchError``."""
    if requested == "fp32":
        return "fp32"
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    else:
        supported = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    if requested == "bf16" and not supported:
        raise CnbenchError(f"--precision bf16: this {device.type} has no native bf16 support")
    return "bf16" if supported else "fp32"


def bf16_autocast(device, requested: str):
    """The bf16 autocast context ``requested`` resolves to on ``device``, or None for fp32."""
    if resolve_precision(device, requested) == "fp32":
        return None
    return torch.autocast(device.type, dtype=torch.bfloat16)


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
    try:
        existing = written["hparams"]["precision"]
    except (KeyError, TypeError):  # no result yet, or none that can be kept
        return None
    if existing != precision:
        raise CnbenchError(f"{path} holds this run's {existing} result, and --precision auto means {precision} "
                           f"on this machine; pass --precision {precision} (its own run key) or --output "
                           "another folder to keep both")
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
        raise CnbenchError(f"{path} holds this run's result on other data (identity {written_identity}, "
                           f"{data_written.get('label', '?')}); this run's data is {identity} ({label}). {_KEEP_BOTH}")
    recorded = data_written.get("gold_sha256") or {}
    changed = [split for split, digest in gold.items() if recorded.get(split) not in (None, digest)]
    if changed:
        raise CnbenchError(f"{path} holds this run's result scored on other {' and '.join(changed)} gold labels "
                           f"from the same files (has the task's declaration changed?). {_KEEP_BOTH}")
    declared = (written.get("task") or {}).get("declaration_sha256")
    now = task.declaration_sha256(read_sources(data_written.get("files") or {}))  # its sources are this run's
    if declared not in (None, now):
        raise CnbenchError(f"{path} holds this run's result read under another declaration of task {task.name!r} "
                           f"(declaration_sha256 {str(declared)[:12]}, now {now[:12]}). {_KEEP_BOTH}")


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
        if value == spec.default or spec.name in ("output_dir", "resume", "save_checkpoints"):
            continue
        flag = "--" + spec.name.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    return " ".join(shlex.quote(word) for word in words)
