"""NEZHA for transformers 5: BERT with functional relative positions instead of position embeddings.

NEZHA (Wei et al. 2019, arXiv:1909.00204) is BERT without absolute position embeddings. Each
attention layer instead adds a fixed sinusoid ``a_ij`` for the distance between query ``i`` and key
``j``, to the keys inside the score and to the values in the output::

    score_ij = q_i · (k_j + a_ij) / sqrt(d)        z_i = sum_j softmax(score)_ij (v_j + a_ij)

``a_ij`` is row ``clip(j - i, -K, K) + K`` of a ``[2K + 1, d]`` table (``K = max_relative_position``,
``d`` the per-head size), shared by all heads and layers. Row ``r`` holds ``sin(r * w_c)`` in even
column ``c`` and ``cos(r * w_c)`` in column ``c + 1``, with ``w_c = 10000 ** (-c / d)``; this is the
layout of transformers 4.x's NEZHA, the implementation the released checkpoints are used with.

Checkpoints: HF-format NEZHA checkpoints (``model_type: "nezha"``, e.g. ``sijunhe/nezha-cn-base``)
load with their own parameter names (BERT's under ``nezha.``, plus ``cls.predictions.*``). The
relative table is computed, not stored, so it adds no state-dict key. The parts of a pre-training
checkpoint a class has no use for (the NSP head, and the pooler for the MLM model) are dropped
without being reported as unexpected.

Supported inputs: ``input_ids`` or ``inputs_embeds``, a 2-D ``[batch, seq]`` padding
``attention_mask`` (non-zero / true on real tokens), ``token_type_ids``, ``output_attentions``,
``output_hidden_states``, ``return_dict``. A 3-D or 4-D attention mask raises ``ValueError``.
NEZHA is used here as an encoder only: no decoder mode, cross-attention, KV cache, head masks or
gradient checkpointing.

Sequence length: nothing in the model depends on ``max_position_embeddings`` (it is kept in the
config for checkpoint compatibility). Distances beyond ``K`` all share the clipped rows, which every
pre-training sequence longer than ``K`` has seen, so inputs longer than ``max_position_embeddings``
are accepted and computed exactly as the formula above says. (transformers 4.x precomputed a
``[max_position_embeddings]^2`` table and failed on longer inputs.) Memory stays ``O(T^2)`` per
head, as for BERT.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling, MaskedLMOutput
from transformers.modeling_utils import PreTrainedModel

from cnbench.models.configuration_nezha import NezhaConfig

__all__ = [
    "NezhaConfig",
    "NezhaForMaskedLM",
    "NezhaModel",
    "NezhaPreTrainedModel",
    "relative_position_index",
    "relative_position_table",
]


def relative_position_table(
    max_relative_position: int,
    depth: int,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The ``[2K + 1, depth]`` sinusoid table; row ``r`` encodes the clipped distance ``r - K``."""
    rows = torch.arange(2 * max_relative_position + 1, device=device, dtype=torch.float32)
    inv_freq = torch.exp(torch.arange(0, depth, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / depth))
    angles = rows[:, None] * inv_freq[None, :]
    return torch.stack((angles.sin(), angles.cos()), dim=-1).reshape(len(rows), depth).to(dtype)


def relative_position_index(length: int, max_relative_position: int, *, device: torch.device | None = None):
    """``[length, length]`` long tensor: entry ``(i, j)`` is the table row ``clip(j - i, -K, K) + K``."""
    positions = torch.arange(length, device=device)
    distance = positions[None, :] - positions[:, None]
    return distance.clamp(-max_relative_position, max_relative_position) + max_relative_position


class NezhaEmbeddings(nn.Module):
    """Word + token-type embeddings, LayerNorm, dropout (no position embeddings)."""

    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids, inputs_embeds) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(embeddings))


class NezhaSelfAttention(nn.Module):
    """Multi-head self-attention with NEZHA's relative-position terms on keys and values.

    Only ``2K + 1`` distinct ``a_ij`` exist, so instead of a ``[T, T, d]`` tensor of them this
    scores each query against the table once (``[B, h, T, 2K + 1]``) and gathers per pair, and
    for the value term sums the probabilities falling on each table row before one small matmul.

    On CUDA, ``scatter_add`` and the backward pass of ``gather`` accumulate with atomics, in an
    order that varies between runs. Under ``torch.use_deterministic_algorithms(True)`` (``cnbench
    run --deterministic``, ``cnbench.determinism``) torch runs both with deterministic kernels (torch
    2.x lists them among the ops it makes deterministic), so no replacement is needed here.
    """

    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def forward(self, hidden_states, key_padding_mask, relative_table, relative_index):
        batch, length, hidden = hidden_states.shape

        def split_heads(x):
            return x.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)

        query = split_heads(self.query(hidden_states))
        key = split_heads(self.key(hidden_states))
        value = split_heads(self.value(hidden_states))
        index = relative_index.expand(batch, self.num_heads, length, length)

        # q_i . a_ij is q_i . table[index_ij]: score every table row, then pick one per (i, j).
        position_scores = torch.gather(query @ relative_table.T, -1, index)
        scores = (query @ key.transpose(-1, -2) + position_scores) / math.sqrt(self.head_size)
        if key_padding_mask is not None:
            scores = scores.masked_fill(~key_padding_mask[:, None, None, :], torch.finfo(scores.dtype).min)
        probs = self.dropout(scores.softmax(dim=-1))

        # sum_j p_ij a_ij = sum_r (sum of p_ij with index_ij = r) table[r]. The clipped rows collect
        # most of a long row's mass, so sum in float32 (free in float32, safer in half precision).
        row_mass = torch.zeros(
            batch, self.num_heads, length, relative_table.shape[0], dtype=torch.float32, device=probs.device
        )
        row_mass = row_mass.scatter_add(-1, index, probs.float()).to(probs.dtype)
        context = probs @ value + row_mass @ relative_table
        return context.transpose(1, 2).reshape(batch, length, hidden), probs


class NezhaResidualOutput(nn.Module):
    """Dense projection back to the hidden size, dropout, residual add, LayerNorm: the closing step
    of both the attention block (``attention.output``) and the feed-forward block (``output``)."""

    def __init__(self, in_features: int, config: NezhaConfig):
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class NezhaAttention(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.self = NezhaSelfAttention(config)
        self.output = NezhaResidualOutput(config.hidden_size, config)

    def forward(self, hidden_states, key_padding_mask, relative_table, relative_index):
        context, probs = self.self(hidden_states, key_padding_mask, relative_table, relative_index)
        return self.output(context, hidden_states), probs


class NezhaIntermediate(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = ACT2FN[config.hidden_act]

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class NezhaLayer(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.attention = NezhaAttention(config)
        self.intermediate = NezhaIntermediate(config)
        self.output = NezhaResidualOutput(config.intermediate_size, config)

    def forward(self, hidden_states, key_padding_mask, relative_table, relative_index):
        attention_output, probs = self.attention(hidden_states, key_padding_mask, relative_table, relative_index)
        return self.output(self.intermediate(attention_output), attention_output), probs


class NezhaEncoder(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.max_relative_position = config.max_relative_position
        self.head_size = config.hidden_size // config.num_attention_heads
        self.layer = nn.ModuleList(NezhaLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, hidden_states, key_padding_mask, output_attentions, output_hidden_states) -> BaseModelOutput:
        # Built per call rather than held in a buffer: it is tiny, fits any length, and stays out of
        # the state dict, so checkpoints of every implementation load without key mismatches.
        table = relative_position_table(
            self.max_relative_position, self.head_size, device=hidden_states.device, dtype=hidden_states.dtype
        )
        index = relative_position_index(hidden_states.shape[1], self.max_relative_position, device=hidden_states.device)
        all_hidden_states: tuple[torch.Tensor, ...] | None = (hidden_states,) if output_hidden_states else None
        all_attentions: tuple[torch.Tensor, ...] | None = () if output_attentions else None
        for layer in self.layer:
            hidden_states, probs = layer(hidden_states, key_padding_mask, table, index)
            if all_hidden_states is not None:
                all_hidden_states += (hidden_states,)
            if all_attentions is not None:
                all_attentions += (probs,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


class NezhaPooler(nn.Module):
    """tanh(dense(first token)), as BERT."""

    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class NezhaPredictionHeadTransform(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states):
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class NezhaLMPredictionHead(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.transform = NezhaPredictionHeadTransform(config)
        # ``decoder.bias`` and ``bias`` are tied (see NezhaForMaskedLM): checkpoints name the output
        # bias either way, and keeping it on the Linear lets resize_token_embeddings resize it.
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states):
        return self.decoder(self.transform(hidden_states))


class NezhaOnlyMLMHead(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.predictions = NezhaLMPredictionHead(config)

    def forward(self, sequence_output):
        return self.predictions(sequence_output)


class NezhaPreTrainedModel(PreTrainedModel):
    """Weight initialisation (BERT's: normal(0, initializer_range) for Linear and Embedding weights,
    zero biases and padding row, unit LayerNorm) and checkpoint conventions shared by NEZHA models."""

    config: NezhaConfig
    # Needed besides the annotation: under postponed annotations transformers would read it as a string.
    config_class = NezhaConfig
    base_model_prefix = "nezha"

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, NezhaLMPredictionHead):
            init.zeros_(module.bias)


def _key_padding_mask(attention_mask: torch.Tensor | None, shape: torch.Size) -> torch.Tensor | None:
    if attention_mask is None:
        return None
    if attention_mask.shape != shape:
        raise ValueError(
            f"attention_mask must be a [batch, seq] padding mask of shape {tuple(shape)}, "
            f"got shape {tuple(attention_mask.shape)}"
        )
    return attention_mask != 0


class NezhaModel(NezhaPreTrainedModel):
    """The NEZHA encoder (embeddings, layers, optional pooler). See the module docstring for what
    inputs are supported and for sequences longer than ``max_position_embeddings``."""

    # The NSP and MLM heads of a pre-training checkpoint have no place in the bare encoder.
    _keys_to_ignore_on_load_unexpected = [r"^cls\."]

    def __init__(self, config: NezhaConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = NezhaEmbeddings(config)
        self.encoder = NezhaEncoder(config)
        self.pooler = NezhaPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        """Encode a batch. Exactly one of ``input_ids`` ``[B, T]`` and ``inputs_embeds`` ``[B, T, H]``
        must be given (``ValueError`` otherwise). Returns ``last_hidden_state`` ``[B, T, H]``,
        ``pooler_output`` ``[B, H]`` (``None`` without pooler), and per-layer ``hidden_states`` /
        ``attentions`` when asked for."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if return_dict is None:
            return_dict = self.config.return_dict

        embeddings = self.embeddings(input_ids, token_type_ids, inputs_embeds)
        key_padding_mask = _key_padding_mask(attention_mask, embeddings.shape[:2])
        encoded = self.encoder(embeddings, key_padding_mask, output_attentions, output_hidden_states)
        output = BaseModelOutputWithPooling(
            last_hidden_state=encoded.last_hidden_state,
            pooler_output=self.pooler(encoded.last_hidden_state) if self.pooler is not None else None,
            hidden_states=encoded.hidden_states,
            attentions=encoded.attentions,
        )
        return output if return_dict else output.to_tuple()


class NezhaForMaskedLM(NezhaPreTrainedModel):
    """NEZHA with its masked-language-model head (``cls.predictions``), the decoder weight tied to
    the word embeddings. ``labels`` (``-100`` where not scored) give a mean cross-entropy ``loss``."""

    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "nezha.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }
    # Pre-training checkpoints also hold the pooler and the next-sentence head, unused here.
    _keys_to_ignore_on_load_unexpected = [r"^nezha\.pooler\.", r"^cls\.seq_relationship\."]

    def __init__(self, config: NezhaConfig):
        super().__init__(config)
        self.nezha = NezhaModel(config, add_pooling_layer=False)
        self.cls = NezhaOnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings):
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> MaskedLMOutput | tuple:
        """Same inputs as ``NezhaModel.forward`` plus ``labels`` ``[B, T]``; returns ``logits``
        ``[B, T, vocab]`` and ``loss`` when labels are given."""
        if return_dict is None:
            return_dict = self.config.return_dict
        encoded = self.nezha(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.cls(encoded.last_hidden_state)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=encoded.hidden_states, attentions=encoded.attentions
        )
        return output if return_dict else output.to_tuple()
