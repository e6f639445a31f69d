"""Shared fixtures: the offline bundle in ../shared, a tiny saved checkpoint, and a CLI runner."""

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
