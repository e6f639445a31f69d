"""Where the tokenisation of non-Chinese runs could change cnbench's CMRC 2018 F1, measured on real data.

The official CMRC 2018 evaluation tokenises every run of non-Chinese characters with
``nltk.word_tokenize``: Punkt sentence splitting with NLTK's downloadable English model, then NLTK's
word tokenizer. cnbench (``cnbench.mrc_metric``) carries the parameters of that model that matter on
lower-cased text and restores the word-tokenizer rules of NLTK 3.5 to 3.9.2. This script collects the
runs that the F1 segmentation (``rm_punc=True``) hands to the tokenizer, over every gold answer and
every context of CMRC 2018 dev and trial and DRCD dev and test, and compares cnbench's tokens with
those of the alternatives: no sentence splitting, an untrained Punkt splitter, and the word rules of
the installed (newer) NLTK. It then scores two kinds of predictions with each alternative to show what
the differences do to F1. Writes ``benchmarks/results/mrc_metric_tokenisation.md``.

    python benchmarks/mrc_metric_tokenisation.py
    python benchmarks/mrc_metric_tokenisation.py --data ../shared/data --out FILE
    python benchmarks/mrc_metric_tokenisation.py --small   # a check: 200 questions per file, temporary folder
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import nltk
from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer

from cnbench import mrc_metric as metric
from cnbench.atomic import atomic_file

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "mrc_metric_tokenisation.md"
FILES = {  # label: path under the data folder
    "CMRC dev": "cmrc2018/dev.json.gz",
    "CMRC trial": "cmrc2018/trial.json.gz",
    "DRCD dev": "drcd/dev.json.gz",
    "DRCD test": "drcd/test.json.gz",
}
# Where Punkt looks for a sentence break (its period context): a '.', '?' or '!' followed by whitespace
# and more text, or by one of ) " ; } ] * : @ ' ( { [ ! ?. Only there can splitting a run into
# sentences before word tokenisation change its tokens.
PUNKT_CANDIDATE = re.compile(r"""[.?!](?:\s+\S|[)";}\]*:@'({\[!?])""")
# The narrower pattern: whitespace and more text after the '.', '?' or '!'.
WHITESPACE_CANDIDATE = re.compile(r"[.?!]\s+\S")
SEED = 2018
SMALL_QUESTIONS = 200


def load(data: Path) -> dict[str, list[dict]]:
    """Per file: one record per question, ``{"id", "context", "answers", "starts"}``."""
    files = {}
    for label, relative in FILES.items():
        with gzip.open(data / relative, "rt", encoding="utf-8") as handle:
            squad = json.load(handle)
        questions = []
        for article in squad["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    questions.append(
                        {
                            "id": qa["id"],
                            "context": paragraph["context"],
                            "answers": [a["text"] for a in qa["answers"]],
                            "starts": [a["answer_start"] for a in qa["answers"]],
                        }
                    )
        files[label] = questions
    return files


def tokenizers() -> dict[str, Callable[[str], tuple[str, ...]]]:
    """Run tokenizers: cnbench's and the alternatives, each ``run -> tuple of tokens``."""
    splitter, words = metric._nltk_tokenizers()
    untrained = PunktSentenceTokenizer()
    installed_words = NLTKWordTokenizer()
    return {
        "cnbench": metric.tokenize_run,
        "no sentence splitting": lambda run: tuple(words.tokenize(run)),
        "untrained Punkt": lambda run: tuple(t for s in untrained.tokenize(run) for t in words.tokenize(s)),
        f"word rules of NLTK {nltk.__version__}": lambda run: tuple(
            t for s in splitter.tokenize(run) for t in installed_words.tokenize(s)
        ),
    }


def segment(text: str, tokenize) -> list[str]:
    """``mixed_segmentation(text, rm_punc=True)`` with another run tokenizer."""
    tokens: list[str] = []
    for is_run, piece in metric._pieces(text, rm_punc=True):
        tokens.extend(tokenize(piece) if is_run else (piece,))
    return tokens


def f1(answers: list[str], prediction: str, tokenize) -> float:
    prediction_tokens = segment(prediction, tokenize)
    return max(metric._f1(segment(answer, tokenize), prediction_tokens) for answer in answers)


def shifted_spans(questions: list[dict], rng: random.Random) -> list[tuple[list[str], str]]:
    """One near-miss prediction per question: a gold span of the context with each end moved by up to
    8 characters, as a span-extraction model's wrong boundaries would be."""
    cases = []
    for question in questions:
        located = [
            (s, a)
            for s, a in zip(question["starts"], question["answers"], strict=True)
            if s >= 0 and question["context"][s : s + len(a)] == a
        ]
        if not located:
            continue
        start, answer = rng.choice(located)
        context = question["context"]
        begin = max(0, start + rng.randint(-8, 8))
        end = min(len(context), max(begin + 1, start + len(answer) + rng.randint(-8, 8)))
        cases.append((question["answers"], context[begin:end]))
    return cases


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def code(text: str) -> str:
    """A Markdown code span that may hold the backticks of NLTK's `` token, inside a table cell."""
    return "``` " + text.replace("|", "\\|") + " ```"


def show(tokens) -> str:
    return code(" ".join(tokens))


def main(argv=None) -> int:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    add_small_and_out(parser, OUT, appends=False, small_help=f"the first {SMALL_QUESTIONS} questions of each file")
    args = parser.parse_args(argv)
    args.out = output_path(args, OUT)

    files = load(args.data)
    if args.small:
        files = {label: questions[:SMALL_QUESTIONS] for label, questions in files.items()}
    variants = tokenizers()
    reference = "cnbench"

    # Runs handed to the tokenizer by the F1 segmentation, counted per file and kind of text.
    where: dict[str, Counter] = defaultdict(Counter)  # run -> Counter of (file, kind)
    texts_per_file = {}
    for label, questions in files.items():
        contexts = {q["context"] for q in questions}
        answers = [a for q in questions for a in q["answers"]]
        texts_per_file[label] = (len(contexts), len(answers))
        for context in contexts:
            for run in metric.non_cjk_runs(context, rm_punc=True):
                where[run][(label, "context")] += 1
        for answer in answers:
            for run in metric.non_cjk_runs(answer, rm_punc=True):
                where[run][(label, "answer")] += 1
    runs = sorted(where)
    tokens = {name: {run: tuple(tokenize(run)) for run in runs} for name, tokenize in variants.items()}

    def occurrences(selected) -> list[int]:
        counts = []
        for label in FILES:
            for kind in ("answer", "context"):
                counts.append(sum(where[run][(label, kind)] for run in selected))
        return counts

    def files_cell(run: str) -> str:
        found = sorted({f"{label} {kind}" for (label, kind), n in where[run].items() if n})
        return ", ".join(found)

    occurrence_header = [f"{label} {kind}s" for label in FILES for kind in ("answer", "context")]
    lines = [
        "# CMRC 2018 metric: how non-Chinese runs are tokenised",
        "",
        f"Written by `benchmarks/mrc_metric_tokenisation.py` (nltk {nltk.__version__} installed). "
        "The data are the CMRC 2018 dev and trial and DRCD dev and test files in SQuAD form.",
        "",
        "## What the official script does and what cnbench does",
        "",
        "The official CMRC 2018 evaluation (v6) segments text for F1 into one token per character in "
        "U+4E00..U+9FA5 or in its punctuation list, and hands every other run of characters (a *run*: "
        "Latin letters, digits, spaces, ASCII punctuation, rarer CJK characters) to `nltk.word_tokenize`. "
        "That function splits the run into sentences with Punkt and NLTK's pretrained English model, "
        "which NLTK downloads separately (`punkt`, or `punkt_tab` from NLTK 3.8.2 on), then applies "
        "NLTK's word tokenizer to each sentence.",
        "",
        "cnbench depends on the `nltk` package (the algorithms; no downloaded data) and:",
        "",
        "* splits runs into sentences with Punkt and the parameters of the English model that can act on "
        "lower-cased text, carried in `cnbench/mrc_metric.py`: its 156 abbreviations, 37 collocations, "
        "39 sentence starters, and the 4 words whose orthographic record makes Punkt unsure about a "
        "lower-case sentence start (`administrators`, `b-week`, `r-revised`, `z-holiday`). The text is "
        "lower-cased before segmentation, and on a lower-case word Punkt's orthographic heuristic only "
        "tells such words apart from all others, so this reproduces the full model on any input, as "
        "far as the reading of the model file below found all such words;",
        "* tokenises each sentence with NLTK's word tokenizer as NLTK 3.5 to 3.9.2 do. Every release "
        "checked from 3.2.5 (2017) to 3.9.2 (October 2025) gives the same tokens on these runs, except "
        "that releases before 3.5 cut the run `......` (one DRCD dev context) into `... ...` (see the "
        "checks below); the published scores (HFL 2019 to 2021, CLUE 2020, the CMRC CodaLab 2022) were "
        "computed in that span. NLTK 3.9.3 (February 2026) started splitting off the dashes "
        "U+2012..U+2015 (`1–1` became `1 – 1`) and NLTK 3.10.1 (July 2026) started cutting a leading "
        "apostrophe off its word (`'shade` became `' shade`); cnbench removes the first rule and restores "
        "the old form of the second on its own tokenizer object, and checks at first use that probe "
        "strings tokenise as NLTK 3.5 to 3.9.2 did. (Release months are the file dates inside the "
        "release archives.)",
        "",
        "Whitespace never becomes a token: the word tokenizer splits on it and drops it. So F1 ignores "
        "spaces (`甲 乙丙` against `甲乙丙` is F1 1), while EM compares the texts with internal whitespace "
        "kept (the same pair is EM 0); only leading and trailing whitespace is stripped for EM.",
        "",
        "## Checks made once, outside this script",
        "",
        "These need files that cannot be fetched here, so they are recorded, not recomputed:",
        "",
        "* The Punkt parameters in `cnbench/mrc_metric.py` were compared with NLTK's `punkt_tab/english` "
        "files as vendored in the public repository open-webui/open-webui (commit "
        "83a051190763fc198b524ee19dfbcf5e1e41182b): abbreviations, collocations and sentence starters "
        "equal as sets once loaded by NLTK 3.10.3. The 4 orthographic words were found by reading all "
        "236,303 characters of `ortho_context.tab` for flag values with bit 16 set and bits 2, 4 and 8 "
        "clear (16, 48, 80, 112); that scan was done by reading, so a missed word is possible. A missed "
        "word matters only right after a number or single-letter initial plus period inside a run.",
        "* With those files installed as `punkt_tab/english`, `cnbench.mrc_metric.tokenize_run` equals "
        "`nltk.word_tokenize` of NLTK 3.9.2 on all 7,779 distinct runs of these files (segmentations "
        "with and without `rm_punc`).",
        "* The 6,876 F1 runs below, split with those Punkt parameters, were tokenised by each release's "
        "own word tokenizer (`nltk.tokenize._treebank_word_tokenizer`, the one `word_tokenize` uses): "
        "3.2.5, 3.3, 3.4 and 3.4.5 (on Python 3.7) differ from cnbench in the run `......` only; 3.5, "
        "3.6.7, 3.7, 3.8.1, 3.9.1 and 3.9.2 in no run; 3.9.3, 3.9.4 and 3.10.0 in 58 runs (the dashes); "
        "3.10.1 to 3.10.4 in 61 (the dashes and the apostrophes, the table below).",
        "* A transcription of the official v6 functions, run under NLTK 3.9.2 with those files, gave "
        "the same per-question (EM, F1) floats as `cnbench.mrc_metric.question_scores`, and the same "
        "totals and skip counts as `cmrc_metrics`, on 11,238 questions (all four files) with generated "
        "predictions: gold answers, gold answers with punctuation or a space appended, empty strings, "
        "missing predictions (about 10 %), context spans with shifted ends and random context spans.",
        "",
        "## The runs",
        "",
    ]
    rows = []
    for label in FILES:
        n_contexts, n_answers = texts_per_file[label]
        answer_runs = [run for run in runs if where[run][(label, "answer")]]
        context_runs = [run for run in runs if where[run][(label, "context")]]
        rows.append(
            [
                label,
                f"{n_answers:,}",
                f"{sum(where[r][(label, 'answer')] for r in answer_runs):,}",
                f"{n_contexts:,}",
                f"{sum(where[r][(label, 'context')] for r in context_runs):,}",
            ]
        )
    lines += table(["file", "gold answers", "runs in answers", "distinct contexts", "runs in contexts"], rows)
    lines += ["", f"{len(runs):,} distinct runs in all.", ""]

    candidates = [run for run in runs if PUNKT_CANDIDATE.search(run)]
    spaced = [run for run in runs if WHITESPACE_CANDIDATE.search(run)]
    lines += [
        "## Where sentence splitting could matter",
        "",
        "Punkt only considers a break at a `.`, `?` or `!` followed by whitespace and more text, or "
        "followed directly by one of `) \" ; } ] * : @ ' ( { [ ! ?`; elsewhere splitting into sentences "
        f"cannot change a run's tokens. {len(candidates)} distinct runs have such a place, "
        f"{len(spaced)} of them with whitespace after the mark. Occurrences:",
        "",
    ]
    lines += table(
        ["runs"] + occurrence_header,
        [
            ["any candidate"] + [f"{n:,}" for n in occurrences(candidates)],
            ["mark + whitespace + text"] + [f"{n:,}" for n in occurrences(spaced)],
        ],
    )
    lines += [""]

    for name in variants:
        if name == reference:
            continue
        differing = [run for run in runs if tokens[name][run] != tokens[reference][run]]
        lines += [f"## cnbench against: {name}", ""]
        lines += [f"{len(differing)} distinct runs tokenise differently; their occurrences:", ""]
        lines += table(occurrence_header, [[f"{n:,}" for n in occurrences(differing)]])
        if name in ("no sentence splitting", "untrained Punkt"):
            outside = [run for run in differing if not PUNKT_CANDIDATE.search(run)]
            unspaced = [run for run in differing if not WHITESPACE_CANDIDATE.search(run)]
            if outside:
                lines += ["", f"(**{len(outside)} of them have no candidate place: the criterion above is wrong.**)"]
            if unspaced:
                verb = "has" if len(unspaced) == 1 else "have"
                lines += [
                    "",
                    f"{len(unspaced)} of them ({', '.join(code(run) for run in unspaced)}) {verb} "
                    "no whitespace after the mark, only punctuation.",
                ]
        lines += [""]
        if differing:
            shown = differing if len(differing) <= 80 else differing[:80]
            lines += table(
                ["run", "cnbench", name, "in"],
                [[code(run), show(tokens[reference][run]), show(tokens[name][run]), files_cell(run)] for run in shown],
            )
            if len(shown) < len(differing):
                lines += ["", f"(first 80 of {len(differing)} in code-point order)"]
            lines += [""]

    # What the differences do to F1.
    rng = random.Random(SEED)
    probes = {}
    for label, questions in files.items():
        pairs = []  # each pair of different gold texts of one question (F1 is symmetric)
        for question in questions:
            texts = list(dict.fromkeys(question["answers"]))
            pairs += [([texts[i]], texts[j]) for i in range(len(texts)) for j in range(i + 1, len(texts))]
        probes[label] = {"pairs of different golds": pairs, "shifted gold spans": shifted_spans(questions, rng)}
    lines += [
        "## Effect on F1",
        "",
        "Two prediction sets per file, each scored with every tokenizer: *pairs of different golds* "
        "scores each gold text of a question against each other, different gold text of the same "
        "question (trial has one answer per question), "
        "*shifted gold spans* takes a gold span of the context with each end moved by up to 8 "
        f"characters (seed {SEED}). F1 is the mean over those predictions, in percent; *changed* counts "
        "the predictions whose F1 differs from cnbench's. EM does not tokenise, so it is the same for all.",
        "",
    ]
    others = [name for name in variants if name != reference]
    header = ["file", "predictions", "n", "cnbench F1"] + [f"{name}: F1 (changed)" for name in others]
    rows = []
    largest = 0.0  # largest |F1 difference| from cnbench's, in points
    for label in FILES:
        for probe, cases in probes[label].items():
            if not cases:
                continue
            scores = {
                name: [f1(answers, prediction, variants[name]) for answers, prediction in cases] for name in variants
            }
            base = scores[reference]
            row = [label, probe, f"{len(cases):,}", f"{100 * sum(base) / len(base):.3f}"]
            for name in variants:
                if name == reference:
                    continue
                changed = sum(a != b for a, b in zip(scores[name], base, strict=True))
                largest = max(largest, abs(100 * (sum(scores[name]) - sum(base)) / len(base)))
                row.append(f"{100 * sum(scores[name]) / len(base):.3f} ({changed})")
            rows.append(row)
    lines += table(header, rows)
    lines += [
        "",
        "## What cnbench does, and why",
        "",
        "cnbench reproduces `nltk.word_tokenize` as the published CMRC 2018 and DRCD scores were computed "
        "with it: the English Punkt model's decisions (without needing its download) and the word rules "
        "of NLTK 3.5 to 3.9.2. The alternatives differ on few runs, and on these prediction sets they "
        f"move mean F1 by at most {largest:.4f} points, so the choice is about exactness, not about the "
        "size of the numbers; but predictions are cut from contexts, where most of the differing runs "
        "are, and a model that often predicts such spans would feel it. Skipping sentence splitting or "
        "using an untrained Punkt errs in opposite directions: an untrained Punkt ends a sentence after "
        "every abbreviation such as `st.` or `dr.`, no splitting never ends one, the real model ends one "
        "after unknown words such as `e.g.` or `var.`. The newer NLTK word rules change more runs than "
        "sentence splitting does, mostly year and score ranges written with an en or em dash; the "
        "official script run today with NLTK 3.9.3 or later gives those moved tokens.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(args.out, "w", permissions=0o644) as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
