"""Heads: the task-specific layers that sit on an encoder.

Every head is an ``nn.Module`` with one call signature, so the training loop never branches on
the head type::

    out = head(hidden, pooled, attention_mask, score_mask, labels)   # -> HeadOutput

- ``hidden``: ``[B, T, H]`` encoder states; ``pooled``: ``[B, H]`` or ``None`` (encoders without a
  pooler); ``attention_mask``: ``[B, T]`` bool, true on real tokens.
- ``score_mask``: ``[B, T]`` bool, true where a tagging prediction is wanted (the first word piece of
  each character this window is responsible for). ``None`` for classification.
- ``labels``: ``[B]`` (classification) or ``[B, T]`` (tagging, ``-100`` where not scored), or ``None``
  at inference.
- ``HeadOutput.loss`` is the mean loss (``None`` without labels); ``HeadOutput.predictions`` is ``[B]``
  or ``[B, T]`` label ids (tagging: only positions under ``score_mask`` are meaningful).

Heads are looked up by name in ``HEADS``; ``build_head`` raises ``CnbenchError`` for an unknown name
or a head that does not fit the task kind. Parameters of a CRF live in a submodule named ``crf`` so
the optimiser can give them their own learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from cnbench.errors import CnbenchError

IGNORE_INDEX = -100


@dataclass
class HeadOutput:
    loss: torch.Tensor | None
    predictions: torch.Tensor


class LinearClassificationHead(nn.Module):
    """Dropout + linear on the sentence vector: the encoder's pooler output when it has one (as
    BERT fine-tuning does, so scores compare with published ones), else the [CLS] state."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1, **_):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        sentence = pooled if pooled is not None else hidden[:, 0]
        logits = self.classifier(self.dropout(sentence)).float()
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return HeadOutput(loss, logits.argmax(-1))


class LinearTaggingHead(nn.Module):
    """Per-token linear layer; cross-entropy only on scored positions."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1, **_):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        logits = self.classifier(self.dropout(hidden)).float()
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX
            )
        return HeadOutput(loss, logits.argmax(-1))


# name -> {task kind -> constructor}. A head missing a kind does not support it.
HEADS: dict[str, dict[str, Callable[..., nn.Module]]] = {
    "linear": {"classification": LinearClassificationHead, "tagging": LinearTaggingHead},
}


def register_head(name: str, kind: str, constructor: Callable[..., nn.Module]) -> None:
    HEADS.setdefault(name, {})[kind] = constructor


def build_head(name: str, kind: str, hidden_size: int, num_labels: int, **options) -> nn.Module:
    """``kind`` is ``"classification"`` or ``"tagging"``; ``options`` are head-specific
    (e.g. ``label_names`` for a BIO-constrained CRF, ``lstm_hidden``)."""
    _load_builtin_heads()
    if name not in HEADS:
        raise CnbenchError(f"unknown head {name!r}; choose one of: {', '.join(sorted(HEADS))}")
    if kind not in HEADS[name]:
        supported = ", ".join(sorted(HEADS[name]))
        raise CnbenchError(
            f"head {name!r} does not support {kind} tasks (it supports: {supported})"
        )
    return HEADS[name][kind](hidden_size=hidden_size, num_labels=num_labels, **options)


def head_names() -> list[str]:
    _load_builtin_heads()
    return sorted(HEADS)


def _load_builtin_heads() -> None:
    """Import the modules that register further heads (kept lazy: they are optional extras)."""
    import importlib

    for module in ("cnbench.heads.crf_heads",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
