"""Sentence classification: one text (``single``) or a sentence pair (``pair``) -> one label.

Examples are ``TextExample``. Encoding is the tokenizer's own (pair) encoding, truncated to
``max_len`` pieces (longest first); how many examples lost pieces is counted and recorded. Scores:
accuracy, and macro-F1 over the labels that occur in the gold or the predictions (scikit-learn's
``f1_score(average="macro")``): a label absent from both, as on a small ``--limit`` subset, has no
F1 to average rather than an F1 of 0.
"""

from __future__ import annotations

from array import array
from collections import Counter
from itertools import chain

import numpy as np

from cnbench.data.examples import TextExample
from cnbench.data.hub_rows import ContentRows, label_namer
from cnbench.data.readers import is_text, read_jsonl_texts, read_tsv, short_repr
from cnbench.errors import DataError
from cnbench.features import Features, offsets_of
from cnbench.kinds import Kind

TEXT_CHUNK = 10_000  # examples per tokenizer call: the tokenizer's Python lists never exceed one chunk


def encode_text(examples: list[TextExample], tokenizer, labels: tuple[str, ...], max_len: int) -> Features:
    label_id = {name: i for i, name in enumerate(labels)}
    pairs = bool(examples) and examples[0].text_b is not None
    input_ids, token_type_ids, lengths = array("i"), array("b"), array("q")
    for begin in range(0, len(examples), TEXT_CHUNK):
        chunk = examples[begin : begin + TEXT_CHUNK]
        encoded = tokenizer(
            [ex.text_a for ex in chunk],
            [ex.text_b for ex in chunk] if pairs else None,
            truncation=True,
            max_length=max_len,
            return_token_type_ids=True,
        )
        input_ids.extend(chain.from_iterable(encoded["input_ids"]))
        token_type_ids.extend(chain.from_iterable(encoded["token_type_ids"]))
        lengths.extend(len(ids) for ids in encoded["input_ids"])
    return Features(
        offsets=offsets_of(lengths),
        input_ids=np.frombuffer(input_ids, dtype=np.int32),
        token_type_ids=np.frombuffer(token_type_ids, dtype=np.int8),
        labels=np.fromiter((label_id[ex.label] for ex in examples), dtype=np.int32, count=len(examples)),
    )


def count_truncated(examples: list[TextExample], features: Features, tokenizer, max_len: int) -> int:
    """How many of ``examples`` (encoded as ``features`` by ``encode_text``) lost pieces to
    ``max_len``: only those encoded at full length can have, so only they are encoded again whole."""
    at_limit = np.flatnonzero(np.diff(features.offsets) == max_len).tolist()
    if not at_limit:
        return 0
    chunk = [examples[i] for i in at_limit]
    pairs = chunk[0].text_b is not None
    whole = tokenizer(
        [ex.text_a for ex in chunk], [ex.text_b for ex in chunk] if pairs else None, truncation=False, verbose=False
    )["input_ids"]
    return sum(len(ids) > max_len for ids in whole)


def classification_metrics(gold: list[str], predicted: list[str], labels: tuple[str, ...]) -> dict:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    occurring = set(gold) | set(predicted)
    f1s = []
    for label in (label for label in labels if label in occurring):
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": correct / len(gold), "macro_f1": sum(f1s) / len(f1s), "n": len(gold)}


class Classification(Kind):
    head_kind = "classification"
    metrics = ("accuracy", "macro_f1")
    pooled_heads = ("linear",)  # as BERT's fine-tuning reads the pooler, so scores compare with published ones
    file_extensions = {"tsv": "tsv", "jsonl": "jsonl"}
    starting_labels = ("0", "1")

    def __init__(self, name: str, texts: tuple[str, ...]):
        self.name = name
        self.texts = texts  # the text fields an example has: text_a, or text_a and text_b
        self.hub_fields = (*texts, "label")
        self.starting_defaults = (128, 2e-5) if len(texts) == 2 else (256, 2e-5)
        self.words = "sentence pair, N classes" if len(texts) == 2 else "one text, N classes"
        self.hub_columns_example = self.field_defaults("jsonl")
        self.formats = {
            "tsv": lambda local, path, task: read_tsv(
                path, local.columns, task.labels, local.fields or None, local.header, task.no_label
            ),
            "jsonl": lambda local, path, task: read_jsonl_texts(
                path, self.texts, task.labels, {**self.field_defaults("jsonl"), **local.fields}, task.no_label
            ),
        }

    @property
    def pair(self) -> bool:
        return len(self.texts) == 2

    def field_defaults(self, format: str) -> dict[str, str]:
        return {name: name for name in self.hub_fields}

    def check_example(self, example, task, where: str, report, path):
        if not (
            isinstance(example, TextExample)
            and is_text(example.text_a)
            and isinstance(example.label, str)
            and (is_text(example.text_b) if self.pair else example.text_b is None)
        ):
            shape = (
                "TextExample(text_a, text_b, label) with two non-empty texts"
                if self.pair
                else "TextExample(text_a, None, label) with a non-empty text"
            )
            raise DataError(path, None, f"{where} is {short_repr(example)}; expected a {shape}")
        if example.label not in task.labels:
            raise DataError(path, None, f"{where}: label {example.label!r} is not one of {sorted(task.labels)}")
        return example

    def from_hub(self, task, dataset, where: str) -> tuple[list, int, list[str]]:
        columns = task.hub.columns
        name_of = label_namer(task, dataset, columns["label"], where)
        rows = ContentRows(dataset, columns)
        examples = []
        for number, row in rows:
            here = f"{where} row {number}"
            texts = [row[columns[name]] for name in self.texts]
            for name, text in zip(self.texts, texts, strict=True):
                if not is_text(text):
                    raise DataError(here, None, f"{columns[name]!r} is {short_repr(text)}; expected non-empty text")
            examples.append(
                TextExample(texts[0], texts[1] if self.pair else None, name_of(row[columns["label"]], here))
            )
        return examples, rows.dropped, []

    def gold_line(self, example: TextExample) -> str:
        return example.label

    def scoring_gold(self, example: TextExample) -> str:
        return example.label

    def text_of(self, example: TextExample):
        return example.text_a, example.text_b

    # -- features and predictions -------------------------------------------------------------------
    def encode(self, task, examples, tokenizer, hp, word_boundaries) -> Features:
        return encode_text(examples, tokenizer, task.labels, hp["max_len"])

    def feature_notes(self, split, examples, features, tokenizer, hp) -> list[str]:
        cut = count_truncated(examples, features, tokenizer, hp["max_len"])
        if not cut:
            return []
        return [f"{split}: {cut} of {len(examples)} examples longer than max_len {hp['max_len']} pieces, truncated"]

    def batch_labels(self, features, rows, padded) -> dict:
        import torch

        return {"labels": torch.from_numpy(features.labels[rows].astype(np.int64))}

    def predict(self, task, examples, features, per_sequence, hp) -> list[str]:
        return [task.labels[label] for label in per_sequence]

    def score(self, task, examples, predictions) -> dict:
        return classification_metrics([ex.label for ex in examples], predictions, task.labels)

    def summable(self, metric: str):
        from cnbench.stats import accuracy

        return accuracy if metric == "accuracy" else None

    # -- authoring --------------------------------------------------------------------------------------
    def length(self, example: TextExample) -> int:
        return len(example.text_a) + len(example.text_b or "")

    def length_title(self) -> str:
        return "length in characters" + (" (text_a + text_b)" if self.pair else "")

    def room(self, max_len: int) -> int:
        return max_len - (3 if self.pair else 2)  # [CLS] and one [SEP] per text

    def room_explanation(self, max_len: int) -> str:
        separators = "two [SEP]" if self.pair else "[SEP]"
        return f"max_len {max_len} word pieces less [CLS] and {separators}, one piece per Chinese character"

    def label_counts(self, task, examples) -> Counter:
        return Counter(example.label for example in examples)

    def labels_used(self, examples) -> set[str]:
        return {example.label for example in examples}


SINGLE = Classification("single", ("text_a",))
PAIR = Classification("pair", ("text_a", "text_b"))
