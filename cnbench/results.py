"""Result files: one JSON document per run, written atomically.

Schema ``cnbench.result/1`` (keys always present unless marked optional)::

    schema      "cnbench.result/1"
    run_key     stable hash of everything that defines the run (task, model, head, hparams,
                protocol, seed, and ``--precision`` when it is not ``auto``); a sweep skips a
                run whose key already has a result
    status      "completed" | "failed"
    failure     null | reason string (e.g. "training loss became nan in epoch 1 by step 100",
                "abandoned: dev accuracy 0.51 < 0.6 after epoch 1", "crashed in epoch 2 of 3:
                OutOfMemoryError: CUDA out of memory. ...")
    created     ISO-8601 UTC timestamp
    command     the command line that reproduces the run
    task        {name, kind, main_metric, labels, declaration_sha256 (``Task.declaration_sha256`` over
                 the sources the run read; older results lack it)}
    model       {alias, id, revision, weights_sha256, source: "hub"|"local"|"scratch", config: {...},
                 identity: 12 hex digits (Hub id + resolved revision, weights hash, or preset + config),
                 loading (pretrained only): {missing_keys, unexpected_keys, pooler: "pretrained" |
                 "initialised randomly" | "none (the model has no pooler)"},
                 head_input (optional; older results lack it): what the head read and whether it
                 was learnt, e.g. "pooler output (pretrained dense + tanh on [CLS])", "pooler output
                 (pretrained dense + tanh on [CLS], kept frozen)", "[CLS] hidden state (the encoder
                 has no pooler)", "every token's hidden state",
                 stored_dtype (pretrained only; older results lack it): the floating dtype(s) of the
                 checkpoint's files, e.g. "float32", "bfloat16", "float16+float32" (null: unread);
                 training always runs on float32 master weights}
    tokenizer   {source, class, lowercase, normalization: "lowercase"|"cased"|"as published",
                 revision? (Hub tokenizers), fingerprint? (folders: cache.tokenizer_fingerprint),
                 warning? (a --tokenizer whose size differs from the model's table)}
    head        head name, e.g. "linear"
    seed        int
    hparams     {lr, head_lr, crf_lr, llrd, epochs, batch_size, max_len, warmup_ratio,
                 weight_decay, grad_clip, ..., lr_groups: {group name: lr}}
    protocol    {train_split: "train"|"dev", train_on_dev: bool, limit: null|int, source?: "local"|"hub"
                 (absent: per split, local file else remote), tokenizer?: override,
                 selection: "best dev <main_metric> over epochs"}
    metrics     {dev: {...}, test: {...}}; each holds the task's main metric under its name
                (e.g. "accuracy", "f1") plus extra metrics; empty dicts for a failed run
    best_epoch  int (1-based) or null
    history     [{epoch, train_loss, dev: {...}, seconds}]
    curve       training curve, as columns of at most ~200 points (one every ``every`` steps):
                {every, step: [...], epoch: [...], loss: [...], grad_norm: [...],
                 grad_norm_max: [...], lr: {group name: [...]}, examples_per_second: [...],
                 tokens_per_second: [...]}; loss is the mean over the point's window of steps,
                grad_norm/grad_norm_max the mean/max of the gradient norm before clipping, null
                where not finite (``cnbench.progress.RunMonitor.curve``). Optional: results
                written before it existed lack it
    predictions {dev: [...], test: [...]}: per-example predicted label names, in split order;
                tagging: one string per sentence, its tags joined by single spaces (a list per
                sentence would put every tag on its own line: megabytes per NER result);
                span: the answer text per question. ``predicted_labels(result, split)``
                decodes any kind (``Kind.read_stored``).
    data        {source: "local"|"hub"|"download"|"mixed", identity: 12 hex digits over every
                 split's source facts, label: short text ("local", "hub C-MTEB/LCQMC@17f9b09"),
                 files: {split: {source, cut, and path + sha256 | hub, config, revision (the
                 resolved commit), split, rows | url, checksum, sha256}}, notes: [...],
                 counts: {split: n}, gold_sha256: {split: gold_sha256(gold labels)}}
    environment {cnbench, git_commit, git_dirty, python, platform, packages: {...},
                 hardware: {device, cpu, cpu_count, torch_threads, world_size, gpu?, gpu_count?},
                 dropout_masks: "cnbench bulk draw" (CPU) | "torch",
                 precision_reason (optional; older results lack it): why hparams.precision is what
                 it is, e.g. "auto: CPU without AVX512-BF16 or AMX: no native bf16",
                 determinism (optional): {deterministic: bool, ...the settings --deterministic made},
                 repeatability (optional): what repeating the run with the same seed gives}
    timing      {train_seconds, eval_seconds, total_seconds, train_examples_per_second,
                 train_tokens_per_second, peak_memory_mb}; optional resumed_after_epochs (list of
                 epochs after which an interrupted run was resumed)

Results with ``protocol.train_on_dev`` or a ``limit`` are smoke runs: kept, but the leaderboard
shows them apart (or not at all), never as comparable scores.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cnbench.atomic import atomic_file

SCHEMA = "cnbench.result/1"
CRASHED_PREFIX = "crashed"


def crashed(result: dict) -> bool:
    """A failed result whose run raised (out of memory, a bug) after training started: a started
    seed that counts as failed, but one ``--resume`` and a restarted sweep run again."""
    return result.get("status") == "failed" and str(result.get("failure") or "").startswith(CRASHED_PREFIX)


def run_key(spec: dict) -> str:
    """Stable 12-hex-digit key of a run's defining settings (dict order does not matter)."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# File systems allow 255 bytes a name; the temporary file written beside a result adds a dot and a suffix.
MAX_FILENAME_BYTES = 200


def result_filename(task: str, model_alias: str, head: str, key: str, seed: int) -> str:
    """``<task>--<model>--<head>--<run key>--seed<n>.json``. A model given as a deep checkpoint path
    keeps only its end: the run key, which holds the whole path, keeps such names apart."""
    safe_model = model_alias.replace("/", "_")
    excess = len(f"{task}--{safe_model}--{head}--{key}--seed{seed}.json".encode()) - MAX_FILENAME_BYTES
    if excess > 0:
        safe_model = safe_model.encode()[excess:].decode("utf-8", errors="ignore")
    return f"{task}--{safe_model}--{head}--{key}--seed{seed}.json"


def gold_sha256(labels: list) -> str:
    """A fingerprint of a split's gold labels, in split order: one line per example, its kind's
    ``gold_line`` (label names; one space-joined tag string per sentence; a list given here is
    space-joined the same way). Two runs scored against the same
    gold have the same value; the leaderboard checks it before resampling predictions."""
    lines = (" ".join(item) if isinstance(item, (list, tuple)) else str(item) for item in labels)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def data_identity(files: dict, dev_split: str | None) -> str:
    """What makes two runs' data the same: each split's file bytes (sha256) or Hub coordinates
    (id, config, resolved revision, folder, split), and how dev was made. Computed from a result's
    ``data.files`` alone, so results written before it was recorded get the same value."""
    parts = {}
    for split, facts in sorted(files.items()):
        if facts.get("sha256"):
            parts[split] = facts["sha256"]
        else:
            parts[split] = {key: facts.get(key) for key in ("hub", "config", "revision", "data_dir", "split")}
    return run_key({"files": parts, "dev_split": dev_split})


def read_sources(files: dict) -> set[str]:
    """Where a run's splits came from (``local``, ``download``, ``hub``), from its ``data.files``;
    a split recorded without ``source`` counts as a Hub split when it names one, else as files."""
    return {
        str(facts.get("source") or ("hub" if facts.get("hub") else "local"))
        for facts in files.values()
        if isinstance(facts, dict)
    }


def model_identity(model: dict) -> str:
    """What makes two runs' encoders the same model: the weights' hash, else Hub id + resolved
    revision, else (randomly initialised presets) the alias and architecture."""
    if model.get("weights_sha256"):
        return run_key({"weights_sha256": model["weights_sha256"]})
    if model.get("id"):
        return run_key({"id": model["id"], "revision": model.get("revision")})
    return run_key({"alias": model.get("alias"), "config": model.get("config")})


def result_document(
    *,
    key,
    failure,
    command,
    task,
    model,
    head,
    tuning,
    seed,
    hparams,
    protocol,
    data,
    metrics,
    best_epoch,
    history,
    curve,
    predictions,
    environment,
    timing,
) -> dict:
    """The result file's content (schema above) for one finished or failed run. ``model`` is the
    loaded model (``cnbench.models.encoders.LoadedModel``), ``data`` the loaded task data
    (``cnbench.data.load.TaskData``)."""
    from datetime import datetime, timezone

    return {
        "schema": SCHEMA,
        "run_key": key,
        "status": "failed" if failure else "completed",
        "failure": failure,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "task": {
            "name": task.name,
            "kind": task.kind,
            "main_metric": task.main_metric,
            "labels": list(task.labels),
            "declaration_sha256": task.declaration_sha256(read_sources(data.provenance)),
        },
        "model": model.provenance,
        "tokenizer": model.tokenizer_info,
        "head": head,
        "tuning": tuning,
        "seed": seed,
        "hparams": hparams,
        "protocol": {
            **protocol,
            "train_split": data.train_split,
            "dev_split": data.dev_split,
            "selection": f"best dev {task.main_metric} over epochs",
        },
        "metrics": metrics,
        "best_epoch": best_epoch,
        "history": history,
        "curve": curve,
        "predictions": predictions,
        "data": {
            "source": data.source,
            "identity": data.identity(),
            "label": data.label(),
            "files": data.provenance,
            "notes": data.notes,
            "counts": data.counts(),
            "gold_sha256": data.gold_sha256(),
        },
        "environment": environment,
        "timing": timing,
    }


def predicted_labels(result: dict, split: str) -> list:
    """A result's predictions for ``split`` as its kind reads them back (``Kind.read_stored``):
    label names, a list of tags per sentence, an answer text per question."""
    from cnbench.kinds import kind_of

    read = kind_of(result["task"]["kind"]).read_stored
    return [read(value) for value in result["predictions"][split]]


def write_json_atomic(path: Path, document: dict) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A reader (or a crash) therefore sees either the old file, the new file, or no file: never a
    half-written one. Two writers to different names in one folder never interfere.
    """
    path = Path(path)
    with atomic_file(path, "w", permissions=0o644) as handle:  # 0600 would hide results from collaborators
        json.dump(document, handle, ensure_ascii=False, indent=1, sort_keys=False)
        handle.write("\n")
    return path


def load_results(folder: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """Read every ``*.json`` result under ``folder`` (recursively, sorted by path).

    Returns ``(results, problems)``: a file that is not valid JSON or not a cnbench result is
    reported in ``problems`` as ``(path, reason)`` and skipped, never raised. Temporary files of writes in
    progress (``.*.tmp``) are not ``*.json`` and so are never read. Each result gets a
    ``_path`` key holding its path.
    """
    results, problems = [], []
    for path in sorted(Path(folder).rglob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            problems.append((str(path), f"not readable as JSON ({err})"))
            continue
        if not isinstance(document, dict) or document.get("schema") != SCHEMA:
            problems.append((str(path), f"not a cnbench result (expected schema {SCHEMA!r})"))
            continue
        document["_path"] = str(path)
        results.append(document)
    return results, problems
