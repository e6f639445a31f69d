"""The no-pretraining baseline encoder: character embeddings, optionally with word boundaries.

``CharEmbedEncoder`` looks characters up in a randomly initialised table (the BERT vocabulary's
ids, so it shares the tokenizer and data pipeline of the transformer models) and, with
``use_word_boundaries=True``, concatenates a small embedding of each character's position inside
its jieba word. It has no context of its own: pair it with a ``bilstm`` / ``bilstm-crf`` head for
the classic BiLSTM-CRF NER baseline.

``jieba_boundary_tags`` produces those positions: ``B``/``I``/``E``/``S`` = 1/2/3/4 (begin,
inside, end of a multi-character word, single-character word), 0 for padding and special tokens.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import torch
from torch import Tensor, nn

from cnbench.errors import CnbenchError

BOUNDARY_PAD, BOUNDARY_B, BOUNDARY_I, BOUNDARY_E, BOUNDARY_S = range(5)
NUM_BOUNDARY_IDS = 5


class CharEmbedEncoder(nn.Module):
    """``forward(input_ids, attention_mask, token_type_ids=None, boundary_ids=None)`` returns
    ``(hidden [B, T, hidden_size], None)`` (no pooler; heads fall back to position 0), zero at
    padding. ``hidden_size = embedding_dim (+ boundary_dim with word boundaries)``.

    ``token_type_ids`` is accepted for interface compatibility and ignored. ``boundary_ids``
    (``[B, T]``, values 0..4) are required with ``use_word_boundaries=True`` (``CnbenchError``
    otherwise) and ignored without.
    """

    def __init__(
        self,
        vocab_size: int = 21128,
        embedding_dim: int = 128,
        use_word_boundaries: bool = False,
        boundary_dim: int = 16,
        pad_token_id: int = 0,
    ):
        super().__init__()
        self.embeddings = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_token_id)
        self.use_word_boundaries = use_word_boundaries
        self.boundary_embeddings = (
            nn.Embedding(NUM_BOUNDARY_IDS, boundary_dim, padding_idx=BOUNDARY_PAD) if use_word_boundaries else None
        )
        self.hidden_size = embedding_dim + (boundary_dim if use_word_boundaries else 0)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        token_type_ids: Tensor | None = None,
        boundary_ids: Tensor | None = None,
    ) -> tuple[Tensor, None]:
        hidden = self.embeddings(input_ids)
        if self.boundary_embeddings is not None:
            if boundary_ids is None:
                raise CnbenchError(
                    "the char-embed encoder was built with word boundaries but the batch has no "
                    "boundary_ids (encode the data with jieba_boundary_tags)"
                )
            hidden = torch.cat([hidden, self.boundary_embeddings(boundary_ids)], dim=-1)
        # Positions outside the mask need not hold the pad id, so zero them explicitly.
        return hidden * attention_mask.unsqueeze(-1).to(hidden.dtype), None


def jieba_boundary_tags(chars: list[str]) -> list[int]:
    """Per element of ``chars``, its position inside the jieba word of ``"".join(chars)`` that
    contains it: 1 (B), 2 (I), 3 (E), 4 (S). An element of several characters (a special token,
    a Latin word) gets B/I/E/S from whether a word starts at its first character and ends at its
    last; an empty element gets 0. Deterministic: a private jieba tokenizer with the default
    dictionary (HMM on, so unknown names are grouped), unaffected by ``jieba.add_word`` elsewhere.
    """
    text = "".join(chars)
    starts: set[int] = set()  # character offsets where a jieba word begins
    ends: set[int] = set()  # character offsets where a jieba word ends (exclusive)
    offset = 0
    for word in _tokenizer().cut(text, HMM=True):
        starts.add(offset)
        offset += len(word)
        ends.add(offset)
    tags = []
    offset = 0
    for element in chars:
        if not element:
            tags.append(BOUNDARY_PAD)
            continue
        begins, finishes = offset in starts, offset + len(element) in ends
        offset += len(element)
        if begins:
            tags.append(BOUNDARY_S if finishes else BOUNDARY_B)
        else:
            tags.append(BOUNDARY_E if finishes else BOUNDARY_I)
    return tags


@lru_cache(maxsize=1)
def _tokenizer():
    import jieba

    # jieba logs the dictionary loading at DEBUG level to stderr through its "jieba" logger.
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer
