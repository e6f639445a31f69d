"""Heads: the task-specific layers that sit on an encoder.

Every head is an ``nn.Module`` with one call signature, so the training loop never branches on
the head type::

    out = head(hidden, pooled, attention_mask, score_mask, labels)   # -> HeadOutput

- ``hidden``: ``[B, T, H]`` encoder states; ``pooled``: ``[B, H]`` or ``None`` (encoders without a
  pooler); ``attention_mask``: ``[B, T]`` bool, true on real tokens.
- ``score_mask``: ``[B, T]`` bool, true where a tagging prediction is wanted (the first word piece of
  each character this window is responsible for). ``None`` for classification.
- ``labels``: ``[B]`` (classification), ``[B, T]`` (tagging, ``-100`` where not scored) or ``[B, 2]``
  (span: start and end token of the answer, 0 for none in the window), or ``None`` at inference.
- ``HeadOutput.loss`` is the mean loss (``None`` without labels); ``HeadOutput.predictions`` is ``[B]``
  or ``[B, T]`` label ids (tagging: only positions under ``score_mask`` are meaningful), ``[B, T, 2]``
  start and end logits (span), or ``None``
  from a head in training mode that skips decoding (the training step uses only the loss).

Each head says what it reads in a class attribute ``reads`` (recorded in the result as
``model.head_input``): ``SENTENCE_VECTOR`` for heads on ``pooled`` (the [CLS] state where it is
``None``), else a short text such as "every token's hidden state".

Heads are looked up by name in ``HEADS``; ``build_head`` raises ``CnbenchError`` for an unknown name
or a head that does not fit the task kind. Parameters of a CRF live in a submodule named ``crf`` so
the optimiser can give them their own learning rate.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnbench.errors import CnbenchError
from cnbench.features import IGNORE_INDEX

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "IGNORE_INDEX",
    "HeadOutput",
    "HEADS",
    "HEAD_DEFAULTS",
    "SENTENCE_VECTOR",
    "build_head",
    "head_input",
    "head_names",
    "register_head",
]

SENTENCE_VECTOR = "sentence vector"


@dataclass
class HeadOutput:
    loss: torch.Tensor | None
    predictions: torch.Tensor | None


# name -> {task kind -> constructor or "module:attribute"}. A head missing a kind does not support
# it. Built-in heads are named by import path so that listing them does not import torch.
HEADS: dict[str, dict[str, Callable[..., nn.Module] | str]] = {
    "linear": {
        "classification": "cnbench.heads.linear:LinearClassificationHead",
        "tagging": "cnbench.heads.linear:LinearTaggingHead",
        "span": "cnbench.heads.span:SpanHead",
    },
    "crf": {"tagging": "cnbench.heads.crf_heads:CRFTaggingHead"},
    "bilstm": {
        "classification": "cnbench.heads.crf_heads:BiLSTMClassificationHead",
        "tagging": "cnbench.heads.crf_heads:BiLSTMTaggingHead",
    },
    "bilstm-crf": {"tagging": "cnbench.heads.crf_heads:BiLSTMCRFTaggingHead"},
}

# Learning-rate defaults per head, applied over the task's defaults: randomly initialised LSTMs
# learn at ~1e-3, and CRF transitions trained at a fine-tuning rate (2e-5) barely move, so they
# get 1e-2 (bert4keras multiplies the CRF rate by 1000 for the same reason).
HEAD_DEFAULTS: dict[str, dict] = {
    "crf": {"crf_lr": 1e-2},
    "bilstm": {"head_lr": 1e-3},
    "bilstm-crf": {"head_lr": 1e-3, "crf_lr": 1e-2},
}


def register_head(name: str, kind: str, constructor: Callable[..., nn.Module] | str) -> None:
    """Add a head from outside cnbench (a plug-in package): ``constructor`` as for ``HEADS``."""
    HEADS.setdefault(name, {})[kind] = constructor


def build_head(name: str, kind: str, hidden_size: int, num_labels: int, **options) -> nn.Module:
    """``kind`` is a task kind's ``head_kind`` (``"classification"``, ``"tagging"``, ``"span"``);
    ``options`` are head-specific
    (e.g. ``label_names`` for a BIO-constrained CRF, ``lstm_hidden``)."""
    if name not in HEADS:
        raise CnbenchError(f"unknown head {name!r}; choose one of: {', '.join(sorted(HEADS))}")
    if kind not in HEADS[name]:
        supported = ", ".join(sorted(HEADS[name]))
        why = (
            "; CRF heads label each character in a sequence, so they are for tagging (NER) tasks"
            if name.endswith("crf")
            else ""
        )
        raise CnbenchError(f"head {name!r} does not support {kind} tasks (it supports: {supported}){why}")
    constructor = HEADS[name][kind]
    if isinstance(constructor, str):
        module, attribute = constructor.split(":")
        constructor = getattr(importlib.import_module(module), attribute)
    return constructor(hidden_size=hidden_size, num_labels=num_labels, **options)


def head_input(head: nn.Module, sentence_vector: str) -> str:
    """What ``head`` reads from the encoder, for the result file; ``sentence_vector`` says what the
    encoder passes as ``pooled`` (``cnbench.models.encoders.sentence_vector``)."""
    reads = getattr(head, "reads", None)
    if reads is None:
        return "not declared (the head has no 'reads' attribute)"
    return sentence_vector if reads == SENTENCE_VECTOR else reads


def head_names() -> list[str]:
    return sorted(HEADS)
