"""Extractive reading comprehension data (the ``span`` task kind): three sources, one checked result.

Formats:

- **SQuAD-v1 JSON** (``read_squad``), as CMRC 2018 and DRCD publish their files: one document
  ``{"version", "data": [{"title", "id", "paragraphs": [{"id", "context", "qas": [{"id",
  "question", "answers": [{"text", "answer_start"}, ...]}]}]}]}``. DRCD's answers also carry an
  ``id`` ("1" for the question writer's answer, "2" for a second annotator's) and its version is
  "1.3" where CMRC's is "v1.0"; titles, article and paragraph ids, answer ids and the version are
  not read. Errors name the file and the place in the document, e.g.
  ``dev.json: data[3].paragraphs[0].qas[2]: no "id"; ...`` (or the line, for text that is not JSON).
- **JSON lines** (``read_span_jsonl``): one question per line, keys ``id``, ``context``,
  ``question``, ``answers`` (renamed through ``fields``). ``answers`` is a list of
  ``{"text", "answer_start"}`` or, as the Hub stores it, ``{"text": [...], "answer_start": [...]}``.
  Errors name ``file:line``.
- **Hub rows** (``span_examples_from_rows``): rows of a ``datasets`` split such as ``hfl/cmrc2018``
  or ``clue/clue`` (config ``drcd``), whose feature ``answers: Sequence({text, answer_start})``
  arrives as a dict of lists. Errors name ``<where> row <n>``.

Every source gets the same checks: an id and a context that are non-empty text, a question that
is a string (it may be empty: CMRC trial has two, TRIAL_20_QUERY_0 and TRIAL_776_QUERY_4, whose
answers the context alone must give), ids unique (predictions are keyed by id), at least one
answer per question (one without cannot be scored), each answer a non-empty text with an integer
``answer_start`` that is -1 or inside the context. Nothing is dropped: a problem stops the read and
says where it is.

Repair (``align_answers``; both readers apply it and list each change in ``ReadReport.repaired``,
Hub rows get it from their caller). An answer is aligned when ``context[start:start + len(text)]``
is its text. ``answer_start`` -1 marks a free-form answer (193 in CMRC dev, none of them in their
context): kept as it is, scored, never trained on. A misaligned start is moved:

1. past whitespace: the Hub loaders of both repositories ``.strip()`` each answer's text without
   moving its start, which then points at the whitespace the text lost (10 of the 17 misaligned
   CMRC dev answers in the Hub copy, 2 of its 7 in trial, one leading space each);
2. otherwise to the nearest occurrence of the text at most ``NEARBY`` characters away (the
   published files' own errors: CMRC dev has 7 starts 1 or 2 characters right of their text,
   trial 5 starts 1 right; DRCD has none);
3. otherwise to -1: the answer is still scored (scores compare texts) but not trained on, and its
   line says so. A start this far off cannot be trusted to name the right mention of a short text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from cnbench.data.examples import Answer, SpanExample
from cnbench.data.readers import ReadReport, is_text, json_object, read_lines, short_repr
from cnbench.errors import DataError
from cnbench.hashing import file_sha256

# cnbench's fields of a question, each mapped to the key (or Hub column) that holds it by default.
SPAN_FIELDS = {"id": "id", "context": "context", "question": "question", "answers": "answers"}

# How far from a misaligned start its text is looked for. The published errors are 1 or 2
# characters; CLUE's own CMRC preprocessing tries 3 (``repeat_limit``). Much further, a short
# answer's other mentions come into reach ("E23" occurs 7 times in one CMRC dev context), and
# training on another mention than the annotated one teaches the wrong span.
NEARBY = 3

ANSWER_SHAPE = '{"text": "...", "answer_start": <offset>}'
QUESTION_SHAPE = '{"id", "question", "answers": [' + ANSWER_SHAPE + ", ...]}"
SQUAD_SHAPE = '{"data": [{"paragraphs": [{"context", "qas": [' + QUESTION_SHAPE + "]}]}]}"


class _Malformed(Exception):
    """A value's problem, raised where the value is checked and located by the reader that knows
    where the value came from: ``at`` is its place relative to the question (``answers[1]``)."""

    def __init__(self, at: str, message: str):
        super().__init__(message)
        self.at = at
        self.message = message

    def under(self, location: str) -> str:
        """The message placed under ``location`` (a JSON path, or "" when the line says where)."""
        place = ".".join(part for part in (location, self.at) if part)
        return f"{place}: {self.message}" if place else self.message


# -- readers -----------------------------------------------------------------------------------


def read_squad(path: Path) -> tuple[list[SpanExample], ReadReport]:
    """Read a SQuAD-v1 JSON file (plain or ``.gz``) into one example per question, answers aligned."""
    path = Path(path)
    document = _json_document(path)
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        raise DataError(path, None, f'{short_repr(document)} has no "data" list; expected SQuAD-v1 JSON {SQUAD_SHAPE}')
    examples: list[SpanExample] = []
    first_seen: dict[str, str] = {}
    for article_index, article in enumerate(data):
        article_at = f"data[{article_index}]"
        for paragraph_index, paragraph in enumerate(_member(path, article, article_at, "paragraphs", list)):
            paragraph_at = f"{article_at}.paragraphs[{paragraph_index}]"
            context = _member(path, paragraph, paragraph_at, "context", str)
            try:  # checked here so that a bad context is reported as the paragraph's
                _text(context, "context")
            except _Malformed as err:
                raise DataError(path, None, err.under(paragraph_at)) from None
            for question_index, question in enumerate(_member(path, paragraph, paragraph_at, "qas", list)):
                question_at = f"{paragraph_at}.qas[{question_index}]"
                values = {"context": context}
                for key, kind in (("id", str), ("question", str), ("answers", list)):
                    values[key] = _member(path, question, question_at, key, kind)
                try:
                    example = _example(values, SPAN_FIELDS)
                except _Malformed as err:
                    raise DataError(path, None, err.under(question_at)) from None
                if example.id in first_seen:
                    raise DataError(
                        path,
                        None,
                        f"{question_at}: id {example.id!r} is also the id of "
                        f"{first_seen[example.id]}; expected unique question ids",
                    )
                first_seen[example.id] = question_at
                examples.append(example)
    if not examples:
        raise DataError(path, None, f"no questions; expected SQuAD-v1 JSON {SQUAD_SHAPE}")
    return _aligned_report(path, examples)


def read_span_jsonl(path: Path, fields: dict[str, str]) -> tuple[list[SpanExample], ReadReport]:
    """Read one question per line; ``fields`` renames any of ``SPAN_FIELDS`` to the file's keys."""
    path = Path(path)
    keys = {**SPAN_FIELDS, **fields}
    lines = ((number, json_object(path, number, line, keys)) for number, line in read_lines(path))
    examples = _unique_examples(lines, keys, "line", lambda number, message: DataError(path, number, message))
    if not examples:
        raise DataError(path, None, f"no lines; expected one JSON object per line, keys {list(keys.values())}")
    return _aligned_report(path, examples)


def span_examples_from_rows(rows: Iterable[dict], columns: dict[str, str], where: str) -> list[SpanExample]:
    """Hub rows (``datasets`` rows, ``answers`` a dict of lists) -> examples, checked like the files'.
    ``columns`` renames any of ``SPAN_FIELDS`` to the dataset's columns. The answers are not aligned
    here: the caller passes the examples to ``align_answers`` and reports its lines."""
    keys = {**SPAN_FIELDS, **columns}

    def checked(number: int, row: dict) -> tuple[int, dict]:
        missing = [column for column in keys.values() if column not in row]
        if missing:
            raise DataError(
                f"{where} row {number}", None, f"no column {', '.join(map(repr, missing))}; the rows have {sorted(row)}"
            )
        return number, row

    numbered = (checked(number, row) for number, row in enumerate(rows))
    examples = _unique_examples(
        numbered, keys, "row", lambda number, message: DataError(f"{where} row {number}", None, message)
    )
    if not examples:
        raise DataError(where, None, "no rows; expected one row per question")
    return examples


def _unique_examples(records: Iterable[tuple[int, dict]], keys: dict[str, str], unit: str, error) -> list[SpanExample]:
    """``(number, record)`` pairs -> examples, each id used once; ``error(number, message)`` makes
    the ``DataError`` naming the line or row (``unit``)."""
    examples: list[SpanExample] = []
    first_seen: dict[str, int] = {}
    for number, record in records:
        try:
            example = _example(record, keys)
        except _Malformed as err:
            raise error(number, err.under("")) from None
        if example.id in first_seen:
            raise error(
                number,
                f"id {example.id!r} is also the id {'on' if unit == 'line' else 'of'} {unit} "
                f"{first_seen[example.id]}; expected unique question ids",
            )
        first_seen[example.id] = number
        examples.append(example)
    return examples


# -- alignment ---------------------------------------------------------------------------------


def align_answers(examples: Iterable[SpanExample], where: str) -> tuple[list[SpanExample], list[str]]:
    """Move each misaligned answer start to where its text is (see the module docstring), or to -1
    when its text is not near. Returns the examples and one line per changed start, e.g.
    ``dev.json: DEV_101_QUERY_3 answer 1: start 175 -> 174`` (answers counted from 1); a start set
    to -1 has a line that says ``-> -1`` and why."""
    aligned: list[SpanExample] = []
    lines: list[str] = []
    for example in examples:
        answers: list[Answer] = []
        for number, answer in enumerate(example.answers, start=1):
            start = _aligned_start(example.context, answer)
            if start != answer.start:
                lines.append(
                    f"{where}: {example.id} answer {number}: start {answer.start} -> {start}"
                    + ("" if start != -1 else _why_not_found(example.context, answer))
                )
                answer = Answer(answer.text, start)
            answers.append(answer)
        kept = tuple(answers)
        aligned.append(example if kept == example.answers else replace(example, answers=kept))
    return aligned, lines


def _aligned_start(context: str, answer: Answer) -> int:
    text, start = answer.text, answer.start
    if start == -1 or context.startswith(text, start):
        return start
    after_whitespace = start
    while after_whitespace < len(context) and context[after_whitespace].isspace():  # what str.strip() removes
        after_whitespace += 1
    if after_whitespace > start and context.startswith(text, after_whitespace):
        return after_whitespace
    near = [offset for offset in range(max(0, start - NEARBY), start + NEARBY + 1) if context.startswith(text, offset)]
    # the nearest; of two as near, the left one (the published errors all point right of the text)
    return min(near, key=lambda offset: (abs(offset - start), offset)) if near else -1


def _why_not_found(context: str, answer: Answer) -> str:
    elsewhere = context.find(answer.text)
    found = f"it occurs at {elsewhere}" if elsewhere != -1 else "it does not occur in the context"
    return (
        f": {short_repr(answer.text)} is not within {NEARBY} characters of the start ({found}); scored, not trained on"
    )


# -- checks shared by the sources -----------------------------------------------------------------


def _example(record: dict, keys: dict[str, str]) -> SpanExample:
    """One question's values, found in ``record`` under ``keys``, checked and built into an example."""
    id_, context = (_text(record[keys[name]], keys[name]) for name in ("id", "context"))
    question = _text(record[keys["question"]], keys["question"], may_be_empty=True)
    return SpanExample(id_, context, question, _answers(record[keys["answers"]], keys["answers"], context))


def _answers(value, key: str, context: str) -> tuple[Answer, ...]:
    """A list of ``{"text", "answer_start"}``, or the Hub's ``{"text": [...], "answer_start": [...]}``."""
    expected = f'a list of {ANSWER_SHAPE} (or {{"text": [...], "answer_start": [...]}})'
    if isinstance(value, dict):
        texts, starts = value.get("text"), value.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
            raise _Malformed(
                "", f'"{key}" is {short_repr(value)}, not two lists of the same length; expected {expected}'
            )
        pairs = list(zip(texts, starts, strict=True))
    elif isinstance(value, list):
        pairs = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise _Malformed(f"{key}[{index}]", f"is {short_repr(item)}; expected an answer {ANSWER_SHAPE}")
            for member in ("text", "answer_start"):
                if member not in item:
                    raise _Malformed(f"{key}[{index}]", f'no "{member}"; expected an answer {ANSWER_SHAPE}')
            pairs.append((item["text"], item["answer_start"]))
    else:
        raise _Malformed("", f'"{key}" is {short_repr(value)}; expected {expected}')
    if not pairs:
        raise _Malformed(
            "", f'"{key}" is empty; expected at least one answer (a question without one cannot be scored)'
        )
    answers = []
    for index, (text, start) in enumerate(pairs):
        at = f"{key}[{index}]"
        text = _text(text, "text", at)
        if not isinstance(start, int) or isinstance(start, bool):
            raise _Malformed(
                at,
                f'"answer_start" is {short_repr(start)}; expected an integer character offset '
                "(-1 for a free-form answer)",
            )
        if start != -1 and not 0 <= start < len(context):
            raise _Malformed(
                at,
                f'"answer_start" {start} is outside the context (characters 0 to '
                f"{len(context) - 1}); expected an offset into it, or -1 for a free-form answer",
            )
        answers.append(Answer(text, start))
    return tuple(answers)


def _text(value, key: str, at: str = "", may_be_empty: bool = False) -> str:
    """``value`` as text encodable as UTF-8 (a lone surrogate from a ``\\u`` escape is not: tokenizers
    and result files refuse it), and not empty or blank unless ``may_be_empty``."""
    if not (isinstance(value, str) if may_be_empty else is_text(value)):
        expected = "a string" if may_be_empty else "non-empty text"
        raise _Malformed(at, f'"{key}" is {short_repr(value)}; expected {expected}')
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Malformed(
            at, f'"{key}" holds half a surrogate pair (a \\u escape); expected valid Unicode text'
        ) from None
    return value


# -- SQuAD JSON ----------------------------------------------------------------------------------


def _json_document(path: Path):
    """The file parsed as one JSON document; read through ``read_lines`` for its decoding checks
    (UTF-8, gzip, BOM), then rejoined so that a syntax error's line is the file's line."""
    text = "\n".join(line for _, line in read_lines(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, err.lineno, f"not JSON ({err.msg}, column {err.colno}); expected SQuAD-v1 JSON") from None
    except (ValueError, RecursionError) as err:  # an integer too long to convert, nesting too deep
        raise DataError(
            path,
            None,
            f"not JSON that can be read ({type(err).__name__}: {short_repr(str(err))}); expected SQuAD-v1 JSON",
        ) from None


def _member(path: Path, record, at: str, key: str, kind: type):
    """``record[key]``, a ``kind`` (list or str) inside the JSON object at ``at``."""
    if not isinstance(record, dict):
        raise DataError(path, None, f"{at} is {short_repr(record)}; expected a JSON object")
    if key not in record:
        raise DataError(path, None, f'{at}: no "{key}"; expected {_SQUAD_MEMBERS[key]}')
    value = record[key]
    if not isinstance(value, kind):
        raise DataError(path, None, f'{at}: "{key}" is {short_repr(value)}; expected {_SQUAD_MEMBERS[key]}')
    return value


_SQUAD_MEMBERS = {
    "paragraphs": 'a list of paragraphs {"context", "qas"}',
    "context": "the passage text (a string)",
    "qas": "a list of questions " + QUESTION_SHAPE,
    "id": "the question's id (a string)",
    "question": "the question text (a string)",
    "answers": f"a list of answers {ANSWER_SHAPE}",
}


def _aligned_report(path: Path, examples: list[SpanExample]) -> tuple[list[SpanExample], ReadReport]:
    aligned, repaired = align_answers(examples, str(path))
    return aligned, ReadReport(str(path), file_sha256(path), repaired=repaired)
