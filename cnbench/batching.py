"""Index batches and padding.

Training batches are length-grouped: shuffle, cut into mega-batches of ``group`` batches, sort each
by length, cut into batches, shuffle the batches. Padding per batch then stays small while the
order stays random. Evaluation runs in length order (the order does not change the scores).
"""

from __future__ import annotations

import torch

from cnbench.features import IGNORE_INDEX, Features


def training_batches(lengths: list[int], batch_size: int, generator: torch.Generator, group: int = 50) -> list[list[int]]:
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


def collate(features: Features, indices: list[int], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad the chosen sequences to the longest among them."""
    width = max(len(features.input_ids[i]) for i in indices)

    def padded(rows, value):
        return torch.tensor([row + [value] * (width - len(row)) for row in rows], dtype=torch.long)

    input_ids = padded([features.input_ids[i] for i in indices], pad_id)
    batch = {
        "input_ids": input_ids,
        "token_type_ids": padded([features.token_type_ids[i] for i in indices], 0),
        "attention_mask": padded([[1] * len(features.input_ids[i]) for i in indices], 0).bool(),
    }
    if features.scored:  # tagging
        labels = padded([features.labels[i] for i in indices], IGNORE_INDEX)
        batch["labels"] = labels
        batch["score_mask"] = labels != IGNORE_INDEX
        if features.boundary_ids is not None:
            batch["boundary_ids"] = padded([features.boundary_ids[i] for i in indices], 0)
    else:
        batch["labels"] = torch.tensor([features.labels[i] for i in indices], dtype=torch.long)
    return batch
