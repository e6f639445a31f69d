"""DRCD: span-extraction reading comprehension over Traditional-Chinese Wikipedia paragraphs.

Its test set is public with answers, so a run chooses its epoch on dev and scores test once, in
the characters the data is written in (no conversion to Simplified). Scored with the CMRC 2018
evaluator, as HFL scores DRCD (``cnbench.mrc_metric``); DRCD's own script would give a
bag-of-characters F1 instead. Every question has two answers; all offsets are exact.
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="drcd",
    description="DRCD reading comprehension (span, Traditional Chinese)",
    kind="span",
    labels=(),
    main_metric="f1",
    local=LocalFiles(
        folder="drcd",
        format="squad",
        files={"train": "train.json.gz", "dev": "dev.json.gz", "test": "test.json.gz"},
        sha256={
            "dev.json.gz": "c8c030462056e1d2f32e164c3d98a9ebb774cf70514f17e88ba5ea10a9161852",
            "test.json.gz": "c0f154449b3c427935902289643c89990702564782fcb62c8a99ab1d08950ad7",
        },
        how_to_get="DRCKnowledgeTeam/DRCD DRCD_training.json, DRCD_dev.json and DRCD_test.json, saved gzipped "
        "as train.json.gz, dev.json.gz and test.json.gz",
    ),
    hub=HubDataset(
        path="clue/clue",
        config="drcd",
        # "Convert dataset to Parquet (#7)": the first commit datasets >= 4 can load.
        revision="9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",
        splits={"train": "train", "dev": "validation", "test": "test"},
        columns={"id": "id", "context": "context", "question": "question", "answers": "answers"},
    ),
    defaults=Defaults(max_len=512, epochs=2, lr=3e-5, batch_size=32),
    citation="Shao et al. (2018) DRCD: a Chinese Machine Reading Comprehension Dataset, arXiv:1806.00920",
)
