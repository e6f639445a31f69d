"""Does span extraction learn, offline? DRCD's dev set is the only labelled train data here, so a
scratch model is trained on it (``--train-on-dev``: a smoke run, never ranked) and scored on DRCD's
public test set, against the same model untrained (learning rate 0, same code path) and trivial
baselines that read the question and context without a model.

Run the training first (each run one torch thread; two lanes fit two cores). The three
configurations recorded in the results file::

    cnbench run --task drcd --model scratch-tiny --train-on-dev --limit 1000 --epochs 10 \\
        --max-len 256 --seed N --output RUNS_A/trained                    # N = 1, 2, 3
    cnbench run --task drcd --model scratch-tiny --train-on-dev --limit 1500 --epochs 6 \\
        --max-len 128 --lr 1e-3 --seed N --output RUNS_B/trained
    cnbench run --task drcd --model scratch-tiny --train-on-dev --epochs 4 --batch-size 8 \\
        --seed N --output RUNS_C/trained                                  # all questions, max_len 512
    # and each with --epochs 1 --lr 0 (untrained, the same code path) into RUNS_*/untrained; for C,
    # whose dev is all of DRCD dev, the untrained runs read a --data-dir holding DRCD's real dev and
    # test and a 4-question train file (CMRC 2018 trial's first article), so that a learning rate of
    # 0 costs one step instead of an epoch over dev

then ``python benchmarks/span_learns.py RUNS [RUNS ...]`` writes ``benchmarks/results/span_learns.md``
with the numbers those runs (one folder per configuration) and the baselines give (``--out FILE``
elsewhere; ``--small``, a check, into a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from cnbench import paths
from cnbench.data.load import load_task_data
from cnbench.mrc_metric import cmrc_metrics
from cnbench.registry import get_task
from cnbench.stats import paired_bootstrap

OUT = Path(__file__).resolve().parent / "results" / "span_learns.md"
ANSWER_CHARS = 4  # the median DRCD answer length in characters


def after_shared_text(question: str, context: str) -> str:
    """The ``ANSWER_CHARS`` characters after the longest stretch of the question found in the
    context (answers often follow the words a question repeats); the context's start when none."""
    for length in range(min(len(question), 12), 1, -1):
        for start in range(len(question) - length + 1):
            found = context.find(question[start : start + length])
            if found >= 0:
                end = found + length
                return context[end : end + ANSWER_CHARS]
    return context[:ANSWER_CHARS]


def first_clause(context: str) -> str:
    """The context up to its first comma or full stop: what a model that ignores the question says."""
    for index, char in enumerate(context):
        if char in "，。,":
            return context[:index]
    return context


def _scores(folder: Path) -> list[dict]:
    runs = [json.loads(path.read_text(encoding="utf-8")) for path in folder.glob("drcd--*.json")]
    return sorted(runs, key=lambda run: run["seed"])


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def _row(name: str, runs: list[dict]) -> str:
    f1 = [100 * run["metrics"]["test"]["f1"] for run in runs]
    em = [100 * run["metrics"]["test"]["em"] for run in runs]
    seeds = ", ".join(str(run["seed"]) for run in runs)
    return f"| {name} | {seeds} | {_spread(f1)} | {_spread(em)} | {', '.join(f'{value:.2f}' for value in f1)} |"


def _margins(gold: list[list[str]], trained: list[dict], baseline: str, predictions: list[str]) -> str:
    """Each trained seed against one baseline, paired over the same questions: the difference in F1
    and EM with its 95 % bootstrap interval and one-sided p (1,000 resamples)."""
    kind = get_task("drcd").kind_rules
    per_seed = []
    for run in trained:
        parts = []
        for metric in ("f1", "em"):
            test = paired_bootstrap(gold, run["predictions"]["test"], predictions, kind.summable(metric))
            parts.append(
                f"{metric.upper()} {100 * test['delta']:+.2f} [{100 * test['ci_low']:+.2f}, "
                f"{100 * test['ci_high']:+.2f}], p = {test['p_value']:.3f}"
            )
        per_seed.append(f"seed {run['seed']}: {'; '.join(parts)}")
    return (
        f"Trained minus the baseline {baseline!r}, per seed (95 % interval, one-sided p): " + ". ".join(per_seed) + "."
    )


def section(runs: Path) -> list[str]:
    """One configuration's table: its trained and untrained runs, and the baselines on the same questions."""
    trained, untrained = _scores(runs / "trained"), _scores(runs / "untrained")
    first = trained[0]
    limit, hp = first["protocol"]["limit"], first["hparams"]
    questions = load_task_data(get_task("drcd"), paths.data_dir(None), only=("test",), limit=limit).splits["test"]
    gold = [[answer.text for answer in question.answers] for question in questions]
    baselines = {
        "after the question's longest shared text": [after_shared_text(q.question, q.context) for q in questions],
        "the context's first clause": [first_clause(q.context) for q in questions],
    }
    limit_flag = f"--limit {limit} " if limit else ""
    trained_on = (
        f"The first {limit} questions of DRCD dev trained on (and used to choose the epoch); the first {limit} "
        "of DRCD test scored."
        if limit
        else f"All of DRCD dev trained on (and used to choose the epoch); all {len(questions)} questions of DRCD "
        "test scored."
    )
    lines = [
        f"## `{limit_flag}--max-len {hp['max_len']} --batch-size {hp['batch_size']} --lr {hp['lr']:g} "
        f"--epochs {hp['epochs']}`",
        "",
        trained_on,
        "",
        "| system | seeds | test F1 | test EM | F1 per seed |",
        "| --- | --- | --- | --- | --- |",
        _row(f"scratch-tiny, trained ({hp['epochs']} epochs, best dev epoch)", trained),
    ]
    if untrained:
        lines.append(_row("scratch-tiny, untrained (lr 0, same code path)", untrained))
    best_name, best_f1 = "", -1.0
    for name, predictions in baselines.items():
        scores = cmrc_metrics(gold, predictions)
        if 100 * scores["f1"] > best_f1:
            best_name, best_f1 = name, 100 * scores["f1"]
        lines.append(f"| baseline: {name} | — | {100 * scores['f1']:.2f} | {100 * scores['em']:.2f} | — |")
    trained_f1 = [100 * run["metrics"]["test"]["f1"] for run in trained]
    untrained_f1 = [100 * run["metrics"]["test"]["f1"] for run in untrained]
    against_untrained = (
        f"Every trained seed {'beats' if min(trained_f1) > max(untrained_f1) else 'does not beat'} every "
        f"untrained one (by {min(trained_f1) - max(untrained_f1):+.2f} F1 at the least), and"
        if untrained
        else "No untrained run was made for this configuration. Every trained seed"
    )
    verdict = (
        f"{against_untrained} {'beats' if min(trained_f1) > best_f1 else 'stays below'} the best baseline "
        f"({best_f1:.2f} F1)."
    )
    epochs = "; ".join(
        f"seed {run['seed']}: best epoch {run['best_epoch']} of {len(run['history'])}, dev F1 "
        f"(on the questions trained on) {100 * run['metrics']['dev']['f1']:.2f}"
        for run in trained
    )
    margins = _margins(gold, trained, best_name, baselines[best_name])
    return lines + ["", verdict, "", margins, "", f"Trained runs: {epochs}.", ""]


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="one folder per configuration (trained/, untrained/)")
    add_small_and_out(parser, OUT, appends=False)
    args = parser.parse_args()
    args.out = output_path(args, OUT)
    write(args.runs, args.out)


def write(folders: list[Path], out: Path) -> None:
    first = _scores(folders[0] / "trained")[0]
    lines = [
        "# Span extraction on DRCD with a scratch model: trained on dev, scored on test",
        "",
        "Written by `benchmarks/span_learns.py` from the runs named in its docstring. `--train-on-dev`: the "
        "bundle has no DRCD train set, so these are smoke runs; the CMRC 2018 evaluator's F1 and EM in "
        "percent, mean ± sample std over seeds. A seed missing from a table was stopped before it finished "
        "(the session's time).",
        "",
    ]
    for folder in folders:
        lines += section(folder)
    lines += [
        f"Machine: {first['environment']['hardware'].get('cpu', '?')}, runs sharing two cores with other work.",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
