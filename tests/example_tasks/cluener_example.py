"""CLUENER2020 fine-grained NER (Xu et al. 2020): the worked example of a task in its own format.

CLUENER ships JSON lines, one sentence per line with its entities as inclusive character spans:

    {"text": "生生不息CSOL生化狂潮让你填弹狂扫", "label": {"game": {"CSOL": [[4, 7]]}}}

``format="spans"`` turns each line into one BIO tag per character; a span that overlaps another,
leaves the text or does not spell its mention is an error naming file and line. The published
test.json has no labels, so, as in the CLUE papers, dev.json is scored as the test set and a fixed
10 % of train is held out to choose the epoch. This file lives outside ``cnbench/``: put its folder
in ``$CNBENCH_TASKS_PATH`` (``tests/test_example_task.py`` does) or copy it into ``tasks/``.
"""

from cnbench.task import Defaults, LocalFiles, Task

TYPES = ("address", "book", "company", "game", "government", "movie", "name", "organization", "position", "scene")

TASK = Task(
    name="cluener_example",
    description="CLUENER2020 fine-grained NER, 10 entity types (character tagging, BIO)",
    kind="tagging",
    labels=("O", *(f"{prefix}-{name}" for name in TYPES for prefix in ("B", "I"))),
    main_metric="f1",
    local=LocalFiles(
        folder="cluener",
        format="spans",
        fields={"text": "text", "spans": "label"},
        files={"train": "train.json", "test": "dev.json"},
        how_to_get="https://github.com/CLUEbenchmark/CLUENER2020 (cluener_public.zip: train.json, dev.json)",
    ),
    defaults=Defaults(max_len=128, epochs=3, lr=3e-5),
    citation="Xu et al. (2020) CLUENER2020: Fine-grained Named Entity Recognition Dataset and Benchmark for Chinese",
    dev_from_train=0.1,
)
