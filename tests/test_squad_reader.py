"""The span-task readers (``cnbench.data.squad``): the real CMRC 2018 and DRCD files, the
answer-start repair with the Hub's ``.strip()`` quirk, JSON lines in both answer layouts, and every
refusal naming the file and the place in it."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnbench.data.examples import Answer, SpanExample
from cnbench.data.squad import NEARBY, align_answers, read_span_jsonl, read_squad, span_examples_from_rows
from cnbench.errors import DataError
from cnbench.hashing import file_sha256

CONTEXT = "《战国无双3》是由光荣和ω-force开发的战国无双系列的正统第三续作。"


def squad(*questions: dict, context: str = CONTEXT) -> dict:
    return {
        "version": "v1.0",
        "data": [{"id": "A", "title": "t", "paragraphs": [{"id": "A", "context": context, "qas": list(questions)}]}],
    }


def question(id_: str = "Q0", text: str = "谁开发的？", answers=None) -> dict:
    return {
        "id": id_,
        "question": text,
        "answers": [{"text": "光荣和ω-force", "answer_start": 9}] if answers is None else answers,
    }


def write_json(tmp_path, document, name: str = "dev.json"):
    path = tmp_path / name
    data = json.dumps(document, ensure_ascii=False, indent=2).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def refusal(read, path, *args) -> str:
    with pytest.raises(DataError) as caught:
        read(path, *args)
    return str(caught.value)


# -- the real files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, questions, repairs, free_form",
    [
        ("cmrc2018/dev.json.gz", 3219, 7, 193),
        ("cmrc2018/trial.json.gz", 1002, 5, 0),
        ("drcd/dev.json.gz", 3524, 0, 0),
        ("drcd/test.json.gz", 3493, 0, 0),
    ],
)
def test_the_real_files_read_with_their_known_repairs(data_dir, name, questions, repairs, free_form):
    path = data_dir / name
    examples, report = read_squad(path)
    assert len(examples) == questions and len({example.id for example in examples}) == questions
    assert len(report.repaired) == repairs and not any(" -> -1" in line for line in report.repaired)
    assert report.sha256 == file_sha256(path) and report.path == str(path)
    answers = [(example, answer) for example in examples for answer in example.answers]
    assert sum(answer.start == -1 for _, answer in answers) == free_form
    assert all(
        example.context.startswith(answer.text, answer.start) for example, answer in answers if answer.start != -1
    )
    # the free-form answers are kept as they are: none of them is in its context
    assert not any(answer.text in example.context for example, answer in answers if answer.start == -1)


def test_cmrc_dev_repairs_are_the_published_one_and_two_character_slips(data_dir):
    examples, report = read_squad(data_dir / "cmrc2018" / "dev.json.gz")
    where = str(data_dir / "cmrc2018" / "dev.json.gz")
    assert report.repaired[0] == f"{where}: DEV_101_QUERY_3 answer 1: start 175 -> 174"
    assert report.repaired[-1] == f"{where}: DEV_110_QUERY_3 answer 1: start 203 -> 201"
    by_id = {example.id: example for example in examples}
    assert by_id["DEV_110_QUERY_2"].answers == (Answer("新界西贡区清水湾半岛以南的大庙湾地堂咀", 135),) * 3
    assert by_id["DEV_10_QUERY_2"].answers[2] == Answer("39764.0", -1)


def test_drcd_answers_carry_ids_that_are_not_read_and_trial_has_empty_questions(data_dir):
    drcd, _ = read_squad(data_dir / "drcd" / "dev.json.gz")
    assert all(len(example.answers) == 2 for example in drcd)
    trial = {example.id: example for example in read_squad(data_dir / "cmrc2018" / "trial.json.gz")[0]}
    # kept: the context alone gives the answer, and dropping a question would change the test set
    assert trial["TRIAL_20_QUERY_0"].question == "" and trial["TRIAL_20_QUERY_0"].answers == (Answer("那须盐原市", 17),)


def test_the_hub_copys_stripped_answers_are_moved_past_the_whitespace_they_lost(data_dir):
    """hfl/cmrc2018's loader strips every text and keeps every start: rebuilt here from the real
    dev file, the rows have 17 misaligned answers (the facts file's count), all found again."""
    with gzip.open(data_dir / "cmrc2018" / "dev.json.gz", "rt", encoding="utf-8") as handle:
        document = json.load(handle)
    rows = [
        {
            "id": qa["id"],
            "context": paragraph["context"].strip(),
            "question": qa["question"].strip(),
            "answers": {
                "text": [answer["text"].strip() for answer in qa["answers"]],
                "answer_start": [answer["answer_start"] for answer in qa["answers"]],
            },
        }
        for article in document["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    examples, lines = align_answers(span_examples_from_rows(rows, {}, "hfl/cmrc2018[validation]"), "hub")
    assert len(examples) == 3219 and len(lines) == 17 and not any(" -> -1" in line for line in lines)
    assert "hub: DEV_158_QUERY_1 answer 3: start 246 -> 247" in lines
    assert sum(answer.start == -1 for example in examples for answer in example.answers) == 193


# -- alignment --------------------------------------------------------------------------------------


def aligned_start(context: str, text: str, start: int) -> tuple[int, list[str]]:
    examples, lines = align_answers([SpanExample("Q", context, "问", (Answer(text, start),))], "here")
    return examples[0].answers[0].start, lines


def test_an_aligned_answer_and_a_free_form_one_are_left_alone():
    example = SpanExample("Q", CONTEXT, "问", (Answer("光荣和ω-force", 9), Answer("光荣", -1), Answer("无关", -1)))
    assert align_answers([example], "here") == ([example], [])


def test_a_start_off_by_a_few_characters_moves_to_the_nearest_occurrence():
    context = "E23 位于 E23 公路旁，E23"
    assert aligned_start(context, "E23", 5) == (7, ["here: Q answer 1: start 5 -> 7"])
    assert aligned_start("甲乙北京丙北京", "北京", 3)[0] == 2  # 2 and 5 lie 1 and 2 away: the nearer
    assert aligned_start("北京甲甲北京", "北京", 2)[0] == 0  # 0 and 4 lie as near: the left one


def test_leading_whitespace_of_any_length_is_skipped_as_the_hub_strip_left_it():
    context = "时间：\u3000\u3000 \u3000\u3000 1999年。"
    assert aligned_start(context, "1999年", 3) == (9, ["here: Q answer 1: start 3 -> 9"])
    assert 9 - 3 > NEARBY  # found by the strip rule, not by the nearby search


def test_an_answer_not_near_its_start_is_scored_but_not_trained_on_and_said_so():
    context = "甲乙丙丁戊己庚辛壬癸北京"
    start, lines = aligned_start(context, "北京", 0)
    assert start == -1
    assert lines == [
        f"here: Q answer 1: start 0 -> -1: '北京' is not within {NEARBY} characters of the start "
        "(it occurs at 10); scored, not trained on"
    ]
    assert "it does not occur in the context" in aligned_start(context, "上海", 4)[1][0]


# -- refusals ---------------------------------------------------------------------------------------


def test_text_that_is_not_json_is_refused_at_its_line(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text('{"version": "v1.0",\n "data": [\n   {"paragraphs": [}\n ]}\n', encoding="utf-8")
    assert refusal(read_squad, path).startswith(f"{path}:3: not JSON (Expecting value, column 20)")


@pytest.mark.parametrize("document", [{"version": "v1.0"}, [], {"data": {"paragraphs": []}}])
def test_a_document_without_a_data_list_is_refused(tmp_path, document):
    path = write_json(tmp_path, document)
    message = refusal(read_squad, path)
    assert message.startswith(f"{path}: ") and 'has no "data" list; expected SQuAD-v1 JSON' in message


@pytest.mark.parametrize(
    "qas, location, problem",
    [
        ([question(), {"question": "问", "answers": []}], "qas[1]", 'no "id"; expected the question\'s id'),
        ([question(), {"id": "Q1", "answers": []}], "qas[1]", 'no "question"; expected the question text'),
        ([question(text=None)], "qas[0]", '"question" is None; expected the question text'),
        ([question(id_="")], "qas[0]", "\"id\" is ''; expected non-empty text"),
        ([{"id": "Q", "question": "问"}], "qas[0]", 'no "answers"; expected a list of answers'),
        ([question(answers={"text": "光荣", "answer_start": 9})], "qas[0]", "\"answers\" is {'text': '光荣', "),
        ([question(answers=[])], "qas[0]", '"answers" is empty; expected at least one answer'),
        ([question(answers=[{"answer_start": 9}])], "qas[0].answers[0]", 'no "text"; expected an answer'),
        (
            [question(answers=[{"text": "光荣", "answer_start": 9}, {"text": "光荣"}])],
            "qas[0].answers[1]",
            'no "answer_start"',
        ),
        (
            [question(answers=[{"text": " ", "answer_start": 9}])],
            "qas[0].answers[0]",
            "\"text\" is ' '; expected non-empty",
        ),
        (
            [question(answers=[{"text": "光荣", "answer_start": "9"}])],
            "qas[0].answers[0]",
            "\"answer_start\" is '9'; expected an integer character offset (-1 for a free-form answer)",
        ),
        ([question(answers=[{"text": "光荣", "answer_start": 9.0}])], "qas[0].answers[0]", '"answer_start" is 9.0;'),
        ([question(answers=[{"text": "光荣", "answer_start": True}])], "qas[0].answers[0]", '"answer_start" is True;'),
        (
            [question(answers=[{"text": "光荣", "answer_start": len(CONTEXT)}])],
            "qas[0].answers[0]",
            f'"answer_start" {len(CONTEXT)} is outside the context (characters 0 to {len(CONTEXT) - 1})',
        ),
        (
            [question(answers=[{"text": "光荣", "answer_start": -2}])],
            "qas[0].answers[0]",
            '"answer_start" -2 is outside',
        ),
        (["Q0"], "qas[0]", "is 'Q0'; expected a JSON object"),
    ],
)
def test_a_malformed_question_is_refused_at_its_place_in_the_document(tmp_path, qas, location, problem):
    path = write_json(tmp_path, squad(*qas))
    message = refusal(read_squad, path)
    assert message.startswith(f"{path}: data[0].paragraphs[0].{location}")
    assert problem in message


def test_a_repeated_question_id_names_both_places(tmp_path):
    document = squad(question("Q0"))
    document["data"].append(squad(question("Q1"), question("Q0"))["data"][0])
    path = write_json(tmp_path, document)
    assert refusal(read_squad, path) == (
        f"{path}: data[1].paragraphs[0].qas[1]: id 'Q0' is also the id of "
        "data[0].paragraphs[0].qas[0]; expected unique question ids"
    )


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda doc: doc["data"][0].pop("paragraphs"), 'data[0]: no "paragraphs"; expected a list of paragraphs'),
        (lambda doc: doc["data"][0]["paragraphs"][0].update(context=""), "data[0].paragraphs[0]: \"context\" is ''"),
        (lambda doc: doc["data"][0]["paragraphs"][0].update(context=7), 'data[0].paragraphs[0]: "context" is 7'),
        (lambda doc: doc["data"][0]["paragraphs"][0].update(qas={}), 'data[0].paragraphs[0]: "qas" is {}'),
        (lambda doc: doc["data"].insert(0, "A"), "data[0] is 'A'; expected a JSON object"),
        (lambda doc: doc["data"][0]["paragraphs"][0].update(qas=[]), "no questions; expected SQuAD-v1 JSON"),
    ],
)
def test_a_malformed_article_or_paragraph_is_refused_at_its_place(tmp_path, mutate, message):
    document = squad(question())
    mutate(document)
    path = write_json(tmp_path, document)
    assert refusal(read_squad, path).startswith(f"{path}: {message}")


def test_half_a_surrogate_pair_is_refused_where_it_is(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(squad(question(text="问\ud800")), ensure_ascii=True), encoding="ascii")
    assert refusal(read_squad, path).startswith(
        f'{path}: data[0].paragraphs[0].qas[0]: "question" holds half a surrogate pair'
    )


def test_a_gzipped_file_reads_like_the_plain_one_and_a_broken_one_is_named(tmp_path):
    plain = read_squad(write_json(tmp_path, squad(question()), "dev.json"))[0]
    packed = write_json(tmp_path, squad(question()), "dev.json.gz")
    assert read_squad(packed)[0] == plain == [SpanExample("Q0", CONTEXT, "谁开发的？", (Answer("光荣和ω-force", 9),))]
    packed.write_bytes(packed.read_bytes()[:30])
    assert "is the file truncated?" in refusal(read_squad, packed)


# -- JSON lines -------------------------------------------------------------------------------------


def write_lines(tmp_path, records, name: str = "dev.jsonl"):
    path = tmp_path / name
    data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def test_jsonl_reads_both_answer_layouts_renamed_fields_and_gzip(tmp_path):
    records = [
        {
            "id": "Q0",
            "context": CONTEXT,
            "question": "谁？",
            "answers": [{"text": "光荣和ω-force", "answer_start": 10}],
        },
        {
            "id": "Q1",
            "context": CONTEXT,
            "question": "哪作？",
            "answers": {"text": ["第三续作", "三续作"], "answer_start": [31, -1]},
        },
    ]
    examples, report = read_span_jsonl(write_lines(tmp_path, records, "dev.jsonl.gz"), {})
    assert examples == [
        SpanExample("Q0", CONTEXT, "谁？", (Answer("光荣和ω-force", 9),)),
        SpanExample("Q1", CONTEXT, "哪作？", (Answer("第三续作", 31), Answer("三续作", -1))),
    ]
    assert report.repaired == [f"{tmp_path / 'dev.jsonl.gz'}: Q0 answer 1: start 10 -> 9"]

    renamed = [{"qid": r["id"], "passage": r["context"], "query": r["question"], "gold": r["answers"]} for r in records]
    fields = {"id": "qid", "context": "passage", "question": "query", "answers": "gold"}
    assert read_span_jsonl(write_lines(tmp_path, renamed), fields)[0] == examples


@pytest.mark.parametrize(
    "record, line, problem",
    [
        ({"id": "Q2", "context": CONTEXT, "question": "问"}, 2, "no 'answers' key; expected keys"),
        (
            {"id": "Q2", "context": CONTEXT, "question": "问", "answers": {"text": ["光荣"], "answer_start": []}},
            2,
            "\"answers\" is {'text': ['光荣'], 'answer_start': []}, not two lists of the same length",
        ),
        (
            {"id": "Q2", "context": CONTEXT, "question": "问", "answers": "光荣"},
            2,
            "\"answers\" is '光荣'; expected a list",
        ),
        (
            {"id": "Q2", "context": CONTEXT, "question": "问", "answers": {"text": ["光荣"], "answer_start": [99]}},
            2,
            'answers[0]: "answer_start" 99 is outside the context',
        ),
        (
            {"id": "Q0", "context": CONTEXT, "question": "问", "answers": [{"text": "光荣", "answer_start": 9}]},
            2,
            "id 'Q0' is also the id on line 1; expected unique question ids",
        ),
    ],
)
def test_jsonl_refusals_name_the_line(tmp_path, record, line, problem):
    first = {"id": "Q0", "context": CONTEXT, "question": "问", "answers": [{"text": "光荣", "answer_start": 9}]}
    path = write_lines(tmp_path, [first, record])
    message = refusal(read_span_jsonl, path, {})
    assert message.startswith(f"{path}:{line}: ") and problem in message


def test_jsonl_that_is_not_json_lines_is_refused(tmp_path):
    path = tmp_path / "dev.jsonl"
    path.write_text("{}\n", encoding="utf-8")
    assert refusal(read_span_jsonl, path, {}).startswith(f"{path}:1: no 'id', 'context', 'question', 'answers' key")
    path.write_text("", encoding="utf-8")
    assert refusal(read_span_jsonl, path, {}) == (
        f"{path}: no lines; expected one JSON object per line, keys ['id', 'context', 'question', 'answers']"
    )


# -- Hub rows ---------------------------------------------------------------------------------------


def test_hub_rows_become_examples_and_refusals_name_the_row():
    row = {"id": "Q0", "context": CONTEXT, "question": "问", "answers": {"text": ["光荣"], "answer_start": [9]}}
    where = "hfl/cmrc2018@137f2c4[validation]"
    assert span_examples_from_rows([row], {}, where) == [SpanExample("Q0", CONTEXT, "问", (Answer("光荣", 9),))]
    with pytest.raises(DataError, match=r"^hfl/cmrc2018@137f2c4\[validation\] row 1: id 'Q0' is also the id of row 0"):
        span_examples_from_rows([row, row], {}, where)
    with pytest.raises(DataError, match=r"row 0: no column 'question'; the rows have"):
        span_examples_from_rows([{key: value for key, value in row.items() if key != "question"}], {}, where)
    with pytest.raises(DataError, match=r'row 0: answers\[0\]: "text" is None'):
        span_examples_from_rows([{**row, "answers": {"text": [None], "answer_start": [9]}}], {}, where)
    with pytest.raises(DataError, match=r"no rows; expected one row per question"):
        span_examples_from_rows([], {}, where)


# -- whatever the file holds ------------------------------------------------------------------------

SQUAD_KEYS = ["data", "paragraphs", "context", "qas", "id", "question", "answers", "text", "answer_start"]
# Wrong types and near misses: SQuAD's own keys nested at random, holding texts and offsets.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", " ", "光荣", " 光荣", "Q0", CONTEXT, "\ud800"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(SQUAD_KEYS), inner, max_size=4),
    max_leaves=24,
)


def usually(valid):
    """Mostly a well-formed piece, so that reading gets past it to the next check."""
    return st.one_of(valid, valid, valid, JSON_VALUES)


ANSWER = st.fixed_dictionaries(
    {
        "text": usually(st.sampled_from(["光荣", "光荣和ω-force", " 光荣", "三续"])),
        "answer_start": usually(st.integers(-1, len(CONTEXT) + 1)),
    }
)
ANSWERS = usually(st.lists(ANSWER, min_size=1, max_size=3))
QUESTION = st.fixed_dictionaries(
    {"id": usually(st.sampled_from(["Q0", "Q1", "Q2"])), "question": usually(st.just("问")), "answers": ANSWERS}
)
PARAGRAPH = st.fixed_dictionaries(
    {"context": usually(st.just(CONTEXT)), "qas": usually(st.lists(QUESTION, min_size=1, max_size=3))}
)
SQUAD_DOCUMENTS = st.fixed_dictionaries(
    {
        "data": usually(
            st.lists(
                st.fixed_dictionaries({"paragraphs": usually(st.lists(PARAGRAPH, min_size=1, max_size=2))}),
                min_size=1,
                max_size=2,
            )
        )
    }
)
HUB_ANSWERS = st.fixed_dictionaries(
    {
        "text": st.lists(st.sampled_from(["光荣", " 光荣"]), min_size=1, max_size=2),
        "answer_start": st.lists(st.integers(-1, 12), min_size=1, max_size=2),
    }
)
SPAN_RECORDS = st.fixed_dictionaries(
    {
        "id": usually(st.sampled_from(["Q0", "Q1"])),
        "context": usually(st.just(CONTEXT)),
        "question": usually(st.just("问")),
        "answers": st.one_of(HUB_ANSWERS, ANSWERS),
    }
)


def check_examples(examples) -> None:
    assert examples and len({example.id for example in examples}) == len(examples)
    for example in examples:
        assert all(
            answer.start == -1 or example.context.startswith(answer.text, answer.start) for answer in example.answers
        )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=usually(SQUAD_DOCUMENTS), packing=st.sampled_from(["plain", "plain", "gzip", "cut"]))
def test_any_json_reads_to_aligned_examples_or_a_data_error_naming_the_file(tmp_path, document, packing):
    data = json.dumps(document).encode()
    path = tmp_path / ("dev.json" if packing == "plain" else "dev.json.gz")
    path.write_bytes(data if packing == "plain" else gzip.compress(data)[: None if packing == "gzip" else 20])
    try:
        check_examples(read_squad(path)[0])
    except DataError as err:
        assert str(err).startswith(str(path))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(usually(SPAN_RECORDS), max_size=3))
def test_any_json_lines_read_to_aligned_examples_or_a_data_error_naming_the_file(tmp_path, records):
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    try:
        check_examples(read_span_jsonl(path, {})[0])
    except DataError as err:
        assert str(err).startswith(str(path))
