"""Model names cnbench knows, without importing torch (``cnbench list`` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnbench.errors import CnbenchError


@dataclass(frozen=True)
class ModelPreset:
    description: str
    hub_id: str | None = None
    # The commit the scores were made with, where its card shows the full hash; otherwise main
    # is followed. The resolved commit is recorded in every result either way.
    revision: str | None = None
    # Randomly initialised presets: overrides applied to the bert-base-chinese config.
    scratch_config: dict | None = None
    # Hyper-parameters that differ from the task's fine-tuning defaults (e.g. a from-scratch
    # model needs a far larger learning rate than fine-tuning).
    overrides: dict = field(default_factory=dict)


PRESETS: dict[str, ModelPreset] = {
    "bert": ModelPreset("Google BERT-base, Chinese", hub_id="google-bert/bert-base-chinese"),
    "bert-wwm-ext": ModelPreset("HFL BERT-wwm-ext", hub_id="hfl/chinese-bert-wwm-ext",
                                revision="2a995a880017c60e4683869e817130d8af548486"),
    "roberta-wwm-ext": ModelPreset("HFL RoBERTa-wwm-ext", hub_id="hfl/chinese-roberta-wwm-ext",
                                   revision="5c58d0b8ec1d9014354d691c538661bf00bfdb44"),
    "macbert": ModelPreset("HFL MacBERT-base", hub_id="hfl/chinese-macbert-base",
                           revision="a986e004d2a7f2a1c2f5a3edef4e20604a974ed1"),
    "nezha": ModelPreset("Huawei NEZHA-base, Chinese (cnbench implementation)", hub_id="sijunhe/nezha-cn-base",
                         revision="bc68bfa5072f5c06055a2b59ba4858e9eea5183f"),
    "scratch-tiny": ModelPreset(
        "random-init BERT, 2 layers x 128 hidden (offline default and test model)",
        scratch_config=dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512),
        overrides={"lr": 5e-4},
    ),
    "scratch-small": ModelPreset(
        "random-init BERT, 4 layers x 256 hidden",
        scratch_config=dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
        overrides={"lr": 3e-4},
    ),
    "char-embed": ModelPreset(
        "character embeddings only (no encoder): the BiLSTM-CRF baseline",
        overrides={"lr": 1e-3, "head_lr": 1e-3},
    ),
}


def check_model_name(name: str) -> None:
    """Accept an alias, a Hub id (``owner/name``) or an existing folder; else a clear error."""
    if name in PRESETS or "/" in name or Path(name).exists():
        return
    raise CnbenchError(
        f"unknown model {name!r}; choose one of: {', '.join(PRESETS)}, or a Hub id / local checkpoint folder"
    )
