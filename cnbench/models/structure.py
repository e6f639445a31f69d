"""Where each encoder family keeps its parts, read from the model, not from parameter names.

Fine-tuning strategies (``cnbench.tuning``: ``top-K``, ``--llrd``, adapters) need three things of an
encoder: what lies below its first transformer layer (the embeddings, and a projection up to the
hidden size where the embedding is narrower), its transformer layers in order, and each layer's
feed-forward output projection (where a bottleneck adapter goes). Families name these differently:

- BERT and the models built like it (RoBERTa, XLM-R, MacBERT, ERNIE, Megatron-BERT, cnbench's
  NEZHA): ``embeddings``; ``encoder.layer[i]``; ``layer.output.dense``.
- ELECTRA: as BERT, plus ``embeddings_project`` (embedding width -> hidden size), which belongs
  below layer 0 although its name holds no ``embeddings.``.
- ALBERT: ``embeddings`` plus ``encoder.embedding_hidden_mapping_in`` (the 128 -> hidden projection)
  below the layers; layer ``i`` runs the layers of group ``i * groups // num_hidden_layers`` (one
  group in every released checkpoint: one layer's weights for all 12 depths); the feed-forward
  output is ``ffn_output``.

``structure_of(model)`` returns a ``Structure`` for the transformers (or cnbench) base model, found
by ``model_type`` in ``FAMILIES``; a model type not listed there is read as BERT-like when it is
built that way, else ``None`` (the strategies that need layers then refuse it with one line).
Everything of the encoder that is neither below the layers nor in them (the pooler, a final
LayerNorm as Megatron-BERT's ``encoder.ln``) sits above the top layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn


@dataclass
class Structure:
    below: list[nn.Module]  # embeddings and anything else applied before layer 0
    layers: list[nn.Module]  # one entry per depth, bottom first; a shared layer appears at each depth it runs
    # layer -> (parent module, attribute name) of the layer's feed-forward output Linear
    feed_forward_output: Callable[[nn.Module], tuple[nn.Module, str]]

    @property
    def shared(self) -> bool:
        """Whether one layer's weights serve several depths (ALBERT)."""
        return len({id(layer) for layer in self.layers}) < len(self.layers)

    def distinct_layers(self) -> list[nn.Module]:
        seen, distinct = set(), []
        for layer in self.layers:
            if id(layer) not in seen:
                seen.add(id(layer))
                distinct.append(layer)
        return distinct


def _bert_output(layer: nn.Module) -> tuple[nn.Module, str]:
    return layer.get_submodule("output"), "dense"


def bert_like(model: nn.Module) -> Structure | None:
    """``embeddings``, ``encoder.layer[i]``, ``layer.output.dense``: None where the model is not built so."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    embeddings = getattr(model, "embeddings", None)
    if not isinstance(layers, nn.ModuleList) or embeddings is None:
        return None
    if not all(isinstance(getattr(getattr(layer, "output", None), "dense", None), nn.Linear) for layer in layers):
        return None
    return Structure([embeddings], list(layers), _bert_output)


def electra(model: nn.Module) -> Structure | None:
    structure = bert_like(model)
    project = getattr(model, "embeddings_project", None)  # only where embedding_size != hidden_size
    if structure is not None and project is not None:
        structure.below.append(project)
    return structure


def albert(model: nn.Module) -> Structure:
    # nn.Module types an unknown attribute as a tensor or a module: these are AlbertModel's config
    # and encoder, whose own attributes no type checker can know
    encoder: Any = model.encoder
    config: Any = model.config
    groups = encoder.albert_layer_groups
    layers = []
    for depth in range(config.num_hidden_layers):
        group = groups[int(depth / (config.num_hidden_layers / config.num_hidden_groups))]
        layers.extend(group.albert_layers)  # inner_group_num layers run at each depth
    below = [model.get_submodule("embeddings"), encoder.embedding_hidden_mapping_in]
    return Structure(below, layers, lambda layer: (layer, "ffn_output"))


# model_type -> how its parts are found. Families not listed are tried as BERT-like.
FAMILIES: dict[str, Callable[[nn.Module], Structure | None]] = {
    "bert": bert_like,
    "roberta": bert_like,
    "xlm-roberta": bert_like,
    "ernie": bert_like,
    "megatron-bert": bert_like,
    "nezha": bert_like,
    "electra": electra,
    "albert": albert,
}


def structure_of(model: nn.Module) -> Structure | None:
    """The parts of a transformers base model (see the module docstring); None where unknown."""
    model_type = getattr(getattr(model, "config", None), "model_type", "")
    return FAMILIES.get(model_type, bert_like)(model)
