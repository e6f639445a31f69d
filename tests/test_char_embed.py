"""Char-embedding encoder and jieba word-boundary tags."""

from __future__ import annotations

import logging

import pytest
import torch

from cnbench.errors import CnbenchError
from cnbench.models.char_embed import CharEmbedEncoder, jieba_boundary_tags

B, I, E, S = 1, 2, 3, 4  # noqa: E741 - the B/I/E/S tag names that jieba_boundary_tags documents


def test_boundary_tags_of_a_known_sentence():
    # jieba: 我 / 爱 / 北京 / 天安门
    assert jieba_boundary_tags(list("我爱北京天安门")) == [S, S, B, E, B, I, E]
    assert logging.getLogger("jieba").getEffectiveLevel() >= logging.WARNING  # no load banner


def test_boundary_tags_of_multi_character_and_empty_elements():
    # "[CLS]" is cut into [ / CLS / ], so it starts and ends words: S; "" has no characters.
    assert jieba_boundary_tags(["[CLS]", "北", "", "京"]) == [S, B, 0, E]
    assert jieba_boundary_tags([]) == []


def test_boundary_tags_are_deterministic_and_ignore_global_jieba_state():
    import jieba

    chars = list("王小明在清华大学读书")
    before = jieba_boundary_tags(chars)
    jieba.add_word("明在清")
    try:
        assert jieba_boundary_tags(chars) == before
    finally:
        jieba.del_word("明在清")


@pytest.mark.parametrize("boundaries", (False, True))
def test_encoder_shapes_and_padding(boundaries):
    encoder = CharEmbedEncoder(vocab_size=50, embedding_dim=8, use_word_boundaries=boundaries, boundary_dim=4)
    assert encoder.hidden_size == (12 if boundaries else 8)
    input_ids = torch.tensor([[2, 5, 7, 3], [2, 9, 3, 0]])
    mask = input_ids != 0
    boundary_ids = torch.tensor([[0, 4, 4, 0], [0, 4, 0, 0]])
    hidden, pooled = encoder(input_ids, mask, torch.zeros_like(input_ids), boundary_ids=boundary_ids)
    assert pooled is None
    assert hidden.shape == (2, 4, encoder.hidden_size)
    assert (hidden[~mask] == 0).all() and (hidden[mask] != 0).any(-1).all()


def test_encoder_with_boundaries_needs_boundary_ids():
    encoder = CharEmbedEncoder(vocab_size=10, use_word_boundaries=True)
    ids = torch.ones(1, 3, dtype=torch.long)
    with pytest.raises(CnbenchError, match="boundary_ids"):
        encoder(ids, ids.bool())
