"""Why the MSRA-NER baselines sit below published character BiLSTM-CRF scores: entities seen in
training versus entities never seen, read from the committed results' test predictions.

Prints, and writes to ``benchmarks/results/msra_ner_gap.md``: how many test entities have a
surface form (type + characters) that occurs as an entity in the train split; each committed
result's recall on seen and on unseen entities; and the same seen share for the held-out dev
chunks, which explains why dev scores run far above test scores.

    python benchmarks/analyse_msra_ner.py
    python benchmarks/analyse_msra_ner.py --results DIR --out FILE  # other result files, e.g. probes
    python benchmarks/analyse_msra_ner.py --small [--results DIR]   # a check: the table goes to a temporary folder
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnbench import paths
from cnbench.atomic import atomic_file
from cnbench.data.load import load_task_data
from cnbench.leaderboard import epochs_trained
from cnbench.registry import get_task
from cnbench.results import load_results, predicted_labels
from cnbench.runinfo import code_version

OUT = Path(__file__).parent / "results" / "msra_ner_gap.md"


def entities(tags) -> list[tuple[str, int, int]]:
    """Strict BIO entities ``(type, start, end)``."""
    found, current = [], None
    for position, tag in enumerate(tags):
        if tag.startswith("B-") or (tag.startswith("I-") and (current is None or current[0] != tag[2:])):
            if current:
                found.append(tuple(current))
            current = [tag[2:], position, position + 1] if tag.startswith("B-") else None
        elif tag.startswith("I-"):
            current[2] = position + 1
        else:
            if current:
                found.append(tuple(current))
            current = None
    if current:
        found.append(tuple(current))
    return found


def forms(sentences) -> set[tuple[str, str]]:
    return {(kind, "".join(s.chars[start:end])) for s in sentences for kind, start, end in entities(s.tags)}


def seen_share(sentences, known) -> tuple[int, int]:
    pairs = [(kind, "".join(s.chars[a:b])) for s in sentences for kind, a, b in entities(s.tags)]
    return sum(pair in known for pair in pairs), len(pairs)


def main() -> None:
    from small_mode import add_small_and_out, output_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=paths.results_dir(), help="folder of result files")
    add_small_and_out(parser, OUT, appends=False)
    args = parser.parse_args()
    args.out = output_path(args, OUT)
    data = load_task_data(get_task("msra_ner"), paths.data_dir(), source="local")
    train, dev, test = data.splits["train"], data.splits["dev"], data.splits["test"]
    known = forms(train + dev)
    seen, total = seen_share(test, known)
    dev_seen, dev_total = seen_share(dev, forms(train))
    lines = [
        "# MSRA-NER: seen and unseen entities",
        "",
        f"Written by `benchmarks/analyse_msra_ner.py` at {code_version()['git_commit']}, from the result files in",
        f"`{paths.shown(args.results)}/` and the local MSRA copy (100-character chunks).",
        "",
        "- Test entities whose type + characters occur as an entity in train: "
        f"{seen:,} of {total:,} ({seen / total:.1%}).",
        f"- Held-out dev chunks (every 20th train chunk): {dev_seen:,} of {dev_total:,} ({dev_seen / dev_total:.1%}) "
        "occur in the rest of train.",
        "",
        "| model | head | seed | patience | epochs trained of cap | test strict F1 | dev strict F1 "
        "| recall, seen entities | recall, unseen entities |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    results, _ = load_results(args.results)
    gold = [set(entities(s.tags)) for s in test]
    for result in sorted(
        (r for r in results if r["task"]["name"] == "msra_ner" and r["status"] == "completed"),
        key=lambda r: (r["model"]["alias"], r["head"], r["seed"], len(r["history"])),
    ):
        hits = {"seen": [0, 0], "unseen": [0, 0]}
        for sentence, wanted, predicted in zip(test, gold, predicted_labels(result, "test"), strict=True):
            got = set(entities(predicted))
            for kind, a, b in wanted:
                group = "seen" if (kind, "".join(sentence.chars[a:b])) in known else "unseen"
                hits[group][1] += 1
                hits[group][0] += (kind, a, b) in got
        lines.append(
            f"| {result['model']['alias']} | {result['head']} | {result['seed']} | "
            f"{result['hparams']['patience'] or '—'} | "
            f"{epochs_trained(result)} | "
            f"{result['metrics']['test']['f1']:.2%} | "
            f"{result['metrics']['dev']['f1']:.2%} | {hits['seen'][0] / hits['seen'][1]:.1%} | "
            f"{hits['unseen'][0] / hits['unseen'][1]:.1%} |"
        )
    text = "\n".join(lines) + "\n"
    with atomic_file(args.out, "w", permissions=0o644) as handle:
        handle.write(text)
    sys.stdout.write(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
