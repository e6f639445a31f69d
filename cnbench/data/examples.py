"""The kinds of example every task reduces to (one per task kind: ``cnbench.kinds``)."""

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


@dataclass(frozen=True)
class Answer:
    """A gold answer: its text and the character offset where it starts in the context.
    ``start`` is -1 for a free-form answer that does not occur in the context (CMRC 2018 dev has
    193): scored like any other answer, never trained on."""

    text: str
    start: int


@dataclass(frozen=True)
class SpanExample:
    """An extractive question: answer it with a span of ``context``. ``answers`` holds every gold
    answer (scoring takes the best match over them); training uses the first one that is found in
    the context."""

    id: str
    context: str
    question: str
    answers: tuple[Answer, ...]
