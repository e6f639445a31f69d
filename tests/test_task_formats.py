"""The formats a task can declare: TSV with a column mapping, JSON lines, CLUENER-style spans and
a task's own reader; their errors (file:line, what was expected) and the checks made when a task is
declared."""

from __future__ import annotations

import gzip
import json

import pytest

from cnbench.data.examples import TaggedSentence, TextExample
from cnbench.data.load import read_split
from cnbench.data.readers import read_spans
from cnbench.errors import CnbenchError, DataError
from cnbench.hashing import file_sha256
from cnbench.paths import REPO_ROOT
from cnbench.registry import all_tasks, get_task
from cnbench.task import Defaults, LocalFiles, Task

NER = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
DEFAULTS = Defaults(max_len=32, epochs=1, lr=1e-3)


def task(kind="single", labels=("0", "1"), repair_bio=False, main_metric=None, dev_from_train=0.0, **local) -> Task:
    local = {"folder": "t", "files": {"train": "train.x", "test": "test.x"}, **local}
    return Task(
        name="t",
        description="t",
        kind=kind,
        labels=labels,
        main_metric=main_metric or ("f1" if kind == "tagging" else "accuracy"),
        local=LocalFiles(**local),
        defaults=DEFAULTS,
        repair_bio=repair_bio,
        dev_from_train=dev_from_train,
    )


def jsonl(path, *records) -> str:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


SPANS = task("tagging", NER, format="spans")


def test_spans_become_character_bio_tags(tmp_path):
    path = jsonl(
        tmp_path / "ner.json",
        {"id": 0, "text": "张三在北京", "label": {"PER": {"张三": [[0, 1]]}, "LOC": {"北京": [[3, 4]]}}},
        {"text": "李四说李四好", "label": {"PER": {"李四": [[0, 1], [3, 4]]}}},
        {"text": "没有实体", "label": {}},
    )
    sentences, report = read_split(SPANS.local, path, SPANS)
    assert sentences == [
        TaggedSentence(tuple("张三在北京"), ("B-PER", "I-PER", "O", "B-LOC", "I-LOC")),
        TaggedSentence(tuple("李四说李四好"), ("B-PER", "I-PER", "O", "B-PER", "I-PER", "O")),
        TaggedSentence(tuple("没有实体"), ("O",) * 4),
    ]
    assert len(report.sha256) == 64 and report.repaired == []


def test_spans_read_gzip_and_mapped_keys(tmp_path):
    path = tmp_path / "ner.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"sentence": "王五", "entities": {"PER": {"王五": [[0, 1]]}}}).encode()))
    spec = task("tagging", NER, format="spans", fields={"text": "sentence", "spans": "entities"})
    sentences, _ = read_split(spec.local, path, spec)
    assert sentences[0].tags == ("B-PER", "I-PER")


@pytest.mark.parametrize(
    "line, message",
    [
        (
            {"text": "张三李四", "label": {"PER": {"张三李": [[0, 2]], "三李": [[1, 2]]}}},
            r"\[0, 2\] \(PER '张三李'\) and \[1, 2\] \(PER '三李'\) overlap",
        ),
        ({"text": "张三", "label": {"PER": {"张三": [[0, 1]]}, "LOC": {"张": [[0, 0]]}}}, "overlap"),
        (
            {"text": "张三", "label": {"PER": {"张三": [[1, 2]]}}},
            r"span \[1, 2\] is outside the text \(characters 0 to 1\)",
        ),
        ({"text": "张三", "label": {"PER": {"张三": [[-1, 0]]}}}, "outside the text"),
        ({"text": "张三", "label": {"PER": {"张三": [[1, 0]]}}}, "ends before it starts"),
        (
            {"text": "张三在", "label": {"PER": {"张三": [[1, 2]]}}},
            r"span \[1, 2\] covers '三在'; expected the mention",
        ),
        ({"text": "张三", "label": {"PER": {"张三": [[0, 2]]}}}, "outside the text"),  # an exclusive end
        ({"text": "张三", "label": {"ORG": {"张三": [[0, 1]]}}}, r"entity type 'ORG' is not one of \['LOC', 'PER'\]"),
        ({"text": "张三", "label": {"PER": {"张三": [0, 1]}}}, r"span 0 is not \[start, end\]"),
        ({"text": "张三", "label": {"PER": {"张三": [[0, True]]}}}, "is not \\[start, end\\]"),
        ({"text": "张三", "label": {"PER": ["张三"]}}, "expected {mention"),
        ({"text": "张三", "label": {"PER": {"张三": []}}}, "non-empty list"),
        ({"text": "张三", "label": ["PER"]}, "expected {type"),
        ({"text": "", "label": {}}, "expected non-empty text"),
        ({"text": "张三"}, r"no 'label' key"),
        ('{"text": "张三", "label": {}', "not JSON"),
        ('["张三"]', "not a JSON object"),
        ("", "not JSON"),  # a blank line between records; blank lines that end the file are no records
    ],
)
def test_span_errors_name_file_and_line(tmp_path, line, message):
    path = jsonl(tmp_path / "ner.json", {"text": "好", "label": {}}, line, {"text": "好", "label": {}})
    with pytest.raises(DataError, match=message) as caught:
        read_spans(path, NER, {"text": "text", "spans": "label"})
    assert str(caught.value).startswith(f"{path}:2: ")


def test_jsonl_sentence_pairs_with_a_field_mapping(tmp_path):
    path = jsonl(
        tmp_path / "afqmc.json",
        {"sentence1": "花呗", "sentence2": "借呗", "label": "0", "id": 3},
        {"sentence1": "a", "sentence2": "b", "label": 1},
    )
    spec = task("pair", format="jsonl", fields={"text_a": "sentence1", "text_b": "sentence2"})
    examples, _ = read_split(spec.local, path, spec)
    assert examples == [TextExample("花呗", "借呗", "0"), TextExample("a", "b", "1")]


@pytest.mark.parametrize(
    "record, message",
    [
        ({"text_a": "好", "label": "2"}, r"label '2' is not one of \['0', '1'\]"),
        ({"text_a": "好", "label": True}, "label True is not one of"),
        ({"text_a": " ", "label": "1"}, "'text_a' is ' '; expected non-empty text"),
        ({"text_a": ["好"], "label": "1"}, "expected non-empty text"),
        ({"text": "好", "label": "1"}, "no 'text_a' key"),
        ('{"text_a": "\\ud800好", "label": "1"}', "half a surrogate pair"),  # a tokenizer would crash on it
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path, record, message):
    path = jsonl(tmp_path / "s.json", {"text_a": "好", "label": "0"}, record)
    spec = task("single", format="jsonl")
    with pytest.raises(DataError, match=message) as caught:
        read_split(spec.local, path, spec)
    assert str(caught.value).startswith(f"{path}:2: ")


def test_jsonl_tagging_checks_lengths_tags_and_bio(tmp_path):
    spec = task("tagging", NER, format="jsonl", fields={"chars": "tokens", "tags": "ner_tags"})
    good = jsonl(
        tmp_path / "good.json",
        {"tokens": "张三", "ner_tags": ["B-PER", "I-PER"]},
        {"tokens": ["北", "京"], "ner_tags": ["B-LOC", "I-LOC"]},
    )
    assert [s.chars for s in read_split(spec.local, good, spec)[0]] == [("张", "三"), ("北", "京")]
    for record, message in [
        ({"tokens": "张三", "ner_tags": ["B-PER"]}, "expected a list of 2 tag strings"),
        ({"tokens": ["张三"], "ner_tags": ["B-PER"]}, "list of single characters"),
        ({"tokens": "张", "ner_tags": ["B-ORG"]}, "tag 'B-ORG' at character 0 is not one of"),
        ({"tokens": "张三", "ner_tags": ["O", "I-PER"]}, "'I-PER' at character 1 after 'O'"),
    ]:
        path = jsonl(tmp_path / "bad.json", record)
        with pytest.raises(DataError, match=message) as caught:
            read_split(spec.local, path, spec)
        assert str(caught.value).startswith(f"{path}:1: ")
    repairing = task("tagging", NER, format="jsonl", fields={"chars": "tokens", "tags": "ner_tags"}, repair_bio=True)
    sentences, report = read_split(repairing.local, path, repairing)
    assert sentences[0].tags == ("O", "B-PER") and len(report.repaired) == 1


def test_tsv_column_mapping_skips_extra_columns_and_reads_headerless_files(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("7\t花呗\t借呗\t1\n8\t甲\t乙\t0\n", encoding="utf-8")
    spec = task(
        "pair",
        format="tsv",
        header=False,
        columns=("id", "q1", "q2", "y"),
        fields={"text_a": "q1", "text_b": "q2", "label": "y"},
    )
    examples, _ = read_split(spec.local, path, spec)
    assert examples == [TextExample("花呗", "借呗", "1"), TextExample("甲", "乙", "0")]
    with_header = task(
        "single", format="tsv", columns=("id", "sentence", "label"), fields={"text_a": "sentence", "label": "label"}
    )
    path.write_text("id\tsentence\tlabel\n1\t好\t1\n2\t \t0\n", encoding="utf-8")
    with pytest.raises(DataError, match=r":3: empty 'sentence'; expected non-empty text"):
        read_split(with_header.local, path, with_header)


def test_what_a_custom_reader_returns_is_checked(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("好|1\n坏|0\n", encoding="utf-8")
    for returned, message in [
        ([TextExample("好", None, "7")], r"example 0 from reader bad: label '7'"),
        ([TextExample("好", "多余", "1")], "expected a TextExample\\(text_a, None, label\\)"),
        (["好"], "example 0 from reader bad is '好'"),
        ([], "reader bad returned no examples"),
    ]:

        def bad(path, task, returned=returned):
            return returned

        spec = task("single", format=bad)
        with pytest.raises(DataError, match=message):
            read_split(spec.local, path, spec)

    def broken(path, task):
        raise KeyError("column")

    spec = task("single", format=broken)
    with pytest.raises(DataError, match=r"raw.txt: reader broken failed: KeyError: 'column'"):
        read_split(spec.local, path, spec)


def test_custom_tagging_reader_gets_bio_checks(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("x", encoding="utf-8")

    def reader(path, task):
        return [TaggedSentence(("张", "三"), ("I-PER", "I-PER"))]

    spec = task("tagging", NER, format=reader)
    with pytest.raises(DataError, match="'I-PER' in example 0 from reader reader at character 0 after sentence start"):
        read_split(spec.local, path, spec)
    repairing = task("tagging", NER, format=reader, repair_bio=True)
    assert read_split(repairing.local, path, repairing)[0][0].tags == ("B-PER", "I-PER")


@pytest.mark.parametrize(
    "local, message",
    [
        ({"format": "json"}, r"format 'json' is not one of tsv, jsonl, conll, spans, squad \(or a reader function\)"),
        ({"format": "conll"}, r"reads tagging tasks, not 'single'"),
        ({"format": "spans"}, "not 'single'"),
        ({"format": "jsonl", "fields": {"chars": "x"}}, r"fields \['chars'\] are not among \['label', 'text_a'\]"),
        ({"format": "tsv"}, "needs columns"),
        ({"format": "tsv", "columns": ("a", "b", "label")}, r"fields \['text_b'\] are not among.*without fields="),
        ({"format": "tsv", "columns": ("text",)}, r"no column for \['label'\]"),
        ({"format": "tsv", "columns": ("s", "y"), "fields": {"text_a": "s", "label": "z"}}, r"columns \['z'\]"),
    ],
)
def test_bad_declarations_fail_when_the_task_is_built(local, message):
    with pytest.raises(CnbenchError, match=message):
        task("single", **local)


def test_every_built_in_format_is_listed_by_the_kinds_that_read_it():
    from cnbench.kinds import kind_of

    assert {name: tuple(kind_of(name).formats) for name in ("single", "pair", "tagging", "span")} == {
        "single": ("tsv", "jsonl"),
        "pair": ("tsv", "jsonl"),
        "tagging": ("conll", "jsonl", "spans"),
        "span": ("squad", "jsonl"),
    }


def test_a_bad_task_file_is_an_error_naming_file_and_line(cnbench, tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text(
        "from cnbench.task import Defaults, LocalFiles, Task\n"
        "\n"
        "LOCAL = LocalFiles(folder='b', format='json', files={'test': 'test.json'})\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CNBENCH_TASKS_PATH", str(tmp_path))
    all_tasks.cache_clear()
    try:
        with pytest.raises(CnbenchError, match=r"broken.py:3: cannot load the task: .*format 'json' is not one of"):
            get_task("chnsenticorp")
        result = cnbench("list")
    finally:
        all_tasks.cache_clear()
    assert result.code == 2 and "broken.py:3: cannot load the task" in result.err


def test_a_task_file_not_named_after_its_task_is_an_error(tmp_path, monkeypatch):
    source = (REPO_ROOT / "tasks" / "chnsenticorp.py").read_text(encoding="utf-8")
    (tmp_path / "sentiment.py").write_text(source.replace('name="chnsenticorp"', 'name="senti"'), encoding="utf-8")
    monkeypatch.setenv("CNBENCH_TASKS_PATH", str(tmp_path))
    all_tasks.cache_clear()
    try:
        with pytest.raises(CnbenchError, match=r"sentiment.py: the task is named 'senti'.*rename the file to senti.py"):
            get_task("chnsenticorp")
    finally:
        all_tasks.cache_clear()


def test_the_documented_reader_example_works(tmp_path):
    page = (REPO_ROOT / "docs" / "adding-a-task.md").read_text(encoding="utf-8")
    code = next(block for block in page.split("```python\n")[1:] if "def read_pipes" in block).split("```")[0]
    namespace = {}
    exec(compile(code, "docs/adding-a-task.md", "exec"), namespace)
    spec = task("single", labels=("neg", "pos"), format=namespace["read_pipes"])
    path = tmp_path / "train.txt.gz"
    path.write_bytes(gzip.compress("好|看|pos\n差|neg\n".encode()))
    examples, report = read_split(spec.local, path, spec)
    assert examples == [TextExample("好|看", None, "pos"), TextExample("差", None, "neg")]
    assert report.sha256 == file_sha256(path)
    path.write_bytes(gzip.compress("好|pos\n没有竖线\n".encode()))
    with pytest.raises(DataError, match=r"train.txt.gz:2: '没有竖线' has no '\|'; expected 'text\|label'"):
        read_split(spec.local, path, spec)


@pytest.mark.parametrize(
    "declaration, message",
    [
        ({"main_metric": "F1"}, r"task 't': main_metric 'F1' is not one of accuracy, macro_f1"),
        (
            {"kind": "tagging", "labels": NER, "format": "conll", "main_metric": "accuracy"},
            r"main_metric 'accuracy' is not one of f1, f1_lenient, precision, recall",
        ),
        ({"kind": "tagger"}, r"kind 'tagger' is not one of single, pair, tagging"),
        # BIOES, BMES and IO tags: seqeval's strict IOB2 would fail on them at the first dev evaluation
        (
            {"kind": "tagging", "labels": ("O", "B-PER", "I-PER", "E-PER", "S-PER"), "format": "conll"},
            r"label 'E-PER' is not BIO; expected 'O', 'B-<type>' or 'I-<type>'",
        ),
        (
            {"kind": "tagging", "labels": ("O", "B-PER", "M-PER", "E-PER", "S-PER"), "format": "conll"},
            "label 'M-PER' is not BIO",
        ),
        ({"kind": "tagging", "labels": ("O", "PER"), "format": "conll"}, "label 'PER' is not BIO"),
        ({"kind": "tagging", "labels": ("O", "B-"), "format": "conll"}, "label 'B-' is not BIO"),
        # repair_bio turns I-PER into B-PER, which must then be a label
        ({"kind": "tagging", "labels": ("O", "I-PER"), "format": "conll"}, "labels have I-PER but no B-PER"),
        (
            {"kind": "tagging", "labels": ("O", "B-PER", "I-PER", "B-LOC"), "format": "conll"},
            "labels have B-LOC but no I-LOC",
        ),
        ({"dev_from_train": 0.7}, r"dev_from_train 0.7: expected 0 \(no holdout\) or 1/k for a whole k >= 2"),
        ({"dev_from_train": 1.5}, "dev_from_train 1.5: expected"),
        ({"dev_from_train": 3}, "dev_from_train 3: expected"),
        ({"dev_from_train": 0.3}, "dev_from_train 0.3: expected"),  # would hold out a third, not 30 %
        ({"dev_from_train": 0.4}, "dev_from_train 0.4: expected"),  # would hold out half
        ({"dev_from_train": -0.1}, "dev_from_train -0.1: expected"),
        ({"dev_from_train": float("nan")}, "dev_from_train nan: expected"),
        (
            {"files": {"train": "a", "valid": "b", "test": "c"}},
            r"LocalFiles\(folder='t'\): files has splits \['valid'\]; expected only train, dev, test",
        ),
        ({"files": {"dev": "b", "test": "c"}}, r"LocalFiles\(folder='t'\): files has no 'train' split"),
    ],
)
def test_a_task_declaration_is_checked_when_it_is_built(declaration, message):
    declaration = {"format": "tsv", "columns": ("label", "text"), **declaration}
    if declaration["format"] == "conll":
        del declaration["columns"]
    with pytest.raises(CnbenchError, match=message):
        task(**declaration)


@pytest.mark.parametrize(
    "declaration",
    [
        {"main_metric": "macro_f1"},
        {"dev_from_train": 0.5},
        {"dev_from_train": 0.1},
        {"dev_from_train": 0.05},
        {"dev_from_train": 1 / 3},
        {"files": {"train": "a", "dev": "b", "test": "c"}},
        {"files": {"train": "a"}},
        {"kind": "tagging", "labels": NER, "format": "conll", "main_metric": "f1_lenient"},
        {"kind": "tagging", "labels": ("B-W", "I-W"), "format": "conll"},  # word segmentation as BIO: no O
    ],
)
def test_sound_task_declarations_are_accepted(declaration):
    declaration = {"format": "tsv", "columns": ("label", "text"), **declaration}
    if declaration["format"] == "conll":
        del declaration["columns"]
    task(**declaration)


def test_the_main_metrics_a_task_may_declare_are_what_its_kind_is_scored_by():
    from cnbench.kinds.classification import SINGLE, classification_metrics
    from cnbench.kinds.tagging import TAGGING, tagging_metrics

    def scores(metrics):
        return {name for name, value in metrics.items() if isinstance(value, float)}

    assert set(SINGLE.metrics) == scores(classification_metrics(["0", "1"], ["0", "0"], ("0", "1")))
    assert set(TAGGING.metrics) == scores(tagging_metrics([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]]))
    assert all(spec.main_metric in spec.kind_rules.metrics for spec in all_tasks().values())


@pytest.fixture
def plug_in(tmp_path, monkeypatch):
    """Install a task plug-in: ``plug_in(source, entry)`` writes a module and a ``cnbench.tasks`` entry point."""

    def install(source: str, entry: str) -> None:
        name = f"cnbench_plugin_{tmp_path.name}"
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        info = tmp_path / "fakeplug-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[cnbench.tasks]\nbad = {name}:{entry}\n", encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
        all_tasks.cache_clear()

    yield install
    all_tasks.cache_clear()


@pytest.mark.parametrize(
    "source, entry, message",
    [
        (
            "from cnbench.task import Defaults, LocalFiles, Task\n"
            "TASK = Task(name='plug', description='x', kind='tagger', labels=('0', '1'), main_metric='accuracy',\n"
            "            local=LocalFiles(folder='x', format='tsv', columns=('label', 'text'), files={'train': 't'}),\n"
            "            defaults=Defaults(32, 1, 1e-3))\n",
            "TASK",
            r"cannot load the task: task 'plug': kind 'tagger' is not one of",
        ),
        ("TASK = None\n", "TASKX", r"cannot load the task: AttributeError: .*TASKX"),
        (
            "raise ImportError('needs a package that is not installed')\n",
            "TASK",
            "cannot load the task: ImportError: needs a package that is not installed",
        ),
        ("TASK = 3\n", "TASK", "expected a cnbench.task.Task, got int"),
    ],
)
def test_a_broken_plug_in_is_an_error_naming_its_entry_point(cnbench, plug_in, source, entry, message):
    plug_in(source, entry)
    with pytest.raises(CnbenchError, match=rf"entry point bad = cnbench_plugin_\w+:{entry}: {message}"):
        get_task("chnsenticorp")
    result = cnbench("list")
    assert result.code == 2 and "error: entry point bad = cnbench_plugin_" in result.err
    assert "Traceback" not in result.err
