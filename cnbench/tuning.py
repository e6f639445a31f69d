"""Fine-tuning strategies (which parameters train) and head features (what the head reads).

Strategies, ``--tuning``:

- ``full`` (default): every parameter trains.
- ``frozen``: the encoder is frozen (a pretrained pooler included); only the head trains, plus the
  scalar mix with ``--features scalar-mix``. Dropout inside the frozen encoder stays active in
  training.
- ``top-K`` (e.g. ``top-2``): the top K transformer layers, everything above them (pooler, a final
  LayerNorm) and the head train; everything below layer 0 (embeddings, and an embedding
  projection: ELECTRA's ``embeddings_project``, ALBERT's ``embedding_hidden_mapping_in``) and the
  lower layers are frozen. K runs from 1 to the number of layers. Refused for ALBERT, whose one
  layer serves every depth (so is ``--llrd``).
- ``adapter``: a bottleneck adapter (Houlsby et al. 2019; one per layer, after the feed-forward
  block, as in the Pfeiffer et al. 2021 configuration) ``h + up(gelu(down(h)))`` with
  ``down: H -> --adapter-size`` and ``up`` initialised to zero, applied to the feed-forward output
  projection before dropout, residual and LayerNorm (BERT-like: ``output.dense``; ALBERT:
  ``ffn_output``, one adapter in its shared layer). Adapters and head train; the encoder
  (LayerNorms included) is frozen. ``2 H m + m + H`` parameters per layer for size ``m``.

Layers, what lies below them and each layer's feed-forward output are read from the model's
structure (``cnbench.models.structure``), never from parameter names. Under every strategy, a
pooler the checkpoint did not hold (initialised randomly, e.g. MiniRBT's) trains when the head
reads it: frozen, it would hand the head a fixed random projection of [CLS].
- ``lora``: low-rank updates ``W + (alpha / r) B A`` of the linear layers named by
  ``--lora-targets`` (module-name suffixes as peft matches them: ``query``, ``key``, ``value``,
  ``attention.output.dense``, ``intermediate.dense``; default ``query,value`` as in Hu et al.
  2021), through peft's LoRA (``r (in + out)`` parameters per adapted layer, no bias, no
  LoRA dropout). LoRA matrices and head train; the encoder is frozen.

peft offers LoRA but no bottleneck adapters, and the ``adapters`` package (AdapterHub) requires
transformers 4.x while cnbench runs on transformers 5, so the adapter is the small module below.

Features, ``--features`` (absent: the head's default, which is ``pooler`` for the linear
classification head — the [CLS] state for encoders without a pooler — and ``last`` for every
other head):

- ``last``: the last layer's states (a linear classifier reads its [CLS] state);
- ``pooler``: the pooler output, for the linear classification head only;
- ``scalar-mix``: ``scale * sum_j softmax(w)_j h_j`` over the embedding output and every layer
  (ELMo's scalar mix, Peters et al. 2018), weights starting uniform; they and the scale learn at
  the head's learning rate and are reported in the result file after training.

Only non-default choices enter ``hparams`` (so the run key of a full fine-tuning run with the
head's default features is the one it always had). ``CnbenchError`` is raised for an unknown
strategy or feature, an option that fits no chosen strategy, ``pooler`` on a head that does not
read it, a K outside 1..layers, LoRA targets that name no module, and any strategy but ``full``
and ``frozen`` (or ``scalar-mix``) on an encoder that is not a transformer.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from cnbench.errors import CnbenchError

STRATEGIES = ("full", "frozen", "top-K", "adapter", "lora")
FEATURES = ("last", "pooler", "scalar-mix")
# Each strategy option, the strategy it belongs to, and its default.
OPTIONS = {
    "adapter_size": ("adapter", 64),
    "lora_rank": ("lora", 8),
    "lora_alpha": ("lora", 16.0),
    "lora_targets": ("lora", "query,value"),
}
_TOP = re.compile(r"top-(\d+)")


def strategy_kind(tuning: str | None) -> str:
    """``"full"`` for ``None``; the strategy family (``"top-K"`` for ``top-3``); raises for others."""
    tuning = tuning or "full"
    if tuning in STRATEGIES and tuning != "top-K":
        return tuning
    if _TOP.fullmatch(tuning):
        return "top-K"
    raise CnbenchError(f"--tuning {tuning!r}: expected one of full, frozen, top-K (e.g. top-2), adapter, lora")


def _top_count(tuning: str | None) -> int:
    """K of a ``top-K`` strategy (``strategy_kind`` has checked the form)."""
    match = _TOP.fullmatch(tuning or "")
    assert match is not None
    return int(match.group(1))


def check_options(tunings, options: dict) -> None:
    """Raise unless every strategy option given (not ``None``) belongs to one of ``tunings``."""
    kinds = {strategy_kind(tuning) for tuning in tunings}
    for name, (owner, _) in OPTIONS.items():
        if options.get(name) is not None and owner not in kinds:
            raise CnbenchError(f"--{name.replace('_', '-')} applies to --tuning {owner} only")


def strategy_hparams(tuning: str | None, options: dict) -> dict:
    """The ``hparams`` entries describing a strategy: ``{}`` for full fine-tuning, else ``tuning``
    and the strategy's own options (given or default). Options of other strategies are ignored."""
    kind = strategy_kind(tuning)
    if kind == "full":
        return {}
    entries: dict[str, Any] = {"tuning": tuning}
    for name, (owner, default) in OPTIONS.items():
        if owner == kind:
            value = options.get(name)
            entries[name] = default if value is None else value
    if kind == "top-K" and _top_count(tuning) < 1:
        raise CnbenchError(f"--tuning {tuning}: K must be at least 1 (--tuning frozen trains the head only)")
    if entries.get("adapter_size", 1) < 1 or entries.get("lora_rank", 1) < 1:
        raise CnbenchError("--adapter-size and --lora-rank must be at least 1")
    if entries.get("lora_alpha", 1) <= 0:
        raise CnbenchError("--lora-alpha must be positive")
    if kind == "lora":
        targets = [target.strip() for target in str(entries["lora_targets"]).split(",") if target.strip()]
        if not targets:
            raise CnbenchError("--lora-targets: expected comma-separated module names, e.g. query,value")
        entries["lora_targets"] = ",".join(targets)
    return entries


def default_features(head: str, kind) -> str:
    """What ``head`` reads on a task of ``kind`` (a ``cnbench.kinds.Kind``) by default: the pooler
    for the heads the kind names in ``pooled_heads``, else the last layer."""
    return "pooler" if head in kind.pooled_heads else "last"


def feature_hparams(features: str | None, head: str, kind) -> dict:
    """``{"features": ...}`` when ``features`` differs from the head's default, else ``{}``."""
    if features is None:
        return {}
    if features not in FEATURES:
        raise CnbenchError(f"--features {features!r}: expected one of {', '.join(FEATURES)}")
    if features == "pooler" and default_features(head, kind) != "pooler":
        raise CnbenchError(
            f"--features pooler: the pooler gives one vector per sequence, read only by the linear "
            f"classification head, not by {head} on a {kind.name} task"
        )
    return {} if features == default_features(head, kind) else {"features": features}


class ScalarMix(nn.Module):
    """``scale * sum_j softmax(weights)_j layers[j]``; weights start at zero (a uniform mix)."""

    def __init__(self, num_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, layers) -> torch.Tensor:
        mix = torch.softmax(self.weights, dim=0)
        return self.scale * sum(weight * layer for weight, layer in zip(mix.unbind(), layers, strict=True))


class LayerFeatures(nn.Module):
    """Calls the encoder for the head: the last layer without the pooler, or a scalar mix of all
    layers. ``TaskModel`` uses it in place of a plain encoder call when features are not default."""

    def __init__(self, features: str, num_layers: int):
        super().__init__()
        self.mix = ScalarMix(num_layers + 1) if features == "scalar-mix" else None

    def forward(self, encoder, input_ids, attention_mask, token_type_ids, boundary_ids=None):
        if self.mix is None:
            return encoder(input_ids, attention_mask, token_type_ids, boundary_ids=boundary_ids)[0], None
        _, _, layers = encoder(input_ids, attention_mask, token_type_ids, output_hidden_states=True)
        return self.mix(layers), None


class MeanPooling(nn.Module):
    """Calls an encoder without context (``char-embed``) and hands a sentence-level head the mean of
    its states over the real tokens as the sentence vector: its first state is the [CLS] embedding,
    the same for every input, and a head reading it would predict a constant."""

    def forward(self, encoder, input_ids, attention_mask, token_type_ids, boundary_ids=None):
        hidden = encoder(input_ids, attention_mask, token_type_ids, boundary_ids=boundary_ids)[0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return hidden, (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


def build_features(hp: dict, encoder: nn.Module) -> nn.Module | None:
    """The feature module for ``hp["features"]``, or ``None`` for the head's default; an encoder
    that is not a transformer (``char-embed``) gets ``MeanPooling`` by default."""
    from cnbench.models.encoders import TransformerEncoder

    features = hp.get("features")
    contextual = isinstance(encoder, TransformerEncoder)
    if features is None:
        return None if contextual else MeanPooling()
    if features == "scalar-mix" and not contextual:
        raise CnbenchError("--features scalar-mix needs a transformer encoder (this one has a single layer)")
    if features == "last" and not contextual:  # only the linear classifier has another default
        raise CnbenchError(
            "--features last: this encoder has no context, so the [CLS] state a sentence head "
            "would read is the same for every input; leave --features out (it reads the mean "
            "over the real tokens)"
        )
    config = getattr(getattr(encoder, "model", None), "config", None)  # one hidden state per layer run
    return LayerFeatures(features, getattr(config, "num_hidden_layers", 0))


class Bottleneck(nn.Module):
    """``h + up(gelu(down(h)))``; ``up`` starts at zero, so an adapted layer starts as the original."""

    def __init__(self, hidden_size: int, size: int):
        super().__init__()
        self.down = nn.Linear(hidden_size, size)
        self.up = nn.Linear(size, hidden_size)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.up(nn.functional.gelu(self.down(hidden)))


class Adapted(nn.Module):
    """A linear layer followed by its bottleneck adapter."""

    def __init__(self, base: nn.Linear, size: int):
        super().__init__()
        self.base = base
        self.adapter = Bottleneck(base.out_features, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.base(x))


def encoder_structure(encoder: nn.Module):
    """The ``cnbench.models.structure.Structure`` of a ``TransformerEncoder``'s model; None for
    other encoders (char-embed) and for models whose layers cnbench cannot find."""
    from cnbench.models.structure import structure_of

    model = getattr(encoder, "model", None)
    return structure_of(model) if model is not None else None


def apply_strategy(model: nn.Module, hp: dict) -> None:
    """Freeze and extend ``model`` (a ``TaskModel``) in place for ``hp["tuning"]``. Everything
    outside ``model.encoder`` (head, scalar mix) keeps training under every strategy, and so does a
    pooler the checkpoint did not hold (``TransformerEncoder.fresh_pooler``) when the head reads it:
    frozen at its random initialisation it would hand the head a fixed random projection.

    Layers, embeddings and feed-forward outputs come from the model's structure
    (``cnbench.models.structure``), so a strategy means the same in every family. Refused with one
    line: any strategy but ``full`` and ``frozen`` on an encoder without layers; ``top-K`` and
    ``--llrd`` on a model whose layers share weights (ALBERT: one layer serves every depth, so no
    top K layers can be told apart from the rest)."""
    kind = strategy_kind(hp.get("tuning"))
    encoder = model.get_submodule("encoder")
    structure = encoder_structure(encoder)
    shared = structure is not None and structure.shared
    if shared and hp.get("llrd", 1.0) != 1.0:
        raise CnbenchError(
            f"--llrd {hp['llrd']:g}: {_family(encoder)} shares one layer's weights across all "
            f"{len(structure.layers)} depths, so depths cannot get their own learning rates"
        )
    if kind == "full":
        return
    if kind != "frozen" and num_layers(encoder) == 0:
        raise CnbenchError(f"--tuning {hp['tuning']} needs a transformer encoder; this one has no layers")
    if kind != "frozen" and structure is None:
        raise CnbenchError(
            f"--tuning {hp['tuning']}: cnbench does not know where the layers of model type "
            f"{_family(encoder)!r} are (cnbench.models.structure.FAMILIES)"
        )
    if kind == "top-K" and shared:
        raise CnbenchError(
            f"--tuning {hp['tuning']}: {_family(encoder)} shares one layer's weights across all "
            f"{len(structure.layers)} depths, so there are no top layers to train apart; "
            "use full, frozen, adapter or lora"
        )
    if kind == "adapter":
        _add_adapters(structure, hp["adapter_size"])
    elif kind == "lora":
        _add_lora(encoder, hp)
    layers = num_layers(encoder)
    if kind == "top-K":
        top = _top_count(hp["tuning"])
        if top > layers:
            raise CnbenchError(f"--tuning {hp['tuning']}: this encoder has only {layers} layers")
        depths = parameter_depths(encoder, prefix="encoder")
    marker = {"adapter": ".adapter.", "lora": ".lora_"}.get(kind)
    for name, parameter in encoder.named_parameters(prefix="encoder"):
        if kind == "top-K":
            parameter.requires_grad = depths[name] > layers - top
        else:
            parameter.requires_grad = marker is not None and marker in name
    pooler = getattr(getattr(encoder, "model", None), "pooler", None)
    if getattr(encoder, "fresh_pooler", False) and pooler is not None and reads_sentence_vector(model):
        pooler.requires_grad_(True)


def reads_sentence_vector(model: nn.Module) -> bool:
    """Whether the head of ``model`` (a ``TaskModel``) reads the encoder's pooled output."""
    from cnbench.heads import SENTENCE_VECTOR

    return getattr(model.head, "reads", None) == SENTENCE_VECTOR and getattr(model, "features", None) is None


def pooler_trains(model: nn.Module) -> bool:
    """Whether every parameter of the encoder's pooler trains (True where there is none)."""
    pooler = getattr(getattr(model.encoder, "model", None), "pooler", None)
    return pooler is None or all(parameter.requires_grad for parameter in pooler.parameters())


def _family(encoder: nn.Module) -> str:
    return getattr(getattr(getattr(encoder, "model", None), "config", None), "model_type", None) or "this encoder"


def _add_adapters(structure, size: int) -> None:
    """One bottleneck after each distinct layer's feed-forward output projection (a layer shared by
    several depths, as ALBERT's, gets one adapter, shared as the weights it adapts are)."""
    for layer in structure.distinct_layers():
        parent, attribute = structure.feed_forward_output(layer)
        base = getattr(parent, attribute)
        if not isinstance(base, nn.Linear):
            raise CnbenchError(
                f"--tuning adapter: the feed-forward output of {type(layer).__name__} is a "
                f"{type(base).__name__}, not a linear layer"
            )
        setattr(parent, attribute, Adapted(base, size))


def _add_lora(encoder: nn.Module, hp: dict) -> None:
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(
        r=hp["lora_rank"],
        lora_alpha=hp["lora_alpha"],
        lora_dropout=0.0,
        bias="none",
        target_modules=hp["lora_targets"].split(","),
    )
    try:
        inject_adapter_in_model(config, encoder.get_submodule("model"))
    except ValueError as err:
        raise CnbenchError(f"--lora-targets {hp['lora_targets']}: {err}") from None


def num_layers(encoder: nn.Module) -> int:
    """Transformer layers (depths) of a ``TransformerEncoder``; 0 for other encoders."""
    structure = encoder_structure(encoder)
    if structure is not None:
        return len(structure.layers)
    config = getattr(getattr(encoder, "model", None), "config", None)
    return getattr(config, "num_hidden_layers", 0)


def parameter_depths(encoder: nn.Module, prefix: str = "") -> dict[str, int]:
    """Each encoder parameter's depth, by the module that holds it: 0 below the first layer
    (embeddings, an embedding projection), ``i + 1`` in layer ``i`` (adapters and LoRA matrices
    included, as they sit inside it), ``layers + 1`` above the top layer (pooler, a final
    LayerNorm). A layer shared by several depths counts at its highest. Names carry ``prefix``
    (``"encoder"`` for a ``TaskModel``'s). Encoders without a known structure (``char-embed``): by
    BERT-style names (``layer_depth``)."""
    dot = f"{prefix}." if prefix else ""
    structure = encoder_structure(encoder)
    if structure is None:
        layers = num_layers(encoder)
        return {f"{dot}{name}": layer_depth(f"{dot}{name}", layers) for name, _ in encoder.named_parameters()}
    depth_of: dict[int, int] = {}
    for module in structure.below:
        for parameter in module.parameters():
            depth_of[id(parameter)] = 0
    for depth, layer in enumerate(structure.layers, start=1):
        for parameter in layer.parameters():
            depth_of[id(parameter)] = depth
    above = len(structure.layers) + 1
    return {f"{dot}{name}": depth_of.get(id(parameter), above) for name, parameter in encoder.named_parameters()}


def layer_depth(name: str, layers: int) -> int:
    """Depth by BERT-style names, for encoders whose structure is unknown (``parameter_depths``
    reads the structure wherever it is known)."""
    if ".embeddings." in name:
        return 0
    marker = ".layer."
    if marker in name:
        return int(name.split(marker, 1)[1].split(".", 1)[0]) + 1
    return layers + 1


def tuning_report(model: nn.Module, hp: dict, head: str, kind) -> dict:
    """The result file's ``tuning`` section: strategy, features, parameter counts, and the trained
    scalar-mix weights (softmaxed, embeddings first) and scale."""
    parameters = list(model.parameters())
    report = {
        "strategy": hp.get("tuning", "full"),
        "features": hp.get("features", default_features(head, kind)),
        "trainable_parameters": sum(p.numel() for p in parameters if p.requires_grad),
        "total_parameters": sum(p.numel() for p in parameters),
    }
    mix = getattr(getattr(model, "features", None), "mix", None)
    if mix is not None:
        report["scalar_mix_weights"] = [round(w, 6) for w in torch.softmax(mix.weights.detach().float(), 0).tolist()]
        report["scalar_mix_scale"] = round(mix.scale.item(), 6)
    return report
