"""Span head for extractive question answering: a start and an end logit for every token."""

from __future__ import annotations

from torch import nn

from cnbench.heads import HeadOutput

# Logit given to padding: softmax weight 0 and never a decoded position, yet finite, so that a start
# plus an end logit stays a number.
PADDING_LOGIT = -1e9


class SpanHead(nn.Module):
    """Dropout + a linear layer giving each token a start and an end logit, as BERT's SQuAD
    fine-tuning does. The loss is the mean of the start and the end cross-entropy over each
    window's tokens, against ``labels[:, 0]`` and ``labels[:, 1]`` (position 0, [CLS], where the
    window does not hold the answer). Predictions are the float32 logits, ``[B, T, 2]``: an answer
    is chosen over all windows of a question afterwards (``cnbench.kinds.span.decode_answers``)."""

    reads = "every token's hidden state"

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1, **_):
        super().__init__()  # num_labels is every head's argument; a span always has a start and an end
        self.dropout = nn.Dropout(dropout)
        self.scorer = nn.Linear(hidden_size, 2)

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        logits = self.scorer(self.dropout(hidden)).float()
        logits = logits.masked_fill(~attention_mask.bool().unsqueeze(-1), PADDING_LOGIT)
        loss = None
        if labels is not None:
            start_loss = nn.functional.cross_entropy(logits[..., 0], labels[:, 0])
            end_loss = nn.functional.cross_entropy(logits[..., 1], labels[:, 1])
            loss = (start_loss + end_loss) / 2
        return HeadOutput(loss, logits)
