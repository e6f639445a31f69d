"""Fuzzing the readers: whatever a data file holds, a reader returns well-formed examples or raises
``DataError`` naming the file, never any other exception.

Arbitrary bytes exercise decoding and decompression; text built from the formats' own pieces
(labels, tags, tabs, quotes, BOM, CRLF, blank lines, JSON objects with near-miss spans) gets past the
header and into the row checks.
"""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnbench.data.readers import read_conll, read_jsonl_tagged, read_jsonl_texts, read_spans, read_tsv
from cnbench.errors import DataError
from cnbench.registry import get_task

TSV_COLUMNS = ("label", "text_a", "text_b")
TSV_LABELS = ("0", "1")
NER_TAGS = get_task("msra_ner").labels

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stored(folder, name: str, data: bytes, packing: str):
    """Write ``data`` as ``name``: plain, gzipped, gzipped then cut short, or raw bytes named .gz."""
    if packing == "plain":
        path = folder / name
    else:
        path = folder / f"{name}.gz"
        if packing == "gzip":
            data = gzip.compress(data)
        elif packing == "gzip-truncated":
            data = gzip.compress(data)[: max(1, len(data) // 2)]
    path.write_bytes(data)
    return path


# Repeated entries weight the draw towards files that get past the first check.
PACKING = st.sampled_from(["plain", "plain", "gzip", "gzip", "gzip-truncated", "raw-as-gz"])
PIECES = st.sampled_from(["好", "中国", "好", " ", '"', "'", "\ufeff", "\r", "\x00", "é", "\\t", ""])
TEXT = st.lists(PIECES, max_size=4).map("".join) | st.text(max_size=6)
LINE_END = st.sampled_from(["\n", "\n", "\r\n", "\r"])


@st.composite
def tsv_text(draw) -> str:
    """Half the files have only well-formed rows (with quotes, BOMs, odd spacing inside the text)."""
    header = draw(st.sampled_from(["label\ttext_a\ttext_b"] * 4 + ["\ufefflabel\ttext_a\ttext_b", "label\ttext", ""]))
    clean = st.tuples(st.sampled_from(TSV_LABELS), TEXT.filter(str.strip), TEXT.filter(str.strip)).map("\t".join)
    label = st.sampled_from(["0", "1", "2", "", " 1"])
    messy = st.tuples(label, TEXT, TEXT).map("\t".join) | st.lists(TEXT, max_size=4).map("\t".join)
    rows = draw(st.lists(clean if draw(st.booleans()) else messy, max_size=6))
    end = draw(LINE_END)
    return end.join([header, *rows]) + draw(st.sampled_from(["", end]))


@st.composite
def conll_text(draw) -> str:
    """Half the files have only ``char tag`` lines with known tags (BIO may still be ill-formed)."""
    clean = st.tuples(st.sampled_from(["中", "国", "人", "a", '"', "\ufeff"]), st.sampled_from(NER_TAGS)).map(" ".join)
    char = st.sampled_from(["中", "中国", " ", ""]) | st.text(max_size=2)
    tag = st.sampled_from([*NER_TAGS, "I-XYZ", "B-", "", "o"])
    messy = st.tuples(char, st.sampled_from([" ", "  ", "\t", ""]), tag).map("".join)
    lines = draw(st.lists((clean if draw(st.booleans()) else messy) | st.just(""), max_size=12))
    return draw(LINE_END).join(lines)


SPAN_TYPES = ("PER", "LOC", "ORG", "XYZ")
JSON_SCALAR = st.none() | st.booleans() | st.integers(-3, 8) | TEXT


@st.composite
def span_text(draw) -> str:
    """CLUENER-style lines; half of them with spans drawn inside the text (they may still overlap)."""
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        text = draw(st.sampled_from(["张三在北京", "好", "", "北京"]) | TEXT.filter(bool))
        if draw(st.booleans()) and text:
            start = draw(st.integers(0, len(text) - 1))
            end = draw(st.integers(start, len(text) - 1))
            spans = {draw(st.sampled_from(SPAN_TYPES)): {text[start : end + 1]: [[start, end]]}}
        else:
            position = st.lists(st.integers(-1, 6), max_size=3) | JSON_SCALAR
            mentions = st.dictionaries(TEXT, st.lists(position, max_size=2) | JSON_SCALAR, max_size=2)
            spans = draw(st.dictionaries(st.sampled_from(SPAN_TYPES), mentions | JSON_SCALAR, max_size=2) | JSON_SCALAR)
        record = {"text": text, "label": spans} if draw(st.integers(0, 9)) else {"text": text}
        lines.append(json.dumps(record, ensure_ascii=draw(st.booleans())))
    lines += draw(st.lists(st.sampled_from(["", "[1]", "{", '"x"', "{}"]), max_size=1))
    return draw(LINE_END).join(lines)


@st.composite
def jsonl_text(draw) -> str:
    """Sentence-pair and tagging objects with right, wrong and missing keys and values."""
    value = TEXT | JSON_SCALAR | st.lists(TEXT | st.sampled_from(NER_TAGS), max_size=3)
    keys = st.sampled_from(["text_a", "text_b", "label", "chars", "tags", "other"])
    clean = st.fixed_dictionaries(
        {
            "text_a": TEXT.filter(str.strip),
            "text_b": TEXT.filter(str.strip),
            "label": st.sampled_from([*TSV_LABELS, 0, 1]),
        }
    )
    lines = [json.dumps(draw(clean | st.dictionaries(keys, value, max_size=4))) for _ in range(draw(st.integers(0, 4)))]
    return draw(LINE_END).join(lines + draw(st.lists(st.sampled_from(["", "[]", "{", "1e999"]), max_size=1)))


def check_spans(path):
    try:
        sentences, report = read_spans(path, NER_TAGS, {"text": "text", "spans": "label"})
    except DataError as err:
        assert str(err).startswith(str(path))
        return
    assert sentences and len(report.sha256) == 64
    check_bio(sentences)


def check_jsonl(path, kind: str):
    fields = (
        {"chars": "chars", "tags": "tags"}
        if kind == "tagging"
        else {"text_a": "text_a", "text_b": "text_b", "label": "label"}
    )
    labels = NER_TAGS if kind == "tagging" else TSV_LABELS
    try:
        if kind == "tagging":
            examples, report = read_jsonl_tagged(path, labels, fields)
        else:
            examples, report = read_jsonl_texts(path, ("text_a", "text_b"), labels, fields)
    except DataError as err:
        assert str(err).startswith(str(path))
        return
    assert examples and len(report.sha256) == 64
    if kind == "tagging":
        check_bio(examples)
    else:
        assert all(ex.label in TSV_LABELS and ex.text_a.strip() and ex.text_b.strip() for ex in examples)


def check_bio(sentences):
    for sentence in sentences:
        assert len(sentence.chars) == len(sentence.tags) > 0
        assert all(len(char) == 1 for char in sentence.chars)
        previous = "O"
        for tag in sentence.tags:  # what a reader returns is always well-formed BIO
            assert tag in NER_TAGS
            assert not tag.startswith("I-") or previous[2:] == tag[2:] != ""
            previous = tag


def check_tsv(path):
    try:
        examples, report = read_tsv(path, TSV_COLUMNS, TSV_LABELS)
    except DataError as err:
        assert str(err).startswith(str(path))
        return
    assert examples and len(report.sha256) == 64
    for example in examples:
        assert example.label in TSV_LABELS
        assert example.text_a.strip() and example.text_b.strip()


def check_conll(path, repair_bio: bool):
    try:
        sentences, report = read_conll(path, NER_TAGS, repair_bio=repair_bio)
    except DataError as err:
        assert str(err).startswith(str(path))
        return
    assert sentences and (repair_bio or not report.repaired)
    check_bio(sentences)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=st.binary(max_size=200), packing=PACKING)
def test_tsv_reader_on_arbitrary_bytes(folder, data, packing):
    check_tsv(stored(folder, "bytes.tsv", data, packing))


@FUZZ
@given(text=tsv_text(), packing=PACKING)
def test_tsv_reader_on_tsv_like_text(folder, text, packing):
    check_tsv(stored(folder, "text.tsv", text.encode("utf-8", "surrogatepass"), packing))


@FUZZ
@given(data=st.binary(max_size=200), packing=PACKING, repair_bio=st.booleans())
def test_conll_reader_on_arbitrary_bytes(folder, data, packing, repair_bio):
    check_conll(stored(folder, "bytes.txt", data, packing), repair_bio)


@FUZZ
@given(text=conll_text(), packing=PACKING, repair_bio=st.booleans())
def test_conll_reader_on_conll_like_text(folder, text, packing, repair_bio):
    check_conll(stored(folder, "text.txt", text.encode("utf-8", "surrogatepass"), packing), repair_bio)


@FUZZ
@given(data=st.binary(max_size=200), packing=PACKING)
def test_span_reader_on_arbitrary_bytes(folder, data, packing):
    check_spans(stored(folder, "bytes.json", data, packing))


@FUZZ
@given(text=span_text(), packing=PACKING)
def test_span_reader_on_cluener_like_text(folder, text, packing):
    check_spans(stored(folder, "spans.json", text.encode("utf-8", "surrogatepass"), packing))


@FUZZ
@given(data=st.binary(max_size=200), packing=PACKING, kind=st.sampled_from(["pair", "tagging"]))
def test_jsonl_reader_on_arbitrary_bytes(folder, data, packing, kind):
    check_jsonl(stored(folder, "bytes.jsonl", data, packing), kind)


@FUZZ
@given(text=jsonl_text(), packing=PACKING, kind=st.sampled_from(["pair", "tagging"]))
def test_jsonl_reader_on_json_like_text(folder, text, packing, kind):
    check_jsonl(stored(folder, "text.jsonl", text.encode("utf-8", "surrogatepass"), packing), kind)
