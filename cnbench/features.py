"""Encoder inputs, as every kind stores them: token ids, labels, and what maps sequences back to
examples. How examples become these is the kind's (``cnbench.kinds``: ``encode``)."""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = -100  # label id of positions that are not scored (torch cross_entropy default)


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
      its ``(token position, char index)`` rows, one per character scored in that window;
    - span (extractive QA) only, told apart by ``is_span``: ``labels`` is ``[n, 2]``, the answer's
      start and end token positions in each window (both 0, the [CLS] position, where the window
      does not hold the whole answer); ``example_index[i]``, the question of window ``i``; and
      ``char_spans``, ``Ragged`` per token over the token offsets, ``[tokens, 2]`` rows of
      ``(start, end)`` character offsets in the context (end exclusive), ``(-1, -1)`` for tokens
      that are not context ([CLS], the question, [SEP]).

    ``arrays()`` and ``from_arrays()`` convert to and from named flat arrays (the cache's files);
    ``from_arrays`` raises ``ValueError`` when the arrays do not fit together.
    """

    def __init__(
        self,
        offsets,
        input_ids,
        token_type_ids,
        labels,
        example_index=None,
        scored_offsets=None,
        scored=None,
        boundary_ids=None,
        char_spans=None,
    ):
        self.offsets = offsets
        self.input_ids = Ragged(input_ids, offsets)
        self.token_type_ids = Ragged(token_type_ids, offsets)
        self.is_tagging = scored is not None
        self.labels = Ragged(labels, offsets) if self.is_tagging else labels
        self.example_index = example_index
        self.scored = Ragged(scored, scored_offsets) if self.is_tagging else None
        self.boundary_ids = Ragged(boundary_ids, offsets) if boundary_ids is not None else None
        self.is_span = char_spans is not None
        self.char_spans = Ragged(char_spans, offsets) if self.is_span else None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> list[int]:
        return self.input_ids.lengths().tolist()

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "offsets": self.offsets,
            "input_ids": self.input_ids.values,
            "token_type_ids": self.token_type_ids.values,
            "labels": self.labels.values if self.is_tagging else self.labels,
        }
        if self.scored is not None:  # tagging features
            arrays.update(
                example_index=self.example_index, scored_offsets=self.scored.offsets, scored=self.scored.values
            )
        if self.boundary_ids is not None:
            arrays["boundary_ids"] = self.boundary_ids.values
        if self.char_spans is not None:  # span features
            arrays.update(example_index=self.example_index, char_spans=self.char_spans.values)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Features:
        offsets, tokens = arrays["offsets"], len(arrays["input_ids"])
        count = len(offsets) - 1
        if count < 0 or offsets[0] != 0 or offsets[-1] != tokens or np.any(np.diff(offsets) < 0):
            raise ValueError("token offsets do not cover the token arrays")
        tagging = "scored" in arrays
        sizes = {
            "token_type_ids": tokens,
            "labels": tokens if tagging else count,
            "boundary_ids": tokens,
            "example_index": count,
            "scored_offsets": count + 1,
            "char_spans": tokens,
        }
        for name, size in sizes.items():
            if name in arrays and len(arrays[name]) != size:
                raise ValueError(f"{name} has {len(arrays[name])} entries, expected {size}")
        if tagging and arrays["scored_offsets"][-1] != len(arrays["scored"]):
            raise ValueError("scored offsets do not cover the scored positions")
        if "char_spans" in arrays:
            if "example_index" not in arrays:
                raise ValueError("span features have no example_index")
            if arrays["labels"].shape != (count, 2) or arrays["char_spans"].shape != (tokens, 2):
                raise ValueError("span labels must be [sequences, 2] and char_spans [tokens, 2]")
        return cls(**arrays)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Features):
            return NotImplemented
        mine, theirs = self.arrays(), other.arrays()
        return mine.keys() == theirs.keys() and all(np.array_equal(mine[name], theirs[name]) for name in mine)


def offsets_of(lengths) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    return offsets
