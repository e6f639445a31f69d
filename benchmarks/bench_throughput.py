"""bert-base fine-tuning speed through cnbench, and the wall time of a full leaderboard.

Builds a randomly initialised bert-base (the real bert-base-chinese config) and NEZHA-base (the
same sizes with NEZHA's relative positions), saves each with ``save_pretrained``, and fine-tunes
each for one epoch on every task with ``cnbench.train.run``: the code path of
``cnbench run --model FOLDER --train-on-dev --epochs 1``. Tasks without a local train set train
on dev, so every measurement runs on real sequence lengths (LCQMC pairs, ChnSentiCorp's long tail
at max_len 256, ...). A short warm-up run per model comes first, so one-off start-up costs (CUDA
context, cuBLAS handles) stay out of the numbers.

From each run's result file: train examples/s and tokens/s (real tokens, padding not counted),
evaluation examples/s, peak memory, and model FLOPs utilisation

    MFU = 6 x non-embedding parameters x train tokens/s / peak bf16 FLOP/s

(the transformer layers' weights; attention scores and padding are not counted as useful work).
The peak is the card's dense bf16 figure (H100 SXM / H200 989 TFLOP/s, H100 PCIe 756, A100 312),
or ``--peak-tflops``; on a CPU MFU is left out unless ``--peak-tflops`` is given.

Then the projection: 4 BERT-architecture models (bert, bert-wwm-ext, roberta-wwm-ext, macbert)
at the measured bert-base speed and NEZHA at its own, x 5 seeds, each task's default epochs on
its full train set (LCQMC 238,766, XNLI 392,702, ChnSentiCorp 9,600, People's Daily 20,864),
dev scored after every epoch and dev + test once more at the end, plus each run's measured
start-up (model load, tokenising).

Prints both tables and appends them, with machine facts, to ``benchmarks/results/throughput.md``.

    python benchmarks/bench_throughput.py                      # on a GPU: bf16, full dev sets
    python benchmarks/bench_throughput.py --small   # quick CPU check: tiny models, LCQMC, 32 examples

The data and tokenizer come from ``$CNBENCH_DATA_DIR`` / ``$CNBENCH_TOKENIZER_DIR`` (default
``../shared``), as for ``cnbench run``. ``--small`` appends to a file in a temporary folder unless
``--out`` is given.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoTokenizer, BertModel

from cnbench import paths
from cnbench.data.load import load_task_data
from cnbench.models.nezha import NezhaConfig, NezhaModel
from cnbench.registry import get_task
from cnbench.train import RunConfig, run

TASKS = ("chnsenticorp", "lcqmc", "xnli_zh", "peoples_daily_ner")
FULL_TRAIN_SIZE = {"chnsenticorp": 9_600, "lcqmc": 238_766, "xnli_zh": 392_702, "peoples_daily_ner": 20_864}
MODELS_PER_ARCHITECTURE = {"bert": 4, "nezha": 1}  # bert, bert-wwm-ext, roberta-wwm-ext, macbert; nezha
SEEDS = 5
SIZES = {
    "base": {},
    "tiny": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512),
}
FULL = {"size": "base", "tasks": ",".join(TASKS), "limit": None}
SMALL = {"size": "tiny", "tasks": "lcqmc", "limit": 32}
RESULTS = Path(__file__).parent / "results" / "throughput.md"
# Dense bf16 tensor-core peaks from the vendor data sheets, matched against the device name in
# this order (so "H100 PCIe" is found before "H100").
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.4), ("H200", 989.4), ("A100", 312.0))


@dataclass
class Measurement:
    architecture: str
    task: str
    train_split: str
    max_len: int
    train_examples_per_second: float
    train_tokens_per_second: float
    eval_examples_per_second: float
    startup_seconds: float  # everything a run spends outside training and evaluation
    peak_memory_mb: float


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=SIZES, help="default base; --small: tiny")
    parser.add_argument("--tasks", help=f"default {','.join(TASKS)}; --small: {SMALL['tasks']}")
    parser.add_argument("--limit", type=int, help="use only the first N examples of every split (quick checks)")
    parser.add_argument("--compile", action="store_true", help="measure with torch.compile")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak bf16 TFLOP/s (default: known GPUs)")
    add_small_and_out(parser, RESULTS, appends=True, small_help=str(SMALL))
    args = parser.parse_args()
    for name, value in (SMALL if args.small else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.out = output_path(args, RESULTS)
    tasks = args.tasks.split(",")
    report = measure(args.size, tasks, args.limit, args.compile, args.peak_tflops)
    print(report)
    if not args.out.exists():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "# bert-base throughput and full-leaderboard projection (`benchmarks/bench_throughput.py`)\n\n"
            "Each section is one run of the script, appended as it printed.\n",
            encoding="utf-8",
        )
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write("\n" + report)
    print(f"appended to {args.out}")


def measure(size: str, tasks: list[str], limit: int | None, compile: bool, peak_tflops: float | None) -> str:
    """Run every (architecture, task) and return the markdown report."""
    measurements, params, environment = [], {}, None
    with tempfile.TemporaryDirectory() as scratch:

        def one_run(model: Path, task: str, run_limit: int | None) -> dict:
            config = RunConfig(
                task=task,
                model=str(model),
                train_on_dev=True,
                epochs=1,
                seed=1,
                limit=run_limit,
                compile=compile,
                output_dir=str(Path(scratch) / "results"),
            )
            return run(config, log=lambda line: None)

        for architecture in MODELS_PER_ARCHITECTURE:
            folder = Path(scratch) / architecture
            params[architecture] = save_random_model(architecture, size, folder)
            one_run(folder, tasks[0], 64)  # warm-up
            for task in tasks:
                result = one_run(folder, task, limit)
                measurements.append(_measurement(architecture, task, result))
                environment = result["environment"]
                print(
                    f"{architecture} {task}: {measurements[-1].train_examples_per_second:.0f} train examples/s",
                    flush=True,
                )
    peak = peak_tflops or _known_peak(environment)
    data_dir = paths.data_dir()
    counts = {}
    for task in tasks:
        splits = load_task_data(get_task(task), data_dir, train_on_dev=True).splits
        counts[task] = (len(splits["dev"]), len(splits["test"]))
    hours = projected_hours(measurements, counts)
    return _report(size, limit, compile, measurements, params, peak, counts, hours, environment)


def save_random_model(architecture: str, size: str, folder: Path) -> int:
    """Save a randomly initialised encoder and the tokenizer to ``folder``; return the number of
    non-embedding parameters (the transformer layers)."""
    source = paths.tokenizer_dir()
    bert_config = AutoConfig.from_pretrained(source, **SIZES[size])
    if architecture == "bert":
        model = BertModel(bert_config)
    else:
        shared = (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "type_vocab_size",
            "max_position_embeddings",
        )
        model = NezhaModel(NezhaConfig(max_relative_position=64, **{key: getattr(bert_config, key) for key in shared}))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return sum(parameter.numel() for parameter in model.encoder.parameters())


def _measurement(architecture: str, task: str, result: dict) -> Measurement:
    timing, counts = result["timing"], result["data"]["counts"]
    evaluated = (len(result["history"]) + 1) * counts["dev"] + counts["test"]  # dev every epoch, then dev + test
    return Measurement(
        architecture=architecture,
        task=task,
        train_split=result["protocol"]["train_split"],
        max_len=result["hparams"]["max_len"],
        train_examples_per_second=timing["train_examples_per_second"],
        train_tokens_per_second=timing["train_tokens_per_second"],
        eval_examples_per_second=evaluated / timing["eval_seconds"],
        startup_seconds=timing["total_seconds"] - timing["train_seconds"] - timing["eval_seconds"],
        peak_memory_mb=timing["peak_memory_mb"],
    )


def projected_hours(
    measurements: list[Measurement], counts: dict[str, tuple[int, int]]
) -> dict[tuple[str, str], float]:
    """Hours of one run per (architecture, task) on the full train set with the task's default
    epochs: train + dev after every epoch + dev and test at the end + start-up."""
    hours = {}
    for m in measurements:
        epochs = get_task(m.task).defaults.epochs
        dev, test = counts[m.task]
        seconds = (
            FULL_TRAIN_SIZE[m.task] * epochs / m.train_examples_per_second
            + ((epochs + 1) * dev + test) / m.eval_examples_per_second
            + m.startup_seconds
        )
        hours[m.architecture, m.task] = seconds / 3600
    return hours


def leaderboard_hours(hours: dict[tuple[str, str], float]) -> float:
    """The whole grid: every model x task x seed, models at their architecture's speed."""
    return sum(MODELS_PER_ARCHITECTURE[architecture] * SEEDS * value for (architecture, _), value in hours.items())


def _known_peak(environment: dict) -> float | None:
    gpu = environment["hardware"].get("gpu")
    if gpu is None:
        return None
    return next((peak for name, peak in PEAK_BF16_TFLOPS if name in gpu), None)


def _report(size, limit, compile, measurements, params, peak, counts, hours, environment) -> str:
    hardware = environment["hardware"]
    machine = hardware.get("gpu") or f"{hardware['cpu']}, {hardware['cpu_count']} cores"
    lines = [
        f"## {size}-size random-init encoders{f', first {limit} examples per split' if limit else ''}"
        f"{', torch.compile' if compile else ''}",
        "",
        f"Machine: {machine}; torch {torch.__version__}, transformers {environment['packages']['transformers']}; "
        f"commit {(environment['git_commit'] or '')[:10]}"
        f"{' (uncommitted changes)' if environment['git_dirty'] else ''}; "
        f"peak bf16 {f'{peak:g} TFLOP/s' if peak else 'unknown (MFU not computed)'}. Non-embedding parameters: "
        + ", ".join(f"{architecture} {count / 1e6:.2f} M" for architecture, count in params.items())
        + ".",
        "",
        "| model | task | trained on | max_len | train examples/s | train tokens/s | MFU % | eval examples/s "
        "| start-up s | peak memory MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in measurements:
        mfu = f"{6 * params[m.architecture] * m.train_tokens_per_second / (peak * 1e12) * 100:.1f}" if peak else "—"
        lines.append(
            f"| {m.architecture} | {m.task} | {m.train_split} | {m.max_len} | {m.train_examples_per_second:.0f} | "
            f"{m.train_tokens_per_second:.0f} | {mfu} | {m.eval_examples_per_second:.0f} | "
            f"{m.startup_seconds:.1f} | {m.peak_memory_mb:.0f} |"
        )
    lines += [
        "",
        f"Projected full leaderboard ({' + '.join(f'{n} {a}' for a, n in MODELS_PER_ARCHITECTURE.items())} "
        f"models x {SEEDS} seeds, default epochs, full train sets, one run at a time):",
        "",
        "| task | train size | epochs | dev + test | bert run h | nezha run h | all runs h |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for task in dict.fromkeys(m.task for m in measurements):
        per_task = {architecture: value for (architecture, name), value in hours.items() if name == task}
        lines.append(
            f"| {task} | {FULL_TRAIN_SIZE[task]:,} | {get_task(task).defaults.epochs} | "
            f"{counts[task][0]:,} + {counts[task][1]:,} | {per_task['bert']:.3f} | {per_task['nezha']:.3f} | "
            f"{leaderboard_hours({(a, task): v for a, v in per_task.items()}):.2f} |"
        )
    lines += ["", f"**Total: {leaderboard_hours(hours):.2f} h** on this machine.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
