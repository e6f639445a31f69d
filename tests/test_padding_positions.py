"""Padding never exceeds the encoder's positions.

Batches are padded to a multiple of 8; a model with 100 learnt positions at ``--max-len 100`` got
width-104 batches and crashed on the first long batch. The width is now capped at the position
limit (RoBERTa-class models count theirs after the padding offset).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import only_result
from family_checkpoints import build

from cnbench.batching import PAD_MULTIPLE, collate, padded_width
from cnbench.features import Features, offsets_of


def test_the_padded_width_rounds_up_but_never_past_the_limit():
    assert PAD_MULTIPLE == 8
    assert padded_width(97) == 104 and padded_width(97, 100) == 100 and padded_width(96, 100) == 96
    assert padded_width(100, 100) == 100 and padded_width(9, 512) == 16
    with pytest.raises(ValueError, match="101 tokens does not fit the encoder's 100 positions"):
        padded_width(101, 100)


def test_collate_caps_the_batch_width():
    from cnbench.kinds import kind_of

    lengths = [100, 37]
    features = Features(
        offsets=offsets_of(lengths),
        input_ids=np.arange(sum(lengths), dtype=np.int32) % 50 + 1,
        token_type_ids=np.zeros(sum(lengths), dtype=np.int8),
        labels=np.array([0, 1], dtype=np.int32),
    )
    single = kind_of("single")
    assert collate(features, [0, 1], 0, single)["input_ids"].shape == (2, 104)
    batch = collate(features, [0, 1], 0, single, max_width=100)
    assert batch["input_ids"].shape == (2, 100) and batch["attention_mask"].sum().item() == 137


@pytest.mark.slow
@pytest.mark.parametrize(
    "family, options", [("bert", {"max_position_embeddings": 100}), ("roberta", {"max_position_embeddings": 101})]
)  # 100 after padding id 0
def test_a_100_position_model_runs_at_max_len_100(cnbench, tmp_path, data_dir, family, options):
    from cnbench.models.encoders import load_model, position_limit

    folder = build(family, tmp_path / family, data_dir.parent, **options)
    assert position_limit(load_model(str(folder), seed=0).encoder) == 100
    for task in ("chnsenticorp", "msra_ner"):  # long reviews, truncated to 100; NER windows of 100
        out = tmp_path / f"out-{task}"
        run = cnbench(
            "run",
            "--model",
            folder,
            "--task",
            task,
            "--max-len",
            "100",
            "--limit",
            "16",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--no-checkpoint",
            "--output",
            out,
        )
        assert run.code == 0, run.err
        result = only_result(out)
        assert result["status"] == "completed", result["failure"]
    refused = cnbench(
        "run",
        "--model",
        folder,
        "--task",
        "chnsenticorp",
        "--max-len",
        "101",
        "--limit",
        "8",
        "--output",
        tmp_path / "refused",
    )
    assert refused.code == 2 and "--max-len 101" in refused.err and "has 100 positions" in refused.err
