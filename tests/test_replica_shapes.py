"""The replica Hub lays out the shapes real checkpoints come in, and cnbench loads each.

- ``bert-base-chinese``'s ``model.safetensors`` (the file transformers loads) with the ``bert.``
  prefix and ``LayerNorm.gamma/beta`` names (inferred: UNVERIFIED);
- ``C-MTEB/LCQMC`` as a ``push_to_hub`` card with ``configs`` and the ``score`` type (UNVERIFIED);
- ALBERT with ``embedding_size`` below ``hidden_size``: the 128 -> hidden projection runs;
- the ELECTRA-base discriminator's config with its own key set, the card's 559 bytes;
- a checkpoint holding the ``embeddings.position_ids`` buffer older transformers saved (MiniRBT).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from replica_hub import ELECTRA_BASE_CONFIG, ELECTRA_SMALL_CONFIG, ReplicaHub, _json


@pytest.fixture(scope="module")
def replica(data_dir) -> ReplicaHub:
    from huggingface_hub import constants

    hub = ReplicaHub(Path(constants.HF_HUB_CACHE), data_dir.parent)
    hub.bert_base_chinese()
    hub.family_models()
    return hub


def test_electra_base_config_has_its_own_key_set_of_559_bytes():
    assert len(_json(ELECTRA_BASE_CONFIG)) == 559  # the size the card shows
    assert len(_json(ELECTRA_SMALL_CONFIG)) == 627
    assert set(ELECTRA_BASE_CONFIG) < set(ELECTRA_SMALL_CONFIG)
    assert ELECTRA_BASE_CONFIG["embedding_size"] == ELECTRA_BASE_CONFIG["hidden_size"] == 768


def test_bert_base_chinese_safetensors_hold_gamma_beta_names_and_load(replica):
    from safetensors.torch import load_file
    from transformers.utils import cached_file

    from cnbench.models.encoders import load_model

    loaded = load_model("bert", seed=0)
    path = cached_file("google-bert/bert-base-chinese", "model.safetensors", local_files_only=True)
    state = load_file(path)
    assert "bert.embeddings.LayerNorm.gamma" in state and not any(name.endswith("LayerNorm.weight") for name in state)
    model = loaded.encoder.model
    gamma = state["bert.encoder.layer.1.output.LayerNorm.gamma"]
    assert torch.equal(model.encoder.layer[1].output.LayerNorm.weight, gamma)
    assert torch.equal(model.embeddings.LayerNorm.bias, state["bert.embeddings.LayerNorm.beta"])
    assert loaded.provenance["loading"]["pooler"] == "pretrained" and loaded.provenance["stored_dtype"] == "float32"


def test_albert_projects_its_narrow_embedding_up_to_the_hidden_size(replica):
    from cnbench.models.encoders import load_model

    loaded = load_model("albert", seed=0)
    model = loaded.encoder.model
    projection = model.encoder.embedding_hidden_mapping_in
    assert model.config.embedding_size < model.config.hidden_size
    assert (projection.in_features, projection.out_features) == (model.config.embedding_size, model.config.hidden_size)
    assert loaded.provenance["config"]["embedding_size"] == model.config.embedding_size
    seen = []
    handle = projection.register_forward_hook(lambda module, inputs, output: seen.append(output.shape))
    ids = torch.tensor([[101, 2769, 102]])
    hidden, pooled = loaded.encoder(ids, torch.ones_like(ids, dtype=torch.bool))
    handle.remove()
    assert seen and seen[0][-1] == model.config.hidden_size and hidden.shape[-1] == model.config.hidden_size


def test_a_checkpoint_with_the_old_position_ids_buffer_loads(replica):
    from transformers.utils import cached_file

    from cnbench.models.encoders import load_model

    path = cached_file(
        "hfl/minirbt-h256",
        "pytorch_model.bin",
        revision="446e1b4012b10946f479563005700c54c9db3f7c",
        local_files_only=True,
    )
    assert "bert.embeddings.position_ids" in torch.load(path, weights_only=True)
    loaded = load_model("minirbt", seed=0)
    assert loaded.provenance["loading"]["pooler"] == "initialised randomly"


def test_lcqmc_card_is_a_push_to_hub_card(data_dir):
    from huggingface_hub import constants

    for dtype in ("int64", "float64"):
        snapshot = ReplicaHub(Path(constants.HF_HUB_CACHE), data_dir.parent).lcqmc(dtype, commit="f" * 39 + dtype[0])
        card = (snapshot / "README.md").read_text(encoding="utf-8")
        header = yaml.safe_load(card.split("---\n")[1])
        assert header["configs"] == [
            {
                "config_name": "default",
                "data_files": [
                    {"split": split, "path": f"data/{split}-*"} for split in ("train", "validation", "test")
                ],
            }
        ]
        assert {"name": "score", "dtype": dtype} in header["dataset_info"]["features"]
        assert [split["name"] for split in header["dataset_info"]["splits"]] == ["train", "validation", "test"]
