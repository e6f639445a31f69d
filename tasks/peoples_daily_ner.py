"""People's Daily NER (the zjy-ucas / ERNIE "msra_ner" set): PER/LOC/ORG in BIO."""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="peoples_daily_ner",
    description="People's Daily NER (character tagging, BIO PER/LOC/ORG)",
    kind="tagging",
    labels=("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"),
    main_metric="f1",
    local=LocalFiles(
        folder="peoples_daily_ner",
        format="conll",
        files={"train": "train.txt.gz", "dev": "dev.txt.gz", "test": "test.txt.gz"},
        sha256={
            "dev.txt.gz": "d896a77f1c83d944eccda1c56fe1b60276741fc272be8e18c175a37e33650ca8",
            "test.txt.gz": "4e651647ca740d6665a0c5eb2fcaf7e016af694e32cb294a2bdfab3ff1050f10",
        },
        how_to_get="zjy-ucas/ChineseNER data/example.train, gzipped as train.txt.gz "
        "(never substitute msra_ner/train: it contains most of this dev and test set)",
    ),
    hub=HubDataset(
        path="peoples-daily-ner/peoples_daily_ner",
        splits={"train": "train", "dev": "validation", "test": "test"},
        columns={"chars": "tokens", "tags": "ner_tags"},
        label_names=("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"),
    ),
    defaults=Defaults(max_len=256, epochs=3, lr=3e-5),
    citation="People's Daily 1998 corpus; split of zjy-ucas/ChineseNER, used by ERNIE as msra_ner",
)
