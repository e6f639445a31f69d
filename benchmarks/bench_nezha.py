"""Training-step cost of cnbench's NEZHA relative to BERT of the same size, measured in one process.

    .venv/bin/python benchmarks/bench_nezha.py [--layers 2] [--batch 8] [--seq-len 128] [--steps 5] [--small]

Models are bert-base wide (hidden 768, 12 heads, FFN 3072, vocab 21128) with fewer layers so a CPU
run stays short; NEZHA uses the released checkpoints' ``max_relative_position = 64``. A step is
forward + backward of ``last_hidden_state.square().mean()`` on random ids, dropout on. Baselines:
transformers' BERT with its default SDPA attention, and with ``attn_implementation="eager"`` (the
same matmul-softmax-matmul attention NEZHA has to use, since its value term needs the
probabilities). The models take turns step by step so drift on a shared machine hits all alike.
Each step's wall time and process CPU time (all threads) are recorded: on a CPU shared with other
jobs the wall time mostly measures the neighbours, so the ratios use the median CPU time and the
best wall time. The table is printed and written with machine details to
``benchmarks/results/nezha.md``. ``--small`` (one layer, batch 2 x 16, one timed step) writes to a
temporary folder instead (unless ``--out`` is given), to check that the script still works.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from pathlib import Path

import torch
import transformers
from transformers import BertConfig, BertModel

from cnbench.models.nezha import NezhaConfig, NezhaModel

RESULTS = Path(__file__).resolve().parent / "results" / "nezha.md"
WIDTH = dict(vocab_size=21128, hidden_size=768, num_attention_heads=12, intermediate_size=3072)
FULL = {"layers": 2, "batch": 8, "seq_len": 128, "steps": 5}
SMALL = {"layers": 1, "batch": 2, "seq_len": 16, "steps": 1}


def build_models(layers: int) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "NEZHA (cnbench)": NezhaModel(NezhaConfig(num_hidden_layers=layers, max_relative_position=64, **WIDTH)),
        "BERT, sdpa": BertModel(BertConfig(num_hidden_layers=layers, **WIDTH), add_pooling_layer=False),
        "BERT, eager": BertModel(
            BertConfig(num_hidden_layers=layers, **WIDTH, attn_implementation="eager"), add_pooling_layer=False
        ),
    }


def step(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[float, float]:
    """One training step; returns (wall seconds, process CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    loss = model(**batch).last_hidden_state.square().mean()
    loss.backward()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    model.zero_grad(set_to_none=True)
    return wall, cpu


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, help=f"default {FULL['layers']}")
    parser.add_argument("--batch", type=int, help=f"default {FULL['batch']}")
    parser.add_argument("--seq-len", type=int, help=f"default {FULL['seq_len']}")
    parser.add_argument(
        "--steps", type=int, help=f"timed steps per model, after one warm-up step (default {FULL['steps']})"
    )
    add_small_and_out(parser, RESULTS, appends=False, small_help=str(SMALL))
    args = parser.parse_args()
    for name, value in (SMALL if args.small else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.out = output_path(args, RESULTS)

    models = build_models(args.layers)
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(1, WIDTH["vocab_size"], (args.batch, args.seq_len), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1::2, args.seq_len * 3 // 4 :] = 0  # half the rows padded, as in real batches
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}

    for model in models.values():
        model.train()
        step(model, batch)
    walls: dict[str, list[float]] = {name: [] for name in models}
    cpus: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.steps):
        for name, model in models.items():
            wall, cpu = step(model, batch)
            walls[name].append(wall)
            cpus[name].append(cpu)

    best_wall = {name: min(samples) for name, samples in walls.items()}
    median_cpu = {name: statistics.median(samples) for name, samples in cpus.items()}
    nezha = "NEZHA (cnbench)"
    rows = [
        f"| {name} | {1000 * statistics.median(walls[name]):.0f} | {1000 * best_wall[name]:.0f} "
        f"| {1000 * median_cpu[name]:.0f} | {median_cpu[nezha] / median_cpu[name]:.2f} "
        f"| {best_wall[nezha] / best_wall[name]:.2f} |"
        for name in models
    ]
    table = "\n".join(
        [
            "| model | median wall (ms) | best wall (ms) | median CPU (ms) "
            "| NEZHA / this, CPU | NEZHA / this, best wall |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    print(table)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        f"""# NEZHA vs BERT: training step time

Produced by `benchmarks/bench_nezha.py --layers {args.layers} --batch {args.batch} --seq-len {args.seq_len} \
--steps {args.steps}` on {datetime.date.today().isoformat()}.

Forward + backward, batch {args.batch} x {args.seq_len} tokens (half the rows padded to 3/4), {args.layers} layers of
hidden 768 / 12 heads / FFN 3072, NEZHA with max_relative_position 64; {args.steps} steps per model after one warm-up.
CPU time is the process's, summed over its threads.

{table}

Machine: {cpu_name()}, {torch.get_num_threads()} torch threads, {platform.platform()}, Python
{platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}.
The CPU is shared with other jobs: wall times are noisy (the models take turns to share the noise), so
read the CPU-time and best-wall ratios.
"""
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
