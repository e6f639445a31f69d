"""Fine-tuning strategies train exactly what they say, and each is its own configuration.

- after real training epochs, every parameter outside a strategy's trained set is bit-identical
  to its value before training, and every parameter inside it moved;
- trainable and total parameter counts match closed-form formulas for a tiny BERT (LoRA rank r on
  a layer ``in -> out`` adds ``r (in + out)``; a bottleneck of size m adds ``2 H m + m + H``);
- scalar-mix weights are a distribution over the embedding output and every layer;
- checkpoints of parameter-efficient runs hold only the trained tensors, and ``resume`` ends
  exactly where the uninterrupted run ends, for every strategy;
- only non-default strategies and features change the run key; bad combinations are one-line errors.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from cnbench import train
from cnbench.checkpoint import Checkpoint
from cnbench.errors import CnbenchError
from cnbench.heads import build_head
from cnbench.kinds.classification import SINGLE
from cnbench.models.encoders import TransformerEncoder
from cnbench.sweep import expand
from cnbench.train import RunConfig, TaskModel, plan, run
from cnbench.tuning import ScalarMix, apply_strategy, build_features, strategy_hparams, tuning_report

TINY = dict(task="chnsenticorp", model="scratch-tiny", limit=32, max_len=32, batch_size=8)


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def quiet(*_):
    pass


# --------------------------------------------------------------------------- what trains


def trained_by(tuning: str, name: str) -> bool:
    """The parameters each strategy is documented to train (scratch-tiny has layers 0 and 1)."""
    if name.startswith(("head.", "features.")):
        return True
    return {
        "full": True,
        "frozen": False,
        "top-1": ".layer.1." in name or ".pooler." in name,
        "adapter": ".adapter." in name,
        "lora": ".lora_" in name,
    }[tuning]


@pytest.mark.parametrize("tuning", ["full", "frozen", "top-1", "adapter", "lora"])
def test_an_epoch_changes_exactly_the_trained_parameters(tmp_path, monkeypatch, tuning):
    seen = {}

    def snapshot(model, hp):
        apply_strategy(model, hp)
        seen["model"] = model
        seen["before"] = {name: value.detach().clone() for name, value in model.named_parameters()}

    monkeypatch.setattr(train, "apply_strategy", snapshot)
    features = "scalar-mix" if tuning == "frozen" else None  # the mix trains on top of a frozen encoder
    result = run(RunConfig(**TINY, epochs=1, tuning=tuning, features=features, output_dir=str(tmp_path)), log=quiet)
    assert result["status"] == "completed"
    after = dict(seen["model"].named_parameters())
    assert set(after) == set(seen["before"])
    for name, before in seen["before"].items():
        assert after[name].requires_grad == trained_by(tuning, name), name
        if trained_by(tuning, name):
            assert not torch.equal(after[name], before), f"{name} is trained but did not move"
        else:
            assert torch.equal(after[name], before), f"{name} is frozen but changed"
    counts = result["tuning"]
    assert counts["trainable_parameters"] == sum(p.numel() for name, p in after.items() if trained_by(tuning, name))
    assert counts["total_parameters"] == sum(p.numel() for p in after.values())
    assert counts["strategy"] == tuning


# --------------------------------------------------------------------------- parameter counts

H, L, F, V, P, T, C = 32, 3, 48, 100, 64, 2, 2  # hidden, layers, feed-forward, vocab, positions, types, labels


def tiny_model(hp: dict) -> TaskModel:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=V,
        hidden_size=H,
        num_hidden_layers=L,
        num_attention_heads=2,
        intermediate_size=F,
        max_position_embeddings=P,
        type_vocab_size=T,
    )
    encoder = TransformerEncoder(BertModel(config))
    model = TaskModel(encoder, build_head("linear", "classification", H, C), build_features(hp, encoder))
    apply_strategy(model, hp)
    return model


LAYER = 4 * (H * H + H) + 2 * 2 * H + (H * F + F) + (F * H + H)  # attention, 2 LayerNorms, feed-forward
EMBEDDINGS = (V + P + T) * H + 2 * H
POOLER = H * H + H
HEAD = H * C + C
FULL = EMBEDDINGS + L * LAYER + POOLER + HEAD


@pytest.mark.parametrize(
    "tuning, options, trainable, added",
    [
        ("full", {}, FULL, 0),
        ("frozen", {}, HEAD, 0),
        ("top-1", {}, LAYER + POOLER + HEAD, 0),
        ("top-3", {}, L * LAYER + POOLER + HEAD, 0),
        ("adapter", {"adapter_size": 5}, L * (2 * H * 5 + 5 + H) + HEAD, L * (2 * H * 5 + 5 + H)),
        ("lora", {"lora_rank": 4}, L * 2 * 4 * (H + H) + HEAD, L * 2 * 4 * (H + H)),  # query, value
        (
            "lora",
            {"lora_rank": 3, "lora_targets": "key,intermediate.dense"},
            L * 3 * ((H + H) + (H + F)) + HEAD,
            L * 3 * ((H + H) + (H + F)),
        ),
    ],
)
def test_trainable_and_total_counts_match_the_formulas(tuning, options, trainable, added):
    hp = strategy_hparams(tuning, options)
    report = tuning_report(tiny_model(hp), hp, "linear", SINGLE)
    assert (report["trainable_parameters"], report["total_parameters"]) == (trainable, FULL + added)


def test_lora_rank_r_adds_r_times_in_plus_out_per_adapted_layer():
    added = {}
    for rank in (1, 2, 8):
        hp = strategy_hparams("lora", {"lora_rank": rank, "lora_targets": "query,key,value"})
        added[rank] = tuning_report(tiny_model(hp), hp, "linear", SINGLE)["total_parameters"] - FULL
    assert added == {rank: L * 3 * rank * 2 * H for rank in (1, 2, 8)}


def test_a_scalar_mix_adds_one_weight_per_layer_and_embeddings_plus_a_scale():
    hp = {"tuning": "frozen", "features": "scalar-mix"}
    report = tuning_report(tiny_model(hp), hp, "linear", SINGLE)
    assert report["trainable_parameters"] == HEAD + (L + 1) + 1
    assert report["scalar_mix_weights"] == [pytest.approx(1 / (L + 1))] * (L + 1)


@pytest.mark.parametrize("architecture", ["bert", "nezha"])
@pytest.mark.parametrize(
    "tuning, options, added_per_layer",
    [
        ("adapter", {"adapter_size": 3}, lambda h: 2 * h * 3 + 3 + h),
        ("lora", {"lora_rank": 2}, lambda h: 2 * 2 * (h + h)),
    ],
)
def test_adapters_and_lora_start_as_the_original_encoder(architecture, tuning, options, added_per_layer):
    """Zero-initialised ``up`` / LoRA ``B``: before training, the adapted encoder computes what the
    original did, on BERT and on cnbench's NEZHA (same module names)."""
    from transformers import AutoModel

    import cnbench  # noqa: F401  (registers NEZHA)

    torch.manual_seed(0)
    if architecture == "nezha":
        base = AutoModel.from_pretrained(Path(__file__).parent / "fixtures" / "nezha-tiny")
    else:
        base = tiny_model({}).encoder.model
    encoder = TransformerEncoder(base).eval()
    ids = torch.randint(1, base.config.vocab_size, (2, 7))
    mask = torch.ones_like(ids, dtype=torch.bool)
    with torch.no_grad():
        before = encoder(ids, mask)[0]
    model = TaskModel(encoder, build_head("linear", "classification", base.config.hidden_size, C))
    total = sum(p.numel() for p in model.parameters())
    apply_strategy(model, strategy_hparams(tuning, options))
    assert sum(p.numel() for p in model.parameters()) - total == (
        base.config.num_hidden_layers * added_per_layer(base.config.hidden_size)
    )
    with torch.no_grad():
        assert torch.equal(encoder.eval()(ids, mask)[0], before)


# --------------------------------------------------------------------------- scalar mix


def test_scalar_mix_is_a_scaled_softmax_weighted_sum():
    mix = ScalarMix(3)
    with torch.no_grad():
        mix.weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
        mix.scale.fill_(1.5)
    layers = [torch.randn(2, 4, 8) for _ in range(3)]
    weights = torch.softmax(torch.tensor([0.5, -1.0, 2.0]), 0)
    expected = 1.5 * sum(w * layer for w, layer in zip(weights, layers, strict=True))
    assert torch.allclose(mix(layers), expected, atol=1e-6)


def test_trained_scalar_mix_weights_are_reported_and_sum_to_one(tmp_path):
    result = run(RunConfig(**TINY, epochs=1, lr=5e-3, features="scalar-mix", output_dir=str(tmp_path)), log=quiet)
    weights = result["tuning"]["scalar_mix_weights"]
    assert len(weights) == 3  # embeddings + scratch-tiny's 2 layers
    assert math.isclose(sum(weights), 1.0, abs_tol=1e-5) and all(w > 0 for w in weights)
    assert max(weights) - min(weights) > 1e-4, "the mix did not learn"
    assert result["hparams"]["features"] == "scalar-mix" and "tuning" not in result["hparams"]


# --------------------------------------------------------------------------- checkpoints and resume


class Interrupted(Exception):
    pass


@pytest.mark.slow
@pytest.mark.parametrize(
    "tuning, features", [("frozen", None), ("top-1", None), ("adapter", "last"), ("lora", "scalar-mix")]
)
def test_small_checkpoints_resume_to_the_uninterrupted_result(tmp_path, monkeypatch, tuning, features):
    config = dict(**TINY, epochs=2, tuning=tuning, features=features)
    reference = run(RunConfig(**config, output_dir=str(tmp_path / "reference")), log=quiet)

    evaluate, calls, seen = train.evaluate, [], {}

    def interrupt_in_epoch_2(*args, **kwargs):  # the checkpoint of epoch 1 is on disk by then
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted
        return evaluate(*args, **kwargs)

    def snapshot(model, hp):
        apply_strategy(model, hp)
        seen["model"] = model

    monkeypatch.setattr(train, "evaluate", interrupt_in_epoch_2)
    monkeypatch.setattr(train, "apply_strategy", snapshot)
    crashed = run(RunConfig(**config, output_dir=str(tmp_path / "resumed")), log=quiet)
    assert crashed["failure"] == "crashed in epoch 2 of 2: Interrupted: (no message)"  # its checkpoint kept
    checkpoint = Checkpoint(tmp_path / "resumed", plan(RunConfig(**config)).key)
    state = torch.load(checkpoint.path, weights_only=True)
    model = seen["model"]
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    buffers = set(model.state_dict()) - {name for name, _ in model.named_parameters()}  # persistent ones
    assert set(state["model"]) == trainable | buffers  # no frozen weight is stored
    assert len(state["optimizer"]["state"]) == len(trainable)

    monkeypatch.setattr(train, "evaluate", evaluate)
    resumed = run(RunConfig(**config, resume=True, output_dir=str(tmp_path / "resumed")), log=quiet)
    assert resumed["timing"]["resumed_after_epochs"] == [1]
    assert resumed["metrics"] == reference["metrics"] and resumed["predictions"] == reference["predictions"]
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in reference["history"]]
    assert resumed["tuning"] == reference["tuning"]
    assert not checkpoint.path.exists()


# --------------------------------------------------------------------------- configuration


def test_only_non_default_strategies_and_features_change_the_run_key():
    base = plan(RunConfig("chnsenticorp", "scratch-tiny"))
    assert "tuning" not in base.hparams and "features" not in base.hparams
    assert plan(RunConfig("chnsenticorp", "scratch-tiny", tuning="full")).key == base.key
    assert plan(RunConfig("chnsenticorp", "scratch-tiny", features="pooler")).key == base.key  # linear's default
    assert (
        plan(RunConfig("msra_ner", "scratch-tiny", features="last")).key
        == plan(RunConfig("msra_ner", "scratch-tiny")).key
    )
    lora = plan(RunConfig("chnsenticorp", "scratch-tiny", tuning="lora"))
    assert {k: lora.hparams[k] for k in ("tuning", "lora_rank", "lora_alpha", "lora_targets")} == {
        "tuning": "lora",
        "lora_rank": 8,
        "lora_alpha": 16.0,
        "lora_targets": "query,value",
    }
    assert "adapter_size" not in lora.hparams
    keys = {
        base.key,
        lora.key,
        plan(RunConfig("chnsenticorp", "scratch-tiny", tuning="lora", lora_rank=4)).key,
        plan(RunConfig("chnsenticorp", "scratch-tiny", tuning="top-1")).key,
        plan(RunConfig("chnsenticorp", "scratch-tiny", features="last")).key,
        plan(RunConfig("chnsenticorp", "scratch-tiny", features="scalar-mix")).key,
    }
    assert len(keys) == 6


def test_a_sweep_grids_over_strategies():
    configs = expand(
        ["scratch-tiny"],
        ["chnsenticorp"],
        ["linear"],
        [1],
        {"tuning": ("full", "frozen", "lora")},
        RunConfig("chnsenticorp", "scratch-tiny", lora_rank=4),
    )
    planned = [plan(config) for config in configs]
    assert [p.hparams.get("tuning", "full") for p in planned] == ["full", "frozen", "lora"]
    assert planned[2].hparams["lora_rank"] == 4 and "lora_rank" not in planned[0].hparams
    assert len({p.key for p in planned}) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (("--tuning", "partial"), "--tuning 'partial': expected one of full, frozen, top-K"),
        (("--tuning", "top-0"), "K must be at least 1"),
        (("--tuning", "top-3"), "--tuning top-3: this encoder has only 2 layers"),
        (("--lora-rank", "4"), "--lora-rank applies to --tuning lora only"),
        (("--tuning", "lora", "--adapter-size", "8"), "--adapter-size applies to --tuning adapter only"),
        (("--tuning", "lora", "--lora-targets", "nowhere"), "--lora-targets nowhere:"),
        (("--tuning", "adapter", "--model", "char-embed"), "needs a transformer encoder"),
        (("--features", "scalar-mix", "--model", "char-embed"), "--features scalar-mix needs a transformer encoder"),
        (("--features", "pooler", "--head", "bilstm"), "read only by the linear classification head"),
    ],
)
def test_bad_strategy_options_are_one_line_errors(cnbench, tmp_path, args, message):
    result = cnbench(
        "run",
        "--task",
        "chnsenticorp",
        "--model",
        "scratch-tiny",
        "--limit",
        "8",
        "--max-len",
        "16",
        "--epochs",
        "1",
        *args,
        "--output",
        tmp_path,
    )  # a repeated --model: the last one counts
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.startswith("error: ") and message in result.err
    assert not list(tmp_path.glob("*.json"))


def test_strategy_options_fit_at_least_one_strategy_of_a_sweep(cnbench, tmp_path):
    result = cnbench(
        "sweep",
        "--models",
        "scratch-tiny",
        "--tasks",
        "chnsenticorp",
        "--tunings",
        "full,frozen",
        "--lora-rank",
        "4",
        "--output",
        tmp_path,
    )
    assert result.code == 2 and "error: --lora-rank applies to --tuning lora only" in result.err
    with pytest.raises(CnbenchError, match="--adapter-size and --lora-rank must be at least 1"):
        strategy_hparams("lora", {"lora_rank": 0})
