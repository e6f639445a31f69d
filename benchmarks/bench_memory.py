"""Host memory and start-up time of the features at XNLI size, one process and two under torchrun.

Builds an XNLI-size train set (392,702 sentence pairs, the real XNLI-zh train size) by repeating
the real dev and test pairs of ``../shared/data/xnli_zh`` with premise and hypothesis swapped (the
same characters and token counts as the real pairs, but no dev or test pair verbatim, which cnbench
refuses as a train set), writes it as a task data folder, and
measures, each in a fresh process that loads the data and builds its features as ``cnbench run``
does (``cnbench.train._load_data`` and ``_features``: under torchrun only the first process reads
the train split; the others read dev and test and map the train features it caches):

- **build**: a cold feature cache: tokenise the splits (train is 98 % of the pairs) and store
  them; time and peak resident memory above the process's floor (RSS once torch, cnbench and the
  tokenizer are loaded);
- **hit**: a warm cache: from the cache lookup to the end of the first training step of
  ``scratch-tiny`` (model, optimiser, first batch, forward, backward, step), and the peak above
  the floor;
- both again as two processes under ``torchrun`` (gloo, CPU): the sum over processes of their
  peaks above their floors. File pages mapped by both count in each process's RSS, so this sum
  overstates what two processes sharing a mapped cache really hold.

This checkout is measured with ``PYTHONPATH`` pointing at it; ``--before REV`` also measures a
``git worktree`` of ``REV`` the same way, for a before/after comparison. One torch thread per
process. Results are appended to ``benchmarks/results/memory.md``.

``--small`` runs the same measurement on 2,000 pairs in one process and appends its rows to a file
in a temporary folder (or ``--out``), to check that the script still works.

    python benchmarks/bench_memory.py [--before 7a8d7d4] [--pairs 392702] [--no-torchrun] [--small]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

XNLI_TRAIN_PAIRS = 392_702
SMALL_PAIRS = 2_000
REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "memory.md"
TABLE_HEAD = (
    "| code | commit | processes | pairs | tokens | floor MB | examples MB | build s | build peak MB "
    "| hit: features peak MB | hit to first step s | hit: peak MB with first step | machine | date |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
)
GOALS = "goals: <= 1024 MB above the floor for one process, <= 1.2x that for two, < 5 s from cache hit to first step"


def rss_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(data_dir: str, phase: str, out: str) -> None:
    """One measured process (run under ``PYTHONPATH=<checkout>``): writes its numbers as JSON."""
    import torch

    torch.set_num_threads(1)
    from transformers import AutoTokenizer

    from cnbench import distributed, paths
    from cnbench.batching import collate, training_batches
    from cnbench.data.load import load_task_data
    from cnbench.heads import build_head
    from cnbench.models.encoders import load_model
    from cnbench.registry import get_task
    from cnbench.train import RunConfig, TaskModel, build_optimizer

    distributed.setup()
    tokenizer = AutoTokenizer.from_pretrained(paths.tokenizer_dir())
    floor = rss_mb("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")  # the peak (VmHWM) from here on
    task = get_task("xnli_zh")
    try:
        from cnbench.train import _features, _load_data
    except ImportError:  # a checkout from before a process loaded only its own share of the data (--before)
        from cnbench.train import _encode

        examples = load_task_data(task, Path(data_dir)).splits["train"]
        loaded_at = rss_mb("VmRSS")
        start = time.perf_counter()
        features = _encode(task, "train", examples, tokenizer, task.defaults.max_len, False)
    else:
        config = RunConfig(task="xnli_zh", model="scratch-tiny", data_dir=data_dir)
        data, train_facts, fingerprints = _load_data(task, config)
        loaded_at = rss_mb("VmRSS")
        start = time.perf_counter()
        features = _features(task, config, data, fingerprints, tokenizer, {"max_len": task.defaults.max_len}, False)[
            "train"
        ]
        data.hold_facts_only("train", train_facts)
    encoded = time.perf_counter() - start
    features_peak = rss_mb("VmHWM") - floor
    first_step = None
    if phase == "hit":
        loaded = load_model("scratch-tiny", 42)
        model = TaskModel(
            loaded.encoder,
            build_head(
                "linear",
                task.head_kind,
                loaded.encoder.hidden_size,
                len(task.labels),
                label_names=task.labels,
                dropout=0.1,
            ),
        )
        hp = {"lr": 5e-4, "head_lr": 5e-4, "crf_lr": None, "llrd": 1.0, "weight_decay": 0.01}
        optimizer, _ = build_optimizer(model, hp, torch.device("cpu"))
        forward = distributed.wrap(model)
        batches = training_batches(features.lengths(), 32, torch.Generator().manual_seed(42))
        indices, _ = distributed.shard(batches[0], [1] * len(features))
        forward(**collate(features, indices, tokenizer.pad_token_id, task.kind_rules)).loss.backward()
        optimizer.step()
        first_step = time.perf_counter() - start
    report = {
        "rank": distributed.rank(),
        "floor_mb": floor,
        "examples_mb": loaded_at - floor,
        "features_peak_mb": features_peak,
        "peak_above_floor_mb": rss_mb("VmHWM") - floor,
        "encode_s": encoded,
        "first_step_s": first_step,
        "sequences": len(features),
        "tokens": int(sum(features.lengths())),
    }
    Path(out, f"{phase}-rank{report['rank']}.json").write_text(json.dumps(report), encoding="utf-8")


def write_data(folder: Path, pairs: int) -> None:
    """``folder/xnli_zh/``: the real dev and test files, and a train file of ``pairs`` rows
    cycling through the dev and test rows, each with its premise and hypothesis swapped."""
    source = REPO.parent / "shared" / "data" / "xnli_zh"
    target = folder / "xnli_zh"
    target.mkdir(parents=True)
    rows = []
    for name in ("dev.tsv.gz", "test.tsv.gz"):
        raw = (source / name).read_bytes()
        (target / name).write_bytes(raw)
        header, *lines = gzip.decompress(raw).decode("utf-8").splitlines()
        for line in lines:
            premise, hypothesis, rest = line.split("\t", 2)
            rows.append(f"{hypothesis}\t{premise}\t{rest}")
    with gzip.open(target / "train.tsv.gz", "wt", encoding="utf-8", compresslevel=1) as handle:
        handle.write(header + "\n")
        for index in range(pairs):
            handle.write(rows[index % len(rows)] + "\n")


def measure(checkout: Path, data: Path, processes: int, scratch: Path) -> dict:
    """Run the build phase (cold cache) then the hit phase in fresh processes; return the reports."""
    env = {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "CNBENCH_CACHE_DIR": str(scratch / "cache"),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    results = {}
    for phase in ("build", "hit"):
        out = scratch / phase
        out.mkdir()
        script = [str(Path(__file__).resolve()), "--child", phase, "--data", str(data), "--child-out", str(out)]
        if processes == 1:
            command = [sys.executable, *script]
        else:
            command = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node",
                str(processes),
                *script,
            ]
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        reports = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(out.glob("*.json"))]
        results[phase] = {
            "floor_mb": max(report["floor_mb"] for report in reports),
            "examples_mb": sum(report["examples_mb"] for report in reports),
            "features_peak_mb": sum(report["features_peak_mb"] for report in reports),
            "peak_above_floor_mb": sum(report["peak_above_floor_mb"] for report in reports),
            "encode_s": max(report["encode_s"] for report in reports),
            "first_step_s": max(report["first_step_s"] or 0 for report in reports),
            "sequences": reports[0]["sequences"],
            "tokens": reports[0]["tokens"],
        }
    return results


def commit_of(checkout: Path) -> str:
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout.strip()
    return head.stdout.strip() + ("+dirty" if dirty else "")


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pairs", type=int, help=f"train pairs (default {XNLI_TRAIN_PAIRS:,}; --small: {SMALL_PAIRS:,})"
    )
    parser.add_argument("--before", help="also measure this git revision (a temporary worktree)")
    parser.add_argument("--no-torchrun", action="store_true", help="skip the two-process measurement")
    add_small_and_out(parser, RESULTS, appends=True, small_help="few pairs, one process")
    parser.add_argument("--child", choices=("build", "hit"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.data, args.child, args.child_out)
        return
    if args.pairs is None:
        args.pairs = SMALL_PAIRS if args.small else XNLI_TRAIN_PAIRS
    args.out = output_path(args, RESULTS)
    one_process = args.no_torchrun or args.small

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
        scratch = Path(scratch)
        write_data(scratch / "data", args.pairs)
        checkouts = [("after", REPO)]
        if args.before:
            before = scratch / "before"
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "--detach", str(before), args.before],
                check=True,
                capture_output=True,
            )
            checkouts.insert(0, ("before", before))
        rows = []
        try:
            for label, checkout in checkouts:
                for processes in (1,) if one_process else (1, 2):
                    work = scratch / f"{label}-{processes}"
                    work.mkdir()
                    result = measure(checkout, scratch / "data", processes, work)
                    build, hit = result["build"], result["hit"]
                    print(
                        f"{label} ({commit_of(checkout)}), {processes} process(es): "
                        f"floor {build['floor_mb']:.0f} MB; examples {build['examples_mb']:.0f} MB; "
                        f"build {build['encode_s']:.1f} s, peak +{build['features_peak_mb']:.0f} MB; "
                        f"hit: features +{hit['features_peak_mb']:.0f} MB, "
                        f"first step after {hit['first_step_s']:.2f} s, peak +{hit['peak_above_floor_mb']:.0f} MB",
                        flush=True,
                    )
                    rows.append((label, commit_of(checkout), processes, build, hit))
        finally:
            if args.before:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)], capture_output=True
                )
    write_rows(args.out, args.pairs, rows)
    print(f"appended to {args.out}")


def write_rows(path: Path, pairs: int, rows: list) -> None:
    import platform

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "# Memory\n\n## XNLI-size features (`benchmarks/bench_memory.py`)\n\n"
            "Train set: the real XNLI-zh dev+test pairs, premise and hypothesis swapped, repeated to the XNLI "
            "train size; max_len 128; "
            "`scratch-tiny` for the first step. MB above the floor = peak RSS (VmHWM) minus RSS once torch, "
            "cnbench and the tokenizer are loaded; for 2 processes (torchrun, gloo) the sum over both. "
            "Peaks are MB above the floor: build peak and hit features peak once the train features exist (examples "
            "included: the examples column is what loading the train split adds before any feature exists), "
            "the last column after the first training step too. "
            f"{GOALS}.\n\n" + TABLE_HEAD,
            encoding="utf-8",
        )
    lines = path.read_text(encoding="utf-8").rstrip("\n").splitlines()
    with open(path, "a", encoding="utf-8") as handle:
        if not lines[-1].startswith("|"):  # the file ends in prose: rows need a table of their own
            handle.write("\n" + TABLE_HEAD)
        for label, commit, processes, build, hit in rows:
            handle.write(
                f"| {label} | {commit} | {processes} | {pairs:,} | {build['tokens']:,} | {build['floor_mb']:.0f} | "
                f"{build['examples_mb']:.0f} | {build['encode_s']:.1f} | {build['features_peak_mb']:.0f} | "
                f"{hit['features_peak_mb']:.0f} | {hit['first_step_s']:.2f} | {hit['peak_above_floor_mb']:.0f} | "
                f"{cpu}, {os.cpu_count()} cores | {time.strftime('%Y-%m-%d')} |\n"
            )


if __name__ == "__main__":
    main()
