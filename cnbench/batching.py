"""Index batches and padding.

Training batches are length-grouped: shuffle, cut into mega-batches of ``group`` batches, sort each
by length, cut into batches, shuffle the batches. Padding per batch then stays small while the
order stays random. Batches are padded to their longest sequence rounded up to ``PAD_MULTIPLE``,
but never beyond the encoder's positions (``max_width``): a model with 100 positions at
``--max-len 100`` gets batches of width 100, not 104.
Evaluation runs in length order (the order does not change the scores).
"""

from __future__ import annotations

import numpy as np
import torch

from cnbench.features import Features
from cnbench.kinds import Kind

# Batch widths are rounded up to a multiple of this. With one width per batch length, a CPU run
# meets hundreds of tensor shapes: oneDNN caches kernels per shape and glibc's heap keeps blocks
# cut for each, and the quickstart's resident memory grew without bound. Eight keeps the padding
# small and suits GPU tensor cores.
PAD_MULTIPLE = 8


def training_batches(
    lengths: list[int], batch_size: int, generator: torch.Generator, group: int = 50
) -> list[list[int]]:
    order = torch.randperm(len(lengths), generator=generator).tolist()
    mega = batch_size * group
    batches = []
    for begin in range(0, len(order), mega):
        chunk = sorted(order[begin : begin + mega], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def evaluation_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padded_width(longest: int, max_width: int | None = None) -> int:
    """``longest`` rounded up to ``PAD_MULTIPLE``, capped at ``max_width`` (the encoder's positions;
    ``None``: no limit). ``ValueError`` where ``longest`` itself exceeds ``max_width``."""
    width = -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE
    if max_width is None:
        return width
    if longest > max_width:
        raise ValueError(f"a sequence of {longest} tokens does not fit the encoder's {max_width} positions")
    return min(width, max_width)


def collate(
    features: Features, indices: list[int], pad_id: int, kind: Kind, max_width: int | None = None
) -> dict[str, torch.Tensor]:
    """Pad the chosen sequences to the longest among them, rounded up to ``PAD_MULTIPLE`` and capped
    at ``max_width`` (``padded_width``): one gather from the flat arrays per field. The task's
    ``kind`` adds the labels its heads read."""
    rows = np.asarray(indices, dtype=np.int64)
    starts = features.offsets[rows]
    lengths = features.offsets[rows + 1] - starts
    columns = np.arange(padded_width(int(lengths.max()), max_width))
    real = columns < lengths[:, None]
    gather = np.where(real, starts[:, None] + columns, 0)  # padding cells read token 0, then are overwritten

    def padded(ragged, value):
        out = ragged.values[gather].astype(np.int64)
        out[~real] = value
        return torch.from_numpy(out)

    batch = {
        "input_ids": padded(features.input_ids, pad_id),
        "token_type_ids": padded(features.token_type_ids, 0),
        "attention_mask": torch.from_numpy(real),
    }
    batch.update(kind.batch_labels(features, rows, padded))
    return batch
