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
    # Encoder parameters (the base model cnbench fine-tunes, pooler included, no pretraining
    # heads), counted by instantiating the config on the repository's card on the meta device
    # (tests/test_encoder_families.py recounts them): ``cnbench list`` shows them without a download.
    parameters: int | None = None


PRESETS: dict[str, ModelPreset] = {
    "bert": ModelPreset("Google BERT-base, Chinese", hub_id="google-bert/bert-base-chinese", parameters=102_267_648),
    "bert-wwm-ext": ModelPreset(
        "HFL BERT-wwm-ext",
        hub_id="hfl/chinese-bert-wwm-ext",
        revision="2a995a880017c60e4683869e817130d8af548486",
        parameters=102_267_648,
    ),
    "roberta-wwm-ext": ModelPreset(
        "HFL RoBERTa-wwm-ext",
        hub_id="hfl/chinese-roberta-wwm-ext",
        revision="5c58d0b8ec1d9014354d691c538661bf00bfdb44",
        parameters=102_267_648,
    ),
    "macbert": ModelPreset(
        "HFL MacBERT-base",
        hub_id="hfl/chinese-macbert-base",
        revision="a986e004d2a7f2a1c2f5a3edef4e20604a974ed1",
        parameters=102_267_648,
    ),
    "nezha": ModelPreset(
        "Huawei NEZHA-base, Chinese (cnbench implementation)",
        hub_id="sijunhe/nezha-cn-base",
        revision="bc68bfa5072f5c06055a2b59ba4858e9eea5183f",
        parameters=101_874_432,
    ),
    # Only short commit hashes are on record for the ALBERT and ELECTRA repositories: main is followed.
    "albert": ModelPreset(
        "ALBERT-base, Chinese (voidful; BERT vocabulary)", hub_id="voidful/albert_chinese_base", parameters=10_547_968
    ),
    # The base discriminator's config.json was not seen: its count assumes the ELECTRA-base shape
    # (12 layers x 768, embedding 768) and is UNVERIFIED.
    "electra": ModelPreset(
        "HFL ELECTRA-180G-base discriminator (no pooler: reads [CLS])",
        hub_id="hfl/chinese-electra-180g-base-discriminator",
        parameters=101_677_056,
    ),
    "electra-small": ModelPreset(
        "HFL ELECTRA-180G-small discriminator (no pooler: reads [CLS])",
        hub_id="hfl/chinese-electra-180g-small-discriminator",
        parameters=12_280_576,
    ),
    "ernie": ModelPreset(
        "Baidu ERNIE 3.0-base, Chinese (nghuyong conversion)",
        hub_id="nghuyong/ernie-3.0-base-zh",
        revision="8ad12310fa2e9668f9df5dd15e3857e374ab8147",
        parameters=117_944_832,
    ),
    "minirbt": ModelPreset(
        "HFL MiniRBT-H256: RoBERTa-wwm-ext distilled to 6 layers x 256",
        hub_id="hfl/minirbt-h256",
        revision="446e1b4012b10946f479563005700c54c9db3f7c",
        parameters=10_345_216,
    ),
    "scratch-tiny": ModelPreset(
        "random-init BERT, 2 layers x 128 hidden (offline default and test model)",
        scratch_config=dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512),
        overrides={"lr": 5e-4},
        parameters=3_183_488,
    ),
    "scratch-small": ModelPreset(
        "random-init BERT, 4 layers x 256 hidden",
        scratch_config=dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
        overrides={"lr": 3e-4},
        parameters=8_765_696,
    ),
    "char-embed": ModelPreset(
        "character embeddings only (no encoder): the BiLSTM-CRF baseline",
        overrides={"lr": 1e-3, "head_lr": 1e-3},
        parameters=2_704_384,  # 80 more with --word-boundaries
    ),
}


def parameter_count(preset: ModelPreset) -> str:
    """``102.3M``-style text for tables; ``?`` where the count is not known."""
    if preset.parameters is None:
        return "?"
    return f"{preset.parameters / 1e6:.1f}M"


def check_model_name(name: str) -> None:
    """Accept an alias, a Hub id (``owner/name``) or an existing folder; else a clear error."""
    if name in PRESETS or "/" in name or Path(name).exists():
        return
    raise CnbenchError(
        f"unknown model {name!r}; choose one of: {', '.join(PRESETS)}, or a Hub id / local checkpoint folder"
    )
