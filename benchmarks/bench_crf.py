"""CRF speed: cnbench's CRF against pytorch-crf 0.7.2, and the ``crf`` head's step-time overhead.

    OMP_NUM_THREADS=1 python benchmarks/bench_crf.py [--layers 12] [--out benchmarks/results/crf.md] [--small]

1. Viterbi decode and NLL + backward at (batch, length, tags) = (32, 128, 7) and (64, 256, 7),
   ragged lengths (uniform in [T/2, T]), on CPU and on CUDA when available: median wall time
   of ours (the ``auto`` choice and each algorithm forced) and of pytorch-crf, measured in the
   same process, and the speed-up ratio (pytorch-crf time / ours).
2. Sequential vs scan at a few smaller batches and larger tag sets: the evidence for the
   ``auto`` rule in ``cnbench.heads.crf``.
3. One training step (forward, backward, AdamW step; bf16 autocast on CPU) of a randomly
   initialised BERT with the bert-base-chinese config (``--layers`` of them), batch 8 x 128,
   with the ``linear`` tagging head and with the ``crf`` head: the CRF head's overhead.

Prints a table and writes the numbers, with machine information, to ``--out``. ``--small`` runs
each part once at small shapes (one BERT layer) and writes to a temporary folder unless ``--out``
is given, to check that the script still works.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torchcrf

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "crf.md"
sys.path.insert(0, str(ROOT))

from cnbench import paths  # noqa: E402
from cnbench.heads import build_head  # noqa: E402
from cnbench.heads.crf import CRF  # noqa: E402

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
# (batch, length, tags): ours against pytorch-crf, then sequential against scan.
MAIN_SHAPES = ((32, 128, 7), (64, 256, 7))
CROSSOVER_SHAPES = ((1, 128, 7), (4, 128, 7), (16, 128, 7), (1, 128, 21), (4, 128, 21))
SMALL_MAIN_SHAPES = ((4, 16, 7),)
SMALL_CROSSOVER_SHAPES = ((1, 16, 7), (2, 16, 21))


def timed(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 2) -> float:
    """Median seconds per call."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def crf_pair(num_tags: int, device: torch.device) -> tuple[CRF, torchcrf.CRF]:
    ours = CRF(num_tags)
    with torch.no_grad():
        for parameter in ours.parameters():
            parameter.normal_()
    theirs = torchcrf.CRF(num_tags, batch_first=True)
    theirs.load_state_dict(ours.state_dict())
    return ours.to(device), theirs.to(device)


def ragged(batch: int, steps: int, num_tags: int, device: torch.device):
    emissions = torch.randn(batch, steps, num_tags, device=device, requires_grad=True)
    lengths = torch.randint(steps // 2, steps + 1, (batch,), device=device)
    lengths[0] = steps
    mask = torch.arange(steps, device=device) < lengths.unsqueeze(1)
    tags = torch.randint(0, num_tags, (batch, steps), device=device)
    return emissions, mask, tags


def reference_nll_backward(crf: torchcrf.CRF, emissions, tags, mask) -> None:
    crf(emissions, tags, mask, reduction="sum").neg().backward()


def decode_as_lists(crf: CRF, emissions, mask, method: str) -> list:
    """Decode and turn the tags into lists, as pytorch-crf returns them."""
    return crf.decode(emissions, mask, method=method).tags.tolist()


def nll_backward(crf: CRF, emissions, tags, mask, method: str) -> None:
    crf.nll(emissions, tags, mask, method=method).sum().backward()


def crf_vs_pytorch_crf(device: torch.device, repeats: int, shapes=MAIN_SHAPES) -> list[dict]:
    rows = []
    for batch, steps, num_tags in shapes:
        ours, theirs = crf_pair(num_tags, device)
        emissions, mask, tags = ragged(batch, steps, num_tags, device)
        row = {"device": device.type, "shape": (batch, steps, num_tags)}
        row["decode_ref"] = timed(partial(theirs.decode, emissions, mask), device, repeats)
        row["nll_ref"] = timed(partial(reference_nll_backward, theirs, emissions, tags, mask), device, repeats)
        for method in ("auto", "sequential", "scan"):
            row[f"decode_{method}"] = timed(partial(decode_as_lists, ours, emissions, mask, method), device, repeats)
            row[f"nll_{method}"] = timed(partial(nll_backward, ours, emissions, tags, mask, method), device, repeats)
        rows.append(row)
    return rows


def crossover(device: torch.device, repeats: int, shapes=CROSSOVER_SHAPES) -> list[dict]:
    rows = []
    for batch, steps, num_tags in shapes:
        ours, _ = crf_pair(num_tags, device)
        emissions, mask, tags = ragged(batch, steps, num_tags, device)
        row = {"device": device.type, "shape": (batch, steps, num_tags)}
        for method in ("sequential", "scan"):
            row[f"decode_{method}"] = timed(partial(ours.decode, emissions, mask, method=method), device, repeats)
            row[f"nll_{method}"] = timed(partial(nll_backward, ours, emissions, tags, mask, method), device, repeats)
        rows.append(row)
    return rows


def head_overhead(layers: int, steps: int, head_only_repeats: int = 30, batch: int = 8, length: int = 128) -> dict:
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(paths.tokenizer_dir())
    config.num_hidden_layers = layers
    torch.manual_seed(0)
    encoder = BertModel(config, add_pooling_layer=False)
    input_ids = torch.randint(1000, config.vocab_size, (batch, length))
    attention = torch.ones(batch, length, dtype=torch.bool)
    padded_from = length * 25 // 32  # 100 of 128
    attention[batch // 2 :, padded_from:] = False  # some padding, as in a real batch
    score = attention.clone()
    score[:, 0] = False
    score[torch.arange(batch), attention.sum(1) - 1] = False
    labels = torch.randint(0, len(BIO), (batch, length)).masked_fill(~score, -100)

    def step_fn(head: torch.nn.Module) -> Callable[[], None]:
        model = torch.nn.ModuleDict({"encoder": encoder, "head": head})
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                hidden = encoder(input_ids=input_ids, attention_mask=attention).last_hidden_state
                loss = head(hidden, None, attention, score, labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return step

    def head_only(head: torch.nn.Module) -> Callable[[], None]:
        hidden = torch.randn(batch, length, config.hidden_size, requires_grad=True)

        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = head(hidden.bfloat16(), None, attention, score, labels).loss
            loss.backward()

        return step

    options = dict(label_names=BIO, dropout=0.1, crf_constrained=True)
    heads = {name: build_head(name, "tagging", config.hidden_size, len(BIO), **options) for name in ("linear", "crf")}
    cpu = torch.device("cpu")
    result = {
        "layers": layers,
        "batch": (batch, length),
        "padded": (batch - batch // 2, padded_from),
        "steps": steps,
        "head_only_repeats": head_only_repeats,
    }
    # The heads alone (forward + backward on encoder-sized states): a low-noise measure of
    # the extra work, which other processes' load blurs in the full-step times.
    for name, head in heads.items():
        result[f"{name}_head_only"] = timed(head_only(head), cpu, head_only_repeats, warmup=3)
    full = {name: step_fn(head) for name, head in heads.items()}
    times: dict[str, list[float]] = {name: [] for name in full}
    for step in full.values():
        step()  # warm-up
    # Alternate the two so that load from other processes hits both alike.
    for _ in range(steps):
        for name, step in full.items():
            times[name].append(timed(step, cpu, 1, warmup=0))
    for name, values in times.items():
        result[f"{name}_median"] = statistics.median(values)
        result[f"{name}_min"] = min(values)
    return result


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "torch": torch.__version__,
        "pytorch-crf": "0.7.2",
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else "not available",
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def report(info: dict, main: list[dict], cross: list[dict], head: dict | None) -> str:
    lines = ["# CRF benchmark", "", "Written by `benchmarks/bench_crf.py`; times are medians in ms.", ""]
    lines += [f"- {key}: {value}" for key, value in info.items()]
    if info["OMP_NUM_THREADS"] == "1":
        lines += [
            "",
            "Run single-threaded (OMP_NUM_THREADS=1) because the 2 cores were shared with other",
            "people's jobs (see the load average): absolute times are noisy, ratios are measured",
            "side by side in the same process.",
        ]
    lines += [
        "",
        "## cnbench CRF vs pytorch-crf 0.7.2",
        "",
        "Ragged lengths (uniform in [T/2, T]). Decode includes turning the tags into Python lists, as",
        "pytorch-crf returns lists. Speed-up = pytorch-crf time / cnbench `auto` time.",
        "",
        "| device | B, T, K | decode: pytorch-crf | auto | sequential | scan | speed-up "
        "| NLL+backward: pytorch-crf | auto | sequential | scan | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in main:
        lines.append(
            f"| {r['device']} | {', '.join(map(str, r['shape']))} | {ms(r['decode_ref'])} | {ms(r['decode_auto'])} "
            f"| {ms(r['decode_sequential'])} | {ms(r['decode_scan'])} | {r['decode_ref'] / r['decode_auto']:.2f}x "
            f"| {ms(r['nll_ref'])} | {ms(r['nll_auto'])} | {ms(r['nll_sequential'])} | {ms(r['nll_scan'])} "
            f"| {r['nll_ref'] / r['nll_auto']:.2f}x |"
        )
    lines += [
        "",
        "## Sequential loop vs log-depth scan (the `auto` rule)",
        "",
        "Ratio > 1: the scan is faster. `auto` picks the scan for decode when B*K^3 <= 6000 and",
        "T >= 32, for the NLL when B*K^3 <= 2500 and T >= 16.",
        "",
        "| device | B, T, K | B*K^3 | decode seq | decode scan | ratio | NLL+bw seq | NLL+bw scan | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in cross:
        batch, _, tags = r["shape"]
        lines.append(
            f"| {r['device']} | {', '.join(map(str, r['shape']))} | {batch * tags**3} "
            f"| {ms(r['decode_sequential'])} | {ms(r['decode_scan'])} "
            f"| {r['decode_sequential'] / r['decode_scan']:.2f} | {ms(r['nll_sequential'])} "
            f"| {ms(r['nll_scan'])} | {r['nll_sequential'] / r['nll_scan']:.2f} |"
        )
    if head is not None:
        extra = head["crf_head_only"] - head["linear_head_only"]
        lines += [
            "",
            "## `crf` head overhead on a training step",
            "",
            f"Random-init BertModel (bert-base-chinese config, {head['layers']} layers, no pooler), batch "
            f"{head['batch'][0]} x {head['batch'][1]} ({head['padded'][0]} rows padded from {head['padded'][1]}), "
            "7 BIO tags, bf16 autocast "
            f"on CPU; step = forward + backward + AdamW, {head['steps']} steps per head, alternating. "
            "Head only = the head's forward + backward on random encoder-sized states "
            f"(median of {head['head_only_repeats']}).",
            "",
            "| head | step median ms | step min ms | head only ms |",
            "|---|---|---|---|",
        ]
        for name in ("linear", "crf"):
            lines.append(
                f"| {name} | {ms(head[f'{name}_median'])} | {ms(head[f'{name}_min'])} "
                f"| {ms(head[f'{name}_head_only'])} |"
            )
        lines += [
            "",
            f"Overhead of `crf` over `linear`: {(head['crf_median'] / head['linear_median'] - 1) * 100:+.1f} % "
            f"by step medians, {(head['crf_min'] / head['linear_min'] - 1) * 100:+.1f} % by step minima; "
            f"the heads alone differ by {ms(extra)} ms = {extra / head['linear_median'] * 100:+.1f} % "
            "of the linear step.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, help="timed calls per measurement (default 15; --small: 1)")
    parser.add_argument(
        "--layers", type=int, help="BERT layers for the head overhead (0: skip; default 12; --small: 1)"
    )
    parser.add_argument("--head-steps", type=int, help="default 9; --small: 1")
    add_small_and_out(parser, RESULTS, appends=False, small_help="small shapes, one repeat")
    args = parser.parse_args()
    for name, full, small in (("repeats", 15, 1), ("layers", 12, 1), ("head_steps", 9, 1)):
        if getattr(args, name) is None:
            setattr(args, name, small if args.small else full)
    args.out = output_path(args, RESULTS)
    main_shapes, cross_shapes = (
        (SMALL_MAIN_SHAPES, SMALL_CROSSOVER_SHAPES) if args.small else (MAIN_SHAPES, CROSSOVER_SHAPES)
    )

    torch.manual_seed(0)
    info = machine_info()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    main_rows = [row for device in devices for row in crf_vs_pytorch_crf(device, args.repeats, main_shapes)]
    cross_rows = [row for device in devices for row in crossover(device, args.repeats, cross_shapes)]
    # bf16 matrix products are slow on CPUs without native bf16, so the small check keeps them few
    sizes = {"head_only_repeats": 3, "batch": 2, "length": 32} if args.small else {}
    head = head_overhead(args.layers, args.head_steps, **sizes) if args.layers > 0 else None
    text = report(info, main_rows, cross_rows, head)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
