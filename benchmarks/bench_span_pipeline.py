"""Speed of the span (extractive QA) pipeline without a model, and the answer lengths it must allow.

    OMP_NUM_THREADS=1 python benchmarks/bench_span_pipeline.py [--repeat 3] [--out benchmarks/results/span_pipeline.md]
    OMP_NUM_THREADS=1 python benchmarks/bench_span_pipeline.py --small   # a check on the first questions only

Times ``encode_spans`` over every CMRC 2018 dev question and ``decode_answers`` over random logits
for all their windows (median of ``--repeat`` runs), and counts windows per question. Measures the
token length of each question's first located answer in CMRC 2018 dev/trial and DRCD dev/test,
which sets ``cnbench.kinds.span.MAX_ANSWER_TOKENS``. ``--small`` takes the first 50 questions of
each split, runs once and writes to a temporary folder unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from cnbench import paths
from cnbench.data.examples import Answer, SpanExample
from cnbench.kinds.span import (
    MAX_ANSWER_TOKENS,
    answer_token_range,
    decode_answers,
    encode_spans,
    located_answer,
    tokenise_with_offsets,
)

SPLITS = ("cmrc2018/dev", "cmrc2018/trial", "drcd/dev", "drcd/test")
LENGTH_LIMITS = (30, 50, MAX_ANSWER_TOKENS)  # HFL and Hugging Face, CLUE, cnbench
SMALL_QUESTIONS = 50
RESULTS = Path(__file__).parent / "results" / "span_pipeline.md"


def read_split(data_dir: Path, split: str) -> list[SpanExample]:
    with gzip.open(data_dir / f"{split}.json.gz", "rt", encoding="utf-8") as file:
        articles = json.load(file)["data"]
    return [
        SpanExample(
            qa["id"],
            paragraph["context"],
            qa["question"],
            tuple(Answer(answer["text"], answer["answer_start"]) for answer in qa["answers"]),
        )
        for article in articles
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


def median_seconds(run, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def answer_lengths(examples: list[SpanExample], tokenizer) -> np.ndarray:
    """Tokens covered by each question's first located answer (questions without one are left out)."""
    contexts = list(dict.fromkeys(example.context for example in examples))
    _, offsets = tokenise_with_offsets(tokenizer, contexts)
    offsets_of_context = dict(zip(contexts, offsets, strict=True))
    lengths = []
    for example in examples:
        tokens = answer_token_range(example, offsets_of_context[example.context])
        if tokens is not None:
            lengths.append(tokens[1] - tokens[0] + 1)
    return np.array(lengths)


def pipeline_rows(examples, tokenizer, max_len: int, doc_stride: int, repeat: int) -> dict:
    encode_seconds, features = median_seconds(lambda: encode_spans(examples, tokenizer, max_len, doc_stride), repeat)
    windows_per_question = np.bincount(features.example_index, minlength=len(examples))
    rng = np.random.default_rng(0)
    logits = [rng.standard_normal((length, 2)).astype(np.float32) for length in features.lengths()]
    decode_seconds, _ = median_seconds(lambda: decode_answers(examples, features, logits), repeat)
    labelled = np.flatnonzero(features.labels[:, 0])
    mismatches = []  # (question id, answer, its start, what the labelled tokens slice)
    for window, question in zip(labelled.tolist(), features.example_index[labelled].tolist(), strict=True):
        spans, (start, end) = features.char_spans[window], features.labels[window]
        answer, example = located_answer(examples[question]), examples[question]
        sliced = example.context[spans[start, 0] : spans[end, 1]]
        if sliced != answer.text:
            mismatches.append((example.id, answer.text, answer.start, sliced))
    return {
        "max_len": max_len,
        "questions": len(examples),
        "windows": len(features),
        "tokens": int(features.offsets[-1]),
        "bytes": sum(array.nbytes for array in features.arrays().values()),
        "windows_per_question": Counter(windows_per_question.tolist()),
        "mean_windows": float(windows_per_question.mean()),
        "questions_labelled": len(set(features.example_index[labelled].tolist())),
        "labelled_windows": len(labelled),
        "mismatches": mismatches,
        "encode_seconds": encode_seconds,
        "decode_seconds": decode_seconds,
    }


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, help="runs per timing (default 3; --small: 1)")
    add_small_and_out(parser, RESULTS, appends=False, small_help=f"the first {SMALL_QUESTIONS} questions of each split")
    args = parser.parse_args()
    if args.repeat is None:
        args.repeat = 1 if args.small else 3
    args.out = output_path(args, RESULTS)
    from transformers import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(paths.tokenizer_dir())
    data_dir = paths.data_dir()
    splits = {split: read_split(data_dir, split) for split in SPLITS}
    if args.small:
        splits = {split: examples[:SMALL_QUESTIONS] for split, examples in splits.items()}
    dev = splits["cmrc2018/dev"]
    runs = [pipeline_rows(dev, tokenizer, max_len, 128, args.repeat) for max_len in (512, 384)]

    lines = [
        "# Span pipeline: encoding and decoding speed, answer lengths",
        "",
        f"`python benchmarks/bench_span_pipeline.py` (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"median of {args.repeat} runs, 2 CPU cores shared with other work), "
        f"Python {platform.python_version()}, {platform.machine()}, tokenizer `{type(tokenizer).__name__}` "
        f"from `{Path(paths.tokenizer_dir()).name}`. No model: the decode runs over random normal logits.",
        "",
        f"## CMRC 2018 dev ({len(dev):,} questions, {len({example.context for example in dev}):,} contexts), "
        "doc_stride 128",
        "",
        "| max_len | windows | windows per question: 1 / 2 / 3 / more (mean) | tokens | feature bytes | "
        "encode_spans s | decode_answers s |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        counts = run["windows_per_question"]
        more = sum(count for windows, count in counts.items() if windows > 3)
        lines.append(
            f"| {run['max_len']} | {run['windows']:,} | {counts[1]:,} / {counts[2]:,} / {counts[3]:,} / {more:,} "
            f"({run['mean_windows']:.2f}) | {run['tokens']:,} | {run['bytes'] / 1e6:.1f} MB | "
            f"{run['encode_seconds']:.2f} | {run['decode_seconds']:.2f} |"
        )
    lines += ["", "Labels (first located answer):", ""]
    for run in runs:
        lines.append(
            f"- max_len {run['max_len']}: {run['questions_labelled']:,} of {run['questions']:,} questions have a "
            f"window holding the whole answer ({run['labelled_windows']:,} labelled windows); in "
            f"{run['labelled_windows'] - len(run['mismatches']):,} of those windows the labelled tokens slice back "
            "to exactly the answer text."
        )
    lines += [
        "",
        f"The labelled windows at max_len {runs[0]['max_len']} that do not slice back to the answer:",
        "",
        "| question | answer | answer_start | labelled tokens slice |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {question} | {answer} | {start} | {sliced} |"
        for question, answer, start, sliced in dict.fromkeys(runs[0]["mismatches"])
    ]
    lines += [
        "",
        "A slice differs from the answer where `answer_start` is off (the slice is shifted: CMRC dev has "
        "a few such answers) or where a word piece crosses the answer's edge (the whole piece is labelled).",
    ]
    lines += [
        "",
        "## First-answer length in bert-base-chinese tokens",
        "",
        "Tokens overlapping the first answer whose `answer_start` is not -1, counted from the context's "
        "tokenizer offsets. Sets `MAX_ANSWER_TOKENS` "
        f"(now {MAX_ANSWER_TOKENS}), the longest span `decode_answers` returns.",
        "",
        "| split | answers | median | p99 | max | " + " | ".join(f"> {limit}" for limit in LENGTH_LIMITS) + " |",
        "|---|---|---|---|---|" + "---|" * len(LENGTH_LIMITS),
    ]
    covered = {}
    for split, examples in splits.items():
        lengths = answer_lengths(examples, tokenizer)
        over = " | ".join(f"{(lengths > limit).sum():,} ({(lengths > limit).mean():.2%})" for limit in LENGTH_LIMITS)
        lines.append(
            f"| {split} | {len(lengths):,} | {np.median(lengths):.0f} | {np.percentile(lengths, 99):.0f} | "
            f"{lengths.max()} | {over} |"
        )
        covered[split] = (lengths <= MAX_ANSWER_TOKENS).mean()
    lines += [
        "",
        f"{MAX_ANSWER_TOKENS} tokens cover "
        + ", ".join(f"{share:.2%} of {split}" for split, share in covered.items())
        + ". CMRC 2018 trial is a pilot set with much longer answers, neither dev nor test; it did not set the limit.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
