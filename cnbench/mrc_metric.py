"""The CMRC 2018 span-extraction metric (EM and F1), computed the way the official evaluation computes it.

cnbench scores CMRC 2018 and DRCD with this module, so that its numbers can be set beside the EM/F1
figures published by HFL (Chinese-BERT-wwm, MacBERT, Chinese-ELECTRA), by CLUE and in the CMRC paper:
all of those come from the official evaluation script of the CMRC 2018 repository (v6,
``baseline/cmrc2018_evaluate.py``), which HFL also applies to DRCD. The metric is reimplemented here
rather than borrowed from the SQuAD metric because the SQuAD metric is wrong for Chinese: it splits on
whitespace, so an unsegmented Chinese span is a single "word" and F1 collapses into exact match; it
counts overlap as a bag of tokens; and its normalisation strips English articles and ASCII punctuation
only. The official CMRC rules, reproduced here (this is a reimplementation, not a copy):

Segmentation (``mixed_segmentation``). The text is ``str(text).lower().strip()``. It is read one
character at a time. Each character in U+4E00..U+9FA5 (the base CJK Unified Ideographs block, nothing
else: not U+3007 〇, not Extension A, not the compatibility ideographs) is a token of its own, and so is
each character of the punctuation list ``PUNCTUATION``. Every other character (Latin letters, digits,
whitespace, ASCII punctuation not in the list, full-width digits, kana, rarer CJK characters) is
collected into a pending run; the run is tokenised like ``nltk.word_tokenize`` (see below) when a
token character arrives and at the end of the text. With ``rm_punc=True`` (the only way F1 uses it) a
character of the list is dropped *without* ending the pending run, so ``"ω-force"`` gives the single
token ``"ωforce"``.

The punctuation list has 33 entries, one of them the two-character string ``"……"``. Since the text is
compared one character at a time, that entry never matches: a lone ``…`` (U+2026) is kept, and ASCII
``, . ? ! ; " ' ( )``, ``‘`` (U+2018), ``【】`` and full-width ``．`` are not in the list either.

F1 (per question) is the best, over the gold answers, of the harmonic mean of P = L / len(prediction
tokens) and R = L / len(gold tokens), where L is the length of the longest common *contiguous* run of
tokens (a substring, not a subsequence and not a bag), both sides segmented with ``rm_punc=True``; a
pair with L = 0 scores 0. EM (per question) is 1 when, for some gold answer,
``remove_punctuation(gold) == remove_punctuation(prediction)``, where ``remove_punctuation`` is
``str(text).lower().strip()`` with the listed characters deleted and all internal whitespace kept.
Whitespace therefore counts for EM but not for F1 (the word tokeniser discards it): ``"甲 乙丙"`` against
``"甲乙丙"`` is EM 0, F1 1.

Totals (``cmrc_metrics``) are averages over questions; a question with no prediction (``None``) scores
0 on both and stays in the denominator, as the official script's skipped questions do. The official
script prints percentages with three decimals; cnbench keeps fractions in [0, 1] and adds
``average = (em + f1) / 2``, the official ``AVERAGE``.

Tokenising a non-CJK run. The official script calls ``nltk.word_tokenize``: NLTK's Punkt sentence
splitter with its pretrained English model (data that NLTK downloads separately, ``punkt``/``punkt_tab``),
then NLTK's Treebank-style word tokenizer on each sentence. cnbench depends on the ``nltk`` package for
the word tokenizer (``NLTKWordTokenizer``, which needs no data) and for the Punkt algorithm, and carries
the parameters of the English model that can act on lower-cased text (``_PUNKT_*`` below), so no
download is needed. Lower-casing is what makes the subset enough: before a lower-case word, Punkt's
orthographic evidence only distinguishes the words that the model saw sentence-initially in lower case
and never capitalised, and the model has four of them (found by reading its table). So runs are split
as the real English model splits them: ``"e.g. by"`` and ``"t.f. gilbert"`` are cut after the period,
``"dr. alfred"`` and ``"j. frank"`` are not. The word tokenizer is held to the rules of NLTK 3.5 to
3.9.2, under which the published scores were computed; NLTK 3.9.3 and 3.10.1 changed how dashes and
leading apostrophes are cut, and cnbench undoes those two changes (``_published_word_tokenizer``).
With these, a run's tokens are those of ``nltk.word_tokenize`` in NLTK 3.5 to 3.9.2.
``benchmarks/results/mrc_metric_tokenisation.md`` measures what each choice changes on the CMRC 2018
and DRCD files.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

__all__ = [
    "PUNCTUATION",
    "cmrc_metrics",
    "longest_common_substring_length",
    "mixed_segmentation",
    "non_cjk_runs",
    "question_scores",
    "remove_punctuation",
    "tokenize_run",
]

# The official list, in its order: 11 ASCII characters, then full-width and CJK punctuation. Entry 23 is
# the two-character string U+2026 U+2026, which a single character can never equal.
PUNCTUATION: tuple[str, ...] = (
    "-",
    ":",
    "_",
    "*",
    "^",
    "/",
    "\\",
    "~",
    "`",
    "+",
    "=",
    "\uff0c",  # ， full-width comma
    "\u3002",  # 。 ideographic full stop
    "\uff1a",  # ： full-width colon
    "\uff1f",  # ？ full-width question mark
    "\uff01",  # ！ full-width exclamation mark
    "\u201c",  # “ left double quotation mark
    "\u201d",  # ” right double quotation mark
    "\uff1b",  # ； full-width semicolon
    "\u2019",  # ’ right single quotation mark (the left one, U+2018, is not listed)
    "\u300a",  # 《 left double angle bracket
    "\u300b",  # 》 right double angle bracket
    "\u2026\u2026",  # …… two characters: never matches
    "\u00b7",  # · middle dot
    "\u3001",  # 、 ideographic comma
    "\u300c",  # 「 left corner bracket
    "\u300d",  # 」 right corner bracket
    "\uff08",  # （ full-width left parenthesis
    "\uff09",  # ） full-width right parenthesis
    "\uff0d",  # － full-width hyphen-minus
    "\uff5e",  # ～ full-width tilde
    "\u300e",  # 『 left white corner bracket
    "\u300f",  # 』 right white corner bracket
)

# What a single character can match: every entry but the two-character one.
_PUNCTUATION_CHARS = frozenset(p for p in PUNCTUATION if len(p) == 1)
_CJK_FIRST, _CJK_LAST = "\u4e00", "\u9fa5"

# Parameters of NLTK's pretrained Punkt English model (nltk_data's punkt_tab/english, a conversion of the
# older punkt english.pickle), as NLTK's loader reads them from those files; carried so that no model
# download is needed. benchmarks/results/mrc_metric_tokenisation.md says how they were checked.
# Abbreviations: a period after one of these types does not end a sentence (the ". . " entry, with its
# trailing space, cannot match a token; it is kept as the model has it).
_PUNKT_ABBREVIATIONS = frozenset(
    """
    a.a a.c a.d a.g a.h a.m a.m.e a.s a.t adm ala ariz aug ave b.f b.v bros c c.i.t c.o.m.b c.v calif chg
    cie co col colo conn corp cos ct d d.c d.h d.w dec dr e e.f e.h e.l e.m f f.g f.j feb fla fri ft g g.d
    g.f g.k ga gen h h.c h.f h.m i.m.s ill inc j.b j.c j.j j.k j.p j.r jan jr k kan ky l l.a l.f l.p ltd lt
    m m.b.a m.d.c m.j maj messrs mg mich minn mr mrs ms n n.c n.d n.h n.j n.m n.v n.y nev nov oct ok okla
    ore p p.a.m p.m pa ph.d prof r r.a r.h r.i r.j r.k r.t rep reps s s.a s.a.y s.c s.g s.p.a s.s sen sep
    sept sr st sw t t.j tenn tues u.k u.n u.s u.s.a u.s.s.r v va vs vt w w.c w.r w.va w.w wash wed wis yr
    """.split()
) | {". . "}
# (word before the period, word after) pairs across which a period is not a break.
_PUNKT_COLLOCATIONS = frozenset(
    [
        ("##number##", w)
        for w in (
            "international",
            "rj",
            "commodities",
            "cooper",
            "genentech",
            "wedgestone",
            "pepper",
            "insider",
            "aes",
            "credit",
            "corrections",
            "financing",
            "henley",
            "business",
            "pay-fone",
            "leisure",
            "pegasus",
            "dividend",
            "review",
            "abreast",
            "who",
            "letters",
            "colgate",
            "cbot",
            "notable",
            "zimmer",
        )
    ]
    + [
        ("b", "stewart"),
        ("b", "wigton"),
        ("b", "edelman"),
        ("b", "levine"),
        ("b", "smith"),
        ("i", "toussie"),
        ("i", "magnin"),
        ("j", "fialka"),
        ("j", "walter"),
        ("j", "aron"),
        ("o", "ludcke"),
    ]
)
# Frequent sentence starters; they only act before a capitalised word, so never on lower-cased text.
_PUNKT_SENTENCE_STARTERS = frozenset(
    """
    most he since so both these it nevertheless this indeed however instead under similarly some though
    while when in despite although nonetheless thus there if the nor separately moreover but they yet
    many according sales among meanwhile even i
    """.split()
)
# Orthographic flags. The model has them for thousands of words, but for a lower-case word the only
# distinction Punkt draws is "seen lower-case at a sentence start and never capitalised" (flag 16, with
# or without 32 or 64, and none of 2, 4, 8) against everything else, absent words included; these are
# the words of the first kind. They only matter after a number or a one-letter initial and a period.
_PUNKT_ORTHOGRAPHY = {"administrators": 48, "b-week": 16, "r-revised": 16, "z-holiday": 16}


# NLTK's word tokenizer gave the same tokens from 3.2.5 (2017) to 3.9.2 (October 2025), except that
# releases before 3.5 cut "......" into two "..." tokens: the span in which the published CMRC and DRCD
# scores were computed (HFL 2019-2021, CLUE 2020, the CMRC CodaLab 2022). NLTK 3.9.3 (February 2026)
# started splitting off the dashes U+2012..U+2015 ("1–1" became "1" "–" "1") and 3.10.1 (July 2026)
# started cutting a leading apostrophe off its word ("'shade" became "'" "shade"). cnbench undoes both
# on its own tokenizer object, so that it tokenises as NLTK 3.5 to 3.9.2 did.
_NEW_DASH_RULE = r"[\u2012-\u2015]"
_NEW_APOSTROPHE_RULE = r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"
_OLD_APOSTROPHE_RULE = r"(?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b"
# Runs whose tokens tell the rule sets apart, with what NLTK 3.5 to 3.9.2 give.
_WORD_TOKENIZER_PROBES = {
    "1–1 (1870—71)": ["1–1", "(", "1870—71", ")"],
    "\"umbra\" 'shade' for '32 can't": ["``", "umbra", "''", "'shade", "'", "for", "'32", "ca", "n't"],
    "e.g. mr. smith.": ["e.g.", "mr.", "smith", "."],
}


def _published_word_tokenizer(word_tokenizer_class):
    """An instance of NLTK's word tokenizer with the rules of NLTK 3.5 to 3.9.2, checked on the probes."""
    tokenizer = word_tokenizer_class()
    starting_quotes = []
    for pattern, replacement in tokenizer.STARTING_QUOTES:
        if pattern.pattern == _NEW_APOSTROPHE_RULE:
            pattern, replacement = re.compile(_OLD_APOSTROPHE_RULE, re.U), r"\1 \2"
        starting_quotes.append((pattern, replacement))
    tokenizer.STARTING_QUOTES = starting_quotes  # instance attributes: NLTK's class lists stay as they are
    tokenizer.PUNCTUATION = [rule for rule in tokenizer.PUNCTUATION if rule[0].pattern != _NEW_DASH_RULE]
    for run, expected in _WORD_TOKENIZER_PROBES.items():
        if tokenizer.tokenize(run) != expected:
            raise RuntimeError(
                f"this NLTK release tokenises {run!r} as {tokenizer.tokenize(run)}, not as the NLTK "
                f"releases behind the published CMRC scores did ({expected}); use the nltk version that "
                "cnbench pins"
            )
    return tokenizer


@functools.lru_cache(maxsize=1)
def _nltk_tokenizers():
    """(sentence splitter, word tokenizer), built once; nltk is imported on first use only."""
    try:
        from nltk.tokenize.destructive import NLTKWordTokenizer
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    except ImportError as exc:  # pragma: no cover - nltk is a dependency of cnbench
        raise ImportError(
            "the CMRC 2018 metric tokenises non-Chinese text with NLTK: install the nltk package "
            "(it is one of cnbench's dependencies)"
        ) from exc
    params = PunktParameters()
    params.abbrev_types = set(_PUNKT_ABBREVIATIONS)
    params.collocations = set(_PUNKT_COLLOCATIONS)
    params.sent_starters = set(_PUNKT_SENTENCE_STARTERS)
    params.ortho_context.update(_PUNKT_ORTHOGRAPHY)
    return PunktSentenceTokenizer(params), _published_word_tokenizer(NLTKWordTokenizer)


@functools.lru_cache(maxsize=1 << 14)
def tokenize_run(run: str) -> tuple[str, ...]:
    """Tokenise one non-CJK run as ``nltk.word_tokenize`` does: Punkt sentences, then NLTK word tokens.

    Whitespace separates tokens and is never part of one, so a run of whitespace gives no token.
    """
    sentences, words = _nltk_tokenizers()
    return tuple(token for sentence in sentences.tokenize(run) for token in words.tokenize(sentence))


def _pieces(text: object, rm_punc: bool) -> Iterator[tuple[bool, str]]:
    """Yield (is_run, piece): single-character tokens (False) and non-CJK runs still to tokenise (True)."""
    run: list[str] = []
    for char in str(text).lower().strip():
        is_punctuation = char in _PUNCTUATION_CHARS
        if is_punctuation and rm_punc:
            continue  # dropped, and the pending run goes on
        if is_punctuation or _CJK_FIRST <= char <= _CJK_LAST:
            if run:
                yield True, "".join(run)
                run = []
            yield False, char
        else:
            run.append(char)
    if run:
        yield True, "".join(run)


def non_cjk_runs(text: object, rm_punc: bool = False) -> list[str]:
    """The runs that ``mixed_segmentation`` hands to the word tokenizer, in order (for analysis)."""
    return [piece for is_run, piece in _pieces(text, rm_punc) if is_run]


def mixed_segmentation(text: object, rm_punc: bool = False) -> list[str]:
    """Tokens of ``text`` for F1: one per CJK character (U+4E00..U+9FA5) or listed punctuation mark, NLTK
    word tokens for every other run; with ``rm_punc`` the listed punctuation is dropped first."""
    tokens: list[str] = []
    for is_run, piece in _pieces(text, rm_punc):
        if is_run:
            tokens.extend(tokenize_run(piece))
        else:
            tokens.append(piece)
    return tokens


def remove_punctuation(text: object) -> str:
    """``str(text).lower().strip()`` without the listed punctuation; internal whitespace is kept."""
    return "".join(char for char in str(text).lower().strip() if char not in _PUNCTUATION_CHARS)


def longest_common_substring_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest run of consecutive items that occurs in both ``a`` and ``b``."""
    if len(a) < len(b):
        a, b = b, a
    best = 0
    previous = [0] * (len(b) + 1)  # previous[j + 1]: common run ending at the last item of a and b[j]
    for item in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b):
            if item == other:
                current[j + 1] = length = previous[j] + 1
                if length > best:
                    best = length
        previous = current
    return best


def _f1(gold_tokens: Sequence[str], prediction_tokens: Sequence[str]) -> float:
    common = longest_common_substring_length(gold_tokens, prediction_tokens)
    if common == 0:
        return 0.0
    precision = 1.0 * common / len(prediction_tokens)
    recall = 1.0 * common / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)  # same operation order as the official script


def _check_answers(answers: Sequence[str], where: str) -> None:
    if isinstance(answers, str):
        raise TypeError(f"{where}: the gold answers must be a list of strings, not one string ({answers!r})")
    if len(answers) == 0:
        raise ValueError(f"{where} has no gold answer; the CMRC metric needs at least one per question")
    for answer in answers:
        if not isinstance(answer, str):
            raise TypeError(f"{where}: a gold answer must be a string, not {type(answer).__name__}")


def question_scores(answers: Sequence[str], prediction: str | None) -> tuple[float, float]:
    """(EM, F1) of one question, each in [0, 1]: the best over its gold ``answers``; 0, 0 for ``None``."""
    _check_answers(answers, "the question")
    if prediction is None:
        return 0.0, 0.0
    if not isinstance(prediction, str):
        raise TypeError(f"a prediction must be a string or None, not {type(prediction).__name__}")
    prediction_tokens = mixed_segmentation(prediction, rm_punc=True)
    f1 = max(_f1(mixed_segmentation(answer, rm_punc=True), prediction_tokens) for answer in answers)
    prediction_key = remove_punctuation(prediction)
    em = 1.0 if any(remove_punctuation(answer) == prediction_key for answer in answers) else 0.0
    return em, f1


def cmrc_metrics(gold: Sequence[Sequence[str]], predictions: Sequence[str | None]) -> dict:
    """Official CMRC 2018 scores of ``predictions`` against ``gold`` (one list of answer texts per question).

    Returns ``{"f1", "em", "average", "n", "unanswered"}``: F1 and EM averaged over all ``n`` questions
    (fractions in [0, 1]), ``average = (em + f1) / 2``, and how many predictions were ``None`` (each
    scored 0 and counted in ``n``).
    """
    if len(gold) != len(predictions):
        raise ValueError(f"{len(gold)} questions but {len(predictions)} predictions")
    if len(gold) == 0:
        raise ValueError("no questions to score")
    em_sum = f1_sum = 0.0
    unanswered = 0
    for index, (answers, prediction) in enumerate(zip(gold, predictions, strict=True)):
        _check_answers(answers, f"question {index}")
        if prediction is None:
            unanswered += 1
        em, f1 = question_scores(answers, prediction)
        em_sum += em
        f1_sum += f1
    n = len(gold)
    em, f1 = em_sum / n, f1_sum / n
    return {"f1": f1, "em": em, "average": (em + f1) / 2, "n": n, "unanswered": unanswered}
