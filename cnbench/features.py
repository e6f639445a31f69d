"""Examples -> encoder inputs: token ids, labels, and (for tagging) which positions are scored.

Sentence tasks: the tokenizer's own pair encoding, truncated to ``max_len`` (longest first).

Tagging tasks: labels live on characters. Each character is tokenised on its own (a character the
tokenizer drops becomes ``[UNK]``, so none vanishes; a sentencepiece word-start marker is dropped,
see ``CharPieces``) and its *first* word piece carries its label.
A sentence longer than ``max_len - 2`` pieces is cut into windows of that size overlapping by half;
each character is scored in exactly one window, the one where it has the most context on both
sides. Every gold character is therefore predicted and scored: nothing is truncated.
"""

from __future__ import annotations

from array import array
from itertools import chain

import numpy as np

from cnbench.data.examples import TaggedSentence, TextExample
from cnbench.errors import CnbenchError

IGNORE_INDEX = -100  # label id of positions that are not scored (torch cross_entropy default)
TEXT_CHUNK = 10_000  # examples per tokenizer call: the tokenizer's Python lists never exceed one chunk


class Ragged:
    """Rows of different lengths kept as one flat array plus offsets: row ``i`` is
    ``values[offsets[i]:offsets[i + 1]]``, a view (no copy), so a row of a memory-mapped array is
    read from the file when used."""

    def __init__(self, values: np.ndarray, offsets: np.ndarray):
        self.values = values
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> np.ndarray:
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def __iter__(self):
        return (self[index] for index in range(len(self)))

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


class Features:
    """The encoder inputs of one split: one entry per sequence fed to the encoder (a tagging
    sentence may give several windows), every field a flat numpy array, so memory is a few bytes
    per token whatever the number of sequences.

    - ``input_ids``, ``token_type_ids`` (and ``boundary_ids``: word-boundary ids for encoders that
      use them) are ``Ragged`` over the same token offsets;
    - ``labels``: classification, one label id per sequence (an array); tagging, ``Ragged`` per
      token, ``IGNORE_INDEX`` where not scored;
    - tagging only: ``example_index[i]``, the source sentence of window ``i``, and ``scored[i]``,
      its ``(token position, char index)`` rows, one per character scored in that window.

    ``arrays()`` and ``from_arrays()`` convert to and from named flat arrays (the cache's files);
    ``from_arrays`` raises ``ValueError`` when the arrays do not fit together.
    """

    def __init__(self, offsets, input_ids, token_type_ids, labels, example_index=None, scored_offsets=None,
                 scored=None, boundary_ids=None):
        self.offsets = offsets
        self.input_ids = Ragged(input_ids, offsets)
        self.token_type_ids = Ragged(token_type_ids, offsets)
        self.is_tagging = scored is not None
        self.labels = Ragged(labels, offsets) if self.is_tagging else labels
        self.example_index = example_index
        self.scored = Ragged(scored, scored_offsets) if self.is_tagging else None
        self.boundary_ids = Ragged(boundary_ids, offsets) if boundary_ids is not None else None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> list[int]:
        return self.input_ids.lengths().tolist()

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {"offsets": self.offsets, "input_ids": self.input_ids.values,
                  "token_type_ids": self.token_type_ids.values,
                  "labels": self.labels.values if self.is_tagging else self.labels}
        if self.is_tagging:
            arrays.update(example_index=self.example_index, scored_offsets=self.scored.offsets,
                          scored=self.scored.values)
        if self.boundary_ids is not None:
            arrays["boundary_ids"] = self.boundary_ids.values
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Features:
        offsets, tokens = arrays["offsets"], len(arrays["input_ids"])
        count = len(offsets) - 1
        if count < 0 or offsets[0] != 0 or offsets[-1] != tokens or np.any(np.diff(offsets) < 0):
            raise ValueError("token offsets do not cover the token arrays")
        tagging = "scored" in arrays
        sizes = {"token_type_ids": tokens, "labels": tokens if tagging else count,
                 "boundary_ids": tokens, "example_index": count, "scored_offsets": count + 1}
        for name, size in sizes.items():
            if name in arrays and len(arrays[name]) != size:
                raise ValueError(f"{name} has {len(arrays[name])} entries, expected {size}")
        if tagging and arrays["scored_offsets"][-1] != len(arrays["scored"]):
            raise ValueError("scored offsets do not cover the scored positions")
        return cls(**arrays)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Features):
            return NotImplemented
        mine, theirs = self.arrays(), other.arrays()
        return mine.keys() == theirs.keys() and all(np.array_equal(mine[name], theirs[name]) for name in mine)


def _offsets(lengths) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    return offsets


def encode_text(examples: list[TextExample], tokenizer, labels: tuple[str, ...], max_len: int) -> Features:
    label_id = {name: i for i, name in enumerate(labels)}
    pairs = bool(examples) and examples[0].text_b is not None
    input_ids, token_type_ids, lengths = array("i"), array("b"), array("q")
    for begin in range(0, len(examples), TEXT_CHUNK):
        chunk = examples[begin : begin + TEXT_CHUNK]
        encoded = tokenizer([ex.text_a for ex in chunk], [ex.text_b for ex in chunk] if pairs else None,
                            truncation=True, max_length=max_len, return_token_type_ids=True)
        input_ids.extend(chain.from_iterable(encoded["input_ids"]))
        token_type_ids.extend(chain.from_iterable(encoded["token_type_ids"]))
        lengths.extend(len(ids) for ids in encoded["input_ids"])
    return Features(
        offsets=_offsets(lengths),
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
    whole = tokenizer([ex.text_a for ex in chunk], [ex.text_b for ex in chunk] if pairs else None,
                      truncation=False, verbose=False)["input_ids"]
    return sum(len(ids) > max_len for ids in whole)


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
    windows = [(start, start + width, []) for start in starts]
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
    offsets = _offsets(lengths)
    return Features(
        offsets=offsets,
        input_ids=np.frombuffer(input_ids, dtype=np.int32),
        token_type_ids=np.zeros(offsets[-1], dtype=np.int8),
        labels=np.frombuffer(token_labels, dtype=np.int32),
        example_index=np.frombuffer(example_index, dtype=np.int32),
        scored_offsets=_offsets(scored_counts),
        scored=np.frombuffer(scored, dtype=np.int32).reshape(-1, 2),
        boundary_ids=np.frombuffer(boundary_ids, dtype=np.int8) if boundary_tags is not None else None,
    )
