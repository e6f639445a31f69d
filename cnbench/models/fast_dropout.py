"""Dropout whose mask costs one bulk draw from the random generator (used on CPU).

On CPU, torch draws a Bernoulli sample per element for every dropout mask. For a small BERT in
bf16 that profiles at about a quarter of a training step, and far more when the cores are
shared, because each draw goes through the generator's lock. Here one ``random_`` call over int64
gives 64 random bits per 4 elements; an element is kept when its 16-bit slice is at or above
``p * 65536``: the same Bernoulli(1 - p) keep mask to within 1/65536 of ``p``, the same
``1 / (1 - p)`` scaling, and the same seeded, reproducible generator.

``use_fast_dropout(model)`` swaps every ``nn.Dropout`` in a model for ``FastDropout`` and moves a
transformers model whose attention runs through SDPA to ``"cnbench_sdpa"``: SDPA when no dropout
is wanted (evaluation), else the attention written out with a ``FastDropout`` mask on the
probabilities (with dropout, SDPA on CPU takes the same unfused path, but with the slow mask).
GPUs draw masks fast already; ``cnbench.train`` uses this on CPU only.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ATTENTION_NAME = "cnbench_sdpa"


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """Boolean mask of ``shape``, each element true with probability ``1 - p`` (``p`` rounded to
    a multiple of 1/65536)."""
    count = math.prod(shape)
    bits = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    threshold = round(p * 65536) - 32768  # int16 slices are uniform on [-32768, 32767]
    return (bits.view(torch.int16)[:count] >= threshold).view(shape)


def fast_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return torch.zeros_like(x)
    return torch.where(keep_mask(x.shape, p, x.device), x * (1.0 / (1.0 - p)), 0.0)


class FastDropout(nn.Module):
    """Drop-in for ``nn.Dropout`` (keeps its ``p`` attribute, which attention code reads)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """transformers attention function: ``(module, q, k, v, mask, dropout, scaling) ->
    (output [B, T, heads, d], None)``; ``attention_mask`` is SDPA's (bool, true = attend, or None)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if dropout == 0.0:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=scaling, **kwargs)
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
    probs = fast_dropout(scores.softmax(-1), dropout, True)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, _attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION_NAME, sdpa_mask)


def use_fast_dropout(model: nn.Module) -> int:
    """Swap ``model``'s ``nn.Dropout`` modules (returns how many) and its SDPA attention in place."""
    swapped = 0
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                setattr(parent, name, FastDropout(child.p).train(child.training))
                swapped += 1
    for module in model.modules():
        config = getattr(module, "config", None)
        set_attention = getattr(module, "set_attn_implementation", None)
        if set_attention is not None and getattr(config, "_attn_implementation", None) == "sdpa":
            _register_attention()
            set_attention(ATTENTION_NAME)
    return swapped
