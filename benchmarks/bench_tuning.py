"""Fine-tuning strategies side by side: scratch-small on ChnSentiCorp, 3 seeds each.

Each run is a real ``cnbench run`` (a fresh subprocess, one torch thread, so its peak resident
memory is its own). Per strategy: trainable and total parameters, mean training step time and its
ratio to full fine-tuning measured in the same invocation, peak memory, dev and test accuracy
(mean ± std over seeds, Welch's t-test against full fine-tuning), and the learned scalar-mix
weights where a strategy has them. Appends a section to ``benchmarks/results/tuning.md``.

    python benchmarks/bench_tuning.py [--strategies full,frozen,lora,adapter,top-2,frozen+scalar-mix]
                                      [--seeds 1,2,3] [--epochs 1] [--max-len 128] [--output DIR]

A strategy is a ``--tuning`` value, optionally ``+FEATURES`` for ``--features``. The first one
is the baseline of the ratios and tests (``full`` by default).
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


def run_one(strategy: str, seed: int, args, output: Path) -> dict:
    tuning, _, features = strategy.partition("+")
    folder = output / f"epochs{args.epochs}-len{args.max_len}" / strategy / str(seed)
    command = [sys.executable, "-m", "cnbench", "run", "--task", "chnsenticorp", "--model", "scratch-small",
               "--epochs", str(args.epochs), "--max-len", str(args.max_len), "--seed", str(seed),
               "--tuning", tuning, "--no-checkpoint", "--output", str(folder)]
    command += ["--features", features] if features else []
    if not list(folder.glob("*.json")):  # a kept --output folder makes an interrupted benchmark resumable
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    (path,) = folder.glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def step_ms(result: dict) -> float:
    return 1000 * result["timing"]["train_seconds"] / result["hparams"]["total_steps"]


def row(strategy: str, results: list[dict], baseline: list[dict]) -> str:
    tuning = results[0]["tuning"]
    test = [r["metrics"]["test"]["accuracy"] * 100 for r in results]
    dev = summarize([r["metrics"]["dev"]["accuracy"] * 100 for r in results])
    spread = summarize(test)
    steps = summarize([step_ms(r) for r in results])
    ratio = steps["mean"] / summarize([step_ms(r) for r in baseline])["mean"]
    memory = summarize([r["timing"]["peak_memory_mb"] for r in results])
    if results is baseline or min(len(results), len(baseline)) < MIN_SEEDS_FOR_SEED_TEST:
        versus = "—"
    else:
        test_b = seed_level_test(test, [r["metrics"]["test"]["accuracy"] * 100 for r in baseline])
        versus = f"{test_b['delta']:+.2f} (p {test_b['p_value']:.3f})"
    mix = ""
    if "scalar_mix_weights" in tuning:
        weights = [summarize(ws)["mean"] for ws in zip(*(r["tuning"]["scalar_mix_weights"] for r in results))]
        mix = " ".join(f"{w:.3f}" for w in weights)
    return (f"| {strategy} | {tuning['trainable_parameters']:,} | "
            f"{100 * tuning['trainable_parameters'] / tuning['total_parameters']:.2f} % | {steps['mean']:.0f} | "
            f"{ratio:.2f}× | {memory['mean']:,.0f} | {dev['mean']:.2f} | {spread['mean']:.2f} ± {spread['std']:.2f} "
            f"({spread['min']:.2f}–{spread['max']:.2f}) | {versus} | {mix} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategies", default=DEFAULT_STRATEGIES)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--output", type=Path, help="keep result files here and reuse those found there for the "
                        "same strategy and seed (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "tuning.md")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    strategies = args.strategies.split(",")
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        output = args.output or Path(scratch)
        for seed in seeds:  # seed by seed, so a benchmark cut short still covers every strategy
            for strategy in strategies:
                result = run_one(strategy, seed, args, output)
                results.setdefault(strategy, []).append(result)
                print(f"{strategy} seed {seed}: test {result['metrics']['test']['accuracy']:.4f}, "
                      f"{step_ms(result):.0f} ms/step, {result['timing']['peak_memory_mb']:.0f} MB", flush=True)
    baseline = results[strategies[0]]
    lines = [row(strategy, results[strategy], baseline) for strategy in strategies]
    print("\n".join(lines))
    first, environment = baseline[0], baseline[0]["environment"]
    hardware, packages = environment["hardware"], environment["packages"]
    hp = first["hparams"]
    if not args.out.exists():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("# Fine-tuning strategies (`benchmarks/bench_tuning.py`)\n\n"
                            "Each section is one run of the script; the commit is the code measured.\n",
                            encoding="utf-8")
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(
            f"\n## scratch-small, ChnSentiCorp, {args.epochs} epoch(s), max_len {args.max_len}, batch "
            f"{hp['batch_size']}, lr {hp['lr']:g}, seeds {args.seeds}\n\n"
            f"Machine: {hardware['cpu']}, {hardware['cpu_count']} cores, one torch thread; torch "
            f"{packages['torch']}, transformers {packages['transformers']}, peft {packages['peft']}; "
            f"commit {(environment['git_commit'] or '')[:10]}.\n\n"
            f"| strategy | trainable params | of all | ms/step | vs "
            f"{strategies[0]} | peak MB | dev acc % | test acc % mean ± std (min–max) | test Δ vs {strategies[0]} "
            "(Welch p) | scalar-mix weights (embeddings, layers 1–4) |\n"
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
