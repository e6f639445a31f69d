"""Resolve a model name to an encoder, a tokenizer and provenance for the result file.

Supported names (``cnbench list`` shows them):

- aliases of published checkpoints: ``bert``, ``bert-wwm-ext``, ``roberta-wwm-ext``, ``macbert``,
  ``nezha`` (loaded with ``AutoModel.from_pretrained`` from the Hub; NEZHA by cnbench's own
  implementation, registered with transformers' Auto classes);
- any Hub id (``owner/name@commit`` pins one) or local directory holding a ``save_pretrained``
  checkpoint and tokenizer: the same code path as an alias;
- from-scratch presets: ``scratch-tiny`` / ``scratch-small`` (a randomly initialised BERT with the
  real bert-base-chinese vocabulary and config, resized) and ``char-embed`` (character embeddings
  only, for the classic BiLSTM-CRF baseline).

Checkpoints load with float32 weights whatever dtype their files store (fp16 and bf16 Hub
checkpoints are common): the optimiser updates float32 masters, and bf16 autocast, where the run
uses it, computes in bf16 from them. The stored dtype is recorded (``provenance["stored_dtype"]``).

Raises ``CnbenchError`` for an unknown alias that is neither a Hub id nor a folder, a folder
without weights, or a checkpoint whose config cannot be read.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from cnbench.errors import CnbenchError, first_line
from cnbench.hashing import files_sha256
from cnbench.models.presets import PRESETS, ModelPreset, check_model_name
from cnbench.paths import tokenizer_dir
from cnbench.results import model_identity

if TYPE_CHECKING:  # transformers is imported where a model is loaded, never by importing this module
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class TransformerEncoder(nn.Module):
    """Wraps a transformers base model: ``forward -> (last_hidden_state, pooler_output or None)``,
    plus every layer's states (embedding output first) with ``output_hidden_states=True``."""

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model
        self.hidden_size = model.config.hidden_size
        # RoBERTa-class models (XLM-R too) have one token type: a BERT vocabulary's tokenizer marks
        # the second text of a pair with type 1, which such a model has no embedding for.
        self.uses_token_types = getattr(model.config, "type_vocab_size", 2) > 1
        # A pooler the checkpoint did not hold (initialised randomly): it trains under every
        # strategy when the head reads it (cnbench.tuning.apply_strategy).
        self.fresh_pooler = False

    def forward(self, input_ids, attention_mask, token_type_ids=None, boundary_ids=None, output_hidden_states=False):
        token_type_ids = token_type_ids if self.uses_token_types else None
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            output_hidden_states=output_hidden_states,
        )
        if output_hidden_states:
            return out.last_hidden_state, getattr(out, "pooler_output", None), out.hidden_states
        return out.last_hidden_state, getattr(out, "pooler_output", None)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()


@dataclass
class LoadedModel:
    encoder: nn.Module
    tokenizer: PreTrainedTokenizerBase
    provenance: dict  # alias, id, revision, weights_sha256, source, config, identity, loading; head_input (run)
    tokenizer_info: dict  # source, class, lowercase, normalization; revision (Hub) or fingerprint (folder); warning?
    overrides: dict
    uses_word_boundaries: bool = False
    # The widest input the encoder reads (``position_limit``), or None where any length fits.
    max_positions: int | None = None


def load_model(name: str, seed: int, use_word_boundaries: bool = False, tokenizer: str | None = None) -> LoadedModel:
    """Build the encoder named ``name``. Random initialisation draws from ``seed``. ``tokenizer``
    (an alias, a folder or a Hub id, ``id@revision`` pinned) replaces the checkpoint's own
    tokenizer files. A plain Hub id may be pinned the same way: ``owner/name@commit``."""
    check_model_name(name)
    preset = PRESETS.get(name)
    torch.manual_seed(seed)
    tokenizer_from = tokenizer_source(tokenizer) if tokenizer is not None else None
    if preset is not None and preset.scratch_config is not None:
        loaded = _scratch_bert(name, preset, tokenizer_from or (tokenizer_dir(), None))
    elif preset is not None and name == "char-embed":
        loaded = _char_embed(preset, use_word_boundaries, tokenizer_from or (tokenizer_dir(), None))
    elif preset is not None and preset.hub_id is not None:
        loaded = _pretrained(preset.hub_id, preset.revision, name, preset.overrides, tokenizer_from)
    else:
        loaded = _pretrained(*_pinned(name), name, {}, tokenizer_from)
    check_vocabulary_fits(loaded, overridden=tokenizer_from is not None)
    loaded.provenance["identity"] = model_identity(loaded.provenance)
    loaded.max_positions = position_limit(loaded.encoder)
    return loaded


def _pinned(name: str) -> tuple[str, str | None]:
    """``owner/name@revision`` -> ``(owner/name, revision)``; a folder or an unpinned id -> ``(name, None)``."""
    if "@" not in name or Path(name).expanduser().is_dir():
        return name, None
    repo_id, _, revision = name.partition("@")
    return repo_id, revision or None


def tokenizer_source(name: str) -> tuple[str, str | None]:
    """Where ``--tokenizer NAME`` reads from, as ``(folder or Hub id, revision)``: a model alias
    means that model's tokenizer (at the commit the alias pins, else ``main``; the scratch
    presets' is the bundled bert-base-chinese one), anything else a folder or a Hub id,
    ``@revision`` pinned. ``alias@revision`` is an error: an alias's commit is its preset's."""
    preset = PRESETS.get(name)
    if preset is None:
        repo_id, revision = _pinned(name)
        if revision is not None and repo_id in PRESETS:
            hub_id = PRESETS[repo_id].hub_id
            instead = (
                f"pass its Hub id {hub_id}@{revision}"
                if hub_id
                else f"pass {repo_id} unpinned (its tokenizer is the bundled one)"
            )
            raise CnbenchError(f"--tokenizer {name}: an alias cannot be pinned; {instead}")
        return repo_id, revision
    if preset.hub_id is None:
        return str(tokenizer_dir()), None
    return preset.hub_id, preset.revision


def _scratch_bert(name: str, preset: ModelPreset, tokenizer_from: tuple[str, str | None]) -> LoadedModel:
    from transformers import AutoConfig, BertModel

    from cnbench import hub

    config = AutoConfig.from_pretrained(tokenizer_dir(), **(preset.scratch_config or {}))
    model = BertModel(config)
    tokenizer, tokenizer_info = load_tokenizer(*tokenizer_from, local_only=hub.local_only())
    return LoadedModel(
        encoder=TransformerEncoder(model),
        tokenizer=tokenizer,
        provenance={
            "alias": name,
            "id": None,
            "revision": None,
            "weights_sha256": None,
            "source": "scratch",
            "tokenizer": tokenizer_from[0],
            "config": _config_summary(config, model),
        },
        tokenizer_info=tokenizer_info,
        overrides=preset.overrides,
    )


def _char_embed(preset: ModelPreset, use_word_boundaries: bool, tokenizer_from: tuple[str, str | None]) -> LoadedModel:
    from cnbench import hub
    from cnbench.models.char_embed import CharEmbedEncoder

    tokenizer, tokenizer_info = load_tokenizer(*tokenizer_from, local_only=hub.local_only())
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
            "tokenizer": tokenizer_from[0],
            "config": {"embedding_dim": encoder.hidden_size, "word_boundaries": use_word_boundaries},
        },
        tokenizer_info=tokenizer_info,
        overrides=preset.overrides,
        uses_word_boundaries=use_word_boundaries,
    )


def _pretrained(
    model_id: str, revision: str | None, alias: str, overrides: dict, tokenizer_from: tuple[str, str | None] | None
) -> LoadedModel:
    from transformers import AutoConfig, AutoModel

    import cnbench  # noqa: F401  (registers NEZHA with the Auto classes)
    from cnbench import hub

    local = Path(model_id).expanduser()
    if local.is_dir():
        if not _weight_files(local):
            raise CnbenchError(f"{local}: no model weights (*.safetensors or pytorch_model*.bin) in this folder")
    elif not HUB_ID.fullmatch(model_id):
        raise CnbenchError(f"{model_id}: no such checkpoint folder, and not a Hub id (owner/name)")
    local_only = not local.is_dir() and hub.local_only()
    try:
        config = AutoConfig.from_pretrained(model_id, revision=revision, local_files_only=local_only)
        with _quiet_transformers():
            model, info = AutoModel.from_pretrained(
                model_id,
                config=config,
                revision=revision,
                ignore_mismatched_sizes=True,
                output_loading_info=True,
                local_files_only=local_only,
                # float32 master weights whatever the checkpoint stores: transformers 5 otherwise
                # keeps a half-precision checkpoint's dtype, and AdamW would update bf16/fp16 weights
                # (most of a small update rounds away) or an fp32 run would crash on mixed dtypes
                dtype=torch.float32,
                # transformers' look-up of a PEFT adapter config ignores local_files_only: offline, it
                # would retry the Hub for about 20 s on every load
                adapter_kwargs={"local_files_only": local_only},
            )
    except (OSError, ValueError, KeyError) as err:
        if local.is_dir():  # no config.json, or a broken one: the folder's fault, never the cache's
            raise CnbenchError(f"{local}: {first_line(err)}") from None
        raise hub.not_available(_hub_what("model", model_id, revision), err) from None
    except Exception as err:  # a truncated or corrupt weights file: SafetensorError, torch's zip reader
        raise CnbenchError(
            f"model {model_id!r}: its weights cannot be read ({type(err).__name__}: {first_line(err)}); the file "
            "may be cut short: download it again (huggingface-cli download --force-download) or save it again"
        ) from None
    loading = check_loaded_weights(model_id, model, info)
    model.float()  # any tensor a custom class created in another dtype: masters are float32
    snapshot = local if local.is_dir() else _snapshot_folder(model_id, revision)
    if tokenizer_from is None:
        tokenizer, tokenizer_info = load_tokenizer(model_id, revision, local_only)
    else:
        tokenizer, tokenizer_info = load_tokenizer(*tokenizer_from, local_only=hub.local_only())
    encoder = TransformerEncoder(model)
    encoder.fresh_pooler = loading["pooler"] == "initialised randomly"
    return LoadedModel(
        encoder=encoder,
        tokenizer=tokenizer,
        provenance={
            "alias": alias,
            "id": model_id if not local.is_dir() else str(local.resolve()),
            "revision": None if local.is_dir() else _resolved_commit(model_id, revision),
            "requested_revision": revision,
            "weights_sha256": files_sha256(_weight_files(local)) if local.is_dir() else None,
            "source": "local" if local.is_dir() else "hub",
            "config": _config_summary(config, model),
            "loading": loading,
            "stored_dtype": stored_dtype(_loaded_weight_files(snapshot)),
        },
        tokenizer_info=tokenizer_info,
        overrides=overrides,
    )


def _resolved_commit(model_id: str, revision: str | None) -> str:
    """The commit the files came from: the cache keeps every snapshot under its commit hash."""
    return _snapshot_folder(model_id, revision).name


def _snapshot_folder(model_id: str, revision: str | None) -> Path:
    from transformers.utils import cached_file

    path = cached_file(model_id, "config.json", revision=revision, local_files_only=True)
    assert path is not None  # a missing file raises: _raise_exceptions_for_missing_entries is left on
    return Path(path).parent


def _loaded_weight_files(folder: Path) -> list[Path]:
    """The weight files transformers reads from ``folder``: safetensors where there are any (it
    prefers them), else the ``pytorch_model*.bin`` files."""
    return sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))


def stored_dtype(files: list[Path]) -> str | None:
    """The floating-point dtype(s) the checkpoint's tensors are stored in (``"float32"``,
    ``"bfloat16"``, ``"float16"``, or several joined by ``+``), read from the files' headers (a
    ``.bin`` is opened memory-mapped onto the meta device: no tensor data is read). ``None`` where
    the files cannot be read that way. Training runs in float32 masters whatever this says."""
    found: set[str] = set()
    try:
        for path in files:
            if path.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as handle:
                    for name in handle.keys():
                        found.add(str(handle.get_slice(name).get_dtype()))
            else:
                state = torch.load(path, map_location="meta", weights_only=True, mmap=True)
                found.update(
                    str(tensor.dtype).removeprefix("torch.")
                    for tensor in state.values()
                    if isinstance(tensor, torch.Tensor)
                )
    except Exception:  # an old (non-zip) .bin cannot be memory-mapped; the dtype goes unrecorded
        return None
    names = {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "F64": "float64"}
    floating = sorted({names.get(dtype, dtype) for dtype in found} & {"float32", "bfloat16", "float16", "float64"})
    return "+".join(floating) or None


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def _hub_what(kind: str, repo_id: str, revision: str | None) -> str:
    """How an error names a Hub look-up: what, which id, which revision, and for an id the user
    typed (not an alias's), that no folder has that name: ``owner/name`` reads as a relative path
    too, and a typo there is not the cache's fault."""
    pinned = f" at revision {revision!r}" if revision else ""
    typed = repo_id not in {preset.hub_id for preset in PRESETS.values()}
    return f"{kind} {repo_id!r}{pinned}" + (" (no folder of that name; looked up as a Hub id)" if typed else "")


def check_loaded_weights(model_id: str, model: nn.Module, info: dict) -> dict:
    """Stop on weights that do not fit the encoder; allow only a missing pooler (said loudly).

    Pretraining heads in the checkpoint (``cls.*``, ``predictions.*``, ...) are expected and
    ignored. Encoder weights the checkpoint lacks, or holds under names the encoder does not
    have, would leave those parts randomly initialised: a "pretrained" score from a partly random
    model. Returns what was found, for the result file.
    """
    mismatched = sorted(info.get("mismatched_keys") or [])
    if mismatched:
        shown = "; ".join(
            f"{name}: weights {tuple(stored)} vs config {tuple(expected)}" for name, stored, expected in mismatched[:3]
        )
        raise CnbenchError(f"{model_id}: {len(mismatched)} weights do not fit its config.json ({shown})")
    missing = sorted(info.get("missing_keys") or [])
    unexpected = sorted(info.get("unexpected_keys") or [])
    encoder_parts = {name.split(".")[0] for name in model.state_dict()}
    pooler_missing = [name for name in missing if name.startswith("pooler.")]
    problems = []
    if len(missing) > len(pooler_missing):
        absent = [name for name in missing if name not in pooler_missing]
        problems.append(f"{len(absent)} encoder weights missing ({_some(absent)})")
    prefix = getattr(model, "base_model_prefix", "") + "."  # encoder weights keep it when they match nothing
    stray = [name for name in unexpected if name.removeprefix(prefix).split(".")[0] in encoder_parts]
    if stray:
        problems.append(f"{len(stray)} encoder weights the model does not have ({_some(stray)})")
    if problems:
        raise CnbenchError(f"{model_id}: checkpoint does not match its encoder: {'; '.join(problems)}")
    if pooler_missing:
        pooler = "initialised randomly"  # the run says so loudly; the result records it
    else:
        pooler = "pretrained" if "pooler" in encoder_parts else "none (the model has no pooler)"
    return {"missing_keys": missing, "unexpected_keys": unexpected, "pooler": pooler}


def _some(names: list[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (f", ... {len(names) - shown} more" if len(names) > shown else "")


# Files a tokenizer with its own segmentation model ships; a checkpoint with none of them and a
# WordPiece vocab.txt is tokenised by BertTokenizer whatever its model_type says (Chinese
# RoBERTa- and ALBERT-class checkpoints ship BERT vocabularies).
OWN_TOKENIZER_MODELS = ("spiece.model", "sentencepiece.bpe.model", "tokenizer.model", "merges.txt")


def load_tokenizer(
    source: str, revision: str | None = None, local_only: bool = False
) -> tuple[PreTrainedTokenizerBase, dict]:
    """The tokenizer for ``source`` (folder or Hub id) and how it normalises text.

    A WordPiece vocabulary without upper-case Latin letters (every Chinese BERT-family model) is
    read lower-casing, as those models were pretrained: otherwise every capital letter becomes
    ``[UNK]`` under checkpoints whose files say ``do_lower_case: false``, and models would be
    compared under different normalisation. A WordPiece vocabulary with capitals keeps its case
    only when the checkpoint's ``tokenizer_config.json`` says ``do_lower_case: false``; without
    that file (ERNIE's conversion ships none) it is read lower-casing, as ``BertTokenizer`` reads
    it by default. Other tokenizers (sentencepiece, BPE) are loaded as their files say.
    """
    from transformers import AutoTokenizer, BertTokenizer

    from cnbench import hub

    def has(filename: str) -> str | None:
        from transformers.utils import cached_file

        try:
            return cached_file(
                source,
                filename,
                revision=revision,
                local_files_only=local_only,
                _raise_exceptions_for_missing_entries=False,
            )
        except (OSError, ValueError):
            return None

    try:
        vocab = has("vocab.txt")
        if vocab is not None and not any(has(name) for name in OWN_TOKENIZER_MODELS):
            lowercase = not _has_upper_case_latin(Path(vocab)) or _says_lower_case(has("tokenizer_config.json"))
            tokenizer = BertTokenizer.from_pretrained(
                source,
                do_lower_case=lowercase,
                # annotated str, but passed on to huggingface_hub, where None means the default branch
                revision=revision,  # type: ignore[arg-type]
                local_files_only=local_only,
            )
            normalization = "lowercase" if lowercase else "cased"
        else:
            if vocab is None and not any(has(name) for name in ("tokenizer.json", "vocab.json", *OWN_TOKENIZER_MODELS)):
                # AutoTokenizer would build a tokenizer of special tokens only: every character [UNK]
                raise OSError(
                    "no tokenizer files (vocab.txt, tokenizer.json, vocab.json or a "
                    "sentencepiece model); save them beside the weights with tokenizer.save_pretrained, "
                    "or pass --tokenizer"
                )
            tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, local_files_only=local_only)
            lowercase = bool(getattr(tokenizer, "do_lower_case", False))
            normalization = "lowercase" if lowercase else "as published"
    except (OSError, ValueError, TypeError) as err:
        if Path(source).expanduser().is_dir():  # a folder's own fault, never the cache's or the network's
            raise CnbenchError(f"tokenizer {source!r}: {first_line(err)}") from None
        raise hub.not_available(_hub_what("tokenizer", source, revision), err) from None
    info = {"source": source, "class": type(tokenizer).__name__, "lowercase": lowercase, "normalization": normalization}
    if not Path(source).expanduser().is_dir():  # a Hub id: the commit its files came from
        found = vocab or has("tokenizer.json") or has("tokenizer_config.json")
        info["revision"] = Path(found).parent.name if found else None
    else:  # a folder has no commit: what it held is named by the tokenizer's own fingerprint
        from cnbench.cache import tokenizer_fingerprint

        info["fingerprint"] = tokenizer_fingerprint(tokenizer)
    return tokenizer, info


def _says_lower_case(tokenizer_config: str | None) -> bool:
    """``do_lower_case`` as a ``tokenizer_config.json`` states it; ``BertTokenizer``'s default
    (true) when there is no such file or key."""
    if tokenizer_config is None:
        return True
    try:
        with open(tokenizer_config, encoding="utf-8") as handle:
            stated = json.load(handle).get("do_lower_case", True)
    except (OSError, ValueError, AttributeError) as err:
        raise CnbenchError(f"{tokenizer_config}: not a readable JSON object ({first_line(err)})") from None
    return stated is not False


def _has_upper_case_latin(vocab: Path) -> bool:
    """Whether any ordinary token has a capital A-Z (markers such as ``[CLS]`` or ``<S>`` do not count)."""
    with open(vocab, encoding="utf-8") as handle:
        for line in handle:
            token = line.strip()
            if token[:1] + token[-1:] in ("[]", "<>"):
                continue
            if any("A" <= char <= "Z" for char in token):
                return True
    return False


def check_vocabulary_fits(loaded: LoadedModel, overridden: bool = False) -> None:
    """A tokenizer whose ids run past the embedding table would crash inside the model (or, worse,
    index the wrong rows): refuse it before training, naming both sides. A ``--tokenizer`` whose
    vocabulary is smaller than the table fits, but may belong to another model (``--model ernie
    --tokenizer bert`` reads ERNIE's rows by BERT's ids): ``tokenizer_info["warning"]`` says so,
    for the run to print and the result to keep."""
    input_embeddings = getattr(loaded.encoder, "get_input_embeddings", None)
    embeddings = input_embeddings() if input_embeddings is not None else None
    if embeddings is None:
        return
    source, rows = loaded.tokenizer_info["source"], embeddings.num_embeddings
    largest = max(loaded.tokenizer.get_vocab().values())
    if largest >= rows:
        raise CnbenchError(
            f"tokenizer {source!r} ({loaded.tokenizer_info['class']}) produces ids up to "
            f"{largest}, but {loaded.provenance['alias']!r} has {rows} embedding rows: "
            "they do not belong together; pass --tokenizer with the checkpoint's vocabulary"
        )
    if overridden and len(loaded.tokenizer) != rows:
        loaded.tokenizer_info["warning"] = (
            f"tokenizer {source!r} has {len(loaded.tokenizer)} tokens and {loaded.provenance['alias']!r} "
            f"{rows} embedding rows: check that it is the vocabulary the model's embedding table was made for"
        )


def position_limit(encoder: nn.Module) -> int | None:
    """How many positions the encoder has learnt (the widest batch it can read), or ``None`` where
    any length fits: relative positions (NEZHA) or none at all (char-embed)."""
    embeddings = getattr(getattr(encoder, "model", None), "embeddings", None)
    table = getattr(embeddings, "position_embeddings", None)
    if table is None:
        return None
    padding_idx = getattr(embeddings, "padding_idx", None)  # RoBERTa-class positions start after it
    return table.num_embeddings - (padding_idx + 1 if padding_idx is not None else 0)


def check_length_fits(loaded: LoadedModel, max_len: int) -> int | None:
    """``--max-len`` beyond the encoder's learnt positions would crash only when the first long
    batch comes, maybe hours into a run: refuse it before training. Returns the position limit
    (``LoadedModel.max_positions``), which batches must also respect once padded
    (``cnbench.batching.collate``'s ``max_width``): sequences of at most ``max_len`` pieces, rounded
    up, could exceed it."""
    positions = loaded.max_positions
    if positions is not None and max_len > positions:
        raise CnbenchError(
            f"--max-len {max_len}: {loaded.provenance['alias']!r} has {positions} positions; "
            f"pass --max-len {positions} or less (longer NER sentences are windowed)"
        )
    return positions


MEAN_OF_EMBEDDINGS = (
    "mean of the character embeddings over the real tokens (learnt; char-embed has no context for [CLS])"
)


def sentence_vector(loaded: LoadedModel, pooler_trains: bool = True) -> str:
    """What the encoder hands a sentence-level head as ``pooled``, and whether it is learnt, for the
    result file. ``pooler_trains``: whether the strategy trains the pooler (``frozen``, ``adapter``
    and ``lora`` keep a pretrained one fixed).

    BERT-family models with a pooler give its output (dense + tanh on [CLS]). A checkpoint saved
    without pooler weights (RoBERTa-class MLM releases, MiniRBT) gets a freshly initialised pooler,
    which makes it the classification head of RoBERTa's own fine-tuning (dense + tanh on [CLS],
    learnt from scratch: it trains under every strategy). Transformers without a pooler (ELECTRA)
    give nothing, and heads read the [CLS] state directly, as ELECTRA's fine-tuning reads its first
    token. ``char-embed`` has no context to put in [CLS] (its first state is the [CLS] embedding,
    the same for every input): a sentence head reads the mean of its embeddings over the real tokens
    (``cnbench.tuning.MeanPooling``).
    """
    if not isinstance(loaded.encoder, TransformerEncoder):
        return MEAN_OF_EMBEDDINGS
    if getattr(getattr(loaded.encoder, "model", None), "pooler", None) is None:
        return "[CLS] hidden state (the encoder has no pooler)"
    if loaded.provenance.get("loading", {}).get("pooler") == "pretrained":
        described = "pooler output (pretrained dense + tanh on [CLS])"
        return described if pooler_trains else described[:-1] + ", kept frozen)"
    if not pooler_trains:  # a scratch preset's random pooler under --tuning frozen
        return "pooler output (dense + tanh on [CLS], initialised randomly and kept frozen)"
    return "pooler output (dense + tanh on [CLS], initialised randomly and learnt in fine-tuning)"


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
    """The model's weights as ``save_pretrained`` names them (sharded or not); other ``.bin`` files
    a training folder holds (``training_args.bin``) are no part of the model's identity."""
    return sorted([*folder.glob("*.safetensors"), *folder.glob("pytorch_model*.bin")])


def _config_summary(config, model: PreTrainedModel) -> dict:
    """The architecture, as built. ``embedding_size`` is the embeddings' width where it is narrower
    than the hidden size (factorised: ALBERT, ELECTRA-small), read from the model: some configs
    carry the key as a leftover (NEZHA's 128) that their architecture never uses."""
    keys = (
        "model_type",
        "num_hidden_layers",
        "hidden_size",
        "num_attention_heads",
        "intermediate_size",
        "vocab_size",
        "max_position_embeddings",
        "max_relative_position",
    )
    summary = {key: getattr(config, key) for key in keys if hasattr(config, key)}
    width = model.get_input_embeddings().embedding_dim
    if width != config.hidden_size:
        summary["embedding_size"] = width
    return summary
