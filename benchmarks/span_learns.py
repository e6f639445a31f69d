"""Does span extraction learn, offline? DRCD's dev set is the only labelled train data here, so a
scratch model is trained on it (``--train-on-dev``: a smoke run, never ranked) and scored on DRCD's
public test set, against the same model untrained (learning rate 0, same code path) and trivial
baselines that read the question and context without a model.

Run the training first (each run one torch thread; two lanes fit two cores)::

    cnbench run --task drcd --model scratch-tiny --train-on-dev --limit 1000 --epochs 10 \\
        --max-len 256 --seed N --output RUNS/trained                      # N = 1, 2, 3
    cnbench run --task drcd --model scratch-tiny --train-on-dev --limit 1000 --epochs 1 --lr 0 \\
        --max-len 256 --seed N --output RUNS/untrained                    # N = 1, 2, 3

then ``python benchmarks/span_learns.py RUNS`` writes ``benchmarks/results/span_learns.md`` with
the numbers those runs and the baselines give.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from cnbench import paths
from cnbench.data.load import load_task_data
from cnbench.mrc_metric import cmrc_metrics
from cnbench.registry import get_task

OUT = Path(__file__).resolve().parent / "results" / "span_learns.md"
ANSWER_CHARS = 4  # the median DRCD answer length in characters


def after_shared_text(question: str, context: str) -> str:
    """The ``ANSWER_CHARS`` characters after the longest stretch of the question found in the
    context (answers often follow the words a question repeats); the context's start when none."""
    for length in range(min(len(question), 12), 1, -1):
        for start in range(len(question) - length + 1):
            found = context.find(question[start:start + length])
            if found >= 0:
                end = found + length
                return context[end:end + ANSWER_CHARS]
    return context[:ANSWER_CHARS]


def first_clause(context: str) -> str:
    """The context up to its first comma or full stop: what a model that ignores the question says."""
    for index, char in enumerate(context):
        if char in "，。,":
            return context[:index]
    return context


def _scores(folder: Path) -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("drcd--*.json"))]


def _row(name: str, runs: list[dict]) -> str:
    f1 = [100 * run["metrics"]["test"]["f1"] for run in runs]
    em = [100 * run["metrics"]["test"]["em"] for run in runs]
    seeds = ", ".join(str(run["seed"]) for run in runs)
    spread = (lambda values: f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"
              if len(values) > 1 else f"{values[0]:.2f}")
    return f"| {name} | {seeds} | {spread(f1)} | {spread(em)} | {', '.join(f'{value:.2f}' for value in f1)} |"


def main(runs: Path) -> None:
    trained, untrained = _scores(runs / "trained"), _scores(runs / "untrained")
    limit = trained[0]["protocol"]["limit"]
    task = get_task("drcd")
    questions = load_task_data(task, paths.data_dir(None), only=("test",), limit=limit).splits["test"]
    gold = [[answer.text for answer in question.answers] for question in questions]
    baselines = {
        "after the question's longest shared text": [after_shared_text(q.question, q.context) for q in questions],
        "the context's first clause": [first_clause(q.context) for q in questions],
    }
    lines = [
        "# Span extraction learns: DRCD, scratch-tiny, trained on dev, scored on test",
        "",
        f"Written by `benchmarks/span_learns.py` from the runs named in its docstring: `--train-on-dev "
        f"--limit {limit}` (the first {limit} questions of DRCD dev trained on and used to choose the epoch; "
        f"the first {limit} of DRCD test scored), `--max-len 256`, stride 128, the CMRC 2018 evaluator's "
        "F1 and EM in percent, mean ± sample std over seeds. A smoke run: the bundle has no DRCD train set, "
        "so these numbers show that the span pipeline learns, not what a pretrained model scores.",
        "",
        "| system | seeds | test F1 | test EM | F1 per seed |",
        "| --- | --- | --- | --- | --- |",
        _row("scratch-tiny, trained (10 epochs, best dev epoch)", trained),
        _row("scratch-tiny, untrained (lr 0, same code path)", untrained),
    ]
    for name, predictions in baselines.items():
        scores = cmrc_metrics(gold, predictions)
        lines.append(f"| baseline: {name} | — | {100 * scores['f1']:.2f} | {100 * scores['em']:.2f} | — |")
    epochs = ", ".join(f"seed {run['seed']}: best epoch {run['best_epoch']} of {len(run['history'])}, dev F1 "
                       f"{100 * run['metrics']['dev']['f1']:.2f}" for run in trained)
    seconds = ", ".join(f"{run['timing']['total_seconds'] / 60:.0f} min" for run in trained)
    lines += ["", f"Trained runs: {epochs}. Wall time per run (two runs sharing two cores): {seconds}.",
              f"Machine: {trained[0]['environment']['hardware'].get('cpu', '?')}.", ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
