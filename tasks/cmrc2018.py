"""CMRC 2018: span-extraction reading comprehension over Simplified-Chinese Wikipedia paragraphs.

The official test and challenge sets are hidden (scores come from the organisers), so a run here
chooses its epoch on the public trial set (1,002 questions, never scored) and scores the official
dev set (3,219 questions) once: the number that compares with the dev column of HFL's and
MacBERT's tables. In cnbench's split names, ``dev`` is the trial set and ``test`` the official dev.
Scores are the official evaluator's EM and F1 (``cnbench.mrc_metric``). The Hub copy's ``test``
split is the trial set (same size and bytes as CLUE's ``trial``), and its loader strips answer
text without moving ``answer_start``: those answers are found again and counted.
"""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="cmrc2018",
    description="CMRC 2018 reading comprehension (span; epochs chosen on trial, scored on the official dev)",
    kind="span",
    labels=(),
    main_metric="f1",
    local=LocalFiles(
        folder="cmrc2018",
        format="squad",
        files={"train": "train.json.gz", "dev": "trial.json.gz", "test": "dev.json.gz"},
        sha256={
            "dev.json.gz": "390b2598c6d40cc8785c84d691499201955d218619f02ea0081a30fc3c174017",
            "trial.json.gz": "63a15565fb289d9fa4c1a61ba4775ed1fe5312cac08e2114afd49b98029dccfc",
        },
        how_to_get="ymcui/cmrc2018 squad-style-data/cmrc2018_{train,trial,dev}.json, saved gzipped as "
        "train.json.gz, trial.json.gz and dev.json.gz",
    ),
    hub=HubDataset(
        path="hfl/cmrc2018",
        # "Convert dataset to Parquet (#4)": the first commit datasets >= 4 can load.
        revision="137f2c45a24275fb68f6961c4d357f46288886aa",
        splits={"train": "train", "dev": "test", "test": "validation"},
        columns={"id": "id", "context": "context", "question": "question", "answers": "answers"},
    ),
    # HFL's fine-tuning command (lr 3e-5, batch 32, 2 epochs, 512 pieces, stride 128).
    defaults=Defaults(max_len=512, epochs=2, lr=3e-5, batch_size=32),
    citation="Cui et al. (2019) A Span-Extraction Dataset for Chinese Machine Reading Comprehension, EMNLP-IJCNLP",
)
