"""AFQMC (Ant Financial Question Matching Corpus), CLUE: do two questions mean the same? 2 classes.

CLUE's test labels are hidden, so, as for every CLUE task here, a run chooses its epoch on every
10th train pair (held out, never scored) and scores the official dev set once: cnbench's ``test``
split is CLUE's dev set, the number that compares with the dev column of CLUE's baselines. The
hidden test set is ``unlabelled``: ``cnbench run --submission DIR`` predicts it in CLUE's format
(``afqmc_predict.json``).
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="afqmc",
    description="AFQMC question matching, CLUE (sentence pair, 2 classes; epochs chosen on a train holdout, "
    "scored on the official dev)",
    kind="pair",
    labels=("0", "1"),
    main_metric="accuracy",
    local=LocalFiles(
        folder="afqmc",
        format="jsonl",
        fields={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        files={"train": "train.json.gz", "test": "dev.json.gz"},
        unlabelled="test.json.gz",
        how_to_get="CLUE's afqmc_public.zip (https://storage.googleapis.com/cluebenchmark/tasks/afqmc_public.zip; "
        "train.json, dev.json, test.json), each saved gzipped as <name>.json.gz",
    ),
    hub=HubDataset(
        path="clue/clue",
        config="afqmc",
        # "Convert dataset to Parquet (#7)": the first commit datasets >= 4 can load.
        revision="9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",
        splits={"train": "train", "test": "validation"},
        unlabelled="test",  # labels -1
        columns={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        label_names=("0", "1"),
    ),
    # CLUE's AFQMC baseline: batch 16, length 128, 3 epochs, lr 2e-5.
    defaults=Defaults(max_len=128, epochs=3, lr=2e-5, batch_size=16),
    dev_from_train=0.1,
    citation="Xu et al. (2020) CLUE: A Chinese Language Understanding Evaluation Benchmark, COLING",
)
