"""Shared fixtures: the offline bundle in ../shared, a tiny saved checkpoint, the replica Hub, and a CLI runner."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

# A private, empty Hugging Face cache, set before anything imports huggingface_hub (it reads these
# at import): tests never see a developer's downloads, and the replica Hub is laid out in it.
for variable in ("HF_HUB_CACHE", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
    os.environ.pop(variable, None)
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="cnbench-test-hf-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A fresh feature cache per test session: tests never depend on what an earlier run left behind.
os.environ.setdefault("CNBENCH_CACHE_DIR", tempfile.mkdtemp(prefix="cnbench-test-cache-"))

from cnbench import paths  # noqa: E402
from cnbench.cli import main  # noqa: E402


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = paths.data_dir()
    if found is None:
        pytest.fail("the offline data bundle was not found: set CNBENCH_SHARED_DIR or put shared/ beside the checkout")
    return found


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(paths.tokenizer_dir())


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tokenizer) -> Path:
    """A random 2-layer BERT saved with save_pretrained: loads through the Hub-id code path."""
    import torch
    from transformers import AutoConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    config = AutoConfig.from_pretrained(
        paths.tokenizer_dir(), num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cnbench(capsys):
    """Run the cnbench CLI in this process; returns exit code and captured output."""

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture(scope="session")
def replica(data_dir):
    """Every repository cnbench names, laid out once in the session's Hub cache (``replica_hub.py``).
    Defined here rather than in a test module: a fixture imported into another module is set up
    again there, and laying out the whole replica takes seconds."""
    from huggingface_hub import constants
    from replica_hub import ReplicaHub

    hub = ReplicaHub(Path(constants.HF_HUB_CACHE), data_dir.parent)
    hub.all_models()
    hub.all_datasets()
    return hub


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """Where a test writes result files for the leaderboard: its own repository-like tree."""
    return tmp_path / "leaderboard" / "results"


@pytest.fixture
def toy_task(tmp_path, monkeypatch, data_dir):
    """A task added the way a researcher adds one: a file in a tasks folder, data in a data dir.

    Its data are the first rows of the real ChnSentiCorp splits, so runs are comparable (full
    train split, no --limit) yet take seconds.
    """
    import gzip
    import textwrap

    from cnbench.registry import all_tasks

    toy_data = tmp_path / "data" / "toy"
    toy_data.mkdir(parents=True)
    for split, rows in (("train", 96), ("dev", 48), ("test", 48)):
        with gzip.open(data_dir / "chnsenticorp" / f"{split}.tsv.gz", "rt", encoding="utf-8") as source:
            lines = [next(source) for _ in range(rows + 1)]
        with gzip.open(toy_data / f"{split}.tsv.gz", "wt", encoding="utf-8") as target:
            target.writelines(lines)
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "toy.py").write_text(
        textwrap.dedent("""
        from cnbench.task import Defaults, LocalFiles, Task

        TASK = Task(
            name="toy", description="first rows of ChnSentiCorp", kind="single", labels=("0", "1"),
            main_metric="accuracy",
            local=LocalFiles(folder="toy", format="tsv", columns=("label", "text"),
                             files={"train": "train.tsv.gz", "dev": "dev.tsv.gz", "test": "test.tsv.gz"}),
            defaults=Defaults(max_len=32, epochs=1, lr=5e-4, batch_size=16),
        )
    """)
    )
    monkeypatch.setenv("CNBENCH_TASKS_PATH", str(tasks))
    all_tasks.cache_clear()
    yield tmp_path / "data"
    all_tasks.cache_clear()


def only_result(folder: Path) -> dict:
    files = sorted(Path(folder).rglob("*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text(encoding="utf-8"))


@pytest.fixture
def tasks_path(tmp_path, monkeypatch):
    """An empty task folder first in $CNBENCH_TASKS_PATH, where new-task writes."""
    folder = tmp_path / "my_tasks"
    monkeypatch.setenv("CNBENCH_TASKS_PATH", f"{folder}:{tmp_path / 'other'}")
    from cnbench.registry import all_tasks

    all_tasks.cache_clear()
    yield folder
    all_tasks.cache_clear()
