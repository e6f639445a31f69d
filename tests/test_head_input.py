"""No head reads a constant, and ``model.head_input`` says what was read and whether it was learnt.

- ``char-embed`` has no context: its first state is the [CLS] embedding, the same for every input.
  A sentence-level linear head reads the mean over the real tokens instead (``--features last``,
  which would read [CLS], is refused in one line).
- A pooler the checkpoint lacks (MiniRBT's, replica Hub) is random: it trains under every strategy
  when the head reads it, and the result says it was learnt; a pretrained pooler under ``frozen``
  is recorded as kept frozen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import only_result

SMALL = ("--limit", "8", "--epochs", "1", "--max-len", "32", "--no-checkpoint")
MEAN = "mean of the character embeddings over the real tokens (learnt; char-embed has no context for [CLS])"


def test_a_sentence_head_on_char_embed_reads_the_mean_not_cls():
    from cnbench.heads import build_head
    from cnbench.models.char_embed import CharEmbedEncoder
    from cnbench.train import TaskModel
    from cnbench.tuning import MeanPooling, build_features

    torch.manual_seed(0)
    encoder = CharEmbedEncoder(vocab_size=50)
    features = build_features({}, encoder)
    assert isinstance(features, MeanPooling)
    model = TaskModel(
        encoder, build_head("linear", "classification", encoder.hidden_size, 2, dropout=0.0), features
    ).eval()
    ids = torch.tensor([[1, 5, 6, 2, 0], [1, 7, 8, 9, 2]])  # same [CLS] (1), different text, one padded
    mask = ids != 0
    logits = model.head.classifier(model.features(model.encoder, ids, mask, torch.zeros_like(ids))[1])
    assert not torch.allclose(logits[0], logits[1])
    expected = encoder.embeddings(ids[0, :4]).mean(0)  # the padding position is left out
    assert torch.allclose(model.features(model.encoder, ids, mask, torch.zeros_like(ids))[1][0], expected, atol=1e-6)


def test_char_embed_with_a_linear_head_records_the_mean(cnbench, tmp_path):
    run = cnbench("run", "--model", "char-embed", "--task", "chnsenticorp", *SMALL, "--output", tmp_path)
    assert run.code == 0, run.err
    assert only_result(tmp_path)["model"]["head_input"] == MEAN
    refused = cnbench(
        "run",
        "--model",
        "char-embed",
        "--task",
        "chnsenticorp",
        "--features",
        "last",
        *SMALL,
        "--output",
        tmp_path / "refused",
    )
    assert refused.code == 2 and refused.err.startswith("error: --features last: this encoder has no context")


@pytest.fixture(scope="module")
def family_replica(data_dir):
    from huggingface_hub import constants
    from replica_hub import ReplicaHub

    hub = ReplicaHub(Path(constants.HF_HUB_CACHE), data_dir.parent)
    hub.minirbt()
    hub.chnsenticorp()
    return hub


@pytest.mark.parametrize("tuning", ["frozen", "adapter", "lora"])
def test_a_random_pooler_trains_whatever_the_strategy(cnbench, tmp_path, family_replica, monkeypatch, tuning):
    from cnbench import train

    seen = {}
    apply_strategy = train.apply_strategy

    def snapshot(model, hp):
        apply_strategy(model, hp)
        seen["model"] = model
        seen["pooler"] = {name: p.detach().clone() for name, p in model.encoder.model.pooler.named_parameters()}

    monkeypatch.setattr(train, "apply_strategy", snapshot)
    run = cnbench(
        "run",
        "--model",
        "minirbt",
        "--task",
        "chnsenticorp",
        "--source",
        "hub",
        "--tuning",
        tuning,
        *SMALL,
        "--output",
        tmp_path,
    )
    assert run.code == 0, run.err
    result = only_result(tmp_path)
    assert result["model"]["loading"]["pooler"] == "initialised randomly"
    assert result["model"]["head_input"] == (
        "pooler output (dense + tanh on [CLS], initialised randomly and learnt in fine-tuning)"
    )
    pooler = dict(seen["model"].encoder.model.pooler.named_parameters())
    assert all(p.requires_grad for p in pooler.values())
    assert all(not torch.equal(pooler[name], before) for name, before in seen["pooler"].items())


def test_a_pretrained_pooler_under_frozen_is_recorded_frozen(cnbench, tmp_path, family_replica):
    family_replica.albert()
    run = cnbench(
        "run",
        "--model",
        "albert",
        "--task",
        "chnsenticorp",
        "--source",
        "hub",
        "--tuning",
        "frozen",
        *SMALL,
        "--output",
        tmp_path,
    )
    assert run.code == 0, run.err
    expected = "pooler output (pretrained dense + tanh on [CLS], kept frozen)"
    assert only_result(tmp_path)["model"]["head_input"] == expected
