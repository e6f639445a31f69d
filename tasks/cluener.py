"""CLUENER2020, CLUE's fine-grained NER: 10 entity types in news-like sentences, tagged per character.

Files are CLUENER2020's JSON lines, ``{"text": ..., "label": {type: {mention: [[start, end]]}}}`` with
inclusive ends (cnbench's ``spans`` format), turned into BIO tags. Test labels are not released, so
epochs are chosen on every 10th train sentence (held out) and the official dev set is scored as
cnbench's ``test``, with strict entity micro-F1 (CLUENER's leaderboard reports a macro-F1 over
types on its hidden test: a different number). The hidden test set is ``unlabelled``: a submission
writes CLUE's span JSON (``cluener_predict.json``, the name of the sample file CLUE's zip ships;
its line format, taken from the data's, is UNVERIFIED). Hub: clue/clue has no CLUENER
configuration and the community copies' schemas are UNVERIFIED, so this task is local only.
"""

from cnbench.task import Defaults, LocalFiles, Task

TYPES = ("address", "book", "company", "game", "government", "movie", "name", "organization", "position", "scene")

TASK = Task(
    name="cluener",
    description="CLUENER2020 fine-grained NER, CLUE (character tagging, BIO, 10 types; epochs chosen on a train "
    "holdout, scored on the official dev)",
    kind="tagging",
    labels=("O", *(f"{prefix}-{name}" for name in TYPES for prefix in ("B", "I"))),
    main_metric="f1",
    local=LocalFiles(
        folder="cluener",
        format="spans",
        files={"train": "train.json.gz", "test": "dev.json.gz"},
        unlabelled="test.json.gz",
        how_to_get="CLUE's cluener_public.zip (https://storage.googleapis.com/cluebenchmark/tasks/cluener_public.zip; "
        "train.json, dev.json, test.json), each saved gzipped as <name>.json.gz",
    ),
    # CLUENER2020's PyTorch baseline (run_ner_crf.sh): length 128, batch 24, lr 3e-5, 4 epochs.
    defaults=Defaults(max_len=128, epochs=4, lr=3e-5, batch_size=24),
    dev_from_train=0.1,
    citation="Xu et al. (2020) CLUENER2020: Fine-grained Named Entity Recognition Dataset and Benchmark for Chinese, "
    "arXiv:2001.04351",
)
