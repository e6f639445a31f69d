"""CLUEWSC2020, CLUE: Winograd-style coreference. Does the pronoun (span 2) refer to the noun
phrase (span 1) in the text? 2 classes, ``true`` and ``false``.

Each line holds ``text`` and ``target`` (``span1_text``/``span1_index``, ``span2_text``/``span2_index``,
character offsets into the text). As in CLUE's baseline, the spans are marked in the text the
encoder reads: span 1 between underscores (``_张三_``), span 2 in square brackets (``[他]``). A
span whose text is not at its index is an error naming the line. The same reader turns the Hub's
``target`` struct into the marked text (``row_reader``). Labels are CLUE's strings; the Hub's
``ClassLabel`` is ``["true", "false"]`` (``true`` = 0). Epochs are chosen on every 10th train example
(held out), the official dev set is scored as cnbench's ``test``; the hidden test set is
``unlabelled``. Its size differs between sources (290 in the legacy infos, 2,574 on the Hub now):
2,574 is CLUE 1.1's test, submitted as ``cluewsc11_predict.json``.
"""

import json

from cnbench.data.examples import TextExample
from cnbench.data.readers import read_lines
from cnbench.errors import CnbenchError, DataError
from cnbench.task import Defaults, HubDataset, LocalFiles, Task


def marked_text(text, target) -> str:
    """``text`` with span 1 between underscores and span 2 in brackets; ``ValueError`` saying what
    is wrong when the target does not fit the text."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"'text' is {text!r:.60}; expected non-empty text")
    if not isinstance(target, dict):
        raise ValueError(f"'target' is {target!r:.60}; expected {{span1_text, span1_index, span2_text, span2_index}}")
    spans = []
    for number, (left, right) in ((1, ("_", "_")), (2, ("[", "]"))):
        span, index = target.get(f"span{number}_text"), target.get(f"span{number}_index")
        if not isinstance(span, str) or not span or not isinstance(index, int) or isinstance(index, bool):
            raise ValueError(
                f"target span{number}_text/span{number}_index are {span!r:.30}/{index!r}; "
                "expected a non-empty text and its character index"
            )
        if text[index : index + len(span)] != span:
            raise ValueError(
                f"span{number}_text {span!r} is not at span{number}_index {index} "
                f"(the text there is {text[index : index + len(span)]!r})"
            )
        spans.append((index, index + len(span), left, right))
    (start1, end1, *_), (start2, end2, *_) = sorted(spans)
    if start2 < end1:
        raise ValueError("span 1 and span 2 overlap; expected two separate spans")
    for start, end, left, right in sorted(spans, reverse=True):  # from the end: earlier offsets stay valid
        text = text[:start] + left + text[start:end] + right + text[end:]
    return text


def read_wsc(path, task) -> list[TextExample]:
    """CLUEWSC2020's JSON lines: ``text``, ``target``, ``label`` (``"true"``/``"false"``)."""
    examples = []
    for number, line in read_lines(path):
        try:
            record = json.loads(line)
        except ValueError:
            raise DataError(path, number, "not JSON; expected one CLUEWSC2020 object per line") from None
        if not isinstance(record, dict) or "label" not in record:
            raise DataError(path, number, "expected a JSON object with 'text', 'target' and 'label'")
        try:
            text = marked_text(record.get("text"), record.get("target"))
        except ValueError as err:
            raise DataError(path, number, str(err)) from None
        label = record["label"]
        if isinstance(label, bool):  # a JSON true/false written for CLUE's strings
            label = "true" if label else "false"
        examples.append(TextExample(text, None, label if isinstance(label, str) else repr(label)))
    return examples


def wsc_row(row: dict) -> dict:
    """A Hub row's marked text (column ``marked_text``), from its ``text`` and ``target``."""
    try:
        return {"marked_text": marked_text(row.get("text"), row.get("target"))}
    except ValueError as err:
        raise CnbenchError(f"clue/clue cluewsc2020 row idx {row.get('idx')}: {err}") from None


TASK = Task(
    name="cluewsc2020",
    description="CLUEWSC2020 pronoun coreference, CLUE (one text with two marked spans, 2 classes; epochs "
    "chosen on a train holdout, scored on the official dev)",
    kind="single",
    labels=("true", "false"),
    main_metric="accuracy",
    local=LocalFiles(
        folder="cluewsc2020",
        format=read_wsc,
        files={"train": "train.json.gz", "test": "dev.json.gz"},
        unlabelled="test.json.gz",
        how_to_get="CLUE's cluewsc2020_public.zip (https://storage.googleapis.com/cluebenchmark/tasks/"
        "cluewsc2020_public.zip; train.json, dev.json, test.json), each saved gzipped as <name>.json.gz",
    ),
    hub=HubDataset(
        path="clue/clue",
        config="cluewsc2020",
        revision="9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",  # "Convert dataset to Parquet (#7)"
        splits={"train": "train", "test": "validation"},
        unlabelled="test",
        row_reader=wsc_row,
        columns={"text_a": "marked_text", "label": "label"},
        label_names=("true", "false"),
    ),
    # CLUE's WSC baseline: lr 2e-5, batch 8, length 128, 50 epochs.
    defaults=Defaults(max_len=128, epochs=50, lr=2e-5, batch_size=8),
    dev_from_train=0.1,
    citation="Xu et al. (2020) CLUE: A Chinese Language Understanding Evaluation Benchmark, COLING",
)
