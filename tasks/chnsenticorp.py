"""ChnSentiCorp: hotel/product review sentiment, 2 classes (the ERNIE / Chinese-BERT-wwm split)."""

from cnbench.task import Defaults, HubDataset, LocalFiles, Task

TASK = Task(
    name="chnsenticorp",
    description="ChnSentiCorp sentiment (single sentence, 2 classes)",
    kind="single",
    labels=("0", "1"),
    main_metric="accuracy",
    local=LocalFiles(
        folder="chnsenticorp",
        format="tsv",
        columns=("label", "text"),
        files={"train": "train.tsv.gz", "dev": "dev.tsv.gz", "test": "test.tsv.gz"},
        sha256={
            "train.tsv.gz": "9686fffacf135453c28c27c9d41eb33d668e29df1d7468a142d50c59625cc41c",
            "dev.tsv.gz": "12f6ed81826f606eb65ebc67f460e7c0f6fa1950d28734977dde4614a6e88c52",
            "test.tsv.gz": "490c97177bc02d96e669ca2f56ac472713e5f063b267481d55853f8df4caaa66",
        },
        how_to_get="ymcui/Chinese-BERT-wwm data/chnsenticorp/chnsenticorp.zip (train/dev/test.tsv)",
    ),
    hub=HubDataset(
        path="lansinuote/ChnSentiCorp",
        splits={"train": "train", "dev": "validation", "test": "test"},
        columns={"text_a": "text", "label": "label"},
        revision="b0c4c119c3fb33b8e735969202ef9ad13d717e5a",
        # dataset_infos.json: label ClassLabel ["negative", "positive"]; the parquet files may carry
        # the plain integers, which these names then read.
        label_names=("negative", "positive"),
        label_map={"negative": "0", "positive": "1"},
    ),
    defaults=Defaults(max_len=256, epochs=3, lr=2e-5),
    citation="Tan Songbo, ChnSentiCorp; split as in Cui et al. (2021) Chinese-BERT-wwm",
)
