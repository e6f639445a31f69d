"""Extractive question answering (CMRC 2018, DRCD): the answer is a span of the context.

Examples are ``SpanExample``. Each question is tokenised once (cut to ``max_question`` pieces) and
each distinct context once, with the tokenizer's character offsets, so span tasks need a tokenizer
that returns them (Hugging Face "fast" tokenizers do). A question becomes one or more windows
``[CLS] question [SEP] part of the context [SEP]``, token types 0 then 1. Windows are stepped as in
Google's ``run_squad``, which the CMRC 2018 and CLUE baselines use: ``doc_stride`` is the step
between window *starts* (not the overlap, as in Hugging Face's ``run_qa``), and the last window is
the first that reaches the end of the context. A window that holds the whole answer is trained to
point at its first and last token; every other window is trained to point at [CLS] (position 0).
Free-form answers that do not occur in the context (``start`` -1) are scored, never trained on.

Answers are decoded over all windows of a question (``decode_answers``): the best sum of start
and end logits wins, and the answer text is sliced from the original context by character
offsets, never rebuilt from tokens, so characters the tokenizer maps to [UNK] or drops (spaces,
U+3000) come back as written.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence

import numpy as np

from cnbench.data.examples import Answer, SpanExample
from cnbench.data.hub_rows import ContentRows
from cnbench.data.readers import short_repr
from cnbench.data.squad import SPAN_FIELDS, align_answers, read_span_jsonl, read_squad, span_examples_from_rows
from cnbench.errors import CnbenchError, DataError
from cnbench.features import Features, offsets_of
from cnbench.kinds import Kind
from cnbench.mrc_metric import cmrc_metrics, question_scores

EXAMPLE_CHUNK = 10_000  # questions per tokenizer call: the tokenizer's Python lists never exceed one chunk
NOT_CONTEXT = -1  # char_spans value of [CLS], question pieces and [SEP]

# Longest answer decoded, in tokens. First answers, bert-base-chinese tokens (see
# benchmarks/results/span_pipeline.md): CMRC 2018 dev has 171 of 3,219 over 30 tokens (HFL and
# Hugging Face's limit), 30 over 50 (CLUE's) and 7 over 64; DRCD dev/test have none over 43.
MAX_ANSWER_TOKENS = 64


def trainable(example: SpanExample) -> bool:
    """Whether training has something to learn from ``example``: an answer located in the context."""
    return located_answer(example) is not None


def located_answer(example: SpanExample) -> Answer | None:
    """The answer training uses: the first one with a place in the context (and some text)."""
    return next((answer for answer in example.answers if answer.start >= 0 and answer.text), None)


def encode_spans(
    examples: list[SpanExample],
    tokenizer,
    max_len: int,
    doc_stride: int = 128,
    max_question: int = 64,
) -> Features:
    """Windows of every question, in order; ``Features.example_index`` maps each to its question."""
    if max_len < max_question + 4:
        raise CnbenchError(
            f"max_len {max_len}: expected at least max_question + 4 = {max_question + 4}, "
            "room for [CLS], the question, two [SEP] and one context token"
        )
    if doc_stride < 1:
        raise CnbenchError(f"doc_stride {doc_stride}: expected at least 1")
    windows = SpanWindows(tokenizer)
    for begin in range(0, len(examples), EXAMPLE_CHUNK):
        chunk = examples[begin : begin + EXAMPLE_CHUNK]
        questions = tokenizer([example.question for example in chunk], add_special_tokens=False)["input_ids"]
        distinct = list(dict.fromkeys(example.context for example in chunk))  # questions share contexts
        context_ids, context_offsets = tokenise_with_offsets(tokenizer, distinct)
        context_number = {context: number for number, context in enumerate(distinct)}
        for example_index, (example, question) in enumerate(zip(chunk, questions, strict=True), start=begin):
            number = context_number[example.context]
            windows.add(
                example_index,
                example,
                question[:max_question],
                context_ids[number],
                context_offsets[number],
                max_len,
                doc_stride,
            )
    return windows.features()


def tokenise_with_offsets(tokenizer, texts: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each text's piece ids and ``[pieces, 2]`` character offsets, without special tokens."""
    try:
        encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError:  # transformers 4's Python tokenizers refuse offsets; 5's leave them out
        encoded = {}
    if "offset_mapping" not in encoded:
        raise CnbenchError(
            f"span tasks need a tokenizer that returns character offsets; "
            f"{type(tokenizer).__name__} does not (use a Hugging Face fast tokenizer)"
        )
    ids = [np.asarray(pieces, dtype=np.int32) for pieces in encoded["input_ids"]]
    offsets = [np.asarray(spans, dtype=np.int32).reshape(-1, 2) for spans in encoded["offset_mapping"]]
    return ids, offsets


class SpanWindows:
    """Collects windows in flat ``array`` buffers (a few bytes per token, no object per window),
    handed to ``Features`` without a copy by ``features()``."""

    def __init__(self, tokenizer):
        self.cls_id = np.array([tokenizer.cls_token_id], dtype=np.int32)
        self.sep_id = np.array([tokenizer.sep_token_id], dtype=np.int32)
        self.not_context = np.array([NOT_CONTEXT, NOT_CONTEXT], dtype=np.int32).tobytes()
        self.input_ids, self.token_type_ids, self.char_spans = array("i"), array("b"), array("i")
        self.lengths, self.labels, self.example_index = array("q"), array("i"), array("i")

    def add(
        self,
        example_index: int,
        example: SpanExample,
        question: list[int],
        context_ids: np.ndarray,
        context_offsets: np.ndarray,
        max_len: int,
        doc_stride: int,
    ) -> None:
        head = np.concatenate([self.cls_id, np.asarray(question, dtype=np.int32), self.sep_id])
        room = max_len - len(head) - 1
        step = min(doc_stride, room)  # a stride wider than a window would skip context
        count = 1 + -(-max(len(context_ids) - room, 0) // step)
        answer_tokens = answer_token_range(example, context_offsets)
        for window_start in range(0, count * step, step):
            window_end = min(window_start + room, len(context_ids))
            context_tokens = window_end - window_start
            self.input_ids.frombytes(
                head.tobytes() + context_ids[window_start:window_end].tobytes() + self.sep_id.tobytes()
            )
            self.token_type_ids.frombytes(bytes(len(head)) + b"\x01" * (context_tokens + 1))  # 0s, then 1s
            self.char_spans.frombytes(
                self.not_context * len(head) + context_offsets[window_start:window_end].tobytes() + self.not_context
            )
            self.lengths.append(len(head) + context_tokens + 1)
            self.example_index.append(example_index)
            if answer_tokens is not None and window_start <= answer_tokens[0] and answer_tokens[1] < window_end:
                shift = len(head) - window_start
                self.labels.extend((answer_tokens[0] + shift, answer_tokens[1] + shift))
            else:
                self.labels.extend((0, 0))

    def features(self) -> Features:
        return Features(
            offsets=offsets_of(self.lengths),
            input_ids=np.frombuffer(self.input_ids, dtype=np.int32),
            token_type_ids=np.frombuffer(self.token_type_ids, dtype=np.int8),
            labels=np.frombuffer(self.labels, dtype=np.int32).reshape(-1, 2),
            example_index=np.frombuffer(self.example_index, dtype=np.int32),
            char_spans=np.frombuffer(self.char_spans, dtype=np.int32).reshape(-1, 2),
        )


def answer_token_range(example: SpanExample, context_offsets: np.ndarray) -> tuple[int, int] | None:
    """First and last context token of the located answer: the tokens that overlap its characters
    (a token that crosses the answer's edge counts, so the span covers the whole answer). None when
    there is no located answer or it covers no token (it is whitespace only, or past the end)."""
    answer = located_answer(example)
    if answer is None:
        return None
    answer_end = answer.start + len(answer.text)
    overlapping = np.flatnonzero((context_offsets[:, 0] < answer_end) & (context_offsets[:, 1] > answer.start))
    return (int(overlapping[0]), int(overlapping[-1])) if len(overlapping) else None


def decode_answers(
    examples: list[SpanExample],
    features: Features,
    window_logits: list[np.ndarray],
    n_best: int = 20,
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
) -> list[str]:
    """One answer per example: the span with the highest start + end logit over all its windows.

    ``window_logits[i]`` holds window ``i``'s ``[T, 2]`` start and end logits (rows past the
    window's length, padding, are ignored). In each window the ``n_best`` highest start logits and
    the ``n_best`` highest end logits among context tokens are paired; a pair is skipped when the
    end comes before the start or the span is longer than ``max_answer_tokens``. A start token must
    also be one this window gives the most context (``most_context_masks``): windows overlap, and
    a token near a window's edge is judged with little of the text around it. As in Google's and
    Hugging Face's SQuAD code only the start is held to this, so that an answer may run past the
    part of the window its start belongs to. An example with no valid span gets "".
    """
    if len(window_logits) != len(features):
        raise ValueError(f"{len(window_logits)} windows of logits for {len(features)} windows")
    all_char_spans = features.char_spans
    assert all_char_spans is not None  # span features always carry them
    windows_of: list[list[int]] = [[] for _ in examples]
    for window, example_index in enumerate(features.example_index.tolist()):
        windows_of[example_index].append(window)
    answers = []
    for example, windows in zip(examples, windows_of, strict=True):
        best_score, best_chars = -np.inf, None
        char_spans = [all_char_spans[window] for window in windows]
        context_positions = [np.flatnonzero(spans[:, 0] != NOT_CONTEXT) for spans in char_spans]
        context_starts = [spans[positions, 0] for spans, positions in zip(char_spans, context_positions, strict=True)]
        may_start = most_context_masks(context_starts)
        for window, spans, positions, start_mask in zip(windows, char_spans, context_positions, may_start, strict=True):
            logits = np.asarray(window_logits[window][: len(spans)], dtype=np.float64)
            starts = top_positions(positions[start_mask], logits[:, 0], n_best)
            ends = top_positions(positions, logits[:, 1], n_best)
            # Context positions are consecutive within a window, so position differences count tokens.
            span_tokens = ends[None, :] - starts[:, None] + 1
            scores = logits[starts, 0][:, None] + logits[ends, 1][None, :]
            scores[(span_tokens < 1) | (span_tokens > max_answer_tokens)] = -np.inf
            if scores.size and scores.max() > best_score:
                row, column = np.unravel_index(scores.argmax(), scores.shape)
                best_score = scores[row, column]
                best_chars = (spans[starts[row], 0], spans[ends[column], 1])
        answers.append(example.context[best_chars[0] : best_chars[1]] if best_chars is not None else "")
    return answers


def top_positions(positions: np.ndarray, scores: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` positions with the highest scores, best first (the earlier one on a tie)."""
    return positions[np.argsort(-scores[positions], kind="stable")[:count]]


def most_context_masks(context_starts: list[np.ndarray]) -> list[np.ndarray]:
    """For the windows of one question (each given by its context tokens' character starts, in
    order), whether each token has its most context in that window: the window where the nearer
    edge of its context is the most tokens away, the earlier window on a tie. Google's
    ``_check_is_max_context`` scores a window by that distance plus 0.01 times the window's length,
    so where the last window is much shorter it can keep a token in an earlier window that is one
    token less central: at most about one start token per long question is judged differently. A
    token is found in the other windows by its character start: exact where pieces start at
    distinct characters (WordPiece); pieces that share a start (byte-level pieces of one character)
    are judged as the first of them."""

    def context_each_side(index: np.ndarray, count: int) -> np.ndarray:
        return np.minimum(index, count - 1 - index)

    masks = []
    for window, starts in enumerate(context_starts):
        own = context_each_side(np.arange(len(starts)), len(starts))
        keep = np.ones(len(starts), dtype=bool)
        for other, other_starts in enumerate(context_starts):
            if other == window or not len(other_starts):
                continue
            found_at = np.searchsorted(other_starts, starts)
            present = other_starts[np.minimum(found_at, len(other_starts) - 1)] == starts
            theirs = context_each_side(found_at, len(other_starts))
            keep &= ~(present & ((theirs > own) | ((theirs == own) & (other < window))))
        masks.append(keep)
    return masks


def _answer_statistics(gold: Sequence[Sequence[str]], predictions: Sequence[str]) -> np.ndarray:
    """Per question ``(em, f1, 1)``: the official scores, summable over questions."""
    if len(gold) != len(predictions):
        raise ValueError(f"gold has {len(gold)} questions but predictions have {len(predictions)}")
    rows = [(*question_scores(answers, prediction), 1.0) for answers, prediction in zip(gold, predictions, strict=True)]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def _mean_of(column: int):
    def from_totals(totals: np.ndarray) -> np.ndarray:
        count = totals[..., 2]
        return np.divide(totals[..., column], count, out=np.zeros(count.shape), where=count > 0)

    return from_totals


class Span(Kind):
    name = "span"
    head_kind = "span"
    metrics = ("f1", "em")
    side_metrics = (("em", "EM"),)
    metric_names = {"f1": "F1"}
    hub_fields = ("id", "context", "question", "answers")
    file_extensions = {"squad": "json", "jsonl": "jsonl"}
    # Windows and decoding as HFL's and CLUE's baselines (stride 128, questions cut to 64 pieces,
    # 20-best); the answer limit is chosen on the data (MAX_ANSWER_TOKENS).
    hparams = {"doc_stride": 128, "max_question": 64, "max_answer_tokens": MAX_ANSWER_TOKENS, "n_best": 20}
    repairs_key = "answer_repairs"
    starting_defaults = (512, 3e-5)
    words = "reading comprehension, answer spans"
    labels_help = "span tasks have no labels: keep this empty"
    metric_help = '"f1" (the CMRC 2018 evaluator\'s F1) or "em"'
    example_class = "SpanExample"
    hub_columns_example = dict(SPAN_FIELDS)

    def __init__(self):
        self.formats = {
            "squad": lambda local, path, task: read_squad(path),
            "jsonl": lambda local, path, task: read_span_jsonl(path, {**SPAN_FIELDS, **local.fields}),
        }

    def check_task(self, task, where: str) -> None:
        if task.labels:
            raise CnbenchError(f"{where}: labels {list(task.labels)}: a span task has none; expected labels=()")

    def field_defaults(self, format: str) -> dict[str, str]:
        return dict(SPAN_FIELDS) if format == "jsonl" else {}

    def check_hparams(self, hp: dict) -> None:
        least = hp["max_question"] + 4  # [CLS], the question, two [SEP], one context piece
        if hp["max_len"] < least:
            raise CnbenchError(
                f"--max-len {hp['max_len']}: a span task needs at least {least} (questions "
                f"take up to {hp['max_question']} pieces of every window)"
            )

    def check_example(self, example, task, where: str, report, path):
        # A question may be empty (CMRC trial has two); id and context may not.
        if not (
            isinstance(example, SpanExample)
            and isinstance(example.question, str)
            and all(isinstance(value, str) and value for value in (example.id, example.context))
            and isinstance(example.answers, tuple)
            and example.answers
            and all(
                isinstance(answer, Answer) and isinstance(answer.text, str) and type(answer.start) is int
                for answer in example.answers
            )
        ):
            raise DataError(
                path,
                None,
                f"{where} is {short_repr(example)}; expected a SpanExample with an id, "
                "a context, a question and at least one Answer(text, start)",
            )
        [aligned], repairs = align_answers([example], f"{path} {where}")
        report.repaired.extend(repairs)
        return aligned

    def from_hub(self, task, dataset, where: str) -> tuple[list, int, list[str]]:
        rows = ContentRows(dataset, task.hub.columns)
        examples = span_examples_from_rows((row for _, row in rows), task.hub.columns, where)
        examples, repairs = align_answers(examples, where)
        return examples, rows.dropped, repairs

    def repair_note(self, count: int) -> str:
        return f"{count} answer(s) whose answer_start did not spell their text, found again or marked free-form"

    def gold_line(self, example: SpanExample) -> str:
        return json.dumps([answer.text for answer in example.answers], ensure_ascii=False)

    def scoring_gold(self, example: SpanExample) -> tuple[str, ...]:
        return tuple(answer.text for answer in example.answers)

    def text_of(self, example: SpanExample):
        return example.context, example.question

    # -- features and predictions -------------------------------------------------------------------
    def encode(self, task, examples, tokenizer, hp, word_boundaries) -> Features:
        return encode_spans(examples, tokenizer, hp["max_len"], hp["doc_stride"], hp["max_question"])

    def training_examples(self, examples: list) -> list:
        return [example for example in examples if trainable(example)]

    def feature_notes(self, split, examples, features, tokenizer, hp) -> list[str]:
        notes = []
        if split == "train":
            skipped = sum(not trainable(example) for example in examples)
            if skipped:
                notes.append(
                    f"train: {skipped} of {len(examples)} questions have no answer located in their "
                    "context, not trained on"
                )
        return notes

    def batch_labels(self, features, rows, padded) -> dict:
        import torch

        return {"labels": torch.from_numpy(features.labels[rows].astype(np.int64))}

    def outputs(self, predictions, lengths) -> list:
        logits = predictions.float().cpu().numpy()
        return [window[:length] for window, length in zip(logits, lengths, strict=True)]

    def predict(self, task, examples, features, per_sequence, hp) -> list[str]:
        return decode_answers(examples, features, per_sequence, hp["n_best"], hp["max_answer_tokens"])

    def score(self, task, examples, predictions) -> dict:
        return cmrc_metrics([self.scoring_gold(example) for example in examples], predictions)

    def summable(self, metric: str):
        from cnbench.stats import SummableMetric

        column = {"em": 0, "f1": 1}.get(metric)
        return None if column is None else SummableMetric(metric, _answer_statistics, _mean_of(column))

    # -- authoring --------------------------------------------------------------------------------------
    def length(self, example: SpanExample) -> int:
        return len(example.context)

    def length_title(self) -> str:
        return "context length in characters"

    def room(self, max_len: int) -> int:
        return max_len - self.hparams["max_question"] - 3

    def beyond_room(self) -> str:
        return f"windowed, stride {self.hparams['doc_stride']}"

    def room_explanation(self, max_len: int) -> str:
        return (
            f"max_len {max_len} word pieces less [CLS], two [SEP] and a question of up to "
            f"{self.hparams['max_question']} pieces, one piece per Chinese character"
        )

    def label_names(self, task) -> list[str]:
        return []

    def split_table(self, task, splits, percentiles, ranks):
        rows = []
        room, stride = self.room(task.defaults.max_len), self.hparams["doc_stride"]
        for split, examples in splits.items():
            answers = [answer for example in examples for answer in example.answers]
            free_form = sum(answer.start < 0 for answer in answers)
            untrainable = sum(not trainable(example) for example in examples)
            questions = [len(example.question) for example in examples]
            answer_lengths = [len(example.answers[0].text) for example in examples]
            # Pieces ~ characters for Chinese text: the window count a max_len run will make, near enough.
            windows = [1 + max(0, -(-(len(example.context) - room) // stride)) for example in examples]
            rows.append(
                (
                    split,
                    str(len(examples)),
                    str(len(answers)),
                    str(free_form),
                    str(untrainable),
                    "/".join(map(str, percentiles(questions))),
                    "/".join(map(str, percentiles(answer_lengths))),
                    str(max(answer_lengths)),
                    f"{sum(windows) / len(windows):.2f}",
                    str(max(windows)),
                )
            )
        spread = "/".join(f"p{rank}" for rank in ranks)
        header = (
            "split",
            "questions",
            "answers",
            "free-form answers (start -1)",
            "questions without a located answer",
            f"question chars {spread}",
            f"first answer chars {spread}",
            "longest first answer",
            "windows per question (≈)",
            "most windows",
        )
        return "questions and answers", header, rows


SPAN = Span()
