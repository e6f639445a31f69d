"""TNEWS' (Toutiao news titles), CLUE: the news category of a title, 15 classes.

Labels are CLUE's category codes as written in the files (``"100"`` to ``"116"``; 105 and 111 do
not exist), never their positions: the Hub's ``ClassLabel`` names are these codes, so index 5 is
code ``"106"``, and a submission writes the code. Only ``sentence`` is read (``keywords`` is not:
CLUE's baseline classifies the title alone). Epochs are chosen on every 10th train example (held
out), the official dev set is scored as cnbench's ``test``; the hidden test set is ``unlabelled``
(CLUE 1.1's ``test.json``: ``tnews11_predict.json``).
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

CODES = ("100", "101", "102", "103", "104", "106", "107", "108", "109", "110", "112", "113", "114", "115", "116")

TASK = Task(
    name="tnews",
    description="TNEWS' news title classification, CLUE (one text, 15 classes; epochs chosen on a train holdout, "
    "scored on the official dev)",
    kind="single",
    labels=CODES,
    main_metric="accuracy",
    local=LocalFiles(
        folder="tnews",
        format="jsonl",
        fields={"text_a": "sentence", "label": "label"},
        files={"train": "train.json.gz", "test": "dev.json.gz"},
        unlabelled="test.json.gz",
        how_to_get="CLUE's tnews_public.zip (https://storage.googleapis.com/cluebenchmark/tasks/tnews_public.zip; "
        "train.json, dev.json, test.json), each saved gzipped as <name>.json.gz",
    ),
    hub=HubDataset(
        path="clue/clue",
        config="tnews",
        revision="9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",  # "Convert dataset to Parquet (#7)"
        splits={"train": "train", "test": "validation"},
        unlabelled="test",
        columns={"text_a": "sentence", "label": "label"},
        label_names=CODES,  # ClassLabel names are the codes: index != code
    ),
    # CLUE's TNEWS baseline: batch 16, length 128, 3 epochs, lr 2e-5.
    defaults=Defaults(max_len=128, epochs=3, lr=2e-5, batch_size=16),
    dev_from_train=0.1,
    citation="Xu et al. (2020) CLUE: A Chinese Language Understanding Evaluation Benchmark, COLING",
)
