"""The two kinds of example every task reduces to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TextExample:
    """A single sentence (``text_b`` is None) or a sentence pair, with a label name."""

    text_a: str
    text_b: str | None
    label: str


@dataclass(frozen=True)
class TaggedSentence:
    """Characters with one BIO tag each (``len(chars) == len(tags)``)."""

    chars: tuple[str, ...]
    tags: tuple[str, ...]
