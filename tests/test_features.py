"""Alignment of character labels to word pieces, and windowing of long sentences."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnbench.batching import collate, evaluation_batches, training_batches
from cnbench.data.examples import TaggedSentence, TextExample
from cnbench.features import IGNORE_INDEX
from cnbench.kinds.classification import SINGLE, count_truncated, encode_text
from cnbench.kinds.tagging import TAGGING, encode_tagging, plan_windows
from cnbench.registry import get_task

TAGS = get_task("peoples_daily_ner").labels


def scored_chars(features, sentence_index):
    return sorted(
        char
        for i, scored in enumerate(features.scored)
        if features.example_index[i] == sentence_index
        for _, char in scored
    )


def test_a_600_character_sentence_is_fully_scored(tokenizer):
    chars = tuple(("中国人民银行在北京开会" * 60)[:600])
    tags = tuple(("B-ORG",) + ("I-ORG",) * 5 + ("O",) * 5) * 54 + ("B-ORG",) + ("I-ORG",) * 5
    features = encode_tagging([TaggedSentence(chars, tags)], tokenizer, TAGS, max_len=128)
    assert len(features) > 1
    assert scored_chars(features, 0) == list(range(600))  # each character exactly once
    for ids, labels, scored in zip(features.input_ids, features.labels, features.scored, strict=True):
        assert len(ids) <= 128 and ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        for position, char in scored:
            assert labels[position] == TAGS.index(tags[char])
            assert ids[position] == tokenizer.convert_tokens_to_ids(chars[char])
        assert sum(label != IGNORE_INDEX for label in labels) == len(scored)


def test_multi_piece_and_dropped_characters_keep_their_labels(tokenizer):
    # "1990" as four characters is four pieces; "\u200b" tokenises to nothing and becomes [UNK]
    chars = ("在", "1", "9", "\u200b", "年")
    tags = ("O", "O", "O", "O", "O")
    features = encode_tagging([TaggedSentence(chars, tags)], tokenizer, TAGS, max_len=32)
    (ids,), (scored,) = features.input_ids, features.scored
    assert [char for _, char in scored] == [0, 1, 2, 3, 4]
    assert ids[scored[3][0]] == tokenizer.unk_token_id


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.integers(1, 3), min_size=1, max_size=300), width=st.integers(2, 64))
def test_windows_cover_every_character_once_with_the_most_context(pieces, width):
    first, total = [], 0
    for count in pieces:
        first.append(total)
        total += count
    windows = plan_windows(first, total, width)
    assigned = sorted(char for _, _, chars in windows for char in chars)
    assert assigned == list(range(len(pieces)))
    for start, end, chars in windows:
        assert end - start <= width
        for char in chars:
            assert start <= first[char] < end
    if total > width:  # in the middle of a long sentence a character has >= a quarter window each side
        for start, end, chars in windows:
            for char in chars:
                if first[char] >= width and first[char] < total - width:
                    assert min(first[char] - start, end - 1 - first[char]) >= width // 4 - 1


def windows_by_scanning_all(first_piece, n_pieces, width):
    """``plan_windows`` as it was first written: every character compared with every window."""
    if n_pieces <= width:
        return [(0, n_pieces, list(range(len(first_piece))))]
    stride = max(1, width // 2)
    starts = list(range(0, n_pieces - width, stride)) + [n_pieces - width]
    windows = [(start, start + width, []) for start in starts]
    for char_index, position in enumerate(first_piece):
        best, best_context = None, -1
        for window in windows:
            start, end, _ = window
            if start <= position < end:
                context = min(position - start, end - 1 - position)
                if context > best_context:
                    best, best_context = window, context
        best[2].append(char_index)
    return [window for window in windows if window[2]]


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(st.integers(1, 4), min_size=1, max_size=200), width=st.integers(1, 40))
def test_windows_are_those_of_comparing_every_window(pieces, width):
    first = [sum(pieces[:i]) for i in range(len(pieces))]
    assert plan_windows(first, sum(pieces), width) == windows_by_scanning_all(first, sum(pieces), width)


def test_a_corpus_read_as_one_sentence_is_windowed_in_linear_time():
    import time

    n = 200_000  # comparing every window took ~30 s here; a linear pass takes well under one
    began = time.perf_counter()
    windows = plan_windows(list(range(n)), n, 254)
    assert time.perf_counter() - began < 10
    assert [char for _, _, chars in windows for char in chars] == list(range(n))
    assert windows[0][:2] == (0, 254) and windows[-1][:2] == (n - 254, n)


def test_a_max_len_without_room_for_a_character_is_a_clear_error(tokenizer):
    import pytest

    from cnbench.errors import CnbenchError

    with pytest.raises(CnbenchError, match=r"max_len 2: expected at least 3, room for \[CLS\], \[SEP\] and one token"):
        encode_tagging([TaggedSentence(("北",), ("B-LOC",))], tokenizer, TAGS, max_len=2)


def test_pair_encoding_uses_segment_ids_and_truncates(tokenizer):
    examples = [TextExample("今天天气很好" * 30, "明天下雨", "1"), TextExample("你好", "您好", "0")]
    features = encode_text(examples, tokenizer, ("0", "1"), max_len=32)
    assert len(features.input_ids[0]) == 32 and features.labels.tolist() == [1, 0]
    assert features.token_type_ids[1].tolist() == [0, 0, 0, 0, 1, 1, 1]


def test_truncated_examples_are_counted_not_those_that_fit_exactly(tokenizer):
    # max_len 8: [CLS] + 6 characters + [SEP] fits exactly; 7 characters, or a pair of 4 + 3, does not
    examples = [
        TextExample("一二三四五六", None, "pos"),
        TextExample("一二三四五六七", None, "pos"),
        TextExample("一二", None, "neg"),
        TextExample("一二三四五六七八九十", None, "neg"),
    ]
    assert count_truncated(examples, encode_text(examples, tokenizer, ("neg", "pos"), 8), tokenizer, 8) == 2
    pairs = [TextExample("一二三四", "五六七", "pos"), TextExample("一二", "三四", "pos")]
    assert count_truncated(pairs, encode_text(pairs, tokenizer, ("neg", "pos"), 8), tokenizer, 8) == 1


def test_length_grouped_batches_are_a_seeded_permutation():
    import torch

    lengths = [(i * 37) % 101 for i in range(1000)]
    first = training_batches(lengths, 16, torch.Generator().manual_seed(1))
    again = training_batches(lengths, 16, torch.Generator().manual_seed(1))
    other = training_batches(lengths, 16, torch.Generator().manual_seed(2))
    assert first == again and first != other
    assert sorted(i for batch in first for i in batch) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 10  # sorted inside mega-batches: little padding
    assert sorted(i for batch in evaluation_batches(lengths, 16) for i in batch) == list(range(1000))


def test_collate_pads_and_masks(tokenizer):
    features = encode_tagging(
        [TaggedSentence(("北", "京"), ("B-LOC", "I-LOC")), TaggedSentence(("人",), ("O",))], tokenizer, TAGS, max_len=16
    )
    batch = collate(features, [0, 1], tokenizer.pad_token_id, TAGGING)
    assert batch["input_ids"].shape == (2, 8)  # the longest, 4, rounded up to a multiple of 8
    assert batch["attention_mask"].tolist() == [[True] * 4 + [False] * 4, [True] * 3 + [False] * 5]
    assert batch["score_mask"].tolist() == [[False, True, True] + [False] * 5, [False, True] + [False] * 6]


def test_text_features_are_flat_arrays_equal_to_one_call_per_example(tokenizer, monkeypatch):
    import cnbench.kinds.classification

    monkeypatch.setattr(cnbench.kinds.classification, "TEXT_CHUNK", 2)  # three chunks, the last one short
    examples = [
        TextExample("今天天气很好" * 9, "明天下雨", "1"),
        TextExample("你好", "您好", "0"),
        TextExample("北京", "上海" * 20, "1"),
        TextExample("人", "我", "0"),
        TextExample("好", "坏", "1"),
    ]
    features = encode_text(examples, tokenizer, ("0", "1"), max_len=24)
    assert features.input_ids.values.dtype == "int32" and features.token_type_ids.values.dtype == "int8"
    assert features.offsets[-1] == len(features.input_ids.values) and len(features) == 5
    for ex, ids, types in zip(examples, features.input_ids, features.token_type_ids, strict=True):
        one = tokenizer(ex.text_a, ex.text_b, truncation=True, max_length=24, return_token_type_ids=True)
        assert ids.tolist() == one["input_ids"] and types.tolist() == one["token_type_ids"]
    assert features.lengths() == [len(ids) for ids in features.input_ids]


def test_features_from_arrays_refuses_arrays_that_do_not_fit(tokenizer):
    import numpy as np
    import pytest

    from cnbench.features import Features

    features = encode_tagging(
        [TaggedSentence(tuple("北京欢迎你"), ("B-LOC", "I-LOC", "O", "O", "O"))], tokenizer, TAGS, max_len=4
    )
    arrays = features.arrays()
    assert Features.from_arrays(arrays) == features
    for name, broken in [
        ("offsets", arrays["offsets"][:-1]),
        ("labels", arrays["labels"][1:]),
        ("scored", arrays["scored"][1:]),
        ("example_index", np.zeros(1, dtype=np.int32)),
    ]:
        with pytest.raises(ValueError):
            Features.from_arrays({**arrays, name: broken})


def test_collate_classification_and_boundary_ids(tokenizer):
    examples = [TextExample("北京欢迎你", None, "1"), TextExample("好", None, "0")]
    batch = collate(encode_text(examples, tokenizer, ("0", "1"), max_len=16), [1, 0], tokenizer.pad_token_id, SINGLE)
    pad, cls, sep = tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id
    assert batch["input_ids"].tolist()[0] == [cls, tokenizer.convert_tokens_to_ids("好"), sep] + [pad] * 5
    assert batch["labels"].tolist() == [0, 1] and batch["input_ids"].dtype == batch["labels"].dtype == torch.long
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 7]

    tagged = encode_tagging(
        [TaggedSentence(("北", "京"), ("B-LOC", "I-LOC")), TaggedSentence(("人",), ("O",))],
        tokenizer,
        TAGS,
        max_len=16,
        boundary_tags=lambda chars: [len(chars)] * len(chars),
    )
    assert collate(tagged, [0, 1], pad, TAGGING)["boundary_ids"].tolist() == [
        [0, 2, 2, 0] + [0] * 4,
        [0, 1, 0, 0] + [0] * 4,
    ]


def _sentencepiece_tokenizer(pieces: list[tuple[str, float]]):
    """An XLM-R-shaped tokenizer (Unigram, Metaspace) over exactly ``pieces``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    backend = Tokenizer(models.Unigram(specials + pieces, unk_id=3))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        cls_token="<s>",
        pad_token="<pad>",
        sep_token="</s>",
        eos_token="</s>",
        unk_token="<unk>",
    )


def test_sentencepiece_characters_are_labelled_on_their_own_piece_not_the_word_start_marker():
    # a lone character is a new word to sentencepiece: '中' -> ['▁中'] (glued), '国' -> ['▁', '国'];
    # in unspaced text neither marker occurs, so each character gets its unmarked piece
    tokenizer = _sentencepiece_tokenizer([("▁", -3.0), ("▁中", -1.0), ("中", -2.0), ("国", -2.0), ("▁人", -2.0)])
    assert tokenizer.tokenize("中") == ["▁中"] and tokenizer.tokenize("国") == ["▁", "国"]
    chars, tags = ("中", "国", "人"), ("B-LOC", "I-LOC", "O")
    features = encode_tagging([TaggedSentence(chars, tags)], tokenizer, TAGS, max_len=16)
    (ids,), (labels,), (scored,) = features.input_ids, features.labels, features.scored
    # '人' has only the glued piece in this vocabulary, which still carries its character
    expected = tokenizer.convert_tokens_to_ids(["<s>", "中", "国", "▁人", "</s>"])
    assert ids.tolist() == expected
    assert [(position, char) for position, char in scored.tolist()] == [(1, 0), (2, 1), (3, 2)]
    assert [labels[position] for position, _ in scored.tolist()] == [TAGS.index(tag) for tag in tags]
