"""Character tagging (NER): one BIO tag per character.

Examples are ``TaggedSentence``. Labels live on characters: each character is tokenised on its own
(a character the tokenizer drops becomes ``[UNK]``, so none vanishes; a sentencepiece word-start
marker is dropped, see ``CharPieces``) and its *first* word piece carries its label. A sentence
longer than ``max_len - 2`` pieces is cut into windows of that size overlapping by half; each
character is scored in exactly one window, the one where it has the most context on both sides.
Every gold character is therefore predicted and scored: nothing is truncated.

The main metric ``f1`` is seqeval's *strict* IOB2 micro F1: an entity counts only when it is well
formed (starts with ``B-``) and matches the gold span and type exactly. ``f1_lenient`` is seqeval's
default mode, in which an ``I-X`` after ``O`` still opens an entity: it counts entities exactly as
the CoNLL ``conlleval`` script does (``tests/test_conlleval.py``), so it is the F1 that published
Chinese NER scores use; the two differ only on ill-formed predictions, and the gap shows how often
a model makes them.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from typing import cast

import numpy as np

from cnbench.data.bio import repair_bio
from cnbench.data.examples import TaggedSentence
from cnbench.data.hub_rows import ContentRows, label_namer
from cnbench.data.readers import bio_checked, read_conll, read_jsonl_tagged, read_spans, short_repr
from cnbench.errors import CnbenchError, DataError
from cnbench.features import IGNORE_INDEX, Features, offsets_of
from cnbench.kinds import Kind

# A tagging label as seqeval's strict IOB2 scores it: outside, or the beginning or inside of an entity type.
_BIO_TAG = re.compile(r"O|[BI]-(.+)")
WORD_START = "\u2581"  # "▁": the marker sentencepiece vocabularies (XLM-R) put on a word's first piece


class CharPieces:
    """Character -> word-piece ids, cached (a corpus has a few thousand distinct characters).

    A character is given the pieces it has inside running text. A sentencepiece tokenizer treats a
    lone character as a new word and puts its word-start marker in front: ``▁`` as a piece of its
    own (``['▁', '中']``) or glued on (``['▁中']``). Unspaced Chinese has no such marker between
    characters, and a bare ``▁`` would carry the character's label, so the marker is dropped (the
    glued form is replaced by the unmarked piece when the vocabulary has it). WordPiece
    vocabularies never produce the marker, so BERT-family pieces are untouched.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.vocab = tokenizer.get_vocab()
        self.cache: dict[str, list[int]] = {}

    def __call__(self, char: str) -> list[int]:
        ids = self.cache.get(char)
        if ids is None:
            ids = self.tokenizer.convert_tokens_to_ids(self._unmarked(self.tokenizer.tokenize(char)))
            ids = ids or [self.tokenizer.unk_token_id]
            self.cache[char] = ids
        return ids

    def _unmarked(self, pieces: list[str]) -> list[str]:
        if len(pieces) > 1 and pieces[0] == WORD_START:
            return pieces[1:]
        if pieces and len(pieces[0]) > 1 and pieces[0].startswith(WORD_START) and pieces[0][1:] in self.vocab:
            return [pieces[0][1:], *pieces[1:]]
        return pieces


def plan_windows(first_piece: list[int], n_pieces: int, width: int) -> list[tuple[int, int, list[int]]]:
    """Cover ``n_pieces`` tokens with windows of ``width``, overlapping by half.

    Returns ``(start, end, chars)`` per window, where ``chars`` are the indices of the characters
    (by ``first_piece`` position) scored in that window; windows that score nothing are dropped.
    Each character is scored in the window that gives it the most context on its shorter side (the
    earliest such window on a tie). Linear in the sentence length: only the two or three windows
    that contain a position are looked at, so a corpus read as one long sentence does not stall.
    """
    if n_pieces <= width:
        return [(0, n_pieces, list(range(len(first_piece))))]
    stride = max(1, width // 2)
    starts = list(range(0, n_pieces - width, stride)) + [n_pieces - width]
    windows: list[tuple[int, int, list[int]]] = [(start, start + width, []) for start in starts]
    last_strided = len(starts) - 2  # the final window is placed at the end, off the stride
    for char_index, position in enumerate(first_piece):
        # The strided windows that contain the position: those starting in (position - width, position].
        lowest = max(0, (position - width) // stride + 1)
        containing = windows[lowest : min(position // stride, last_strided) + 1]
        if position >= starts[-1]:
            containing.append(windows[-1])
        best = max(containing, key=lambda window: min(position - window[0], window[1] - 1 - position))
        best[2].append(char_index)
    return [window for window in windows if window[2]]


def encode_tagging(
    sentences: list[TaggedSentence],
    tokenizer,
    labels: tuple[str, ...],
    max_len: int,
    boundary_tags=None,
) -> Features:
    """``boundary_tags(chars) -> list[int]`` adds per-character word-boundary ids when given."""
    if max_len < 3:
        raise CnbenchError(f"max_len {max_len}: expected at least 3, room for [CLS], [SEP] and one token")
    label_id = {name: i for i, name in enumerate(labels)}
    pieces_of = CharPieces(tokenizer)
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    input_ids, token_labels, boundary_ids, lengths = array("i"), array("i"), array("b"), array("q")
    example_index, scored, scored_counts = array("i"), array("i"), array("q")
    for sentence_index, sentence in enumerate(sentences):
        tokens: list[int] = []
        first_piece: list[int] = []
        token_boundary: list[int] = []
        char_boundary = boundary_tags(list(sentence.chars)) if boundary_tags is not None else None
        for char_index, char in enumerate(sentence.chars):
            pieces = pieces_of(char)
            first_piece.append(len(tokens))
            tokens.extend(pieces)
            if char_boundary is not None:
                token_boundary.extend([char_boundary[char_index]] * len(pieces))
        for start, end, chars in plan_windows(first_piece, len(tokens), max_len - 2):
            window_labels = [IGNORE_INDEX] * (end - start + 2)
            for char_index in chars:
                position = first_piece[char_index] - start + 1  # +1 for [CLS]
                window_labels[position] = label_id[sentence.tags[char_index]]
                scored.extend((position, char_index))
            input_ids.append(cls_id)
            input_ids.extend(tokens[start:end])
            input_ids.append(sep_id)
            token_labels.extend(window_labels)
            lengths.append(end - start + 2)
            example_index.append(sentence_index)
            scored_counts.append(len(chars))
            if char_boundary is not None:
                boundary_ids.append(0)
                boundary_ids.extend(token_boundary[start:end])
                boundary_ids.append(0)
    offsets = offsets_of(lengths)
    return Features(
        offsets=offsets,
        input_ids=np.frombuffer(input_ids, dtype=np.int32),
        token_type_ids=np.zeros(offsets[-1], dtype=np.int8),
        labels=np.frombuffer(token_labels, dtype=np.int32),
        example_index=np.frombuffer(example_index, dtype=np.int32),
        scored_offsets=offsets_of(scored_counts),
        scored=np.frombuffer(scored, dtype=np.int32).reshape(-1, 2),
        boundary_ids=np.frombuffer(boundary_ids, dtype=np.int8) if boundary_tags is not None else None,
    )


def tagging_metrics(gold: list[list[str]], predicted: list[list[str]]) -> dict:
    from seqeval.metrics import classification_report, f1_score
    from seqeval.scheme import IOB2

    if len(gold) != len(predicted) or any(len(g) != len(p) for g, p in zip(gold, predicted, strict=True)):
        raise ValueError("every gold sentence needs a prediction of the same length")
    strict = dict(mode="strict", scheme=IOB2, zero_division=0)
    report = classification_report(gold, predicted, output_dict=True, **strict)
    per_type = {
        name: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for name, row in sorted(report.items())
        if " avg" not in name
    }
    micro = report["micro avg"]  # the strict micro scores over all entity types
    return {
        "f1": float(micro["f1-score"]),
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1_lenient": float(f1_score(gold, predicted, zero_division=0)),
        "per_type": per_type,
        "n": len(gold),
        "n_chars": sum(len(g) for g in gold),
    }


def check_bio_labels(where: str, labels: tuple[str, ...]) -> None:
    """Tagging labels are scored as strict IOB2 (seqeval), so each must be ``O``, ``B-X`` or ``I-X``,
    and a type with one prefix needs the other: ``repair_bio`` turns ``I-X`` into ``B-X``."""
    types: dict[str, set[str]] = {}
    for label in labels:
        match = _BIO_TAG.fullmatch(label)
        if match is None:
            raise CnbenchError(
                f"{where}: label {label!r} is not BIO; expected 'O', 'B-<type>' or 'I-<type>' "
                "(strict IOB2: convert BIOES/BMES or IO tags to BIO)"
            )
        if match.group(1) is not None:
            types.setdefault(match.group(1), set()).add(label[0])
    for name, prefixes in sorted(types.items()):
        if prefixes != {"B", "I"}:
            [present] = prefixes
            absent = "I" if present == "B" else "B"
            raise CnbenchError(
                f"{where}: labels have {present}-{name} but no {absent}-{name}; expected both for every entity type"
            )


def encode_tags(tags: list[str]) -> str:
    """One sentence's predicted tags as stored in a result file: joined by single spaces (a list
    per sentence would put every tag on its own line: megabytes per NER result)."""
    return " ".join(tags)


class Tagging(Kind):
    name = "tagging"
    head_kind = "tagging"
    metrics = ("f1", "f1_lenient", "precision", "recall")
    side_metrics = (("f1_lenient", "conlleval F1"),)
    metric_names = {"f1": "strict F1"}
    hub_fields = ("chars", "tags")
    file_extensions = {"conll": "txt", "jsonl": "jsonl", "spans": "json"}
    starting_labels = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
    starting_defaults = (256, 3e-5)
    words = "character tagging, BIO"
    labels_help = 'every BIO tag, O first; a "spans" entity type X needs B-X and I-X'
    metric_help = 'strict entity F1 ("f1")'
    example_class = "TaggedSentence"
    hub_columns_example = {"chars": "tokens", "tags": "ner_tags"}
    template_lines = """
    # Read an I-X that starts an entity as B-X (counted in the result) instead of failing.
    repair_bio=False,"""

    def __init__(self):
        self.formats = {
            "conll": lambda local, path, task: read_conll(path, task.labels, task.repair_bio),
            "jsonl": lambda local, path, task: read_jsonl_tagged(
                path, task.labels, {**self.field_defaults("jsonl"), **local.fields}, task.repair_bio
            ),
            "spans": lambda local, path, task: read_spans(
                path, task.labels, {**self.field_defaults("spans"), **local.fields}
            ),
        }

    def check_task(self, task, where: str) -> None:
        check_bio_labels(where, task.labels)

    def field_defaults(self, format: str) -> dict[str, str]:
        if format == "spans":
            return {"text": "text", "spans": "label"}
        if format == "conll":
            return {}
        return {"chars": "chars", "tags": "tags"}

    def check_example(self, example, task, where: str, report, path):
        chars, tags = getattr(example, "chars", None), getattr(example, "tags", None)
        if not (
            isinstance(example, TaggedSentence)
            and isinstance(chars, (tuple, list, str))
            and isinstance(tags, (tuple, list))
            and 0 < len(chars) == len(tags)
            and all(isinstance(char, str) and len(char) == 1 for char in chars)
            and all(isinstance(tag, str) for tag in tags)
        ):
            raise DataError(
                path,
                None,
                f"{where} is {short_repr(example)}; expected a TaggedSentence with one tag string per single character",
            )
        unknown = sorted(set(tags) - set(task.labels))
        if unknown:
            raise DataError(path, None, f"{where}: tags {unknown} are not among {sorted(task.labels)}")
        fixed = bio_checked(tags, task.repair_bio, report, path, lambda i: (None, f" in {where} at character {i}"))
        return TaggedSentence(tuple(chars), fixed)

    def from_hub(self, task, dataset, where: str) -> tuple[list, int, list[str]]:
        columns = task.hub.columns
        name_of = label_namer(task, dataset, columns["tags"], where)
        rows = ContentRows(dataset, columns)
        examples, repairs = [], []
        for number, row in rows:
            here = f"{where} row {number}"
            chars = tuple(row[columns["chars"]])
            tags = [name_of(tag, here) for tag in row[columns["tags"]]]
            if len(chars) != len(tags) or not chars:
                raise DataError(here, None, f"{len(chars)} characters but {len(tags)} tags")
            if any(len(char) != 1 for char in chars):
                raise DataError(here, None, "a token longer than one character; expected one character per token")
            tags, repaired = repair_bio(tags)
            if repaired and not task.repair_bio:
                position, original, context = repaired[0]
                raise DataError(here, None, f"tag {position} {original!r} after {context} is ill-formed BIO")
            repairs += [
                f"{here}: {original} at {position} after {context} read as B-{original[2:]}"
                for position, original, context in repaired
            ]
            examples.append(TaggedSentence(chars, tuple(tags)))
        return examples, rows.dropped, repairs

    repairs_key = "bio_repairs"

    def repair_note(self, count: int) -> str:
        return f"{count} I- tags starting an entity read as B-"

    def gold_line(self, example: TaggedSentence) -> str:
        return " ".join(example.tags)

    def scoring_gold(self, example: TaggedSentence) -> list[str]:
        return list(example.tags)

    def text_of(self, example: TaggedSentence):
        return example.chars

    # -- features and predictions -------------------------------------------------------------------
    def encode(self, task, examples, tokenizer, hp, word_boundaries) -> Features:
        boundary_tags = None
        if word_boundaries:
            from cnbench.models.char_embed import jieba_boundary_tags

            boundary_tags = jieba_boundary_tags
        return encode_tagging(examples, tokenizer, task.labels, hp["max_len"], boundary_tags)

    def loss_terms(self, features) -> list[int]:
        return features.scored.lengths().tolist()  # one term per scored character

    def batch_labels(self, features, rows, padded) -> dict:
        labels = padded(features.labels, IGNORE_INDEX)
        batch = {"labels": labels, "score_mask": labels != IGNORE_INDEX}
        if features.boundary_ids is not None:
            batch["boundary_ids"] = padded(features.boundary_ids, 0)
        return batch

    def predict(self, task, examples, features, per_sequence, hp) -> list[list[str]]:
        tags: list[list[str | None]] = [[None] * len(sentence.chars) for sentence in examples]
        for index, row in enumerate(per_sequence):
            sentence_tags = tags[features.example_index[index]]
            for position, char_index in features.scored[index].tolist():
                sentence_tags[char_index] = task.labels[row[position]]
        missing = sum(tag is None for sentence in tags for tag in sentence)
        if missing:  # windowing assigns every character to a window; this guards that promise
            raise RuntimeError(f"{missing} characters were not predicted")
        return cast(list[list[str]], tags)  # every None was replaced, as checked just above

    def score(self, task, examples, predictions) -> dict:
        return tagging_metrics([list(sentence.tags) for sentence in examples], predictions)

    def stored(self, prediction: list[str]) -> str:
        return encode_tags(prediction)

    def read_stored(self, value: str) -> list[str]:
        return value.split(" ")

    def summable(self, metric: str):
        from cnbench.stats import entity_f1

        return entity_f1 if metric == "f1" else None

    # -- authoring --------------------------------------------------------------------------------------
    def length(self, example: TaggedSentence) -> int:
        return len(example.chars)

    def beyond_room(self) -> str:
        return "windowed, not cut"

    def label_counts(self, task, examples) -> Counter:
        # entities, counted by their B- tags, are what the F1 is over
        return Counter(tag[2:] for sentence in examples for tag in sentence.tags if tag.startswith("B-"))

    def label_title(self) -> tuple[str, str]:
        return "entities by type", "type"

    def label_names(self, task) -> list[str]:
        return sorted({tag[2:] for tag in task.labels if tag.startswith("B-")})

    def labels_used(self, examples) -> set[str]:
        return {tag for sentence in examples for tag in sentence.tags}


TAGGING = Tagging()
