"""Readers for the on-disk formats: TSV with a header, and CoNLL ``char tag`` lines.

Both accept plain or gzipped files (by the ``.gz`` suffix) and fail with ``DataError`` naming
``file:line`` and what was expected: a missing file, undecodable bytes, a truncated or non-gzip
``.gz``, a carriage return inside a line (CR-only line endings), a wrong column count, an empty
text, an unknown label or tag, a line that is not ``char tag``. Nothing is silently dropped, and
no other exception escapes, whatever the bytes (``tests/test_fuzz_readers.py``). A UTF-8 BOM and
CRLF line endings are tolerated (they are encoding accidents, not content). Fields are split on
tabs only, never on quotes: a ``"`` is text.

BIO repair: an ``I-X`` that does not continue an ``X`` entity (after ``O``, after another type, or
at sentence start) is an error by default; with ``repair_bio=True`` it becomes ``B-X`` and is
counted in ``ReadReport.repaired`` (MSRA's 100-character chunks start 17 entities this way).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

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


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` without the line ending; errors name the file and line."""
    if not path.is_file():
        raise DataError(path, None, "file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    try:
        with opener(path, "rb") as raw:
            for number, data in enumerate(raw, start=1):
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise DataError(
                        path, number, f"not valid UTF-8 (byte {err.start}: {data[err.start:err.start + 1]!r})"
                    ) from None
                if number == 1:
                    text = text.removeprefix("\ufeff")
                text = text.rstrip("\r\n")
                if "\r" in text:  # old Mac files end lines with CR alone: the whole file is one line
                    raise DataError(path, number, "carriage return inside the line; expected LF or CRLF line endings")
                yield number, text
    except EOFError:
        raise DataError(path, number + 1, "cannot read compressed data: it ends early; is the file truncated?") from None
    except (gzip.BadGzipFile, zlib.error) as err:
        raise DataError(path, number + 1, f"cannot read compressed data ({err}); expected an intact gzip file, "
                                          "as the name ends in .gz") from None
    except OSError as err:
        raise DataError(path, None, f"cannot read the file ({err.strerror or err})") from None


def read_tsv(
    path: Path,
    columns: tuple[str, ...],
    labels: tuple[str, ...],
) -> tuple[list[TextExample], ReadReport]:
    """Read a TSV whose header is exactly ``columns`` (one of them ``label``; text columns are
    ``text`` or ``text_a``/``text_b`` or any two names, mapped in header order to text_a/text_b).
    """
    path = Path(path)
    text_columns = [name for name in columns if name != "label"]
    label_at = columns.index("label")
    label_set = set(labels)
    examples: list[TextExample] = []
    lines = _lines(path)
    header = next(lines, None)
    if header is None:
        raise DataError(path, 1, f"empty file; expected a header {_tab(columns)}")
    if tuple(header[1].split("\t")) != tuple(columns):
        raise DataError(path, 1, f"header is {header[1]!r}; expected {_tab(columns)}")
    for number, line in lines:
        if line == "":
            raise DataError(path, number, f"blank line; expected {len(columns)} tab-separated fields")
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise DataError(
                path, number, f"{len(fields)} tab-separated fields; expected {len(columns)} ({_tab(columns)})"
            )
        record = dict(zip(columns, fields))
        for name in text_columns:
            if record[name].strip() == "":
                raise DataError(path, number, f"empty {name!r}; expected non-empty text")
        label = fields[label_at]
        if label not in label_set:
            raise DataError(path, number, f"label {label!r} is not one of {sorted(label_set)}")
        texts = [record[name] for name in text_columns]
        examples.append(TextExample(texts[0], texts[1] if len(texts) > 1 else None, label))
    if not examples:
        raise DataError(path, None, "no rows after the header")
    return examples, ReadReport(str(path), file_sha256(path))


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
            fixed, repairs = repair_bio_tags(sentence_tags)
            for position, original, context in repairs:
                number = line_numbers[position]
                if not repair_bio:
                    raise DataError(
                        path, number,
                        f"{original!r} after {context} is ill-formed BIO; expected B-{original[2:]} "
                        "(pass repair_bio to turn such tags into B- with a warning)",
                    )
                report.repaired.append(f"{path}:{number}: {original} after {context} read as B-{original[2:]}")
            sentences.append(TaggedSentence(tuple(chars), tuple(fixed)))
        chars.clear()
        sentence_tags.clear()
        line_numbers.clear()

    for number, line in _lines(path):
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
    report.sha256 = file_sha256(path)  # after reading: a missing file is reported by _lines as a DataError
    return sentences, report


def _tab(columns: tuple[str, ...]) -> str:
    return "\\t".join(columns)
