"""IFLYTEK', CLUE: the category of an app from its description, 119 classes (``"0"`` to ``"118"``).

Epochs are chosen on every 10th train example (held out), the official dev set is scored as
cnbench's ``test``; the hidden test set is ``unlabelled`` (``iflytek_predict.json``). Descriptions
are long: at CLUE's length of 128 pieces most are truncated (counted in the result's notes).
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

LABELS = tuple(str(code) for code in range(119))

TASK = Task(
    name="iflytek",
    description="IFLYTEK' app description classification, CLUE (one text, 119 classes; epochs chosen on a train "
    "holdout, scored on the official dev)",
    kind="single",
    labels=LABELS,
    main_metric="accuracy",
    local=LocalFiles(
        folder="iflytek",
        format="jsonl",
        fields={"text_a": "sentence", "label": "label"},
        files={"train": "train.json.gz", "test": "dev.json.gz"},
        unlabelled="test.json.gz",
        how_to_get="CLUE's iflytek_public.zip (https://storage.googleapis.com/cluebenchmark/tasks/iflytek_public.zip; "
        "train.json, dev.json, test.json), each saved gzipped as <name>.json.gz",
    ),
    hub=HubDataset(
        path="clue/clue",
        config="iflytek",
        revision="9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",  # "Convert dataset to Parquet (#7)"
        splits={"train": "train", "test": "validation"},
        unlabelled="test",
        columns={"text_a": "sentence", "label": "label"},
        label_names=LABELS,
    ),
    # CLUE's IFLYTEK baseline: batch 32, length 128, 3 epochs, lr 2e-5.
    defaults=Defaults(max_len=128, epochs=3, lr=2e-5, batch_size=32),
    dev_from_train=0.1,
    citation="Xu et al. (2020) CLUE: A Chinese Language Understanding Evaluation Benchmark, COLING",
)
