"""Linear heads: the standard fine-tuning classifiers."""

from __future__ import annotations

from torch import Tensor, nn

from cnbench.heads import IGNORE_INDEX, SENTENCE_VECTOR, HeadOutput


class LinearClassificationHead(nn.Module):
    """Dropout + linear on the sentence vector: the encoder's pooler output when it has one (as
    BERT fine-tuning does, so scores compare with published ones), else the [CLS] state (ELECTRA).
    An encoder without context (``char-embed``) passes the mean over the real tokens as ``pooled``
    (``cnbench.tuning.MeanPooling``): its [CLS] state would be the same for every input."""

    reads = SENTENCE_VECTOR

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1, **_):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        sentence = pooled if pooled is not None else hidden[:, 0]
        logits = self.classifier(self.dropout(sentence)).float()
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return HeadOutput(loss, logits.argmax(-1))


class LinearTaggingHead(nn.Module):
    """Per-token linear layer; cross-entropy only on scored positions."""

    reads = "every token's hidden state"

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1, **_):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden, pooled, attention_mask, score_mask=None, labels=None) -> HeadOutput:
        logits = self.classifier(self.dropout(hidden)).float()
        return HeadOutput(tagging_cross_entropy(logits, labels), logits.argmax(-1))


def tagging_cross_entropy(logits: Tensor, labels: Tensor | None) -> Tensor | None:
    """Mean cross-entropy over the scored positions (``labels`` ``-100`` elsewhere); ``None``
    without labels."""
    if labels is None:
        return None
    return nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
