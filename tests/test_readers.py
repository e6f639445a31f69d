"""Readers on the real shared files (counts from ../shared/data/README.md) and on bad input."""

from __future__ import annotations

import gzip
from collections import Counter

import pytest

from cnbench.data.readers import read_conll, read_tsv
from cnbench.errors import DataError
from cnbench.registry import get_task

NER_TAGS = get_task("msra_ner").labels


def entity_counts(sentences):
    return Counter(tag[2:] for s in sentences for tag in s.tags if tag.startswith("B-"))


@pytest.mark.parametrize(
    "task, split, count",
    [
        ("chnsenticorp", "train", 9600),
        ("chnsenticorp", "dev", 1200),
        ("chnsenticorp", "test", 1200),
        ("lcqmc", "dev", 8802),
        ("lcqmc", "test", 12500),
        ("xnli_zh", "dev", 2490),
        ("xnli_zh", "test", 5010),
    ],
)
def test_tsv_counts_match_the_data_readme(data_dir, task, split, count):
    spec = get_task(task)
    examples, report = read_tsv(data_dir / spec.local.folder / spec.local.files[split], spec.local.columns, spec.labels)
    assert len(examples) == count
    assert report.sha256 == spec.local.sha256[spec.local.files[split]]


def test_tsv_label_balance(data_dir):
    examples, _ = read_tsv(data_dir / "chnsenticorp/train.tsv.gz", ("label", "text"), ("0", "1"))
    assert Counter(ex.label for ex in examples) == {"0": 4801, "1": 4799}
    examples, _ = read_tsv(
        data_dir / "xnli_zh/test.tsv.gz", ("premise", "hypothesis", "label"), ("entailment", "neutral", "contradiction")
    )
    assert set(Counter(ex.label for ex in examples).values()) == {1670}
    assert all(ex.text_b for ex in examples)


@pytest.mark.parametrize(
    "path, sentences, chars, entities",
    [
        ("peoples_daily_ner/dev.txt.gz", 2318, 109870, {"PER": 884, "LOC": 1951, "ORG": 984}),
        ("peoples_daily_ner/test.txt.gz", 4636, 219197, {"PER": 1864, "LOC": 3658, "ORG": 2185}),
    ],
)
def test_conll_counts_match_the_data_readme(data_dir, path, sentences, chars, entities):
    read, report = read_conll(data_dir / path, NER_TAGS)
    assert len(read) == sentences
    assert sum(len(s.chars) for s in read) == chars
    assert entity_counts(read) == entities
    assert report.repaired == []


@pytest.mark.slow
def test_msra_chunk_starts_are_rejected_by_default_and_repaired_on_request(data_dir):
    with pytest.raises(DataError, match=r"msra_ner/test.txt.gz:\d+: 'I-\w+' after"):
        read_conll(data_dir / "msra_ner/test.txt.gz", NER_TAGS)
    test, test_report = read_conll(data_dir / "msra_ner/test.txt.gz", NER_TAGS, repair_bio=True)
    assert (len(test), sum(len(s.chars) for s in test)) == (4631, 172601)
    assert len(test_report.repaired) == 11
    train, report = read_conll(data_dir / "msra_ner/train.txt.gz", NER_TAGS, repair_bio=True)
    assert (len(train), sum(len(s.chars) for s in train)) == (50658, 2169879)
    assert len(report.repaired) == 6
    # the README counts B- tags as written; each repair adds one B-
    repaired_per = sum(" I-PER after " in line for line in test_report.repaired)
    assert entity_counts(test)["PER"] - repaired_per == 1973


def write(path, text: str | bytes):
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "content, message",
    [
        ("label\ttext\n1\tgood\n0\tbad\textra\n", r"bad.tsv:3: 3 tab-separated fields; expected 2"),
        ("label\ttext\n2\tgood\n", r"bad.tsv:2: label '2' is not one of \['0', '1'\]"),
        ("label\ttext\n1\t \n", r"bad.tsv:2: empty 'text'"),
        ("text\tlabel\n", r"bad.tsv:1: header is 'text\\tlabel'; expected label\\ttext"),
        ("", r"bad.tsv:1: empty file"),
        ("label\ttext\n", r"bad.tsv: no rows after the header"),
        ("label\ttext\n1\tok\n\n0\tbad\n", r"bad.tsv:3: blank line"),
        ("label\ttext\n\n\n", r"bad.tsv: no rows after the header"),
    ],
)
def test_malformed_tsv_names_file_line_and_expectation(tmp_path, content, message):
    path = write(tmp_path / "bad.tsv", content)
    with pytest.raises(DataError, match=message):
        read_tsv(path, ("label", "text"), ("0", "1"))


def test_blank_lines_that_end_a_file_are_not_rows(tmp_path):
    path = write(tmp_path / "ok.tsv", "label\ttext\n1\tok\n\r\n\n")
    (example,), _ = read_tsv(path, ("label", "text"), ("0", "1"))
    assert example.text_a == "ok"


def test_bom_crlf_and_quotes_are_read_as_text(tmp_path):
    path = write(tmp_path / "ok.tsv.gz", '\ufefflabel\ttext\r\n1\t"好"的\r\n')
    (example,), _ = read_tsv(path, ("label", "text"), ("0", "1"))
    assert example.text_a == '"好"的' and example.label == "1"


def test_truncated_gzip_and_non_utf8_are_reported(tmp_path):
    data = gzip.compress(("label\ttext\n" + "1\t很好\n" * 2000).encode())
    truncated = tmp_path / "cut.tsv.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut.tsv.gz:\d+: cannot read compressed data"):
        read_tsv(truncated, ("label", "text"), ("0", "1"))
    latin = write(tmp_path / "latin.tsv", b"label\ttext\n1\t\xe9t\xe9\n")
    with pytest.raises(DataError, match=r"latin.tsv:2: not valid UTF-8"):
        read_tsv(latin, ("label", "text"), ("0", "1"))
    with pytest.raises(DataError, match=r"missing.tsv: file not found"):
        read_tsv(tmp_path / "missing.tsv", ("label", "text"), ("0", "1"))


@pytest.mark.parametrize(
    "content, message",
    [
        ("中 B-LOC\n国I-LOC\n\n", r"bad.txt:2: '国I-LOC' is not 'char tag'"),
        ("中 B-LOC\n国 I-LOC X\n\n", r"bad.txt:2: .* is not 'char tag'"),
        ("中 B-XYZ\n\n", r"bad.txt:1: tag 'B-XYZ' is not one of"),
        ("中国 B-LOC\n\n", r"bad.txt:1: token '中国' is 2 characters"),
        ("中 O\n国 I-LOC\n\n", r"bad.txt:2: 'I-LOC' after 'O' is ill-formed BIO"),
        ("中 B-PER\n国 I-LOC\n\n", r"bad.txt:2: 'I-LOC' after 'B-PER'"),
        ("\n\n", r"bad.txt: no sentences"),
    ],
)
def test_malformed_conll_names_file_line_and_expectation(tmp_path, content, message):
    path = write(tmp_path / "bad.txt", content)
    with pytest.raises(DataError, match=message):
        read_conll(path, NER_TAGS)


def test_conll_last_sentence_without_trailing_blank_line_is_kept(tmp_path):
    path = write(tmp_path / "ok.txt", "中 B-LOC\n国 I-LOC\n\n人 O")
    sentences, _ = read_conll(path, NER_TAGS)
    assert [s.chars for s in sentences] == [("中", "国"), ("人",)]


def test_a_train_split_that_holds_the_evaluation_data_is_refused(data_dir, tmp_path):
    """People's Daily dev and test lie inside MSRA's train (the data README's leakage note): a
    People's Daily train file made of them must not be trained on."""
    from cnbench.data.load import load_task_data
    from cnbench.errors import CnbenchError

    source, folder = data_dir / "peoples_daily_ner", tmp_path / "peoples_daily_ner"
    folder.mkdir()
    for name in ("dev.txt.gz", "test.txt.gz"):
        (folder / name).write_bytes((source / name).read_bytes())
    evaluation = b"".join(gzip.decompress((source / name).read_bytes()) for name in ("dev.txt.gz", "test.txt.gz"))
    (folder / "train.txt.gz").write_bytes(gzip.compress(evaluation))
    with pytest.raises(CnbenchError, match=r"2318 of 2318 dev examples occur verbatim in train .*train\.txt\.gz"):
        load_task_data(get_task("peoples_daily_ner"), tmp_path, source="local")


def test_examples_shared_with_train_are_counted_in_the_notes(data_dir):
    from cnbench.data.load import load_task_data

    notes = load_task_data(get_task("chnsenticorp"), data_dir, source="local").notes
    assert notes == [
        "dev: 338 of 1200 examples also occur verbatim in train",
        "test: 331 of 1200 examples also occur verbatim in train",
    ]
