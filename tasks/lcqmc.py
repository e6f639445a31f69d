"""LCQMC: question matching (same intent or not), 2 classes."""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="lcqmc",
    description="LCQMC question matching (sentence pair, 2 classes)",
    kind="pair",
    labels=("0", "1"),
    main_metric="accuracy",
    local=LocalFiles(
        folder="lcqmc",
        format="tsv",
        columns=("text_a", "text_b", "label"),
        files={"train": "train.tsv.gz", "dev": "dev.tsv.gz", "test": "test.tsv.gz"},
        sha256={
            "dev.tsv.gz": "1ad03e4b5118e045ba58cae9c8cc4fcffb9108c55ec5fa1d539e740f2b4876a7",
            "test.tsv.gz": "c301b37c168538233d111658df424dcfeb91505ba04cec26c7b2272c7c86cd7f",
        },
        how_to_get="LCQMC is distributed on request by HIT Shenzhen (Liu et al. 2018); save the "
        "train set as a gzipped TSV with header 'text_a<TAB>text_b<TAB>label'",
    ),
    hub=HubDataset(
        path="C-MTEB/LCQMC",
        splits={"train": "train", "dev": "validation", "test": "test"},
        columns={"text_a": "sentence1", "text_b": "sentence2", "label": "score"},
        revision="17f9b096f80380fce5ed12a9be8be7784b337daf",  # the revision MTEB pins
        # ``score`` is 0/1; whether stored as int or float is not on the card: both read the same.
        label_names=("0", "1"),
    ),
    defaults=Defaults(max_len=128, epochs=3, lr=2e-5),
    citation="Liu et al. (2018) LCQMC: A Large-scale Chinese Question Matching Corpus, COLING",
)
