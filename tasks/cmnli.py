"""CMNLI, CLUE: natural language inference (MNLI and XNLI translated to Chinese), 3 classes.

Pairs labelled ``-`` (no majority among the annotators) have no gold label: they are dropped and
counted (``no_label``), from CLUE's files and from the Hub alike (the Hub copy's loader already
dropped them). The Hub's label order is neutral, entailment, contradiction, which ``label_names``
declares; labels here are names, so no order can be confused. Epochs are chosen on every 50th
train pair (held out), the official dev set is scored as cnbench's ``test``; the hidden test set
is ``unlabelled`` (``cmnli_predict.json``, label names).
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="cmnli",
    description="CMNLI natural language inference, CLUE (sentence pair, 3 classes; epochs chosen on a train "
    "holdout, scored on the official dev)",
    kind="pair",
    labels=("entailment", "neutral", "contradiction"),
    main_metric="accuracy",
    no_label=("-",),
    local=LocalFiles(
        folder="cmnli",
        format="jsonl",
        fields={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        files={"train": "train.json.gz", "test": "dev.json.gz"},
        unlabelled="test.json.gz",
        how_to_get="CLUE's cmnli_public.zip (https://storage.googleapis.com/cluebenchmark/tasks/cmnli_public.zip; "
        "train.json, dev.json, test.json), each saved gzipped as <name>.json.gz",
    ),
    hub=HubDataset(
        path="clue/clue",
        config="cmnli",
        revision="9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",  # "Convert dataset to Parquet (#7)"
        splits={"train": "train", "test": "validation"},
        unlabelled="test",
        columns={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        label_names=("neutral", "entailment", "contradiction"),
    ),
    # CLUE's CMNLI baseline: batch 64, length 128, 2 epochs, lr 3e-5.
    defaults=Defaults(max_len=128, epochs=2, lr=3e-5, batch_size=64),
    dev_from_train=0.02,
    citation="Xu et al. (2020) CLUE: A Chinese Language Understanding Evaluation Benchmark, COLING",
)
