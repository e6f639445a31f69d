"""MSRA-NER (SIGHAN 2006), the worked example of adding a task.

A new task is one file like this in ``tasks/``: declare the data (local layout and Hub mapping),
the labels, the main metric and default hyper-parameters, and the registry finds it. This copy
is cut into chunks of at most 100 characters, which starts 17 entities with ``I-``: those are
repaired to ``B-`` (counted in the result) rather than rejected, whichever source the rows come
from. It has no dev split, so a fixed 5 % of train is held out for choosing the epoch.
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="msra_ner",
    description="MSRA NER, SIGHAN 2006 (character tagging, BIO PER/LOC/ORG)",
    kind="tagging",
    labels=("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"),
    main_metric="f1",
    local=LocalFiles(
        folder="msra_ner",
        format="conll",
        files={"train": "train.txt.gz", "test": "test.txt.gz"},
        sha256={
            "train.txt.gz": "617fd70c2baba51aec7d0a85f84899088ead4f576935b227cf9fc78115ade097",
            "test.txt.gz": "11aa441aa276097f89cfd2b514f245dbb2bf72bd22f2dec0f12fc7f895e86b86",
        },
        how_to_get=(
            "ymcui/Chinese-BERT-wwm data/peopledaily/peopledaily.zip (train.txt; its dev.txt is the MSRA test set)"
        ),
        cut="Chinese-BERT-wwm copy: chunks of at most 100 characters (50,658 train / 4,631 test)",
    ),
    # main holds only a loading script, which datasets no longer runs; the Hub's parquet
    # conversion of it holds the data, as whole sentences: a different cut from the local copy,
    # so results from the two are never pooled (the cut is part of the data identity).
    hub=HubDataset(
        path="levow/msra_ner",
        revision="refs/convert/parquet",
        data_dir="msra_ner",
        splits={"train": "train", "test": "test"},
        columns={"chars": "tokens", "tags": "ner_tags"},
        label_names=("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
        cut="Hub parquet conversion: whole sentences (45,000 train / 3,442 test)",
    ),
    defaults=Defaults(max_len=256, epochs=3, lr=3e-5),
    citation="Levow (2006) The Third International Chinese Language Processing Bakeoff, SIGHAN",
    repair_bio=True,
    dev_from_train=0.05,
)
