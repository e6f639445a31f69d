"""People's Daily NER (the zjy-ucas / ERNIE "msra_ner" set): PER/LOC/ORG in BIO."""

from cnbench.task import Defaults, LocalFiles, SourceFiles, Task

# The Hub's peoples-daily-ner/peoples_daily_ner holds only a loading script (no parquet conversion
# is known), which datasets 5 no longer runs. The script reads OYE93/Chinese-NLP-Corpus's
# "People's Daily" example.{train,dev,test}; cnbench fetches and checks zjy-ucas/ChineseNER's files
# of those names, the release the shared dev/test files come from. UNVERIFIED: that the two copies
# are byte-identical.
SOURCE = "https://raw.githubusercontent.com/zjy-ucas/ChineseNER/48e1007e60194c13377f8ce612c505d484b18c7d/data/"

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
    download=SourceFiles(
        urls={"train": SOURCE + "example.train", "dev": SOURCE + "example.dev", "test": SOURCE + "example.test"},
        checksums={
            # Only the git blob id of example.train is on record; dev and test are the local files, uncompressed.
            "train": "git-blob:388fee7ca0b548fe2c35ff176a0c4412b0ca2329",
            "dev": "sha256:7d8e6fcd1745e6adcb99d90307d84c3a0f9f8ff5ee6fe62ca27646cb765fc38a",
            "test": "sha256:233299005f941a4b055e38aadcf3ee853e44bc1f88166078d3b52b26b77ea362",
        },
    ),
    defaults=Defaults(max_len=256, epochs=3, lr=3e-5),
    citation="People's Daily 1998 corpus; split of zjy-ucas/ChineseNER, used by ERNIE as msra_ner",
)
