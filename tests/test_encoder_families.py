"""Every encoder family with a Chinese checkpoint runs every head on every task kind.

- The family aliases (``albert``, ``electra``, ``electra-small``, ``ernie``, ``minirbt``) go through
  ``cnbench run --source hub`` against replicas of their repositories (``replica_hub.py``).
- Tiny local checkpoints of each family (``family_checkpoints.py``) run a sentence-pair task
  through the CLI (token types, the sentence vector), and every head on every task kind in
  process, on real features from the bundle's data.
- ``cnbench list`` shows each alias's parameter count, recounted here from the configs.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import only_result
from family_checkpoints import FAMILIES, build
from replica_hub import (
    ALBERT_CHINESE_BASE_CONFIG,
    BERT_BASE_CHINESE_CONFIG,
    COMMITS,
    ELECTRA_BASE_CONFIG,
    ELECTRA_SMALL_CONFIG,
    ERNIE_3_BASE_CONFIG,
    MINIRBT_H256_CONFIG,
    NEZHA_CONFIG,
    ReplicaHub,
)

SMALL_RUN = ("--limit", "8", "--epochs", "1", "--max-len", "32", "--no-checkpoint")
PRETRAINED_POOLER = "pooler output (pretrained dense + tanh on [CLS])"
FRESH_POOLER = "pooler output (dense + tanh on [CLS], initialised randomly and learnt in fine-tuning)"
CLS_STATE = "[CLS] hidden state (the encoder has no pooler)"

# alias -> (what the replica's checkpoint holds for the pooler, what a linear sentence head reads)
ALIASES = {
    "albert": ("pretrained", PRETRAINED_POOLER),
    "electra": ("none (the model has no pooler)", CLS_STATE),
    "electra-small": ("none (the model has no pooler)", CLS_STATE),
    "ernie": ("pretrained", PRETRAINED_POOLER),
    "minirbt": ("initialised randomly", FRESH_POOLER),
}


@pytest.fixture(scope="session")
def family_replica(data_dir) -> ReplicaHub:
    from huggingface_hub import constants

    hub = ReplicaHub(Path(constants.HF_HUB_CACHE), data_dir.parent)
    hub.family_models()
    hub.chnsenticorp()
    hub.msra()
    return hub


@pytest.mark.parametrize("alias", ALIASES)
def test_family_alias_runs_a_sentence_and_a_tagging_task_from_the_hub(cnbench, tmp_path, family_replica, alias):
    from cnbench.models.presets import PRESETS

    preset = PRESETS[alias]
    pooler, sentence_head_reads = ALIASES[alias]
    for task, reads in (("chnsenticorp", sentence_head_reads), ("msra_ner", "every token's hidden state")):
        run = cnbench(
            "run", "--model", alias, "--task", task, "--source", "hub", *SMALL_RUN, "--output", tmp_path / task
        )
        assert run.code == 0, run.err
        result = only_result(tmp_path / task)
        model = result["model"]
        assert model["id"] == preset.hub_id and model["source"] == "hub"
        assert preset.revision == COMMITS[preset.hub_id]  # pinned exactly where the card shows a full commit
        if preset.revision is not None:
            assert model["revision"] == preset.revision
        assert model["loading"]["pooler"] == pooler and model["head_input"] == reads
        assert ("WARNING" in run.out) == (pooler == "initialised randomly")
        assert result["tokenizer"] == {
            "source": preset.hub_id,
            "class": "BertTokenizer",
            "lowercase": True,
            "normalization": "lowercase",
            "revision": model["revision"],
        }
        assert result["status"] == "completed" and result["data"]["source"] == "hub"
    if alias == "ernie":  # its own vocabulary size, read through BertTokenizer from vocab.txt
        assert model["config"]["vocab_size"] == 40000
    if alias == "electra-small":  # factorised embedding: projected up to the hidden size
        assert model["config"]["embedding_size"] < model["config"]["hidden_size"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, data_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {family: build(family, root / family, data_dir.parent) for family in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_runs_a_pair_task_and_records_its_sentence_vector(cnbench, tmp_path, checkpoints, family):
    # A pair task: models with one token type (RoBERTa class, XLM-R) must not see type 1.
    run = cnbench(
        "run", "--model", checkpoints[family], "--task", "xnli_zh", "--train-on-dev", *SMALL_RUN, "--output", tmp_path
    )
    assert run.code == 0, run.err
    result = only_result(tmp_path)
    expected = {"electra": CLS_STATE, "roberta": FRESH_POOLER}.get(family, PRETRAINED_POOLER)
    assert result["model"]["head_input"] == expected
    assert result["model"]["config"]["model_type"] == family
    assert result["status"] == "completed" and len(result["predictions"]["test"]) == 8
    if family == "xlm-roberta":  # its own vocabulary, not a WordPiece one
        assert result["tokenizer"]["class"] == "XLMRobertaTokenizer"


@pytest.fixture(scope="module")
def examples(data_dir) -> dict:
    """A few real examples of each task kind: task name -> (task, examples)."""
    from cnbench.data.load import load_task_data
    from cnbench.registry import get_task

    tasks = {
        kind: get_task(name)
        for kind, name in (("single", "chnsenticorp"), ("pair", "xnli_zh"), ("tagging", "peoples_daily_ner"))
    }
    return {
        kind: (task, load_task_data(task, data_dir, train_on_dev=True, limit=4, source="local").splits["train"])
        for kind, task in tasks.items()
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_every_head_trains_on_every_task_kind(checkpoints, examples, family):
    """Each head on each kind it supports: a finite loss whose gradient reaches the encoder's
    embeddings, and one prediction per sequence (or per position) in evaluation."""
    import torch

    from cnbench.batching import collate
    from cnbench.heads import HEADS, build_head
    from cnbench.models.encoders import load_model
    from cnbench.train import TaskModel

    torch.set_num_threads(1)
    loaded = load_model(str(checkpoints[family]), seed=0)
    embeddings = loaded.encoder.get_input_embeddings().weight
    for kind, (task, chosen) in examples.items():
        features = task.kind_rules.encode(task, chosen, loaded.tokenizer, {"max_len": 32}, False)
        batch = collate(features, list(range(len(features))), loaded.tokenizer.pad_token_id, task.kind_rules)
        for head_name in (name for name, kinds in HEADS.items() if task.head_kind in kinds):
            head = build_head(
                head_name, task.head_kind, loaded.encoder.hidden_size, len(task.labels), label_names=task.labels
            )
            model = TaskModel(loaded.encoder, head).train()
            embeddings.grad = None
            out = model(**batch)
            assert math.isfinite(out.loss.item()), (kind, head_name)
            out.loss.backward()
            assert embeddings.grad is not None and embeddings.grad.abs().sum() > 0, (kind, head_name)
            model.eval()
            with torch.no_grad():
                predictions = model(**{k: v for k, v in batch.items() if k != "labels"}).predictions
            assert predictions.shape == batch["labels"].shape, (kind, head_name)


def test_parameter_counts_are_those_of_the_configs_on_the_cards():
    """The counts ``cnbench list`` shows, recounted by instantiating each config on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModel, BertModel

    import cnbench  # noqa: F401  (NEZHA with the Auto classes)
    from cnbench.models.char_embed import CharEmbedEncoder
    from cnbench.models.presets import PRESETS
    from cnbench.paths import tokenizer_dir

    cards = {
        "google-bert/bert-base-chinese": BERT_BASE_CHINESE_CONFIG,
        "hfl/chinese-bert-wwm-ext": BERT_BASE_CHINESE_CONFIG,
        "hfl/chinese-roberta-wwm-ext": BERT_BASE_CHINESE_CONFIG,
        "hfl/chinese-macbert-base": BERT_BASE_CHINESE_CONFIG,
        "sijunhe/nezha-cn-base": NEZHA_CONFIG,
        "voidful/albert_chinese_base": ALBERT_CHINESE_BASE_CONFIG,
        "hfl/chinese-electra-180g-base-discriminator": ELECTRA_BASE_CONFIG,
        "hfl/chinese-electra-180g-small-discriminator": ELECTRA_SMALL_CONFIG,
        "nghuyong/ernie-3.0-base-zh": ERNIE_3_BASE_CONFIG,
        "hfl/minirbt-h256": MINIRBT_H256_CONFIG,
    }
    for alias, preset in PRESETS.items():
        with torch.device("meta"):
            if preset.hub_id is not None:
                card = {
                    key: value
                    for key, value in cards[preset.hub_id].items()
                    if not key.startswith("_") and key not in ("architectures", "model_type")
                }
                model = AutoModel.from_config(AutoConfig.for_model(cards[preset.hub_id]["model_type"], **card))
            elif preset.scratch_config is not None:
                model = BertModel(AutoConfig.from_pretrained(tokenizer_dir(), **preset.scratch_config))
            else:
                model = CharEmbedEncoder(vocab_size=21128, use_word_boundaries=False, pad_token_id=0)
        assert preset.parameters == sum(parameter.numel() for parameter in model.parameters()), alias


def test_list_shows_each_alias_with_its_parameter_count(cnbench):
    from cnbench.models.presets import PRESETS

    listing = cnbench("list")
    assert listing.code == 0, listing.err
    lines = {line.split()[0]: line for line in listing.out.splitlines() if line.split()}
    for alias, preset in PRESETS.items():
        assert f" {preset.parameters / 1e6:.1f}M " in lines[alias], lines[alias]
    assert " 10.5M " in lines["albert"] and " 117.9M " in lines["ernie"]
