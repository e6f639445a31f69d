"""Fine-tuning strategies side by side: scratch-small on ChnSentiCorp, 3 seeds each.

Each run is a real ``cnbench run`` (a fresh subprocess, one torch thread, so its peak resident
memory is its own). Per strategy: trainable and total parameters, training step time, peak
memory, dev and test accuracy (mean ± std over seeds, Welch's t-test against full fine-tuning),
and the learned scalar-mix weights where a strategy has them. Step times are measured twice: as
the runs' own mean (wall clock, so on a shared machine it moves with the load of the moment), and
in this process as CPU time (one thread, so other processes' load does not count), with every
strategy's model built side by side and one step of each taken in turn on the same batch; the
ratio to the baseline comes from the latter. Appends a section to ``benchmarks/results/tuning.md``.

    python benchmarks/bench_tuning.py [--strategies full,frozen,lora,adapter,top-2,frozen+scalar-mix]
                                      [--seeds 1,2,3] [--epochs 1] [--max-len 128] [--output DIR]
    python benchmarks/bench_tuning.py --small   # a check: two strategies, one seed, 64 examples per split

A strategy is a ``--tuning`` value, optionally ``+FEATURES`` for ``--features``. The first one
is the baseline of the ratios and tests (``full`` by default). ``--small`` trains on the first 64
examples of each split with max_len 32, takes one interleaved round, and appends to a file in a
temporary folder unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnbench.stats import MIN_SEEDS_FOR_SEED_TEST, seed_level_test, summarize  # noqa: E402

DEFAULT_STRATEGIES = "full,frozen,lora,adapter,top-2,frozen+scalar-mix"
FULL = {"strategies": DEFAULT_STRATEGIES, "seeds": "1,2,3", "max_len": 128, "limit": None, "rounds": 12}
SMALL = {"strategies": "full,frozen+scalar-mix", "seeds": "1", "max_len": 32, "limit": 64, "rounds": 1}
RESULTS = Path(__file__).parent / "results" / "tuning.md"


def run_one(strategy: str, seed: int, args, output: Path) -> dict | None:
    """The result of one run: found in ``output``, else made now (``None`` under ``--reuse-only``)."""
    tuning, _, features = strategy.partition("+")
    limited = f"-limit{args.limit}" if args.limit else ""
    folder = output / f"epochs{args.epochs}-len{args.max_len}{limited}" / strategy / str(seed)
    command = [
        sys.executable,
        "-m",
        "cnbench",
        "run",
        "--task",
        "chnsenticorp",
        "--model",
        "scratch-small",
        "--epochs",
        str(args.epochs),
        "--max-len",
        str(args.max_len),
        "--seed",
        str(seed),
        "--tuning",
        tuning,
        "--no-checkpoint",
        "--output",
        str(folder),
    ]
    command += ["--features", features] if features else []
    command += ["--limit", str(args.limit)] if args.limit else []
    if not list(folder.glob("*.json")):  # a kept --output folder makes an interrupted benchmark resumable
        if args.reuse_only:
            return None
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    (path,) = folder.glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def interleaved_step_ms(strategies: list[str], max_len: int, rounds: int = 12) -> dict[str, float]:
    """Median CPU milliseconds of one training step (batch 32, ``max_len`` tokens) per strategy,
    the strategies' steps taken in turn so that every round sees the same machine state."""
    import statistics
    import time

    import torch

    from cnbench.heads import build_head
    from cnbench.models.encoders import load_model
    from cnbench.models.fast_dropout import use_fast_dropout
    from cnbench.train import RunConfig, TaskModel, bf16_autocast, build_optimizer, plan
    from cnbench.tuning import apply_strategy, build_features

    torch.set_num_threads(1)
    steps = {}
    for strategy in strategies:
        tuning, _, features = strategy.partition("+")
        hp = plan(RunConfig("chnsenticorp", "scratch-small", tuning=tuning, features=features or None)).hparams
        encoder = load_model("scratch-small", seed=1).encoder
        model = TaskModel(
            encoder, build_head("linear", "classification", encoder.hidden_size, 2), build_features(hp, encoder)
        )
        apply_strategy(model, hp)
        use_fast_dropout(model)
        optimizer, _ = build_optimizer(model, hp, torch.device("cpu"))
        steps[strategy] = (model, optimizer)
    generator = torch.Generator().manual_seed(0)
    batch = {
        "input_ids": torch.randint(1, 21128, (32, max_len), generator=generator),
        "attention_mask": torch.ones(32, max_len, dtype=torch.bool),
        "token_type_ids": torch.zeros(32, max_len, dtype=torch.long),
        "labels": torch.randint(0, 2, (32,), generator=generator),
    }
    autocast = bf16_autocast(torch.device("cpu"), "auto")
    times: dict[str, list[float]] = {strategy: [] for strategy in strategies}
    for round_ in range(rounds + 2):  # the first two rounds warm up
        for strategy, (model, optimizer) in steps.items():
            start = time.process_time()
            with autocast or torch.autocast("cpu", enabled=False):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if round_ >= 2:
                times[strategy].append(1000 * (time.process_time() - start))
    return {strategy: statistics.median(values) for strategy, values in times.items()}


def step_ms(result: dict) -> float:
    return 1000 * result["timing"]["train_seconds"] / result["hparams"]["total_steps"]


def row(strategy: str, results: list[dict], baseline: list[dict], interleaved: dict[str, float]) -> str:
    tuning = results[0]["tuning"]
    test = [r["metrics"]["test"]["accuracy"] * 100 for r in results]
    dev = summarize([r["metrics"]["dev"]["accuracy"] * 100 for r in results])
    spread = summarize(test)
    steps = summarize([step_ms(r) for r in results])
    ratio = interleaved[strategy] / interleaved[next(iter(interleaved))]
    memory = summarize([r["timing"]["peak_memory_mb"] for r in results])
    if results is baseline or min(len(results), len(baseline)) < MIN_SEEDS_FOR_SEED_TEST:
        versus = "—"
    else:
        test_b = seed_level_test(test, [r["metrics"]["test"]["accuracy"] * 100 for r in baseline])
        versus = f"{test_b['delta']:+.2f} (p {test_b['p_value']:.3f})"
    mix = ""
    if "scalar_mix_weights" in tuning:
        per_run = (r["tuning"]["scalar_mix_weights"] for r in results)
        weights = [summarize(ws)["mean"] for ws in zip(*per_run, strict=True)]
        mix = " ".join(f"{w:.3f}" for w in weights)
    return (
        f"| {strategy} | {tuning['trainable_parameters']:,} | "
        f"{100 * tuning['trainable_parameters'] / tuning['total_parameters']:.2f} % | {steps['mean']:.0f} | "
        f"{interleaved[strategy]:.0f} | {ratio:.2f}× | {memory['mean']:,.0f} | {len(results)} | {dev['mean']:.2f} | "
        f"{spread['mean']:.2f} ± {spread['std']:.2f} "
        f"({spread['min']:.2f}–{spread['max']:.2f}) | {versus} | {mix} |"
    )


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategies", help=f"default {FULL['strategies']}; --small: {SMALL['strategies']}")
    parser.add_argument("--seeds", help=f"default {FULL['seeds']}; --small: {SMALL['seeds']}")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-len", type=int, help=f"default {FULL['max_len']}; --small: {SMALL['max_len']}")
    add_small_and_out(parser, RESULTS, appends=True, small_help=str(SMALL))
    parser.add_argument(
        "--output",
        type=Path,
        help="keep result files here and reuse those found there for the "
        "same strategy and seed (default: a temporary folder)",
    )
    parser.add_argument(
        "--reuse-only",
        action="store_true",
        help="tabulate only the runs already in --output (what an interrupted benchmark finished)",
    )
    args = parser.parse_args()
    for name, value in (SMALL if args.small else FULL).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    args.out = output_path(args, RESULTS)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    strategies = args.strategies.split(",")
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        output = args.output or Path(scratch)
        for seed in seeds:  # seed by seed, so a benchmark cut short still covers every strategy
            for strategy in strategies:
                result = run_one(strategy, seed, args, output)
                if result is None:
                    continue
                results.setdefault(strategy, []).append(result)
                print(
                    f"{strategy} seed {seed}: test {result['metrics']['test']['accuracy']:.4f}, "
                    f"{step_ms(result):.0f} ms/step, {result['timing']['peak_memory_mb']:.0f} MB",
                    flush=True,
                )
    if strategies[0] not in results:
        sys.exit(f"no result of the baseline {strategies[0]} in {args.output}")
    baseline = results[strategies[0]]
    interleaved = interleaved_step_ms(strategies, args.max_len, args.rounds)
    lines = [row(strategy, results[strategy], baseline, interleaved) for strategy in strategies if strategy in results]
    print("\n".join(lines))
    first, environment = baseline[0], baseline[0]["environment"]
    hardware, packages = environment["hardware"], environment["packages"]
    hp = first["hparams"]
    if not args.out.exists():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "# Fine-tuning strategies (`benchmarks/bench_tuning.py`)\n\n"
            "Each section is one run of the script; the commit is the code measured.\n",
            encoding="utf-8",
        )
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(
            f"\n## scratch-small, ChnSentiCorp{f', first {args.limit} examples per split' if args.limit else ''}, "
            f"{args.epochs} epoch(s), max_len {args.max_len}, batch "
            f"{hp['batch_size']}, lr {hp['lr']:g}, seeds {args.seeds} (column seeds: runs finished)\n\n"
            f"Machine: {hardware['cpu']}, {hardware['cpu_count']} cores, one torch thread; torch "
            f"{packages['torch']}, transformers {packages['transformers']}, peft {packages['peft']}; "
            f"commit {(environment['git_commit'] or '')[:10]}.\n\n"
            f"| strategy | trainable params | of all | ms/step in the runs (wall) | CPU ms/step interleaved | vs "
            f"{strategies[0]} | peak MB | seeds | dev acc % | test acc % mean ± std (min–max) "
            f"| test Δ vs {strategies[0]} (Welch p) | scalar-mix weights (embeddings, layers 1–4) |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(lines) + "\n"
        )
    print(f"appended to {args.out}")


if __name__ == "__main__":
    main()
