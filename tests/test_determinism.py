"""``--deterministic`` switches torch's deterministic algorithms on for a run (each run sets the
mode it asks for, so runs of a local sweep do not inherit it) and records it. No GPU was available
where these tests were written: they check the settings, the record and that a CPU run is
unchanged and repeatable, not GPU bit-exactness.
"""

from __future__ import annotations

import os

import pytest
import torch
from conftest import only_result

from cnbench import determinism

RUN = (
    "--task",
    "chnsenticorp",
    "--model",
    "scratch-tiny",
    "--limit",
    "16",
    "--epochs",
    "1",
    "--max-len",
    "16",
    "--no-checkpoint",
)


@pytest.fixture
def restore(monkeypatch):
    monkeypatch.delenv(determinism.CUBLAS_VARIABLE, raising=False)
    yield
    determinism.configure(False)


def test_configure_turns_deterministic_algorithms_on_and_off(restore):
    facts = determinism.configure(True)
    assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark
    assert os.environ[determinism.CUBLAS_VARIABLE] == ":4096:8"
    assert facts["deterministic"] is True and facts[determinism.CUBLAS_VARIABLE] == ":4096:8"
    assert determinism.configure(False) == {"deterministic": False}
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


def test_an_existing_deterministic_cublas_setting_is_kept(restore, monkeypatch):
    monkeypatch.setenv(determinism.CUBLAS_VARIABLE, ":16:8")
    assert determinism.configure(True)[determinism.CUBLAS_VARIABLE] == ":16:8"
    monkeypatch.setenv(determinism.CUBLAS_VARIABLE, ":0:0")  # not a deterministic workspace: replaced
    assert determinism.configure(True)[determinism.CUBLAS_VARIABLE] == ":4096:8"


def test_nezha_and_the_crf_run_under_deterministic_algorithms(restore):
    """Every op of NEZHA's attention (gather, scatter_add) and of the CRF head has a deterministic
    implementation: nothing raises with the mode on (on CPU here; torch documents the CUDA ones)."""
    from pathlib import Path

    from transformers import AutoModel

    import cnbench  # noqa: F401  (registers NEZHA with the Auto classes)
    from cnbench.heads import build_head

    determinism.configure(True)
    torch.manual_seed(0)
    model = AutoModel.from_pretrained(Path(__file__).parent / "fixtures" / "nezha-tiny")
    ids = torch.randint(1, model.config.vocab_size, (2, 9))
    mask = torch.ones_like(ids, dtype=torch.bool)
    hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    head = build_head("crf", "tagging", model.config.hidden_size, 3, label_names=("O", "B-X", "I-X"))
    labels = torch.zeros_like(ids)
    out = head(hidden, None, mask, mask, labels)
    out.loss.backward()
    assert all(p.grad is not None for p in model.encoder.parameters() if p.requires_grad)


@pytest.mark.parametrize("deterministic", [False, True])
def test_the_result_records_determinism_and_a_cpu_run_repeats(cnbench, tmp_path, restore, deterministic):
    flag = ("--deterministic",) if deterministic else ()
    results = []
    for attempt in ("first", "second"):
        run = cnbench("run", *RUN, *flag, "--output", tmp_path / attempt)
        assert run.code == 0, run.err
        results.append(only_result(tmp_path / attempt))
    first, second = results
    assert first["metrics"] == second["metrics"] and first["predictions"] == second["predictions"]
    assert [h["train_loss"] for h in first["history"]] == [h["train_loss"] for h in second["history"]]
    assert first["environment"]["determinism"]["deterministic"] is deterministic
    assert first["environment"]["repeatability"].startswith("bit-exact with the same seed, thread count")
    assert ("--deterministic" in first["command"]) is deterministic
    # each run sets the mode it asks for: one without the option after one with it runs without
    assert torch.are_deterministic_algorithms_enabled() is deterministic
