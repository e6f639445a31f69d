"""OCNLI (Original Chinese NLI), CLUE: natural language inference written in Chinese, 3 classes.

The local copy trains on ``train.10k`` (10,000 of the 50,437 train pairs, one of the subsets the
OCNLI repository ships); the Hub copy holds the whole train set. The two are different cuts
(``cut``), never pooled, and the published BERT-base figure (dev 74.5) is trained on the 50k set.
Dev pairs labelled ``-`` (50 of 3,000: no majority among the five annotators) have no gold label:
they are dropped and counted (``no_label``) wherever the data comes from (the Hub's loader
already dropped them: its validation split has 2,950 rows), so both score the same 2,950 pairs.
Epochs are chosen on every 10th train pair (held out), the official dev set is scored as
cnbench's ``test``; the hidden test set is ``unlabelled`` (``ocnli_50k_predict.json``).
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="ocnli",
    description="OCNLI natural language inference, CLUE (sentence pair, 3 classes; epochs chosen on a train "
    "holdout, scored on the official dev)",
    kind="pair",
    labels=("entailment", "neutral", "contradiction"),
    main_metric="accuracy",
    no_label=("-",),
    local=LocalFiles(
        folder="ocnli",
        format="jsonl",
        fields={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        files={"train": "train.10k.json.gz", "test": "dev.json.gz"},
        unlabelled="test.json.gz",
        sha256={
            "train.10k.json.gz": "a0547ead2160023ade3368699002f96a8f89efda3984dcbc575dbdbcba6f1a4e",
            "dev.json.gz": "59336666b1cd0ad6beabdbb696c98a82f9ec4c40c2e396e3bf78e0350bb24ea7",
            "test.json.gz": "037f8bc558db30e743cc3ade0cd914c12d4ab5fd78bb54631ac6adcf51a59845",
        },
        how_to_get="CLUEbenchmark/OCNLI data/ocnli/ (train.10k.json, dev.json, test.json at commit b53efde), "
        "each saved gzipped as <name>.json.gz; the whole train set is on the Hub (clue/clue, ocnli)",
        cut="train.10k: 10,000 of the 50,437 train pairs",
    ),
    hub=HubDataset(
        path="clue/clue",
        config="ocnli",
        revision="9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",  # "Convert dataset to Parquet (#7)"
        splits={"train": "train", "test": "validation"},
        unlabelled="test",
        columns={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        label_names=("neutral", "entailment", "contradiction"),
        cut="whole train set: 50,437 pairs",
    ),
    # Not among CLUE's per-task settings (OCNLI came later): CMNLI's, the other CLUE NLI task.
    defaults=Defaults(max_len=128, epochs=2, lr=3e-5, batch_size=64),
    dev_from_train=0.1,
    citation="Hu et al. (2020) OCNLI: Original Chinese Natural Language Inference, Findings of EMNLP",
)
