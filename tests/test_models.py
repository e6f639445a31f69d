"""Checkpoints load through the same code path as a Hub id; provenance is recorded."""

from __future__ import annotations

import json

import pytest
from conftest import only_result

from cnbench.models.encoders import load_model


def test_local_checkpoint_round_trip_through_the_hub_path(cnbench, tmp_path, tiny_checkpoint):
    import torch
    from transformers import BertModel

    loaded = load_model(str(tiny_checkpoint), seed=0)
    reference = BertModel.from_pretrained(tiny_checkpoint)
    for (name, ours), (_, theirs) in zip(
        loaded.encoder.model.state_dict().items(), reference.state_dict().items(), strict=True
    ):
        assert torch.equal(ours, theirs), name
    assert loaded.provenance["source"] == "local" and len(loaded.provenance["weights_sha256"]) == 64

    result = cnbench(
        "run",
        "--task",
        "chnsenticorp",
        "--model",
        tiny_checkpoint,
        "--epochs",
        "1",
        "--limit",
        "32",
        "--max-len",
        "32",
        "--lr",
        "1e-4",
        "--output",
        tmp_path,
    )
    assert result.code == 0, result.err
    doc = only_result(tmp_path)
    assert doc["model"]["weights_sha256"] == loaded.provenance["weights_sha256"]
    assert doc["model"]["config"]["hidden_size"] == 128 and doc["hparams"]["lr"] == 1e-4


def test_a_local_nezha_checkpoint_runs_end_to_end(cnbench, tmp_path, tokenizer):
    import torch

    import cnbench as package  # noqa: F401  (registers NEZHA with the Auto classes)
    from cnbench.models.nezha import NezhaConfig, NezhaModel

    folder = tmp_path / "nezha-tiny"
    config = NezhaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_relative_position=8,
    )
    torch.manual_seed(0)
    NezhaModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    result = cnbench(
        "run",
        "--task",
        "chnsenticorp",
        "--model",
        folder,
        "--epochs",
        "1",
        "--limit",
        "32",
        "--max-len",
        "48",
        "--lr",
        "1e-4",
        "--output",
        tmp_path / "results",
    )
    assert result.code == 0, result.err
    doc = only_result(tmp_path / "results")
    assert doc["model"]["config"]["model_type"] == "nezha"
    assert doc["model"]["config"]["max_relative_position"] == 8
    assert doc["status"] == "completed"


@pytest.mark.parametrize(
    "stated, normalization, tokens",
    [
        (None, "lowercase", ["apple", "好"]),  # no tokenizer_config.json (ERNIE's conversion): BertTokenizer's default
        ({"do_lower_case": True}, "lowercase", ["apple", "好"]),
        ({"do_lower_case": False}, "cased", ["Apple", "好"]),
    ],
)
def test_a_vocabulary_with_capitals_keeps_case_only_when_its_files_say_so(tmp_path, stated, normalization, tokens):
    from cnbench.models.encoders import load_tokenizer

    (tmp_path / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Apple", "apple", "好"]) + "\n", encoding="utf-8"
    )
    if stated is not None:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(stated), encoding="utf-8")
    tokenizer, info = load_tokenizer(str(tmp_path))
    assert info["normalization"] == normalization and tokenizer.tokenize("Apple好") == tokens


def test_a_broken_tokenizer_config_is_named(tmp_path):
    from cnbench.errors import CnbenchError
    from cnbench.models.encoders import load_tokenizer

    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nApple\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": fal', encoding="utf-8")
    with pytest.raises(CnbenchError, match=r"tokenizer_config.json: not a readable JSON object"):
        load_tokenizer(str(tmp_path))


def test_an_alias_given_to_tokenizer_cannot_be_pinned():
    from cnbench.errors import CnbenchError
    from cnbench.models.encoders import tokenizer_source

    assert tokenizer_source("macbert")[0] == "hfl/chinese-macbert-base"
    with pytest.raises(
        CnbenchError,
        match=r"--tokenizer macbert@abc: an alias cannot be pinned; pass its Hub id "
        r"hfl/chinese-macbert-base@abc",
    ):
        tokenizer_source("macbert@abc")
    with pytest.raises(CnbenchError, match=r"pass scratch-tiny unpinned \(its tokenizer is the bundled one\)"):
        tokenizer_source("scratch-tiny@abc")


def test_a_tokenizer_that_cannot_be_named_is_refused_before_any_data_is_read(cnbench, tmp_path):
    run = cnbench("run", "--task", "lcqmc", "--source", "local", "--tokenizer", "macbert@abc", "--output", tmp_path)
    assert run.code == 2 and "an alias cannot be pinned" in run.err  # not lcqmc's missing local train file
