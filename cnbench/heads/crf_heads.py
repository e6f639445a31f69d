"""CRF and BiLSTM heads: ``crf``, ``bilstm`` and ``bilstm-crf`` (listed in ``cnbench.heads.HEADS``).

- ``crf`` (tagging): dropout + linear to per-tag emissions + a ``CRF`` over the *scored* positions
  only (``score_mask``: the first word piece of each character). Those positions are compacted to
  the left of each row before the CRF, so transitions link consecutive characters, not word
  pieces or special tokens; predictions are scattered back to their ``[B, T]`` positions (0
  elsewhere). In a window of a long sentence whose scored characters are preceded / followed by
  other real tokens, the label scheme's start / end constraint is lifted (an entity may cross the
  window's edge).
- ``bilstm`` (tagging and classification) and ``bilstm-crf`` (tagging): a bidirectional LSTM on
  the encoder states; padding (from ``attention_mask``) never reaches a real token's state.
- CRF heads support tagging only; ``build_head`` reports that for classification tasks.

Options (all heads get the same keyword set and ignore what they do not use): ``dropout``
(default 0.1), ``lstm_hidden`` (units per direction, default 256), ``label_names`` and
``crf_constrained`` (default True: BIO/BIOES-constrained Viterbi, see ``cnbench.heads.crf``;
raises ``CnbenchError`` when the label names are missing or follow no such scheme).
The CRF loss is the summed sequence NLL divided by the number of scored tokens, so its scale
matches the per-token cross-entropy of the other tagging heads (and gradient clipping acts alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from cnbench.heads import HeadOutput
from cnbench.heads.crf import CRF
from cnbench.heads.linear import tagging_cross_entropy


class Compacted(NamedTuple):
    values: Tensor
    """``[B, T', ...]``: the selected positions of each row, moved to the left, in order."""
    mask: Tensor
    """``[B, T']`` bool, left-aligned: true on the ``mask.sum(1)`` selected positions."""
    index: Tensor  # type: ignore[assignment]  # shadows tuple.index, which nothing calls on a Compacted
    """``[B, T']`` original position of each compacted slot (unselected positions past the end)."""


def compact(x: Tensor, mask: Tensor) -> Compacted:
    """Move the positions of ``x`` (``[B, T, ...]``) where ``mask`` (``[B, T]`` bool) is true to
    the left of each row, keeping their order. ``T'`` is the longest row's count, at least 1 so
    downstream code always gets a time axis. ``index`` lets results be scattered back."""
    # A stable sort on "not selected" puts the selected positions first, in their original order.
    order = torch.sort((~mask).to(torch.uint8), dim=1, stable=True).indices
    counts = mask.sum(1)
    width = max(int(counts.max()), 1)
    index = order[:, :width]
    gather_index = index.reshape(*index.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    values = x.gather(1, gather_index)
    slots = torch.arange(width, device=mask.device)
    return Compacted(values, slots < counts.unsqueeze(1), index)


class BiLSTM(nn.Module):
    """One bidirectional LSTM layer over the real tokens of each row (``attention_mask`` must be
    left-aligned, as with right padding; ``ValueError`` otherwise). Output ``[B, T, 2 * hidden]``
    (forward states, then backward) is zero at padding. A row with no real token is run as length 1.

    Each direction is its own one-way LSTM over the padded batch, not one bidirectional LSTM over
    a packed one: a packed batch runs the recurrence step by step on CPU, the padded one in
    oneDNN's fused kernel (2.4× faster for both directions with backward, see
    ``benchmarks/bench_bilstm.py``). Padding sits after the real tokens, so the forward direction
    reads it only after them; the backward direction reads each row's real tokens reversed in
    place. The LSTM runs in fp32 even under bf16 autocast: the recurrence over a hundred steps is
    where bf16 rounding compounds.
    """

    def __init__(self, input_size: int, hidden: int):
        super().__init__()
        self.forward_lstm = nn.LSTM(input_size, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(input_size, hidden, batch_first=True)

    def forward(self, x: Tensor, attention_mask: Tensor) -> Tensor:
        mask = attention_mask.bool()
        if (mask[:, 1:] & ~mask[:, :-1]).any():
            raise ValueError("BiLSTM needs right-padded inputs (attention_mask true, then false)")
        lengths = mask.sum(1, keepdim=True).clamp(min=1)
        steps = torch.arange(x.shape[1], device=x.device)
        real = steps < lengths
        # position t of a row's reversed copy holds its token lengths-1-t; padding stays put, so
        # applying the same gather twice restores the order
        reverse = torch.where(real, lengths - 1 - steps, steps).unsqueeze(2)
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            forward, _ = self.forward_lstm(x)
            backward, _ = self.backward_lstm(x.gather(1, reverse.expand(-1, -1, x.shape[2])))
            backward = backward.gather(1, reverse.expand(-1, -1, backward.shape[2]))
            return torch.cat([forward, backward], dim=2) * real.unsqueeze(2)


def _crf_output(
    crf: CRF,
    emissions: Tensor,
    attention_mask: Tensor,
    score_mask: Tensor | None,
    labels: Tensor | None,
    decode: bool,
) -> HeadOutput:
    """Run ``crf`` on the scored positions of ``emissions`` ``[B, T, K]``; predictions are
    scattered back to ``[B, T]`` (0 at unscored positions). ``decode=False`` (training steps, which
    use only the loss) skips Viterbi and returns no predictions."""
    if score_mask is None:
        raise ValueError("CRF heads are tagging heads and need a score_mask")
    packed = compact(emissions, score_mask)
    loss = None
    if labels is not None:
        tags = labels.gather(1, packed.index)
        nll = crf.nll(packed.values, tags, packed.mask)
        loss = nll.sum() / packed.mask.sum().clamp(min=1)
    if not decode:
        return HeadOutput(loss, None)
    # A window cut from a long sentence scores only its middle characters (cnbench.features):
    # when real tokens besides [CLS] / [SEP] precede / follow the scored ones, the chain may start
    # / end inside an entity, so the label scheme's start / end constraint is lifted for it.
    counts = packed.mask.sum(1)
    last = packed.index.gather(1, (counts - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    open_start = packed.index[:, 0] > 1
    open_end = last < attention_mask.sum(1) - 2
    best = crf.decode(packed.values, packed.mask, open_start=open_start, open_end=open_end).tags
    best = best.masked_fill(~packed.mask, 0)
    predictions = torch.zeros(score_mask.shape, dtype=torch.long, device=emissions.device)
    return HeadOutput(loss, predictions.scatter_(1, packed.index, best))


class CRFTaggingHead(nn.Module):
    """Dropout + linear emissions + CRF over the scored positions (submodule ``crf``)."""

    reads = "every token's hidden state"

    def __init__(
        self,
        hidden_size: int,
        num_labels: int,
        label_names: Sequence[str] | None = None,
        dropout: float = 0.1,
        crf_constrained: bool = True,
        **_,
    ):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)
        self.crf = CRF(num_labels, label_names, constrained=crf_constrained)

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        emissions = self.classifier(self.dropout(hidden))
        return _crf_output(self.crf, emissions, attention_mask, score_mask, labels, decode=not self.training)


class _BiLSTMHead(nn.Module):
    """Dropout, a BiLSTM over every token's hidden state, and a linear classifier over
    ``PIECES_PER_OUTPUT`` LSTM state widths (a token's state, or pooled states)."""

    PIECES_PER_OUTPUT = 2  # forward and backward state of one token

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1, lstm_hidden: int = 256, **_):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.lstm = BiLSTM(hidden_size, lstm_hidden)
        self.classifier = nn.Linear(self.PIECES_PER_OUTPUT * lstm_hidden, num_labels)


class BiLSTMTaggingHead(_BiLSTMHead):
    """Dropout + BiLSTM + dropout + per-token linear; cross-entropy on scored positions."""

    reads = "every token's hidden state, through a BiLSTM"

    def emissions(self, hidden: Tensor, attention_mask: Tensor) -> Tensor:
        states = self.lstm(self.dropout(hidden), attention_mask)
        return self.classifier(self.dropout(states)).float()

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        logits = self.emissions(hidden, attention_mask)
        return HeadOutput(tagging_cross_entropy(logits, labels), logits.argmax(-1))


class BiLSTMCRFTaggingHead(BiLSTMTaggingHead):
    """``bilstm`` tagging emissions fed to a CRF over the scored positions (submodule ``crf``).
    The LSTM reads every real token (word pieces, [CLS], [SEP]); only the CRF is restricted."""

    def __init__(
        self,
        hidden_size: int,
        num_labels: int,
        label_names: Sequence[str] | None = None,
        dropout: float = 0.1,
        lstm_hidden: int = 256,
        crf_constrained: bool = True,
        **_,
    ):
        super().__init__(hidden_size, num_labels, dropout=dropout, lstm_hidden=lstm_hidden)
        self.crf = CRF(num_labels, label_names, constrained=crf_constrained)

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        emissions = self.emissions(hidden, attention_mask)
        return _crf_output(self.crf, emissions, attention_mask, score_mask, labels, decode=not self.training)


class BiLSTMClassificationHead(_BiLSTMHead):
    """Dropout + BiLSTM + [masked mean ; masked max] over real tokens + dropout + linear.

    Mean and max pooling together: the mean summarises the whole sentence, the max keeps strong
    local cues (a sentiment word, a topic keyword) that averaging over a long sentence dilutes;
    both use every position, unlike the final LSTM states, which favour the sentence ends.
    """

    reads = "every token's hidden state, through a BiLSTM, mean and max pooled"
    PIECES_PER_OUTPUT = 4  # mean and max of both directions

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        states = self.lstm(self.dropout(hidden), attention_mask)
        # Same lengths as the LSTM saw (an empty row counts its first position).
        lengths = attention_mask.bool().sum(1).clamp(min=1)
        real = torch.arange(states.shape[1], device=states.device) < lengths.unsqueeze(1)
        real = real.unsqueeze(2)
        mean = (states * real).sum(1) / lengths.unsqueeze(1).to(states.dtype)
        maximum = states.masked_fill(~real, torch.finfo(states.dtype).min).amax(1)
        sentence = torch.cat([mean, maximum], dim=1)
        logits = self.classifier(self.dropout(sentence)).float()
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return HeadOutput(loss, logits.argmax(-1))
