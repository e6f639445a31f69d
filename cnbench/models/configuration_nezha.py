"""``NezhaConfig``, kept apart from the modelling code so that registering it with ``AutoConfig`` never
imports torch's or transformers' modelling stack (see ``cnbench.models.registration``)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers.configuration_utils import PreTrainedConfig


@strict
class NezhaConfig(PreTrainedConfig):
    """Configuration of a NEZHA encoder (Wei et al. 2019, arXiv:1909.00204).

    The fields are BERT's, with the same names as the published ``config.json`` files
    (``model_type: "nezha"``), plus ``max_relative_position`` (K): relative distances are clipped
    to ``[-K, K]``, so the sinusoid table has ``2K + 1`` rows. Defaults are those of NEZHA-base.

    ``max_position_embeddings`` is kept for checkpoint compatibility only: NEZHA has no absolute
    position embeddings, and cnbench's implementation accepts longer inputs (see ``NezhaModel``).

    Construction raises ``huggingface_hub.errors.StrictDataclassClassValidationError`` (as every
    transformers 5 config does on a bad architecture; the message names the cause) when
    ``hidden_size`` is not a multiple of ``num_attention_heads``, when the per-head size is odd (the
    sinusoid table interleaves sin/cos pairs), when ``max_relative_position`` is negative, or when
    ``use_relative_position`` (true in the published configs) is false.
    """

    model_type = "nezha"

    vocab_size: int = 21128
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.1
    attention_probs_dropout_prob: float | int = 0.1
    max_position_embeddings: int = 512
    max_relative_position: int = 64
    use_relative_position: bool = True
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    classifier_dropout: float | int | None = 0.1
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | list[int] | None = 3
    tie_word_embeddings: bool = True

    def validate_architecture(self):
        """Part of ``@strict`` validation: run on construction."""
        super().validate_architecture()
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) is not a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        head_size = self.hidden_size // self.num_attention_heads
        if head_size % 2 != 0:
            raise ValueError(f"the per-head size hidden_size / num_attention_heads must be even, got {head_size}")
        if self.max_relative_position < 0:
            raise ValueError(f"max_relative_position must be >= 0, got {self.max_relative_position}")
        if not self.use_relative_position:
            raise ValueError(
                "use_relative_position is false: NEZHA is implemented with its relative position "
                "encoding only, so such a checkpoint is another model"
            )


__all__ = ["NezhaConfig"]
