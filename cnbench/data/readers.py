"""Readers for the on-disk formats a task can declare (``LocalFiles.format``):

- ``"tsv"``: tab-separated, a header equal to ``columns`` (or none, with ``header=False``); the
  text and label columns are picked by name (``fields``), so extra columns such as ids are allowed.
- ``"conll"``: ``char tag`` lines, sentences separated by blank lines.
- ``"jsonl"``: one JSON object per line, keys picked by ``fields``: ``text_a``/``text_b``/``label``
  for sentence tasks, ``chars`` (a string or a list of characters) and ``tags`` for tagging.
- ``"spans"``: CLUENER2020-style JSON lines, ``{"text": "...", "label": {"PER": {"张三": [[0, 1]]}}}``
  with inclusive character spans, turned into character BIO tags.
- a function ``reader(path, task) -> list of TextExample | TaggedSentence``: the task's own reader;
  what it returns is checked like any other reader's output (kinds, labels, BIO).

Every reader accepts plain or gzipped files (by the ``.gz`` suffix) and fails with ``DataError``
naming ``file:line`` and what was expected: a missing file, undecodable bytes, a truncated or
non-gzip ``.gz``, a carriage return inside a line (CR-only line endings), a wrong column count, an
empty text, an unknown label or tag, a line that is not ``char tag`` or not a JSON object, a span
that overlaps another, leaves the text or does not cover its mention. Nothing is silently dropped,
and no other exception escapes, whatever the bytes (``tests/test_fuzz_readers.py``). A UTF-8 BOM
and CRLF line endings are tolerated (they are encoding accidents, not content), and so are blank
lines at the end of a file. TSV fields are split on tabs only, never on quotes: a ``"`` is text.

BIO repair: an ``I-X`` that does not continue an ``X`` entity (after ``O``, after another type, or
at sentence start) is an error by default; with ``repair_bio=True`` it becomes ``B-X`` and is
counted in ``ReadReport.repaired`` (MSRA's 100-character chunks start 17 entities this way).
"""

from __future__ import annotations

import gzip
import itertools
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cnbench.data.bio import repair_bio as repair_bio_tags
from cnbench.data.examples import TaggedSentence, TextExample
from cnbench.errors import DataError
from cnbench.hashing import file_sha256


@dataclass
class ReadReport:
    """What a reader did besides returning examples: the file's hash and any repairs."""

    path: str
    sha256: str
    repaired: list[str] = field(default_factory=list)
    no_label: int = 0  # examples dropped because their label is one of the task's ``no_label`` values


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` without the line ending, from a plain or ``.gz`` file. Blank
    lines that end the file (an editor's extra newline) are not yielded; a blank line with content
    after it is, for the reader to accept or refuse.

    Errors (missing file, bad UTF-8, broken gzip, CR-only endings) are ``DataError`` naming the
    file and line; custom task readers should read through this to keep that contract.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    blanks: list[tuple[int, str]] = []
    try:
        with opener(path, "rb") as raw:
            for number, data in enumerate(raw, start=1):
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise DataError(
                        path, number, f"not valid UTF-8 (byte {err.start}: {data[err.start : err.start + 1]!r})"
                    ) from None
                if number == 1:
                    text = text.removeprefix("\ufeff")
                text = text.rstrip("\r\n")
                if "\r" in text:  # old Mac files end lines with CR alone: the whole file is one line
                    raise DataError(path, number, "carriage return inside the line; expected LF or CRLF line endings")
                if text == "":
                    blanks.append((number, text))
                    continue
                yield from blanks
                blanks.clear()
                yield number, text
    except EOFError:
        raise DataError(
            path, number + 1, "cannot read compressed data: it ends early; is the file truncated?"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as err:
        raise DataError(
            path,
            number + 1,
            f"cannot read compressed data ({err}); expected an intact gzip file, as the name ends in .gz",
        ) from None
    except OSError as err:
        raise DataError(path, None, f"cannot read the file ({err.strerror or err})") from None


def read_tsv(
    path: Path,
    columns: tuple[str, ...],
    labels: tuple[str, ...],
    fields: dict[str, str] | None = None,
    header: bool = True,
    no_label: tuple[str, ...] = (),
) -> tuple[list[TextExample], ReadReport]:
    """Read a TSV with the columns ``columns``, its first line a header equal to them unless
    ``header`` is False. ``fields`` maps ``text_a``/``text_b``/``label`` to column names; without
    it the ``label`` column is the label and the other columns, in order, are text_a and text_b.
    Rows labelled one of ``no_label`` are dropped and counted in the report.
    """
    path = Path(path)
    fields = fields or tsv_default_fields(columns)
    at = {name: columns.index(column) for name, column in fields.items()}
    text_fields = [name for name in ("text_a", "text_b") if name in at]
    label_set = set(labels)
    examples: list[TextExample] = []
    dropped = 0
    lines = read_lines(path)
    if header:
        first = next(lines, None)
        if first is None:
            raise DataError(path, 1, f"empty file; expected a header {_tab(columns)}")
        if tuple(first[1].split("\t")) != tuple(columns):
            raise DataError(path, 1, f"header is {first[1]!r}; expected {_tab(columns)}")
    for number, line in lines:
        if line == "":
            raise DataError(path, number, f"blank line; expected {len(columns)} tab-separated fields")
        values = line.split("\t")
        if len(values) != len(columns):
            raise DataError(
                path, number, f"{len(values)} tab-separated fields; expected {len(columns)} ({_tab(columns)})"
            )
        for name in text_fields:
            if not is_text(values[at[name]]):
                raise DataError(path, number, f"empty {fields[name]!r}; expected non-empty text")
        label = values[at["label"]]
        if label in no_label:
            dropped += 1
            continue
        if label not in label_set:
            raise DataError(path, number, f"label {label!r} is not one of {sorted(label_set)}")
        texts = [values[at[name]] for name in text_fields]
        examples.append(TextExample(texts[0], texts[1] if len(texts) > 1 else None, label))
    if not examples:
        raise DataError(path, None, "no rows after the header" if header else "no rows")
    return examples, ReadReport(str(path), file_sha256(path), no_label=dropped)


def read_conll(
    path: Path,
    tags: tuple[str, ...],
    repair_bio: bool = False,
) -> tuple[list[TaggedSentence], ReadReport]:
    """Read ``char<space>tag`` lines, sentences separated by blank lines."""
    path = Path(path)
    tag_set = set(tags)
    report = ReadReport(str(path), "")
    sentences: list[TaggedSentence] = []
    chars: list[str] = []
    sentence_tags: list[str] = []
    line_numbers: list[int] = []

    def finish() -> None:
        if chars:
            fixed = bio_checked(sentence_tags, repair_bio, report, path, lambda i: (line_numbers[i], ""))
            sentences.append(TaggedSentence(tuple(chars), fixed))
        chars.clear()
        sentence_tags.clear()
        line_numbers.clear()

    for number, line in read_lines(path):
        if line == "":
            finish()
            continue
        parts = line.split(" ")
        if len(parts) != 2 or parts[0] == "" or parts[1] == "":
            raise DataError(path, number, f"{line!r} is not 'char tag' (one character, one space, one tag)")
        char, tag = parts
        if len(char) != 1:
            raise DataError(path, number, f"token {char!r} is {len(char)} characters; expected exactly one")
        if tag not in tag_set:
            raise DataError(path, number, f"tag {tag!r} is not one of {sorted(tag_set)}")
        chars.append(char)
        sentence_tags.append(tag)
        line_numbers.append(number)
    finish()
    if not sentences:
        raise DataError(path, None, "no sentences; expected 'char tag' lines separated by blank lines")
    report.sha256 = file_sha256(path)  # after reading: a missing file is reported by read_lines as a DataError
    return sentences, report


def _json_records(path: Path, fields: dict[str, str]):
    """``(line number, record)`` per line of a JSON-lines file, each record holding every key of
    ``fields``; an empty file is refused."""
    count = 0
    for number, line in read_lines(path):
        count += 1
        yield number, json_object(path, number, line, fields)
    if not count:
        raise DataError(path, None, "no lines; expected one JSON object per line")


def read_jsonl_texts(
    path: Path,
    texts: tuple[str, ...],
    labels: tuple[str, ...],
    fields: dict[str, str],
    no_label: tuple[str, ...] = (),
) -> tuple[list[TextExample], ReadReport]:
    """Read one JSON object per line holding the ``texts`` fields (``text_a``, and ``text_b`` for
    pairs) and ``label``, at the keys ``fields`` maps them to; other keys are ignored. Labels may
    be strings or integers (an integer matches the label with its decimal spelling). Lines labelled
    one of ``no_label`` are dropped and counted in the report."""
    path = Path(path)
    label_set = set(labels)
    examples = []
    dropped = 0
    for number, record in _json_records(path, fields):
        values = []
        for name in texts:
            text = record[fields[name]]
            if not is_text(text):
                raise DataError(path, number, f"{fields[name]!r} is {short_repr(text)}; expected non-empty text")
            values.append(text)
        label = record[fields["label"]]
        name = str(label) if isinstance(label, int) and not isinstance(label, bool) else label
        if isinstance(name, str) and name in no_label:
            dropped += 1
            continue
        if not isinstance(name, str) or name not in label_set:
            raise DataError(path, number, f"label {label!r} is not one of {sorted(label_set)}")
        examples.append(TextExample(values[0], values[1] if len(values) > 1 else None, name))
    if not examples:
        raise DataError(path, None, f"every line is labelled one of {list(no_label)} (no gold label)")
    return examples, ReadReport(str(path), file_sha256(path), no_label=dropped)


def read_jsonl_tagged(
    path: Path,
    labels: tuple[str, ...],
    fields: dict[str, str],
    repair_bio: bool = False,
) -> tuple[list[TaggedSentence], ReadReport]:
    """Read one JSON object per line: ``chars`` (a string or a list of characters) and ``tags``
    at the keys ``fields`` maps them to; other keys are ignored."""
    path = Path(path)
    label_set = set(labels)
    report = ReadReport(str(path), "")
    examples = []
    for number, record in _json_records(path, fields):
        chars, tags = record[fields["chars"]], record[fields["tags"]]
        if isinstance(chars, str):
            chars = list(chars)
        if not _is_list_of_str(chars) or not chars or any(len(char) != 1 for char in chars):
            raise DataError(
                path,
                number,
                f"{fields['chars']!r} is {short_repr(chars)}; expected a non-empty "
                "string or a list of single characters",
            )
        if not _is_list_of_str(tags) or len(tags) != len(chars):
            raise DataError(
                path,
                number,
                f"{fields['tags']!r} is {short_repr(tags)}; expected a list of "
                f"{len(chars)} tag strings, one per character",
            )
        for index, tag in enumerate(tags):
            if tag not in label_set:
                raise DataError(path, number, f"tag {tag!r} at character {index} is not one of {sorted(label_set)}")
        fixed = bio_checked(tags, repair_bio, report, path, lambda i, number=number: (number, f" at character {i}"))
        examples.append(TaggedSentence(tuple(chars), fixed))
    report.sha256 = file_sha256(path)
    return examples, report


def read_spans(
    path: Path,
    labels: tuple[str, ...],
    fields: dict[str, str],
) -> tuple[list[TaggedSentence], ReadReport]:
    """Read CLUENER2020-style lines: ``fields["text"]`` holds the text and ``fields["spans"]``
    ``{type: {mention: [[start, end], ...]}}`` with inclusive character offsets. Each type needs
    ``B-type`` and ``I-type`` among the labels. A span outside the text, one whose text is not its
    mention, and two spans sharing a character are errors; ``{}`` means no entities, while a line
    without the spans key is an error (an unlabelled file cannot be scored).
    """
    path = Path(path)
    types = sorted(tag[2:] for tag in labels if tag.startswith("B-") and f"I-{tag[2:]}" in labels)
    sentences: list[TaggedSentence] = []
    for number, line in read_lines(path):
        record = json_object(path, number, line, fields)
        text, annotations = record[fields["text"]], record[fields["spans"]]
        if not isinstance(text, str) or not text:
            raise DataError(path, number, f"{fields['text']!r} is {short_repr(text)}; expected non-empty text")
        if not isinstance(annotations, dict):
            raise DataError(
                path,
                number,
                f"{fields['spans']!r} is {short_repr(annotations)}; expected "
                "{type: {mention: [[start, end], ...]}}",
            )
        spans = []
        for entity_type, mentions in annotations.items():
            if entity_type not in types:
                raise DataError(
                    path,
                    number,
                    f"entity type {entity_type!r} is not one of {types} "
                    "(a type needs B- and I- tags among the task's labels)",
                )
            if not isinstance(mentions, dict):
                raise DataError(
                    path,
                    number,
                    f"{entity_type!r} holds {short_repr(mentions)}; expected {{mention: [[start, end], ...]}}",
                )
            for mention, positions in mentions.items():
                if not isinstance(positions, list) or not positions:
                    raise DataError(
                        path,
                        number,
                        f"{entity_type} {mention!r} has spans {short_repr(positions)}; "
                        "expected a non-empty list of [start, end]",
                    )
                for position in positions:
                    spans.append(_span(path, number, text, entity_type, mention, position))
        spans.sort()
        for (start, end, *first), (next_start, next_end, *second) in itertools.pairwise(spans):
            if next_start <= end:
                raise DataError(
                    path,
                    number,
                    f"spans [{start}, {end}] ({first[0]} {first[1]!r}) and "
                    f"[{next_start}, {next_end}] ({second[0]} {second[1]!r}) overlap; "
                    "expected disjoint entities",
                )
        tags = ["O"] * len(text)
        for start, end, entity_type, _ in spans:
            tags[start] = f"B-{entity_type}"
            tags[start + 1 : end + 1] = [f"I-{entity_type}"] * (end - start)
        sentences.append(TaggedSentence(tuple(text), tuple(tags)))
    if not sentences:
        raise DataError(path, None, "no lines; expected one JSON object per line")
    return sentences, ReadReport(str(path), file_sha256(path))


def _span(path, number: int, text: str, entity_type: str, mention: str, position) -> tuple:
    """Check one ``[start, end]`` (inclusive) against the text and its mention."""
    if (
        not isinstance(position, list)
        or len(position) != 2
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in position)
    ):
        raise DataError(
            path,
            number,
            f"{entity_type} {mention!r}: span {short_repr(position)} is not [start, end] (two integers, end inclusive)",
        )
    start, end = position
    if not 0 <= start <= end < len(text):
        raise DataError(
            path,
            number,
            f"{entity_type} {mention!r}: span [{start}, {end}] is outside the text "
            f"(characters 0 to {len(text) - 1}) or ends before it starts",
        )
    if text[start : end + 1] != mention:
        raise DataError(
            path,
            number,
            f"{entity_type} {mention!r}: span [{start}, {end}] covers "
            f"{text[start : end + 1]!r}; expected the mention (end is inclusive)",
        )
    return start, end, entity_type, mention


def tsv_default_fields(columns: tuple[str, ...]) -> dict[str, str]:
    texts = [name for name in columns if name != "label"]
    # one text column fills text_a alone, so the names may outnumber the columns
    fields = dict(zip(("text_a", "text_b"), texts, strict=False)) if len(texts) <= 2 else {}
    if "label" in columns:
        fields["label"] = "label"
    return fields


def json_object(path: Path, number: int, line: str, fields: dict[str, str]) -> dict:
    """Parse one line as a JSON object holding every key in ``fields``."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError; so are oversized ints
        raise DataError(
            path, number, f"not JSON ({str(err).split(':')[0]}); expected one JSON object per line"
        ) from None
    if not isinstance(record, dict):
        raise DataError(
            path,
            number,
            f"{short_repr(record)} is not a JSON object; expected one object per line (JSON lines, not one JSON array)",
        )
    if "\\u" in line:  # an escape such as \ud800 decodes to a lone surrogate, which tokenizers refuse
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise DataError(
                path, number, "a \\u escape is half a surrogate pair; expected valid Unicode text"
            ) from None
    missing = [key for key in fields.values() if key not in record]
    if missing:
        raise DataError(
            path,
            number,
            f"no {', '.join(map(repr, missing))} key; expected keys {', '.join(map(repr, fields.values()))}",
        )
    return record


def bio_checked(tags, repair_bio: bool, report: ReadReport, path: Path, locate) -> tuple[str, ...]:
    """Return ``tags`` as well-formed BIO (``cnbench.data.bio``): an ``I-X`` not continuing an
    ``X`` entity is an error at ``locate(index) -> (line, where)``, or, under ``repair_bio``,
    becomes ``B-X`` and is counted."""
    fixed, repairs = repair_bio_tags(tags)
    for index, tag, context in repairs:
        line, where = locate(index)
        if not repair_bio:
            raise DataError(
                path,
                line,
                f"{tag!r}{where} after {context} is ill-formed BIO; expected B-{tag[2:]} "
                "(pass repair_bio to turn such tags into B- with a warning)",
            )
        report.repaired.append(f"{path}:{line}{where}: {tag} after {context} read as B-{tag[2:]}")
    return tuple(fixed)


def is_text(value) -> bool:
    """A sentence task's text: a string with something besides whitespace, from any source."""
    return isinstance(value, str) and value.strip() != ""


def _is_list_of_str(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def short_repr(value) -> str:
    """``value`` as an error message quotes it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _tab(columns: tuple[str, ...]) -> str:
    return "\\t".join(columns)
