"""Fine-tuning strategies mean the same in every encoder family.

For a tiny checkpoint of each family (``family_checkpoints.py``; 2 layers, ALBERT and ELECTRA with
a 16-wide embedding projected up to 32), the exact set of trainable parameter names under
``frozen``, ``top-1``, ``top-2``, ``adapter`` and ``lora`` is written out here from each family's
own module layout (not from cnbench's structure table), and two optimiser steps change exactly
those parameters and nothing else (two: an adapter's ``down`` and a LoRA ``A`` get their first
gradient once ``up`` / ``B`` have left zero). ALBERT's shared layer refuses ``top-K`` and
``--llrd`` with one line; its adapter is one, in the shared layer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from family_checkpoints import FAMILIES, build

P = "encoder.model."
LAYERS = 2
STRATEGIES = ("frozen", "top-1", "top-2", "adapter", "lora")
ALBERT_LAYER = "encoder.albert_layer_groups.0.albert_layers.0"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, data_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("structure-families")
    return {family: build(family, root / family, data_dir.parent) for family in FAMILIES}


@pytest.fixture(scope="module")
def batch(data_dir, checkpoints):
    from cnbench.data.load import load_task_data
    from cnbench.registry import get_task

    task = get_task("chnsenticorp")
    examples = load_task_data(task, data_dir, train_on_dev=True, limit=8, source="local").splits["train"]
    return task, examples


def _tensor_names(model) -> set[str]:
    return {name for name, _ in model.named_parameters()}


def expected_trainable(family: str, strategy: str, names: set[str]) -> set[str]:
    """The parameters ``strategy`` trains in ``family``'s tiny checkpoint with a linear sentence head,
    written from the family's module layout."""
    head = {name for name in names if name.startswith("head.")}
    pooler = {name for name in names if name.startswith(P + "pooler.")}
    fresh_pooler = family == "roberta"  # saved without pooler weights: trains under every strategy
    kept = head | (pooler if fresh_pooler else set())
    if strategy == "frozen":
        return kept
    if strategy.startswith("top-"):
        top = int(strategy[4:])
        layers = {
            name
            for name in names
            if any(name.startswith(f"{P}encoder.layer.{i}.") for i in range(LAYERS - top, LAYERS))
        }
        above = pooler | {name for name in names if name.startswith(P + "encoder.ln.")}  # Megatron's final LayerNorm
        return head | layers | above
    if strategy == "adapter":
        outputs = (
            [f"{ALBERT_LAYER}.ffn_output"]
            if family == "albert"
            else [f"encoder.layer.{i}.output.dense" for i in range(LAYERS)]
        )
        return kept | {
            f"{P}{output}.adapter.{part}.{kind}"
            for output in outputs
            for part in ("down", "up")
            for kind in ("weight", "bias")
        }
    if strategy == "lora":
        attention = (
            [f"{ALBERT_LAYER}.attention"]
            if family == "albert"
            else [f"encoder.layer.{i}.attention.self" for i in range(LAYERS)]
        )
        return kept | {
            f"{P}{module}.{target}.lora_{matrix}.default.weight"
            for module in attention
            for target in ("query", "value")
            for matrix in ("A", "B")
        }
    raise AssertionError(strategy)


def _model(checkpoint: Path, strategy: str, llrd: float = 1.0):
    from cnbench.heads import build_head
    from cnbench.models.encoders import load_model
    from cnbench.train import TaskModel
    from cnbench.tuning import apply_strategy, build_features, strategy_hparams

    loaded = load_model(str(checkpoint), seed=0)
    hp = {**strategy_hparams(strategy, {}), "llrd": llrd}
    model = TaskModel(
        loaded.encoder,
        build_head("linear", "classification", loaded.encoder.hidden_size, 2),
        build_features(hp, loaded.encoder),
    )
    apply_strategy(model, hp)
    return loaded, model


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("family", FAMILIES)
def test_each_strategy_trains_exactly_the_parts_it_names_in_every_family(checkpoints, batch, family, strategy):
    from cnbench.batching import collate
    from cnbench.errors import CnbenchError

    torch.set_num_threads(1)
    if family == "albert" and strategy.startswith("top-"):
        with pytest.raises(CnbenchError, match=r"shares one layer's weights across all 2 depths"):
            _model(checkpoints[family], strategy)
        return
    loaded, model = _model(checkpoints[family], strategy)
    names = _tensor_names(model)
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    assert trainable == expected_trainable(family, strategy, names)

    task, examples = batch
    features = task.kind_rules.encode(task, examples, loaded.tokenizer, {"max_len": 32}, False)
    inputs = collate(features, list(range(len(features))), loaded.tokenizer.pad_token_id, task.kind_rules)
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.0)
    model.train()
    for _ in range(2):
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    changed = {name for name, parameter in model.named_parameters() if not torch.equal(parameter, before[name])}
    assert changed == trainable


def test_depths_come_from_the_structure_not_the_names(checkpoints):
    """What lies below layer 0 is at depth 0 whatever it is called: ELECTRA's ``embeddings_project``
    and ALBERT's ``embedding_hidden_mapping_in`` (which a name rule put above the top layer)."""
    from cnbench.tuning import num_layers, parameter_depths

    _, electra = _model(checkpoints["electra"], "frozen")
    depths = parameter_depths(electra.encoder, prefix="encoder")
    assert depths[P + "embeddings_project.weight"] == 0 and depths[P + "embeddings.word_embeddings.weight"] == 0
    assert depths[P + "encoder.layer.0.output.dense.weight"] == 1
    assert depths[P + "encoder.layer.1.output.dense.weight"] == 2
    _, albert = _model(checkpoints["albert"], "frozen")
    depths = parameter_depths(albert.encoder, prefix="encoder")
    assert depths[P + "encoder.embedding_hidden_mapping_in.weight"] == 0
    assert depths[P + "pooler.weight"] == num_layers(albert.encoder) + 1 == 3
    _, megatron = _model(checkpoints["megatron-bert"], "frozen")
    assert parameter_depths(megatron.encoder, prefix="encoder")[P + "encoder.ln.weight"] == 3


def test_llrd_on_a_shared_layer_is_refused_in_one_line(checkpoints):
    from cnbench.errors import CnbenchError

    with pytest.raises(CnbenchError, match=r"^--llrd 0.8: albert shares one layer's weights"):
        _model(checkpoints["albert"], "full", llrd=0.8)
    _model(checkpoints["albert"], "full", llrd=1.0)  # the default is fine


def test_llrd_gives_each_depth_its_rate_by_structure(checkpoints):
    """``--llrd`` on ELECTRA: the embedding projection learns at the embeddings' rate, not the top's."""
    from cnbench.train import build_optimizer

    _, model = _model(checkpoints["electra"], "full")
    hp = {"lr": 1.0, "head_lr": 1.0, "crf_lr": None, "llrd": 0.5, "weight_decay": 0.0}
    optimizer, rates = build_optimizer(model, hp, torch.device("cpu"))
    group_of = {id(p): group["name"] for group in optimizer.param_groups for p in group["params"]}
    named = dict(model.named_parameters())
    assert group_of[id(named[P + "embeddings_project.weight"])] == "encoder.depth0"
    assert group_of[id(named[P + "encoder.layer.1.output.dense.weight"])] == "encoder.depth2"
    assert rates["encoder.depth0"] == 0.5**3 and rates["encoder.depth2"] == 0.5


def test_a_fresh_pooler_trains_and_a_pretrained_one_is_recorded_frozen(checkpoints):
    """RoBERTa-class checkpoint without pooler weights: its random pooler trains under ``frozen``
    (and ``head_input`` says it is learnt); BERT's pretrained pooler stays frozen, and says so."""
    from cnbench.heads import head_input
    from cnbench.models.encoders import sentence_vector
    from cnbench.tuning import pooler_trains

    for family, trains, text in (
        ("roberta", True, "pooler output (dense + tanh on [CLS], initialised randomly and learnt in fine-tuning)"),
        ("bert", False, "pooler output (pretrained dense + tanh on [CLS], kept frozen)"),
    ):
        loaded, model = _model(checkpoints[family], "frozen")
        assert pooler_trains(model) is trains
        assert head_input(model.head, sentence_vector(loaded, pooler_trains(model))) == text


def test_top_k_on_albert_from_the_hub_is_a_one_line_error(cnbench, tmp_path, data_dir):
    from huggingface_hub import constants
    from replica_hub import ReplicaHub

    hub = ReplicaHub(Path(constants.HF_HUB_CACHE), data_dir.parent)
    hub.albert()
    hub.chnsenticorp()
    run = cnbench(
        "run",
        "--model",
        "albert",
        "--task",
        "chnsenticorp",
        "--source",
        "hub",
        "--tuning",
        "top-2",
        "--limit",
        "8",
        "--epochs",
        "1",
        "--max-len",
        "32",
        "--output",
        tmp_path,
    )
    assert run.code == 2 and "Traceback" not in run.err and run.err.count("\n") == 1
    assert run.err.startswith("error: --tuning top-2: albert shares one layer's weights across all 2 depths")
    assert not list(tmp_path.glob("*.json"))
