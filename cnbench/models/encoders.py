"""Resolve a model name to an encoder, a tokenizer and provenance for the result file.

Supported names (``cnbench list`` shows them):

- aliases of published checkpoints: ``bert``, ``bert-wwm-ext``, ``roberta-wwm-ext``, ``macbert``,
  ``nezha`` (loaded with ``AutoModel.from_pretrained`` from the Hub; NEZHA by cnbench's own
  implementation, registered with transformers' Auto classes);
- any Hub id or local directory holding a ``save_pretrained`` checkpoint and tokenizer: the same
  code path as an alias;
- from-scratch presets: ``scratch-tiny`` / ``scratch-small`` (a randomly initialised BERT with the
  real bert-base-chinese vocabulary and config, resized) and ``char-embed`` (character embeddings
  only, for the classic BiLSTM-CRF baseline).

Raises ``CnbenchError`` for an unknown alias that is neither a Hub id nor a folder, a folder
without weights, or a checkpoint whose config cannot be read.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cnbench.errors import CnbenchError
from cnbench.hashing import files_sha256
from cnbench.models.presets import PRESETS, ModelPreset, check_model_name
from cnbench.paths import tokenizer_dir


class TransformerEncoder(nn.Module):
    """Wraps a transformers base model: ``forward -> (last_hidden_state, pooler_output or None)``,
    plus every layer's states (embedding output first) with ``output_hidden_states=True``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.hidden_size = model.config.hidden_size

    def forward(self, input_ids, attention_mask, token_type_ids=None, boundary_ids=None, output_hidden_states=False):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         output_hidden_states=output_hidden_states)
        if output_hidden_states:
            return out.last_hidden_state, getattr(out, "pooler_output", None), out.hidden_states
        return out.last_hidden_state, getattr(out, "pooler_output", None)


@dataclass
class LoadedModel:
    encoder: nn.Module
    tokenizer: object
    provenance: dict  # alias, id, revision, weights_sha256, source, config
    overrides: dict
    uses_word_boundaries: bool = False


def load_model(name: str, seed: int, use_word_boundaries: bool = False) -> LoadedModel:
    """Build the encoder named ``name``. Random initialisation draws from ``seed``."""
    check_model_name(name)
    preset = PRESETS.get(name)
    torch.manual_seed(seed)
    if preset is not None and preset.scratch_config is not None:
        return _scratch_bert(name, preset)
    if name == "char-embed":
        return _char_embed(preset, use_word_boundaries)
    if preset is not None:
        return _pretrained(preset.hub_id, name, preset.overrides)
    return _pretrained(name, name, {})


def _load_tokenizer(source: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise CnbenchError(f"cannot load a tokenizer from {source!r}: {err}") from None


def _scratch_bert(name: str, preset: ModelPreset) -> LoadedModel:
    from transformers import AutoConfig, BertModel

    source = tokenizer_dir()
    config = AutoConfig.from_pretrained(source, **preset.scratch_config)
    model = BertModel(config)
    return LoadedModel(
        encoder=TransformerEncoder(model),
        tokenizer=_load_tokenizer(source),
        provenance={
            "alias": name,
            "id": None,
            "revision": None,
            "weights_sha256": None,
            "source": "scratch",
            "tokenizer": source,
            "config": _config_summary(config),
        },
        overrides=preset.overrides,
    )


def _char_embed(preset: ModelPreset, use_word_boundaries: bool) -> LoadedModel:
    from cnbench.models.char_embed import CharEmbedEncoder

    source = tokenizer_dir()
    tokenizer = _load_tokenizer(source)
    encoder = CharEmbedEncoder(
        vocab_size=len(tokenizer), use_word_boundaries=use_word_boundaries, pad_token_id=tokenizer.pad_token_id
    )
    return LoadedModel(
        encoder=encoder,
        tokenizer=tokenizer,
        provenance={
            "alias": "char-embed",
            "id": None,
            "revision": None,
            "weights_sha256": None,
            "source": "scratch",
            "tokenizer": source,
            "config": {"embedding_dim": encoder.hidden_size, "word_boundaries": use_word_boundaries},
        },
        overrides=preset.overrides,
        uses_word_boundaries=use_word_boundaries,
    )


def _pretrained(model_id: str, alias: str, overrides: dict) -> LoadedModel:
    import cnbench  # noqa: F401  (registers NEZHA with the Auto classes)
    from transformers import AutoConfig, AutoModel

    local = Path(model_id)
    if local.is_dir() and not _weight_files(local):
        raise CnbenchError(f"{local}: no model weights (*.safetensors or *.bin) in this folder")
    try:
        config = AutoConfig.from_pretrained(model_id)
        with _quiet_transformers():
            model, info = AutoModel.from_pretrained(
                model_id, config=config, ignore_mismatched_sizes=True, output_loading_info=True
            )
    except (OSError, ValueError, KeyError) as err:
        raise CnbenchError(f"cannot load model {model_id!r}: {err}") from None
    mismatched = sorted(info.get("mismatched_keys") or [])
    if mismatched:
        shown = "; ".join(f"{name}: weights {tuple(stored)} vs config {tuple(expected)}"
                          for name, stored, expected in mismatched[:3])
        raise CnbenchError(f"{model_id}: {len(mismatched)} weights do not fit its config.json ({shown})")
    return LoadedModel(
        encoder=TransformerEncoder(model),
        tokenizer=_load_tokenizer(model_id),
        provenance={
            "alias": alias,
            "id": model_id if not local.is_dir() else str(local.resolve()),
            "revision": getattr(config, "_commit_hash", None),
            "weights_sha256": files_sha256(_weight_files(local)) if local.is_dir() else None,
            "source": "local" if local.is_dir() else "hub",
            "config": _config_summary(config),
        },
        overrides=overrides,
    )


@contextmanager
def _quiet_transformers():
    """Loading reports and progress bars are noise here: problems surface as a CnbenchError."""
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        logging.enable_progress_bar()


def _weight_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.safetensors"), *folder.glob("*.bin")])


def _config_summary(config) -> dict:
    keys = ("model_type", "num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
            "vocab_size", "max_position_embeddings", "max_relative_position")
    return {key: getattr(config, key) for key in keys if hasattr(config, key)}
