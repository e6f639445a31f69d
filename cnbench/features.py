"""Examples -> encoder inputs: token ids, labels, and (for tagging) which positions are scored.

Sentence tasks: the tokenizer's own pair encoding, truncated to ``max_len`` (longest first).

Tagging tasks: labels live on characters. Each character is tokenised on its own (a character the
tokenizer drops becomes ``[UNK]``, so none vanishes) and its *first* word piece carries its label.
A sentence longer than ``max_len - 2`` pieces is cut into windows of that size overlapping by half;
each character is scored in exactly one window, the one where it has the most context on both
sides. Every gold character is therefore predicted and scored: nothing is truncated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnbench.data.examples import TaggedSentence, TextExample

IGNORE_INDEX = -100  # label id of positions that are not scored (torch cross_entropy default)


@dataclass
class Features:
    """One entry per sequence fed to the encoder (a tagging sentence may give several windows)."""

    input_ids: list[list[int]] = field(default_factory=list)
    token_type_ids: list[list[int]] = field(default_factory=list)
    # classification: one label id per sequence; tagging: one list per sequence, -100 = not scored
    labels: list = field(default_factory=list)
    # tagging only: source sentence of each window, and (token position, char index) per scored char
    example_index: list[int] = field(default_factory=list)
    scored: list[list[tuple[int, int]]] = field(default_factory=list)
    # tagging only, for encoders that use word-boundary features (char-embed + jieba)
    boundary_ids: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def encode_text(examples: list[TextExample], tokenizer, labels: tuple[str, ...], max_len: int) -> Features:
    label_id = {name: i for i, name in enumerate(labels)}
    texts_a = [ex.text_a for ex in examples]
    texts_b = [ex.text_b for ex in examples] if examples and examples[0].text_b is not None else None
    encoded = tokenizer(texts_a, texts_b, truncation=True, max_length=max_len, return_token_type_ids=True)
    return Features(
        input_ids=encoded["input_ids"],
        token_type_ids=encoded["token_type_ids"],
        labels=[label_id[ex.label] for ex in examples],
    )


class CharPieces:
    """Character -> word-piece ids, cached (a corpus has a few thousand distinct characters)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[str, list[int]] = {}

    def __call__(self, char: str) -> list[int]:
        ids = self.cache.get(char)
        if ids is None:
            ids = self.tokenizer.convert_tokens_to_ids(self.tokenizer.tokenize(char))
            ids = ids or [self.tokenizer.unk_token_id]
            self.cache[char] = ids
        return ids


def plan_windows(first_piece: list[int], n_pieces: int, width: int) -> list[tuple[int, int, list[int]]]:
    """Cover ``n_pieces`` tokens with windows of ``width``, overlapping by half.

    Returns ``(start, end, chars)`` per window, where ``chars`` are the indices of the characters
    (by ``first_piece`` position) scored in that window; windows that score nothing are dropped.
    """
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


def encode_tagging(
    sentences: list[TaggedSentence],
    tokenizer,
    labels: tuple[str, ...],
    max_len: int,
    boundary_tags=None,
) -> Features:
    """``boundary_tags(chars) -> list[int]`` adds per-character word-boundary ids when given."""
    if max_len < 3:
        raise ValueError("max_len must leave room for [CLS], [SEP] and one token")
    label_id = {name: i for i, name in enumerate(labels)}
    pieces_of = CharPieces(tokenizer)
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    features = Features(boundary_ids=[] if boundary_tags is not None else None)
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
            scored = []
            for char_index in chars:
                position = first_piece[char_index] - start + 1  # +1 for [CLS]
                window_labels[position] = label_id[sentence.tags[char_index]]
                scored.append((position, char_index))
            features.input_ids.append([cls_id] + tokens[start:end] + [sep_id])
            features.token_type_ids.append([0] * (end - start + 2))
            features.labels.append(window_labels)
            features.example_index.append(sentence_index)
            features.scored.append(scored)
            if features.boundary_ids is not None:
                features.boundary_ids.append([0] + token_boundary[start:end] + [0])
    return features
