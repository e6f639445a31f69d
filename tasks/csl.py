"""CSL (Chinese Scientific Literature), CLUE: are all the keywords real keywords of the abstract?
2 classes (``"1"``: the paper's own keywords; ``"0"``: some are fake).

Each line holds ``abst`` and ``keyword``, a list of keywords. As in CLUE's baseline the pair the
encoder reads is the keywords joined by spaces, then the abstract (``text_a``, ``text_b``); the
same reader turns the Hub's ``keyword`` sequence into that text (``row_reader``). Epochs are chosen
on every 10th train example (held out), the official dev set is scored as cnbench's ``test``; the
hidden test set is ``unlabelled`` (``csl_predict.json``).
"""

import json

from cnbench.data.examples import TextExample
from cnbench.data.readers import read_lines
from cnbench.errors import CnbenchError, DataError
from cnbench.task import Defaults, HubDataset, LocalFiles, Task


def keyword_text(keywords) -> str:
    """The keywords joined by spaces; ``ValueError`` unless a non-empty list of non-empty texts."""
    if (
        not isinstance(keywords, list)
        or not keywords
        or not all(isinstance(word, str) and word.strip() for word in keywords)
    ):
        raise ValueError(f"'keyword' is {keywords!r:.60}; expected a non-empty list of keywords")
    return " ".join(word.strip() for word in keywords)


def read_csl(path, task) -> list[TextExample]:
    """CSL's JSON lines: ``abst``, ``keyword`` (a list), ``label`` (``"0"``/``"1"``)."""
    examples = []
    for number, line in read_lines(path):
        try:
            record = json.loads(line)
        except ValueError:
            raise DataError(path, number, "not JSON; expected one CSL object per line") from None
        if not isinstance(record, dict) or not {"abst", "keyword", "label"} <= set(record):
            raise DataError(path, number, "expected a JSON object with 'abst', 'keyword' and 'label'")
        try:
            keywords = keyword_text(record["keyword"])
        except ValueError as err:
            raise DataError(path, number, str(err)) from None
        abstract, label = record["abst"], record["label"]
        if not isinstance(abstract, str) or not abstract.strip():
            raise DataError(path, number, f"'abst' is {abstract!r:.60}; expected non-empty text")
        label = str(label) if isinstance(label, int) and not isinstance(label, bool) else label
        examples.append(TextExample(keywords, abstract, label if isinstance(label, str) else repr(label)))
    return examples


def csl_row(row: dict) -> dict:
    """A Hub row's keywords as one text (column ``keywords``)."""
    try:
        return {"keywords": keyword_text(list(row.get("keyword") or []))}
    except ValueError as err:
        raise CnbenchError(f"clue/clue csl row idx {row.get('idx')}: {err}") from None


TASK = Task(
    name="csl",
    description="CSL keyword recognition, CLUE (keywords + abstract pair, 2 classes; epochs chosen on a train "
    "holdout, scored on the official dev)",
    kind="pair",
    labels=("0", "1"),
    main_metric="accuracy",
    local=LocalFiles(
        folder="csl",
        format=read_csl,
        files={"train": "train.json.gz", "test": "dev.json.gz"},
        unlabelled="test.json.gz",
        how_to_get="CLUE's csl_public.zip (https://storage.googleapis.com/cluebenchmark/tasks/csl_public.zip; "
        "train.json, dev.json, test.json), each saved gzipped as <name>.json.gz",
    ),
    hub=HubDataset(
        path="clue/clue",
        config="csl",
        revision="9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",  # "Convert dataset to Parquet (#7)"
        splits={"train": "train", "test": "validation"},
        unlabelled="test",
        row_reader=csl_row,
        columns={"text_a": "keywords", "text_b": "abst", "label": "label"},
        label_names=("0", "1"),
    ),
    # CLUE's CSL baseline: batch 4, length 256, 5 epochs, lr 1e-5.
    defaults=Defaults(max_len=256, epochs=5, lr=1e-5, batch_size=4),
    dev_from_train=0.1,
    citation="Xu et al. (2020) CLUE: A Chinese Language Understanding Evaluation Benchmark, COLING",
)
