"""Extractive QA: windows over long contexts, answer labels, the span head, and answer decoding."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch

from cnbench.data.examples import Answer, SpanExample
from cnbench.errors import CnbenchError
from cnbench.features import Features
from cnbench.heads.span import PADDING_LOGIT, SpanHead
from cnbench.kinds.span import decode_answers, encode_spans, most_context_masks, trainable

# 61 characters, one bert-base-chinese token each
LONG_CONTEXT = (
    "长江是亚洲第一长河，全长六千三百公里，流经青海西藏四川云南重庆湖北湖南江西安徽江苏和上海，"
    "最后注入东海。它的流域面积很大。"
)


def example(context, question="问题是什么？", answers=(), id="q"):
    return SpanExample(id, context, question, tuple(answers))


def answered(context, answer, question="问题是什么？"):
    return example(context, question, [Answer(answer, context.index(answer))])


def context_spans(features, window):
    spans = features.char_spans[window]
    return spans[spans[:, 0] >= 0]


def labelled_text(features, window, context):
    start, end = features.labels[window]
    spans = features.char_spans[window]
    return context[spans[start, 0] : spans[end, 1]]


def position_of(features, window, char_index):
    """The position in ``window`` of the token holding character ``char_index`` of the context."""
    spans = features.char_spans[window]
    [position] = np.flatnonzero((spans[:, 0] <= char_index) & (char_index < spans[:, 1]))
    return position


def zero_logits(features, padding=0):
    return [np.zeros((length + padding, 2), dtype=np.float32) for length in features.lengths()]


# -- encoding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [8, 20, 100])
def test_windows_step_by_stride_and_cover_the_whole_context(tokenizer, stride):
    context = LONG_CONTEXT + "iPhone在1990年发布，售价499美元。" + LONG_CONTEXT
    whole = np.asarray(tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"])
    features = encode_spans([example(context, "哪里？")], tokenizer, max_len=40, doc_stride=stride, max_question=8)
    room = 40 - (len(tokenizer("哪里？", add_special_tokens=False)["input_ids"]) + 3)
    step = min(stride, room)  # a stride wider than the window would leave gaps
    assert len(features) == 1 + -(-(len(whole) - room) // step) > 1
    for window in range(len(features)):
        # doc_stride is the step between window starts (Google's run_squad), not HF's overlap
        start = window * step
        assert np.array_equal(context_spans(features, window), whole[start : start + room])
    assert context_spans(features, len(features) - 1)[-1, 1] == len(context)


def test_window_layout_token_types_and_char_spans(tokenizer):
    question = "长江最后注入哪里？"
    question_ids = tokenizer(question, add_special_tokens=False)["input_ids"]
    features = encode_spans([example(LONG_CONTEXT, question)], tokenizer, max_len=48, doc_stride=16, max_question=16)
    head = len(question_ids) + 2
    assert len(features) == 3
    for window in range(len(features)):
        ids, types, spans = features.input_ids[window], features.token_type_ids[window], features.char_spans[window]
        assert ids[0] == tokenizer.cls_token_id and ids[head - 1] == ids[-1] == tokenizer.sep_token_id
        assert ids[1 : head - 1].tolist() == question_ids
        assert types.tolist() == [0] * head + [1] * (len(ids) - head)
        assert (spans[:head] == -1).all() and (spans[-1] == -1).all() and (spans[head:-1] >= 0).all()
        assert len(ids) <= 48


def test_max_len_must_leave_room_for_a_full_question_and_some_context(tokenizer):
    with pytest.raises(CnbenchError, match="max_question"):
        encode_spans([example("短文。")], tokenizer, max_len=67, max_question=64)


def test_the_question_is_cut_to_max_question_pieces(tokenizer):
    features = encode_spans([example("短文。", "这是一个非常非常长的问题吗？")], tokenizer, max_len=32, max_question=5)
    assert features.token_type_ids[0].tolist() == [0] * 7 + [1] * 4


def test_answer_labels_point_at_the_answer_tokens(tokenizer):
    context = "苹果公司的iPhone在1990年发布，售价499美元，后来卖到了上海。"
    examples = [answered(context, answer) for answer in ("iPhone", "1990年", "499美元", "上海", "苹")]
    features = encode_spans(examples, tokenizer, max_len=64, max_question=16)
    assert features.example_index.tolist() == [0, 1, 2, 3, 4]
    for window, ex in enumerate(examples):
        assert labelled_text(features, window, context) == ex.answers[0].text


def test_a_piece_crossing_the_answer_edge_is_part_of_the_label(tokenizer):
    context = "他在1990年发布。"
    ex = example(context, answers=[Answer("990年", 3)])
    features = encode_spans([ex], tokenizer, max_len=32, max_question=16)
    assert labelled_text(features, 0, context) == "1990年"


def test_windows_without_the_whole_answer_point_at_cls(tokenizer):
    answer = "它的流域面积"
    features = encode_spans([answered(LONG_CONTEXT, answer)], tokenizer, max_len=48, doc_stride=16, max_question=16)
    holders = [
        w
        for w in range(len(features))
        if context_spans(features, w)[0, 0] <= LONG_CONTEXT.index(answer)
        and context_spans(features, w)[-1, 1] >= LONG_CONTEXT.index(answer) + len(answer)
    ]
    assert 0 < len(holders) < len(features)
    for window in range(len(features)):
        if window in holders:
            assert labelled_text(features, window, LONG_CONTEXT) == answer
        else:
            assert features.labels[window].tolist() == [0, 0]


def test_an_answer_cut_by_a_window_edge_is_only_labelled_where_whole(tokenizer):
    # window 0 holds context tokens 0-37 (48 - 7 question - 3 special), so an answer at 35-39 is cut
    answer = LONG_CONTEXT[35:40]
    features = encode_spans(
        [example(LONG_CONTEXT, "长江流经哪里？", [Answer(answer, 35)])],
        tokenizer,
        max_len=48,
        doc_stride=16,
        max_question=16,
    )
    assert context_spans(features, 0)[-1, 1] in range(36, 40)
    assert features.labels[0].tolist() == [0, 0]
    assert labelled_text(features, 1, LONG_CONTEXT) == answer


def test_free_form_answers_are_never_trained_on(tokenizer):
    free_form = example("长江是一条河。", answers=[Answer("一条很长的河", -1)])
    later_located = example("长江是一条河。", answers=[Answer("一条很长的河", -1), Answer("一条河", 3)])
    features = encode_spans([free_form, later_located], tokenizer, max_len=32, max_question=16)
    assert not trainable(free_form) and trainable(later_located)
    assert features.labels[0].tolist() == [0, 0]
    assert labelled_text(features, 1, "长江是一条河。") == "一条河"


def test_span_features_round_trip_through_arrays(tokenizer):
    features = encode_spans(
        [answered(LONG_CONTEXT, "东海"), answered("短文。", "短文")],
        tokenizer,
        max_len=40,
        doc_stride=16,
        max_question=16,
    )
    assert features.is_span and not features.is_tagging
    arrays = features.arrays()
    assert arrays["labels"].shape == (len(features), 2) and arrays["char_spans"].shape == (len(arrays["input_ids"]), 2)
    again = Features.from_arrays(arrays)
    assert again == features and again.is_span
    assert np.array_equal(again.char_spans[1], features.char_spans[1])
    with pytest.raises(ValueError, match="char_spans"):
        Features.from_arrays({**arrays, "char_spans": arrays["char_spans"][:, :1]})
    with pytest.raises(ValueError, match="labels"):
        Features.from_arrays({**arrays, "labels": arrays["labels"][:, 0]})


def test_a_tokenizer_without_offsets_is_refused_in_one_line(tokenizer):
    class WithoutOffsets:
        cls_token_id, sep_token_id = tokenizer.cls_token_id, tokenizer.sep_token_id

        def __call__(self, texts, return_offsets_mapping=False, **options):
            return tokenizer(texts, **options)

    with pytest.raises(CnbenchError, match="character offsets") as refused:
        encode_spans([answered("短文。", "短文")], WithoutOffsets(), max_len=32, max_question=16)
    assert "\n" not in str(refused.value)


def test_real_cmrc_answers_are_labelled_on_their_text(tokenizer, data_dir):
    with gzip.open(data_dir / "cmrc2018" / "dev.json.gz", "rt", encoding="utf-8") as file:
        articles = json.load(file)["data"][:10]
    examples = [
        SpanExample(
            qa["id"],
            paragraph["context"],
            qa["question"],
            tuple(Answer(a["text"], a["answer_start"]) for a in qa["answers"]),
        )
        for article in articles
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    features = encode_spans(examples, tokenizer, max_len=128, doc_stride=32)
    labelled = set()
    for window, example_index in enumerate(features.example_index.tolist()):
        if features.labels[window].any():
            ex = examples[example_index]
            assert labelled_text(features, window, ex.context) == ex.answers[0].text
            labelled.add(example_index)
    assert len(labelled) == len(examples)


# -- decoding ----------------------------------------------------------------------------------------


def test_answers_are_sliced_from_the_original_context(tokenizer):
    context = "他说：\u3000Hello  World，𠮷野家在ＡＢＣ东京。"
    features = encode_spans([example(context)], tokenizer, max_len=64, max_question=16)
    logits = zero_logits(features, padding=5)
    logits[0][position_of(features, 0, context.index("Hello")), 0] = 5
    logits[0][position_of(features, 0, context.index("ＡＢＣ")), 1] = 5
    assert decode_answers([example(context)], features, logits) == ["Hello  World，𠮷野家在ＡＢＣ"]
    logits[0][position_of(features, 0, context.index("说")), 0] = 9  # the span now opens before U+3000
    assert decode_answers([example(context)], features, logits) == ["说：\u3000Hello  World，𠮷野家在ＡＢＣ"]


def test_the_best_span_over_all_windows_wins(tokenizer):
    ex = example(LONG_CONTEXT)
    features = encode_spans([ex], tokenizer, max_len=48, doc_stride=16, max_question=16)
    last = len(features) - 1
    logits = zero_logits(features)
    logits[0][position_of(features, 0, 1), 0] = logits[0][position_of(features, 0, 2), 1] = 3
    logits[last][position_of(features, last, 55), 0] = logits[last][position_of(features, last, 56), 1] = 4
    assert decode_answers([ex], features, logits) == [LONG_CONTEXT[55:57]]
    logits[0][position_of(features, 0, 1), 0] = 6
    assert decode_answers([ex], features, logits) == [LONG_CONTEXT[1:3]]


def test_too_long_and_backward_spans_are_skipped(tokenizer):
    ex = example(LONG_CONTEXT)
    features = encode_spans([ex], tokenizer, max_len=128)
    logits = zero_logits(features)
    start, end = logits[0][:, 0], logits[0][:, 1]
    start[position_of(features, 0, 10)] = 10
    end[position_of(features, 0, 5)] = 10  # before the best start
    end[position_of(features, 0, 30)] = 8  # 21 tokens from the best start
    end[position_of(features, 0, 15)] = 2
    assert decode_answers([ex], features, logits, max_answer_tokens=21) == [LONG_CONTEXT[10:31]]
    assert decode_answers([ex], features, logits, max_answer_tokens=20) == [LONG_CONTEXT[10:16]]


def test_a_start_counts_only_in_the_window_with_most_context_for_it(tokenizer):
    ex = example(LONG_CONTEXT, "问")
    # context windows hold tokens 0-27, 8-35, 16-43, ...
    features = encode_spans([ex], tokenizer, max_len=32, doc_stride=8, max_question=16)
    logits = [window - 5 for window in zero_logits(features)]
    # character 26 is one token from window 0's right edge but in the middle of window 2
    logits[0][position_of(features, 0, 26), 0], logits[0][position_of(features, 0, 27), 1] = 10, 1
    logits[2][position_of(features, 2, 30), 0] = logits[2][position_of(features, 2, 31), 1] = 2
    assert decode_answers([ex], features, logits) == [LONG_CONTEXT[30:32]]
    logits[2][position_of(features, 2, 26), 0] = logits[2][position_of(features, 2, 27), 1] = 3
    assert decode_answers([ex], features, logits) == [LONG_CONTEXT[26:28]]


def test_each_token_has_its_most_context_in_exactly_one_window(tokenizer):
    context = LONG_CONTEXT * 3
    features = encode_spans([example(context, "问")], tokenizer, max_len=32, doc_stride=7, max_question=16)
    starts = [context_spans(features, window)[:, 0] for window in range(len(features))]
    masks = most_context_masks(starts)
    for char in range(len(context)):
        holding = [(window, int(np.flatnonzero(s == char)[0]), len(s)) for window, s in enumerate(starts) if char in s]
        best = max(holding, key=lambda held: (min(held[1], held[2] - 1 - held[1]), -held[0]))
        assert [window for window, index, _ in holding if masks[window][index]] == [best[0]]


def test_no_valid_span_gives_an_empty_answer(tokenizer):
    examples = [example(LONG_CONTEXT), example("")]
    features = encode_spans(examples, tokenizer, max_len=128)
    logits = zero_logits(features)
    logits[0][position_of(features, 0, 20), 0] = logits[0][position_of(features, 0, 10), 1] = 1
    assert decode_answers(examples, features, logits, n_best=1) == ["", ""]
    assert decode_answers(examples, features, logits, n_best=2) == [LONG_CONTEXT[:11], ""]


# -- head --------------------------------------------------------------------------------------------


def test_span_head_masks_padding_and_averages_start_and_end_losses():
    torch.manual_seed(0)
    head = SpanHead(hidden_size=8, num_labels=2, dropout=0.0)
    hidden = torch.randn(2, 6, 8)
    attention_mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    labels = torch.tensor([[1, 3], [0, 0]])
    out = head(hidden, None, attention_mask, None, labels)
    assert out.predictions.shape == (2, 6, 2) and out.predictions.dtype == torch.float32
    assert (out.predictions[1, 4:] == PADDING_LOGIT).all() and (out.predictions[0] > PADDING_LOGIT).all()
    raw = head.scorer(hidden)
    expected = 0
    for row, length in enumerate((6, 4)):
        for side in (0, 1):
            expected += -torch.log_softmax(raw[row, :length, side], 0)[labels[row, side]] / 4
    assert torch.allclose(out.loss, expected)
    hidden[1, 4:] = 100.0  # padding changes nothing
    assert torch.allclose(head(hidden, None, attention_mask, None, labels).loss, out.loss)
    assert head(hidden, None, attention_mask).loss is None
