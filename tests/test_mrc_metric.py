"""The CMRC 2018 metric (cnbench.mrc_metric): every rule of the official v6 evaluation, pinned by worked cases.

Expected values are worked out by hand from the rules (module docstring); the examples in the first
test are those of shared/mrc-clue-facts.md section 1.5, produced there with the official functions.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from cnbench import mrc_metric as metric
from cnbench.mrc_metric import (
    PUNCTUATION,
    cmrc_metrics,
    longest_common_substring_length,
    mixed_segmentation,
    non_cjk_runs,
    question_scores,
    remove_punctuation,
    tokenize_run,
)


def seg(text: str) -> list[str]:
    return mixed_segmentation(text, rm_punc=True)


@pytest.mark.parametrize(
    ("gold", "prediction", "em", "f1"),
    [
        ("北京大学", "北京的大学", 0.0, 4 / 9),  # longest common run 北京 (2): P 2/5, R 2/4
        ("《战国无双3》", "战国无双3", 1.0, 1.0),  # 《》 are listed: stripped for EM and F1
        ("五个", "5个", 0.0, 0.5),
        ("“傻钱”策略", '"傻钱"策略', 0.0, 0.4),  # ASCII quotes are not listed: `` tokens, P 2/6, R 2/4
    ],
)
def test_facts_file_examples(gold, prediction, em, f1):
    got_em, got_f1 = question_scores([gold], prediction)
    assert got_em == em
    assert got_f1 == pytest.approx(f1, abs=1e-12)


def test_the_punctuation_list_is_the_official_one():
    expected = "- : _ * ^ / \\ ~ ` + = ， 。 ： ？ ！ “ ” ； ’ 《 》 …… · 、 「 」 （ ） － ～ 『 』".split(" ")
    assert list(PUNCTUATION) == expected
    assert len(PUNCTUATION) == 33
    assert [p for p in PUNCTUATION if len(p) != 1] == ["\u2026\u2026"]


def test_the_two_character_ellipsis_entry_never_matches_so_a_lone_ellipsis_stays():
    assert remove_punctuation("好…") == "好…"
    assert remove_punctuation("好……") == "好……"  # each … is compared on its own
    assert seg("好…") == ["好", "…"]
    assert question_scores(["好"], "好…")[0] == 0.0
    assert question_scores(["好"], "好。")[0] == 1.0  # a listed mark, for contrast


def test_unlisted_punctuation_is_kept():
    for kept in ",.?!;\"'()‘【】．":
        assert remove_punctuation(f"甲{kept}") == f"甲{kept}", kept


def test_removed_punctuation_does_not_end_the_pending_run():
    assert seg("ω-force") == ["ωforce"]  # '-' skipped, run goes on
    assert mixed_segmentation("ω-force") == ["ω", "-", "force"]  # without rm_punc '-' is a token
    assert seg("a-b c") == ["ab", "c"]
    assert question_scores(["ω-force"], "ω force") == (0.0, 0.0)  # "ωforce" vs "ω" "force": nothing in common


def test_em_keeps_internal_whitespace_f1_does_not():
    assert question_scores(["甲 乙丙"], "甲乙丙") == (0.0, 1.0)
    assert seg("甲 乙丙") == ["甲", "乙", "丙"]
    assert question_scores(["  北京 "], "北京") == (1.0, 1.0)  # outer whitespace is stripped
    assert question_scores(["new york"], "newyork") == (0.0, 0.0)


def test_case_is_folded():
    assert question_scores(["IBM公司"], "ibm公司") == (1.0, 1.0)
    assert seg("NBA球星") == ["nba", "球", "星"]


def test_best_gold_answer_counts():
    assert question_scores(["上海", "北京大学"], "北京大学") == (1.0, 1.0)
    em, f1 = question_scores(["北京", "大学城"], "北京大学")  # 2/3 against 北京, 4/7 against 大学城
    assert em == 0.0
    assert f1 == pytest.approx(2 / 3)


def test_unanswered_questions_score_zero_and_stay_in_the_denominator():
    scores = cmrc_metrics([["北京"], ["上海"], ["广州"]], ["北京", None, "广州市"])
    assert scores["n"] == 3
    assert scores["unanswered"] == 1
    assert scores["em"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 0 + 0.8) / 3)  # 广州 vs 广州市: P 2/3, R 1
    assert scores["average"] == pytest.approx((scores["em"] + scores["f1"]) / 2)
    assert question_scores(["北京"], None) == (0.0, 0.0)


def test_totals_over_the_facts_examples():
    gold = [["北京大学"], ["《战国无双3》"], ["五个"], ["“傻钱”策略"]]
    scores = cmrc_metrics(gold, ["北京的大学", "战国无双3", "5个", '"傻钱"策略'])
    assert scores == {
        "f1": pytest.approx((4 / 9 + 1 + 0.5 + 0.4) / 4),
        "em": 0.25,
        "average": pytest.approx((0.25 + (4 / 9 + 1 + 0.5 + 0.4) / 4) / 2),
        "n": 4,
        "unanswered": 0,
    }


def test_only_u4e00_to_u9fa5_are_single_character_tokens():
    assert seg("一一") == ["一", "一"]
    assert seg("〇〇") == ["〇〇"]  # U+3007 is not in the range: it joins the run
    assert seg("㐀㐁") == ["㐀㐁"]  # Extension A
    assert seg("龦龧") == ["龦龧"]  # U+9FA6, U+9FA7: just past the range
    assert seg("一九〇五年") == ["一", "九", "〇", "五", "年"]
    assert non_cjk_runs("一九〇〇年") == ["〇〇"]
    em, f1 = question_scores(["〇〇七"], "〇〇")  # gold 〇〇 七, prediction 〇〇: P 1, R 1/2
    assert (em, f1) == (0.0, pytest.approx(2 / 3))


def test_latin_and_digits_become_words():
    assert seg("ab cd") == ["ab", "cd"]
    assert seg("2018年") == ["2018", "年"]
    assert seg("iPhone 7手机") == ["iphone", "7", "手", "机"]
    assert seg("don't") == ["do", "n't"]
    assert mixed_segmentation(2018) == ["2018"]  # str() is applied, as officially


def test_f1_uses_the_longest_contiguous_run_not_a_bag_of_tokens():
    # Same four characters: a bag-of-tokens F1 would be 1. The longest common run is one character.
    assert question_scores(["北京大学"], "京北学大") == (0.0, pytest.approx(0.25))
    assert longest_common_substring_length(list("abcde"), list("xbcdy")) == 3
    assert longest_common_substring_length(list("abc"), list("axc")) == 1  # a subsequence would give 2
    assert longest_common_substring_length(list("ab"), list("ba")) == 1
    assert longest_common_substring_length([], list("ab")) == 0
    assert longest_common_substring_length(["ab", "cd"], ["abcd"]) == 0  # tokens compare whole


def test_empty_prediction():
    assert question_scores(["北京"], "") == (0.0, 0.0)
    assert question_scores(["北京"], "   ") == (0.0, 0.0)
    # A gold answer made only of listed marks is empty after removal: EM matches "", F1 has no tokens.
    assert question_scores(["。"], "") == (1.0, 0.0)
    assert cmrc_metrics([["北京"]], [""]) == {"f1": 0.0, "em": 0.0, "average": 0.0, "n": 1, "unanswered": 0}


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2 questions but 1 predictions"):
        cmrc_metrics([["a"], ["b"]], ["a"])
    with pytest.raises(ValueError, match="question 1 has no gold answer"):
        cmrc_metrics([["a"], []], ["a", "b"])
    with pytest.raises(ValueError, match="no questions"):
        cmrc_metrics([], [])
    with pytest.raises(TypeError, match="list of strings"):
        question_scores("北京", "北京")
    with pytest.raises(TypeError, match="string or None"):
        question_scores(["1"], 1)


def test_runs_are_split_into_sentences_as_the_english_punkt_model_does():
    assert tokenize_run("e.g. by egi") == ("e.g", ".", "by", "egi")  # not an abbreviation: a break
    assert tokenize_run("t.f. gilbert") == ("t.f", ".", "gilbert")
    assert tokenize_run("r.s.;") == ("r.s", ".", ";")  # a break before punctuation, no space needed
    assert tokenize_run("dr. alfred bauer") == ("dr.", "alfred", "bauer")  # abbreviation: no break
    assert tokenize_run("st. paul") == ("st.", "paul")
    assert tokenize_run("j. frank") == ("j.", "frank")  # initial before a lower-case word
    # After a number, only a word seen lower-case at sentence starts (and never capitalised) breaks.
    assert tokenize_run("5. renunciation") == ("5.", "renunciation")
    assert tokenize_run("5. administrators") == ("5", ".", "administrators")
    assert tokenize_run("no. 5 shop") == ("no", ".", "5", "shop")


def test_word_rules_are_those_of_nltk_3_5_to_3_9_2():
    assert tokenize_run("1–1") == ("1–1",)  # newer NLTK: 1 – 1
    assert tokenize_run("1971—1976") == ("1971—1976",)
    assert tokenize_run("'shade' for") == ("'shade", "'", "for")  # newer NLTK: ' shade ' for
    assert tokenize_run('"umbra"') == ("``", "umbra", "''")
    assert tokenize_run("can't") == ("ca", "n't")
    assert tokenize_run("   ") == ()


def test_the_word_rules_are_changed_on_cnbench_s_object_only_and_checked():
    from nltk.tokenize.destructive import NLTKWordTokenizer

    before = [p.pattern for p, _ in NLTKWordTokenizer.PUNCTUATION + NLTKWordTokenizer.STARTING_QUOTES]
    tokenizer = metric._published_word_tokenizer(NLTKWordTokenizer)
    assert [p.pattern for p, _ in NLTKWordTokenizer.PUNCTUATION + NLTKWordTokenizer.STARTING_QUOTES] == before
    assert tokenizer.tokenize("1–1") == ["1–1"]

    class Drifted(NLTKWordTokenizer):  # a release whose rules cnbench does not know
        def tokenize(self, text, *args, **kwargs):
            return text.split()

    with pytest.raises(RuntimeError, match="nltk version that cnbench pins"):
        metric._published_word_tokenizer(Drifted)


def test_importing_the_metric_does_not_import_nltk():
    code = "import sys, cnbench.mrc_metric; print('nltk' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
