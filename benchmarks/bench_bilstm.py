"""BiLSTM head speed: cnbench's ``BiLSTM`` against one bidirectional LSTM over a packed batch.

    OMP_NUM_THREADS=1 python benchmarks/bench_bilstm.py [--rounds 10] [--out benchmarks/results/bilstm.md] [--small]

Both compute the same function (the script checks outputs and input gradients agree): a
bidirectional LSTM that reads only each row's real tokens. The baseline packs the batch
(``pack_padded_sequence``), as cnbench did before, so torch runs the recurrence step by step; cnbench
runs each direction over the padded batch, the backward one on each row reversed in place, which
oneDNN fuses. Shapes are those of the ``char-embed`` + ``bilstm-crf`` MSRA baseline (input 128,
256 units per direction, batch 32) and of a BERT-base encoder (input 768), with ragged lengths
(uniform in [T/4, T]). One forward and backward each, in fp32 (the head's LSTM always runs in
fp32), alternating between the two in one process; the times are CPU time of this process (one
thread), so other processes' load barely moves them. Prints a table and appends it, with the
machine and commit, to ``--out``. ``--small`` measures one small shape for one round and appends to a
file in a temporary folder (unless ``--out`` is given), to check that the script still works.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "bilstm.md"
sys.path.insert(0, str(ROOT))

from cnbench.heads.crf_heads import BiLSTM  # noqa: E402
from cnbench.runinfo import code_version, environment_info  # noqa: E402

SHAPES = ((32, 64, 128), (32, 128, 128), (32, 128, 768))  # batch, longest row, input size
SMALL_SHAPES = ((4, 16, 32),)
HIDDEN = 256


class PackedBiLSTM(torch.nn.Module):
    """The baseline: one bidirectional LSTM over the packed real tokens, sharing ``ours``'s weights."""

    def __init__(self, ours: BiLSTM):
        super().__init__()
        self.lstm = torch.nn.LSTM(
            ours.forward_lstm.input_size, ours.forward_lstm.hidden_size, batch_first=True, bidirectional=True
        )
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(self.lstm, f"{name}_l0").copy_(getattr(ours.forward_lstm, f"{name}_l0"))
                getattr(self.lstm, f"{name}_l0_reverse").copy_(getattr(ours.backward_lstm, f"{name}_l0"))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, mask.sum(1).cpu(), batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        return out


def step_seconds(module, x, mask, weights) -> tuple[float, torch.Tensor, torch.Tensor]:
    """CPU seconds of one forward and backward, with the output and the input's gradient."""
    x.grad = None
    start = time.process_time()
    out = module(x, mask)
    (out * weights).sum().backward()
    return time.process_time() - start, out.detach(), x.grad.clone()


def measure(batch: int, steps: int, size: int, rounds: int) -> dict:
    torch.manual_seed(0)
    ours = BiLSTM(size, HIDDEN)
    packed = PackedBiLSTM(ours)
    lengths = torch.randint(steps // 4, steps + 1, (batch,))
    lengths[0] = steps
    mask = torch.arange(steps) < lengths.unsqueeze(1)
    x = torch.randn(batch, steps, size, requires_grad=True)
    weights = torch.randn(batch, steps, 2 * HIDDEN)
    _, out_ours, grad_ours = step_seconds(ours, x, mask, weights)  # also the warm-up
    _, out_packed, grad_packed = step_seconds(packed, x, mask, weights)
    times = {"ours": [], "packed": []}
    for _ in range(rounds):
        times["ours"].append(step_seconds(ours, x, mask, weights)[0])
        times["packed"].append(step_seconds(packed, x, mask, weights)[0])
    ours_ms, packed_ms = (1000 * statistics.median(times[name]) for name in ("ours", "packed"))
    return {
        "shape": f"{batch} × {steps} × {size}",
        "packed_ms": packed_ms,
        "ours_ms": ours_ms,
        "speedup": packed_ms / ours_ms,
        "out_diff": float((out_ours - out_packed).abs().max()),
        "grad_diff": float((grad_ours - grad_packed).abs().max()),
    }


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, help="timed rounds per shape (default 10; --small: 1)")
    add_small_and_out(parser, RESULTS, appends=True, small_help="one small shape, one round")
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 1 if args.small else 10
    args.out = output_path(args, RESULTS)
    torch.set_num_threads(1)
    rows = [measure(*shape, args.rounds) for shape in (SMALL_SHAPES if args.small else SHAPES)]
    environment = environment_info(torch.device("cpu"))
    version = code_version()
    commit = (version["git_commit"] or "unknown")[:10] + (" (uncommitted changes)" if version["git_dirty"] else "")
    lines = [
        f"## {datetime.date.today()}, commit {commit}",
        "",
        f"Machine: {environment['hardware']['cpu']}, {environment['hardware']['cpu_count']} cores, one torch "
        f"thread; torch {torch.__version__}. Median CPU ms of one forward + backward over {args.rounds} "
        f"alternating rounds; batch × longest row × input size, {HIDDEN} units per direction, fp32.",
        "",
        "| shape | packed bidirectional LSTM ms | cnbench BiLSTM ms | speed-up | max output diff | max gradient diff |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {row['shape']} | {row['packed_ms']:.1f} | {row['ours_ms']:.1f} | {row['speedup']:.2f}× | "
        f"{row['out_diff']:.1e} | {row['grad_diff']:.1e} |"
        for row in rows
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.out.exists():
        args.out.write_text(
            "# BiLSTM head benchmark (`benchmarks/bench_bilstm.py`)\n\nEach section is one run of the script.\n\n",
            encoding="utf-8",
        )
    with args.out.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")
    print(f"appended to {args.out}")


if __name__ == "__main__":
    main()
