"""A replica of the Hugging Face Hub repositories cnbench names, laid out in a local Hub cache.

Each repository is built from what its public card shows (``../shared/hub-facts.md`` collects
those facts with their sources, ``../shared/mrc-clue-facts.md`` §3 those of the reading
comprehension repositories): the files it holds, its config keys (leftovers included), its
tokenizer files, the weight names its checkpoint class saves, and its dataset features and quirks
(ClassLabel names, the empty trailing row of the NER loading scripts, the parquet conversion
branch). Sizes are tiny: 2 layers, 128 hidden, and a few real sentences per split. With
``HF_HUB_OFFLINE=1`` and this cache, ``cnbench run --model macbert --task lcqmc`` goes through
exactly the code a user on a connected machine goes through, from the snapshot lookup on.

Facts the cards do not show are marked UNVERIFIED where they are laid out:
- the exact text of the hfl repositories' ``special_tokens_map.json`` (the standard five-token
  map is laid out; its 112-byte size matches) and of their ``tokenizer.json`` (bert-base-chinese's
  is laid out: the same 269 kB size);
- whether hfl checkpoints name LayerNorm parameters ``gamma/beta`` or ``weight/bias``: both are
  laid out, on different repositories, and both must load;
- the weight names inside ``bert-base-chinese``'s ``model.safetensors``: inferred, laid out as its
  ``pytorch_model.bin`` holds them (``bert.`` prefix, ``LayerNorm.gamma/beta``), since the
  safetensors file (PR #6) has the ``.bin``'s size, i.e. is a conversion of the same tensors;
  and inside ``sijunhe/nezha-cn-base`` (the names cnbench's NEZHA classes save);
- C-MTEB/LCQMC's ``score`` type: ``lcqmc_score_dtype`` chooses int64 or float64;
- C-MTEB/LCQMC's card: inferred to be a ``push_to_hub`` card (``dataset_info`` with the features
  and ``configs`` with ``data/<split>-*``), as its sibling C-MTEB cards are and as its 729-byte
  size fits; see ``lcqmc``;
- the ELECTRA-base discriminator's config.json (559 B, text not seen): see ``ELECTRA_BASE_CONFIG``;
- the ``bert.embeddings.position_ids`` buffer in ``hfl/minirbt-h256``'s weights: inferred from its
  ``transformers_version`` 4.22.2, whose BERT saved that buffer (newer versions no longer do);
- the encoder families' repositories (ALBERT, ELECTRA, ERNIE, MiniRBT): see ``family_models``;
- the exact config.json texts of hfl/chinese-roberta-wwm-ext and hfl/chinese-macbert-base (their
  keys are reconstructed: bert-base-chinese's plus the extra keys laid out in ``all_models``);
- whether ``sijunhe/nezha-cn-base`` and ``voidful/albert_chinese_base`` store a pooler: their
  files' sizes say so, see ``nezha`` and ``albert``;
- the README texts of hfl/cmrc2018 and clue/clue beyond their license, ``dataset_info`` and
  ``configs`` sections (the sections cnbench and ``datasets`` read are laid out);
- that hfl/cmrc2018's ``test`` split is the CMRC trial set (its size says so; its ids were not seen);
- that clue/clue's ``drcd`` rows are DRCD's own files, test answers included (its sizes match them).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

TINY = dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=256)
NER_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]

# The config.json key sets the cards show (sizes replaced by TINY).
BERT_BASE_CHINESE_CONFIG = {
    "architectures": ["BertForMaskedLM"],
    "attention_probs_dropout_prob": 0.1,
    "directionality": "bidi",
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "pooler_fc_size": 768,
    "pooler_num_attention_heads": 12,
    "pooler_num_fc_layers": 3,
    "pooler_size_per_head": 128,
    "pooler_type": "first_token_transform",
    "type_vocab_size": 2,
    "vocab_size": 21128,
}
NEZHA_CONFIG = {
    "_name_or_path": "nezha-cn-base",
    "architectures": ["NeZhaForMaskedLM"],
    "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 2,
    "classifier_dropout": 0.1,
    "embedding_size": 128,
    "eos_token_id": 3,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "inner_group_num": 1,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "max_relative_position": 64,
    "model_type": "nezha",
    "num_attention_heads": 12,
    "num_hidden_groups": 1,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "torch_dtype": "float32",
    "transformers_version": "4.20.0.dev0",
    "type_vocab_size": 2,
    "use_cache": True,
    "use_relative_position": True,
    "vocab_size": 21128,
}
NEZHA_TOKENIZER_CONFIG = {
    "cls_token": "[CLS]",
    "do_basic_tokenize": True,
    "do_lower_case": True,
    "mask_token": "[MASK]",
    "name_or_path": "nezha-cn-base",
    "never_split": None,
    "pad_token": "[PAD]",
    "sep_token": "[SEP]",
    "special_tokens_map_file": None,
    "strip_accents": None,
    "tokenize_chinese_chars": True,
    "tokenizer_class": "BertTokenizer",
    "unk_token": "[UNK]",
}
# Values from derived copies, not read verbatim (hub-facts: UNVERIFIED as a text).
ALBERT_CHINESE_BASE_CONFIG = {
    "architectures": ["AlbertForMaskedLM"],
    "attention_probs_dropout_prob": 0,
    "bos_token_id": 2,
    "classifier_dropout_prob": 0.1,
    "down_scale_factor": 1,
    "embedding_size": 128,
    "eos_token_id": 3,
    "gap_size": 0,
    "hidden_act": "relu",
    "hidden_dropout_prob": 0,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "inner_group_num": 1,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-12,
    "layers_to_keep": [],
    "max_position_embeddings": 512,
    "model_type": "albert",
    "net_structure_type": 0,
    "num_attention_heads": 12,
    "num_hidden_groups": 1,
    "num_hidden_layers": 12,
    "num_memory_blocks": 0,
    "pad_token_id": 0,
    "type_vocab_size": 2,
    "vocab_size": 21128,
}
ALBERT_TOKENIZER_CONFIG = {
    "do_lower_case": True,
    "do_basic_tokenize": True,
    "never_split": None,
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
    "tokenize_chinese_chars": True,
    "strip_accents": None,
    "special_tokens_map_file": None,
    "tokenizer_file": None,
    "name_or_path": "voidful/albert_chinese_base",
    "tokenizer_class": "BertTokenizer",
}
# Reconstructed key set (byte count consistent only).
ELECTRA_SMALL_CONFIG = {
    "_num_labels": 2,
    "architectures": ["ElectraForPreTraining"],
    "attention_probs_dropout_prob": 0.1,
    "embedding_size": 128,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 256,
    "initializer_range": 0.02,
    "intermediate_size": 1024,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "electra",
    "num_attention_heads": 4,
    "num_hidden_layers": 12,
    "output_past": True,
    "pad_token_id": 0,
    "summary_activation": "gelu",
    "summary_last_dropout": 0.1,
    "summary_type": "first",
    "summary_use_proj": True,
    "type_vocab_size": 2,
    "vocab_size": 21128,
}
# UNVERIFIED: the base discriminator's config.json (559 B) was not seen. The small one's key set
# with base values makes 628 B, so the real file holds other keys. Laid out: the one subset of the
# small one's keys that keeps every key the model needs (embedding_size 768 included: without it
# ElectraConfig's default 128 would not fit the weights) and makes 559 B in the card's format
# (indent 2, keys sorted, trailing newline): without ``_num_labels``, ``pad_token_id`` (the
# default 0 stays in force) and ``summary_use_proj``. Inferred from the size only.
ELECTRA_BASE_CONFIG = {
    key: value
    for key, value in {
        **ELECTRA_SMALL_CONFIG,
        "embedding_size": 768,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_attention_heads": 12,
    }.items()
    if key not in ("_num_labels", "pad_token_id", "summary_use_proj")
}
ERNIE_3_BASE_CONFIG = {  # verbatim; no pad_token_id
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "initializer_range": 0.02,
    "max_position_embeddings": 2048,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "task_type_vocab_size": 3,
    "type_vocab_size": 4,
    "use_task_id": True,
    "vocab_size": 40000,
    "layer_norm_eps": 1e-05,
    "model_type": "ernie",
    "architectures": ["ErnieForMaskedLM"],
    "intermediate_size": 3072,
}
MINIRBT_H256_CONFIG = {  # verbatim values
    "_name_or_path": "hfl/MiniRBT-H256",
    "architectures": ["BertForMaskedLM"],
    "attention_probs_dropout_prob": 0.1,
    "classifier_dropout": None,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 256,
    "initializer_range": 0.02,
    "intermediate_size": 1024,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 8,
    "num_hidden_layers": 6,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "transformers_version": "4.22.2",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 21128,
}
HFL_SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}  # UNVERIFIED text (size matches)

# Commits the cards show; the task and model declarations pin the full ones.
COMMITS = {
    "google-bert/bert-base-chinese": None,  # only the short c30a6ed is on record: main is followed
    "hfl/chinese-bert-wwm-ext": "2a995a880017c60e4683869e817130d8af548486",
    "hfl/chinese-roberta-wwm-ext": "5c58d0b8ec1d9014354d691c538661bf00bfdb44",
    "hfl/chinese-macbert-base": "a986e004d2a7f2a1c2f5a3edef4e20604a974ed1",
    "sijunhe/nezha-cn-base": "bc68bfa5072f5c06055a2b59ba4858e9eea5183f",
    "voidful/albert_chinese_base": None,  # short 84609be only
    "hfl/chinese-electra-180g-base-discriminator": None,  # short 693c1a7 only
    "hfl/chinese-electra-180g-small-discriminator": None,  # short 826a243 only
    "nghuyong/ernie-3.0-base-zh": "8ad12310fa2e9668f9df5dd15e3857e374ab8147",
    "hfl/minirbt-h256": "446e1b4012b10946f479563005700c54c9db3f7c",
    "lansinuote/ChnSentiCorp": "b0c4c119c3fb33b8e735969202ef9ad13d717e5a",
    "C-MTEB/LCQMC": "17f9b096f80380fce5ed12a9be8be7784b337daf",
    "hfl/cmrc2018": "137f2c45a24275fb68f6961c4d357f46288886aa",  # "Convert dataset to Parquet (#4)"
    "clue/clue": "9bc980255c2fe8d2a9dda48c2001ace3101ad8f2",  # "Convert dataset to Parquet (#7)"
}

# The span-extraction features of both MRC repositories, as their cards' ``dataset_info`` lists
# them (the parquet conversion bot wrote ``sequence:``, which ``datasets`` still reads).
MRC_FEATURES = [
    {"name": "id", "dtype": "string"},
    {"name": "context", "dtype": "string"},
    {"name": "question", "dtype": "string"},
    {"name": "answers", "sequence": [{"name": "text", "dtype": "string"}, {"name": "answer_start", "dtype": "int32"}]},
]
# clue/clue's ClassLabel names (mrc-clue-facts §3.2): TNEWS' names are its category codes, so an
# index is not a code; the NLI order is the Hub's, not CLUE's baselines'.
CLUE_BINARY = ("0", "1")
TNEWS_CODES = ("100", "101", "102", "103", "104", "106", "107", "108", "109", "110", "112", "113", "114", "115", "116")
CLUE_NLI = ("neutral", "entailment", "contradiction")
CLUE_CONFIGS = ("drcd", "afqmc", "tnews", "iflytek", "cmnli", "ocnli", "cluewsc2020", "csl")

# The paragraphs whose questions the replicas hold, by the files' paragraph ids. Train takes other
# dev paragraphs than validation, since a train set that holds the evaluation data is refused.
CMRC_PARAGRAPHS = {
    "train": ("dev.json.gz", ("DEV_1", "DEV_2", "DEV_3")),
    # the first; a free-form answer (DEV_10_QUERY_2, start -1); the file's own misplaced starts
    # (DEV_101_QUERY_3); a leading space the Hub's strip removes (DEV_158_QUERY_1, answer 3)
    "validation": ("dev.json.gz", ("DEV_0", "DEV_10", "DEV_101", "DEV_158")),
    "test": ("trial.json.gz", ("TRIAL_800", "TRIAL_21")),  # TRIAL_21_QUERY_1 starts with a space
}
DRCD_PARAGRAPHS = {
    "train": ("dev.json.gz", ("1147-9", "1149-1")),
    "validation": ("dev.json.gz", ("1147-5", "1147-6")),
    "test": ("test.json.gz", ("1147-2", "1147-3")),
}


@dataclass
class HubConfig:
    """One configuration of a parquet dataset repository: its features as the card lists them and
    its rows per split, in the card's split order."""

    name: str
    features: list[dict]
    splits: dict[str, list[dict]]


def _commit_for(repo_id: str, revision: str) -> str:
    return hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()


class ReplicaHub:
    """Writes repositories into a Hugging Face Hub cache folder (``HF_HUB_CACHE``)."""

    def __init__(self, cache: Path, shared: Path):
        self.cache = Path(cache)
        self.shared = Path(shared)
        self.tokenizer_dir = self.shared / "models" / "bert-base-chinese-tokenizer"

    def repo(
        self, repo_type: str, repo_id: str, files: dict[str, bytes], revision: str = "main", commit: str | None = None
    ) -> Path:
        """Lay out ``files`` as the snapshot of ``revision`` (a branch or ref name, or a commit)."""
        commit = commit or _commit_for(repo_id, revision)
        folder = self.cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
        snapshot = folder / "snapshots" / commit
        for name, content in files.items():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / name).write_bytes(content)
        ref = folder / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit)
        return snapshot

    # -- models ---------------------------------------------------------------------------------

    def _tokenizer_files(self) -> dict[str, bytes]:
        return {name: (self.tokenizer_dir / name).read_bytes() for name in ("vocab.txt", "tokenizer.json")}

    def bert_weights(self, layer_norm_names: str = "weight", pooler: bool = True) -> dict:
        """A BERT pretraining checkpoint's state dict as the original checkpoints store it:
        ``bert.`` prefix, MLM and NSP heads, ``cls.predictions.bias`` without a decoder bias."""
        drop = ("cls.predictions.decoder.bias",) + (() if pooler else ("bert.pooler.",))
        return self._pretraining_checkpoint(
            "BertForPreTraining", {**BERT_BASE_CHINESE_CONFIG, **TINY}, drop, layer_norm_names
        )

    @staticmethod
    def _bin(state: dict) -> bytes:
        import io

        import torch

        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    @staticmethod
    def _safetensors(state: dict) -> bytes:
        from safetensors.torch import save

        return save(state)

    def bert_base_chinese(self) -> Path:
        config = {**BERT_BASE_CHINESE_CONFIG, **TINY}
        state = self.bert_weights("gamma")  # UNVERIFIED (inferred) names inside model.safetensors: the .bin's
        files = {
            "config.json": _json(config),
            "tokenizer_config.json": _json({"do_lower_case": False, "model_max_length": 512}),
            "model.safetensors": self._safetensors(state),
            "pytorch_model.bin": self._bin(state),
            "README.md": b"# bert-base-chinese\n",
            **self._tokenizer_files(),
        }
        return self.repo("model", "google-bert/bert-base-chinese", files)

    def hfl(self, repo_id: str, extra_config: dict, layer_norm_names: str, pooler: bool = True) -> Path:
        config = {**BERT_BASE_CHINESE_CONFIG, **extra_config, **TINY}
        files = {
            "config.json": _json(config),
            "tokenizer_config.json": _json({"init_inputs": []}),
            "added_tokens.json": b"{}",
            "special_tokens_map.json": _json(HFL_SPECIAL_TOKENS),
            "pytorch_model.bin": self._bin(self.bert_weights(layer_norm_names, pooler)),
            "README.md": b"# " + repo_id.encode() + b"\n",
            **self._tokenizer_files(),
        }
        return self.repo("model", repo_id, files, commit=COMMITS[repo_id], revision=COMMITS[repo_id])

    def nezha(self) -> Path:
        import torch

        import cnbench  # noqa: F401  (NEZHA classes)
        from cnbench.models.configuration_nezha import NezhaConfig
        from cnbench.models.nezha import NezhaForMaskedLM, NezhaModel

        config = {**NEZHA_CONFIG, **TINY}
        torch.manual_seed(0)
        known = {key: value for key, value in config.items() if not key.startswith("_") and key != "architectures"}
        model = NezhaForMaskedLM(NezhaConfig(**known))
        state = {name: tensor.clone().contiguous() for name, tensor in model.state_dict().items()}
        # The pooler is there although the architecture is an MLM class: the card's file size
        # (pytorch_model.bin, 410 MB) is the float32 size of the base encoder with pooler and MLM
        # head (409.96 MB), not without the pooler (407.59 MB). UNVERIFIED beyond that arithmetic.
        pooler = NezhaModel(NezhaConfig(**known)).pooler
        state.update({f"nezha.pooler.{name}": tensor.clone() for name, tensor in pooler.state_dict().items()})
        files = {
            "config.json": _json(config),
            "tokenizer_config.json": _json(NEZHA_TOKENIZER_CONFIG),
            "vocab.txt": (self.tokenizer_dir / "vocab.txt").read_bytes(),
            "pytorch_model.bin": self._bin(state),
            "README.md": b"# nezha-cn-base\n",
        }
        repo_id = "sijunhe/nezha-cn-base"
        return self.repo("model", repo_id, files, commit=COMMITS[repo_id], revision=COMMITS[repo_id])

    def _model_repo(self, repo_id: str, files: dict[str, bytes]) -> Path:
        commit = COMMITS[repo_id]
        return self.repo(
            "model",
            repo_id,
            {**files, "README.md": b"# " + repo_id.encode() + b"\n"},
            revision=commit or "main",
            commit=commit,
        )

    @staticmethod
    def _pretraining_checkpoint(
        class_name: str, config: dict, drop: tuple[str, ...] = (), layer_norm_names: str = "weight"
    ) -> dict:
        """The state dict of ``transformers.<class_name>`` (a pretraining class, tiny), as saved."""
        import torch
        import transformers

        model_class = getattr(transformers, class_name)
        known = {key: value for key, value in config.items() if not key.startswith("_") and key != "architectures"}
        torch.manual_seed(0)
        model = model_class(model_class.config_class(**known))
        state = {}
        for name, tensor in model.state_dict().items():
            if name.startswith(drop):
                continue
            if layer_norm_names == "gamma":
                name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
            state[name] = tensor.clone().contiguous()
        return state

    def albert(self) -> Path:
        """voidful/albert_chinese_base: BERT vocabulary, ``BertTokenizer`` named in its tokenizer
        config, MLM head ``predictions.*``, no ``sop_classifier``. ``albert.pooler.*`` is stored
        although the architecture is ``AlbertForMaskedLM``: the card's file size (42.7 MB) is the
        float32 size of the base model with pooler (42.67 MB), not without (40.31 MB). UNVERIFIED
        beyond that arithmetic."""
        # The embedding keeps its ratio to the hidden size (128 of 768), so the factorised embedding's
        # projection up to the hidden size (encoder.embedding_hidden_mapping_in) runs as in the real model.
        card = ALBERT_CHINESE_BASE_CONFIG
        embedding = card["embedding_size"] * TINY["hidden_size"] // card["hidden_size"]
        config = {**ALBERT_CHINESE_BASE_CONFIG, **TINY, "embedding_size": embedding}
        state = self._pretraining_checkpoint("AlbertForPreTraining", config, drop=("sop_classifier",))
        return self._model_repo(
            "voidful/albert_chinese_base",
            {
                "config.json": _json(config),
                "tokenizer_config.json": _json(ALBERT_TOKENIZER_CONFIG),
                "special_tokens_map.json": _json(HFL_SPECIAL_TOKENS),
                "vocab.txt": self._tokenizer_files()["vocab.txt"],
                "model.safetensors": self._safetensors(state),
                "pytorch_model.bin": self._bin(state),
            },
        )

    def electra(self, repo_id: str, config: dict) -> Path:
        """An hfl ELECTRA discriminator: ``electra.*`` backbone (no pooler) beside
        ``discriminator_predictions.*``, hfl's usual tokenizer files."""
        # The embedding keeps its ratio to the hidden size (small: 128 of 256, so a projection).
        embedding = config["embedding_size"] * TINY["hidden_size"] // config["hidden_size"]
        config = {**config, **TINY, "embedding_size": embedding}
        state = self._pretraining_checkpoint("ElectraForPreTraining", config)
        return self._model_repo(
            repo_id,
            {
                "config.json": _json(config),
                "tokenizer_config.json": _json({"init_inputs": []}),
                "added_tokens.json": b"{}",
                "special_tokens_map.json": _json(HFL_SPECIAL_TOKENS),
                "pytorch_model.bin": self._bin(state),
                **self._tokenizer_files(),
            },
        )

    def ernie(self) -> Path:
        """nghuyong/ernie-3.0-base-zh: config and vocab.txt only, 40,000 entries. The replica's
        vocab.txt is bert-base-chinese's 21,128 entries then ``[replica-N]`` fillers up to 40,000
        (UNVERIFIED: the real 187 kB file has another order; its ``[PAD]`` is taken to be id 0, the
        default the config leaves in force). Weight names as the converter writes them (``ernie.``
        prefix, ``gamma``/``beta``, pooler, ``cls.predictions.transform.*``, no decoder, no NSP
        head): inferred from the converter, not read from the file."""
        config = {**ERNIE_3_BASE_CONFIG, **TINY}
        state = self._pretraining_checkpoint(
            "ErnieForPreTraining",
            config,
            layer_norm_names="gamma",
            drop=("cls.seq_relationship", "cls.predictions.decoder"),
        )
        words = (self.tokenizer_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
        words += [f"[replica-{i}]" for i in range(ERNIE_3_BASE_CONFIG["vocab_size"] - len(words))]
        return self._model_repo(
            "nghuyong/ernie-3.0-base-zh",
            {
                "config.json": _json(config),
                "vocab.txt": ("\n".join(words) + "\n").encode(),
                "pytorch_model.bin": self._bin(state),
            },
        )

    def minirbt(self) -> Path:
        """hfl/minirbt-h256: config, vocab.txt and weights only. UNVERIFIED weight names: laid out as
        ``BertForMaskedLM`` (its architectures) saves them, so without a pooler, and, as transformers
        4.22.2 (its ``transformers_version``) saved BERT, with the ``bert.embeddings.position_ids``
        buffer that newer versions no longer store (inferred from the version)."""
        import torch

        config = {**MINIRBT_H256_CONFIG, **TINY}
        state = self._pretraining_checkpoint("BertForMaskedLM", config)
        state["bert.embeddings.position_ids"] = torch.arange(config["max_position_embeddings"]).unsqueeze(0)
        return self._model_repo(
            "hfl/minirbt-h256",
            {
                "config.json": _json(config),
                "vocab.txt": self._tokenizer_files()["vocab.txt"],
                "pytorch_model.bin": self._bin(state),
            },
        )

    def family_models(self) -> None:
        self.albert()
        self.electra("hfl/chinese-electra-180g-base-discriminator", ELECTRA_BASE_CONFIG)
        self.electra("hfl/chinese-electra-180g-small-discriminator", ELECTRA_SMALL_CONFIG)
        self.ernie()
        self.minirbt()

    def all_models(self) -> None:
        self.bert_base_chinese()
        self.hfl("hfl/chinese-bert-wwm-ext", {"output_past": True}, layer_norm_names="gamma")
        self.hfl(
            "hfl/chinese-roberta-wwm-ext",
            {"output_past": True, "bos_token_id": 0, "eos_token_id": 2},
            layer_norm_names="weight",
        )
        self.hfl("hfl/chinese-macbert-base", {"gradient_checkpointing": False}, layer_norm_names="gamma")
        self.nezha()
        self.family_models()

    # -- datasets -------------------------------------------------------------------------------

    def _rows(self, task: str, split_file: str, count: int, skip: int = 0) -> list[list[str]]:
        """``count`` rows of a bundle file after its first ``skip``: a replica's train split takes
        dev's rows after those its validation split holds, since a train set that holds the
        evaluation data is refused."""
        with gzip.open(self.shared / "data" / task / split_file, "rt", encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        return [line.split("\t") for line in lines[1 + skip : 1 + skip + count]]

    def _sentences(self, task: str, split_file: str, count: int) -> list[tuple[list[str], list[str]]]:
        with gzip.open(self.shared / "data" / task / split_file, "rt", encoding="utf-8") as handle:
            blocks = handle.read().strip("\n").split("\n\n")[:count]
        return [
            ([line.split(" ")[0] for line in block.split("\n")], [line.split(" ")[1] for line in block.split("\n")])
            for block in blocks
        ]

    @staticmethod
    def _parquet(rows: list[dict], features) -> bytes:
        import io

        from datasets import Dataset

        buffer = io.BytesIO()
        Dataset.from_list(rows, features=features).to_parquet(buffer)
        return buffer.getvalue()

    def chnsenticorp(self, count: int = 24) -> Path:
        from datasets import Features, Value

        names = ["negative", "positive"]
        infos = {
            "lansinuote--ChnSentiCorp": {
                "config_name": "default",
                "features": {
                    "text": {"dtype": "string", "_type": "Value"},
                    "label": {"names": names, "_type": "ClassLabel"},
                },
                # 9,600 / 1,200 / 1,200 on the Hub; the replica's own counts here, which datasets verifies
                "splits": {split: {"name": split, "num_examples": count} for split in ("train", "validation", "test")},
            }
        }
        # The parquet files carry the label as a plain int64 (a re-saved copy shows this quirk);
        # the names live in dataset_infos.json.
        features = Features({"text": Value("string"), "label": Value("int64")})
        hashes = {"train": "02f200ca5f2a7868", "validation": "405befbaa3bcf1a2", "test": "5372924f059fe767"}
        files = {"dataset_infos.json": _json(infos), ".gitattributes": b"*.parquet filter=lfs\n"}
        for split, local, skip in (
            ("train", "dev.tsv.gz", count),
            ("validation", "dev.tsv.gz", 0),
            ("test", "test.tsv.gz", 0),
        ):
            rows = [
                {"text": text, "label": int(label)} for label, text in self._rows("chnsenticorp", local, count, skip)
            ]
            files[f"data/{split}-00000-of-00001-{hashes[split]}.parquet"] = self._parquet(rows, features)
        repo_id = "lansinuote/ChnSentiCorp"
        return self.repo("dataset", repo_id, files, commit=COMMITS[repo_id], revision=COMMITS[repo_id])

    def lcqmc(self, score_dtype: str = "int64", count: int = 24, commit: str | None = None) -> Path:
        from datasets import Features, Value

        """C-MTEB/LCQMC as ``push_to_hub`` leaves a repository (UNVERIFIED, inferred: its sibling
        C-MTEB cards are such cards, and the 729-byte README fits one with three splits): hashed
        parquet names under ``data/`` and a card whose ``dataset_info`` declares the features,
        ``score`` as ``score_dtype`` (its type is not confirmed: int64 or float64), and whose
        ``configs`` maps each split to ``data/<split>-*``."""
        import yaml
        from datasets import Dataset

        features = Features({"sentence1": Value("string"), "sentence2": Value("string"), "score": Value(score_dtype)})
        cast = float if score_dtype.startswith("float") else int
        files = {}
        hashes = {"train": "83493a6b9e29a4d0", "validation": "ae04bea7d65ea894", "test": "cb3f2553acbb3663"}
        splits = []
        for split, local, skip in (
            ("train", "dev.tsv.gz", count),
            ("validation", "dev.tsv.gz", 0),
            ("test", "test.tsv.gz", 0),
        ):
            rows = [
                {"sentence1": a, "sentence2": b, "score": cast(label)}
                for a, b, label in self._rows("lcqmc", local, count, skip)
            ]
            files[f"data/{split}-00000-of-00001-{hashes[split]}.parquet"] = self._parquet(rows, features)
            splits.append(
                {
                    "name": split,
                    "num_bytes": Dataset.from_list(rows, features=features).data.nbytes,
                    "num_examples": len(rows),
                }
            )
        info = {
            "features": [
                {"name": name, "dtype": dtype}
                for name, dtype in (("sentence1", "string"), ("sentence2", "string"), ("score", score_dtype))
            ],
            "splits": splits,
            "download_size": sum(len(data) for data in files.values()),
            "dataset_size": sum(split["num_bytes"] for split in splits),
        }
        configs = [
            {
                "config_name": "default",
                "data_files": [{"split": split["name"], "path": f"data/{split['name']}-*"} for split in splits],
            }
        ]
        card = yaml.safe_dump({"dataset_info": info, "configs": configs}, sort_keys=False)
        files["README.md"] = f"---\n{card}---\n".encode()
        commit = commit or COMMITS["C-MTEB/LCQMC"]
        return self.repo("dataset", "C-MTEB/LCQMC", files, commit=commit, revision=commit)

    def xnli(self, count: int = 24) -> Path:
        from datasets import ClassLabel, Features, Value

        names = ["entailment", "neutral", "contradiction"]
        features = Features(
            {"premise": Value("string"), "hypothesis": Value("string"), "label": ClassLabel(names=names)}
        )
        # The card lists ``all_languages`` first, then the languages in order. A download of ``zh/*``
        # (the task's ``files``) holds no ``all_languages`` file, so none is laid out here; ``en`` is,
        # so that choosing the configuration must matter.
        card = ["---", "configs:", "- config_name: all_languages", "  data_files:"]
        card += [
            line
            for split in ("train", "test", "validation")
            for line in (f"  - split: {split}", f"    path: all_languages/{split}-*")
        ]
        files = {}
        for language in ("en", "zh"):
            card += [f"- config_name: {language}", "  data_files:"]
            for split, local, skip in (
                ("train", "dev.tsv.gz", count),
                ("test", "test.tsv.gz", 0),
                ("validation", "dev.tsv.gz", 0),
            ):
                card += [f"  - split: {split}", f"    path: {language}/{split}-*"]
                rows = [
                    {"premise": p if language == "zh" else "en " + p, "hypothesis": h, "label": names.index(label)}
                    for p, h, label in self._rows("xnli_zh", local, count, skip)
                ]
                files[f"{language}/{split}-00000-of-00001.parquet"] = self._parquet(rows, features)
        files["README.md"] = ("\n".join(card + ["---", "# XNLI", ""])).encode()
        return self.repo("dataset", "facebook/xnli", files)

    def _ner_features(self):
        from datasets import ClassLabel, Features, Sequence, Value

        return Features(
            {
                "id": Value("string"),
                "tokens": Sequence(Value("string")),
                "ner_tags": Sequence(ClassLabel(names=NER_NAMES)),
            }
        )

    def _ner_rows(self, sentences) -> list[dict]:
        rows = [
            {"id": str(i), "tokens": chars, "ner_tags": [NER_NAMES.index(tag) for tag in tags]}
            for i, (chars, tags) in enumerate(sentences)
        ]
        # The loading scripts yield their last example unconditionally: an empty trailing row.
        return rows + [{"id": str(len(rows)), "tokens": [], "ner_tags": []}]

    def msra(self, count: int = 24) -> Path:
        """``main`` holds only the loading script; the Hub's parquet conversion holds the data."""
        script = b"# loading script (datasets no longer runs these)\n"
        self.repo(
            "dataset",
            "levow/msra_ner",
            {"README.md": b"# msra_ner\n", "msra_ner.py": script, "dataset_infos.json": b"{}"},
        )
        train = self._sentences("msra_ner", "train.txt.gz", count)
        # A whole-sentence cut starts no entity with I-: one chunk-style I- start is kept here so
        # that the BIO repair of Hub rows is exercised as well.
        first = next(i for i, (_, tags) in enumerate(train) if any(tag.startswith("B-") for tag in tags))
        chars, tags = train[first]
        opening = next(i for i, tag in enumerate(tags) if tag.startswith("B-"))
        train[first] = (chars, [("I-" + tag[2:]) if i == opening else tag for i, tag in enumerate(tags)])
        files = {
            "msra_ner/train/0000.parquet": self._parquet(self._ner_rows(train), self._ner_features()),
            "msra_ner/test/0000.parquet": self._parquet(
                self._ner_rows(self._sentences("msra_ner", "test.txt.gz", count)), self._ner_features()
            ),
        }
        return self.repo("dataset", "levow/msra_ner", files, revision="refs/convert/parquet")

    def peoples_daily_script_repo(self) -> Path:
        return self.repo(
            "dataset",
            "peoples-daily-ner/peoples_daily_ner",
            {"README.md": b"# peoples_daily_ner\n", "peoples_daily_ner.py": b"# loading script\n"},
        )

    def _mrc_rows(self, task: str, split_file: str, paragraph_ids: tuple[str, ...]) -> list[dict]:
        """The questions of those paragraphs of a SQuAD-v1 bundle file, in file order, as the Hub's
        loaders yield them: context, question and every answer text ``.strip()``ped while
        ``answer_start`` stays where it was (hfl/cmrc2018's and clue's scripts, which the parquet
        conversions ran), so an answer that lost leading whitespace starts on that whitespace."""
        with gzip.open(self.shared / "data" / task / split_file, "rt", encoding="utf-8") as handle:
            document = json.load(handle)
        wanted = set(paragraph_ids)
        return [
            {
                "id": question["id"],
                "context": paragraph["context"].strip(),
                "question": question["question"].strip(),
                "answers": {
                    "text": [answer["text"].strip() for answer in question["answers"]],
                    "answer_start": [answer["answer_start"] for answer in question["answers"]],
                },
            }
            for article in document["data"]
            for paragraph in article["paragraphs"]
            if paragraph["id"] in wanted
            for question in paragraph["qas"]
        ]

    def _parquet_dataset(self, repo_id: str, configs: list[HubConfig], card_header: dict, title: str) -> Path:
        """A repository after a parquet conversion: ``<folder>/<split>-00000-of-00001.parquet`` per
        configuration (folder ``data`` for the lone ``default`` one, else the configuration's name)
        and a card whose ``dataset_info`` and ``configs`` are written as ``push_to_hub`` writes them:
        one mapping for a lone default configuration, else a list of them, each with its name."""
        import yaml
        from datasets import Dataset, Features

        files, infos, entries = {}, [], []
        for config in configs:
            folder = "data" if config.name == "default" else config.name
            features = Features._from_yaml_list(config.features)  # what datasets reads from this card
            # The replica's own sizes, which datasets checks against the rows (the Hub's are in the facts).
            info = {"config_name": config.name, "features": config.features, "splits": []}
            for split, rows in config.splits.items():
                files[f"{folder}/{split}-00000-of-00001.parquet"] = self._parquet(rows, features)
                num_bytes = Dataset.from_list(rows, features=features).data.nbytes
                info["splits"].append({"name": split, "num_bytes": num_bytes, "num_examples": len(rows)})
            info["download_size"] = sum(len(data) for name, data in files.items() if name.startswith(f"{folder}/"))
            info["dataset_size"] = sum(split["num_bytes"] for split in info["splits"])
            infos.append(info)
            entries.append(
                {
                    "config_name": config.name,
                    "data_files": [{"split": split, "path": f"{folder}/{split}-*"} for split in config.splits],
                }
            )
        lone_default = len(configs) == 1 and configs[0].name == "default"
        dataset_info = (
            {key: value for key, value in infos[0].items() if key != "config_name"} if lone_default else infos
        )
        card = yaml.safe_dump(
            {**card_header, "dataset_info": dataset_info, "configs": entries}, sort_keys=False, allow_unicode=True
        )
        files["README.md"] = f"---\n{card}---\n\n# {title}\n".encode()
        files[".gitattributes"] = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
        return self.repo("dataset", repo_id, files, commit=COMMITS[repo_id], revision=COMMITS[repo_id])

    def cmrc2018(self) -> Path:
        """hfl/cmrc2018 at its parquet conversion: a lone ``default`` configuration, its ``test``
        split the trial set (1,002 questions on the Hub, as trial has)."""
        splits = {
            split: self._mrc_rows("cmrc2018", local, paragraphs)
            for split, (local, paragraphs) in CMRC_PARAGRAPHS.items()
        }
        return self._parquet_dataset(
            "hfl/cmrc2018", [HubConfig("default", MRC_FEATURES, splits)], {"license": "cc-by-sa-4.0"}, "CMRC 2018"
        )

    def clue_drcd(self) -> HubConfig:
        """clue/clue's ``drcd`` configuration: DRCD (Traditional Chinese) with the features of
        cmrc2018 and the same strip; DRCD's answer ids are not kept."""
        return HubConfig(
            "drcd",
            MRC_FEATURES,
            {
                split: self._mrc_rows("drcd", local, paragraphs)
                for split, (local, paragraphs) in DRCD_PARAGRAPHS.items()
            },
        )

    # -- clue/clue's classification configurations (mrc-clue-facts §3.2: columns, ClassLabel names
    # in index order, -1 labels on test). Rows are invented (OCNLI's come from its real files);
    # each split takes its own rows, so no train row is an evaluation row.

    @staticmethod
    def _class_label(name: str, names) -> dict:
        return {"name": name, "dtype": {"class_label": {"names": {str(i): label for i, label in enumerate(names)}}}}

    @staticmethod
    def _clue_rows(make, counts=(("train", 24), ("validation", 8), ("test", 6))) -> dict[str, list[dict]]:
        """``make(i, labelled) -> row`` per split, numbers apart; ``idx`` is the row's line number,
        and test rows carry label -1, as clue.py wrote them."""
        splits = {}
        for offset, (split, count) in enumerate(counts):
            splits[split] = [{**make(offset * 100 + i, split != "test"), "idx": i} for i in range(count)]
        return splits

    @staticmethod
    def _clue_text(i: int) -> str:
        people, things = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆"), ("花呗", "借呗", "余额宝", "信用卡", "账单")
        return f"{people[i % 6]}的{things[i % 5]}第{i}次怎么还款"

    def clue_afqmc(self) -> HubConfig:
        features = [
            {"name": "sentence1", "dtype": "string"},
            {"name": "sentence2", "dtype": "string"},
            self._class_label("label", CLUE_BINARY),
            {"name": "idx", "dtype": "int32"},
        ]
        return HubConfig(
            "afqmc",
            features,
            self._clue_rows(
                lambda i, labelled: {
                    "sentence1": self._clue_text(i),
                    "sentence2": self._clue_text(i + 7),
                    "label": i % 2 if labelled else -1,
                }
            ),
        )

    def clue_tnews(self) -> HubConfig:
        features = [
            {"name": "sentence", "dtype": "string"},
            self._class_label("label", TNEWS_CODES),
            {"name": "idx", "dtype": "int32"},
        ]
        return HubConfig(
            "tnews",
            features,
            self._clue_rows(
                lambda i, labelled: {"sentence": f"新闻标题：{self._clue_text(i)}", "label": i % 15 if labelled else -1}
            ),
        )

    def clue_iflytek(self) -> HubConfig:
        features = [
            {"name": "sentence", "dtype": "string"},
            self._class_label("label", [str(code) for code in range(119)]),
            {"name": "idx", "dtype": "int32"},
        ]
        return HubConfig(
            "iflytek",
            features,
            self._clue_rows(
                lambda i, labelled: {
                    "sentence": f"这款应用可以查询{self._clue_text(i)}",
                    "label": (i * 7) % 119 if labelled else -1,
                }
            ),
        )

    def _clue_nli(self, name: str, make) -> HubConfig:
        features = [
            {"name": "sentence1", "dtype": "string"},
            {"name": "sentence2", "dtype": "string"},
            self._class_label("label", CLUE_NLI),
            {"name": "idx", "dtype": "int32"},
        ]
        # 60 train rows: the task holds out every 50th for choosing the epoch
        return HubConfig(name, features, self._clue_rows(make, (("train", 60), ("validation", 8), ("test", 6))))

    def clue_cmnli(self) -> HubConfig:
        return self._clue_nli(
            "cmnli",
            lambda i, labelled: {
                "sentence1": self._clue_text(i),
                "sentence2": f"有人问了第{i}次",
                "label": i % 3 if labelled else -1,
            },
        )

    def clue_ocnli(self) -> HubConfig:
        """Real OCNLI pairs: train from train.10k, validation from dev, test from test; the ``-`` rows
        are absent, as clue.py dropped them."""

        def lines(name: str) -> list[dict]:
            with gzip.open(self.shared / "data" / "ocnli" / name, "rt", encoding="utf-8") as handle:
                return [json.loads(line) for line in handle.read().split("\n") if line]

        def rows(records: list[dict], count: int) -> list[dict]:
            kept = [record for record in records if record.get("label", "") != "-"][:count]
            return [
                {
                    "sentence1": r["sentence1"],
                    "sentence2": r["sentence2"],
                    "label": CLUE_NLI.index(r["label"]) if "label" in r else -1,
                    "idx": i,
                }
                for i, r in enumerate(kept)
            ]

        features = [
            {"name": "sentence1", "dtype": "string"},
            {"name": "sentence2", "dtype": "string"},
            self._class_label("label", CLUE_NLI),
            {"name": "idx", "dtype": "int32"},
        ]
        return HubConfig(
            "ocnli",
            features,
            {
                "train": rows(lines("train.10k.json.gz"), 24),
                "validation": rows(lines("dev.json.gz"), 8),
                "test": rows(lines("test.json.gz"), 6),
            },
        )

    def clue_cluewsc2020(self) -> HubConfig:
        features = [
            {"name": "idx", "dtype": "int32"},
            {"name": "text", "dtype": "string"},
            self._class_label("label", ("true", "false")),
            {
                "name": "target",
                "struct": [
                    {"name": "span1_text", "dtype": "string"},
                    {"name": "span2_text", "dtype": "string"},
                    {"name": "span1_index", "dtype": "int32"},
                    {"name": "span2_index", "dtype": "int32"},
                ],
            },
        ]

        def make(i: int, labelled: bool) -> dict:
            person = ("张伟", "王芳", "李娜", "刘洋")[i % 4]
            text = f"{person}把伞借给了朋友，因为他第{i}次忘了带。"
            return {
                "text": text,
                "label": i % 2 if labelled else -1,
                "target": {"span1_text": person, "span2_text": "他", "span1_index": 0, "span2_index": text.index("他")},
            }

        return HubConfig("cluewsc2020", features, self._clue_rows(make))

    def clue_csl(self) -> HubConfig:
        features = [
            {"name": "idx", "dtype": "int32"},
            {"name": "corpus_id", "dtype": "int32"},
            {"name": "abst", "dtype": "string"},
            self._class_label("label", CLUE_BINARY),
            {"name": "keyword", "sequence": "string"},
        ]
        return HubConfig(
            "csl",
            features,
            self._clue_rows(
                lambda i, labelled: {
                    "corpus_id": 1000 + i,
                    "abst": f"本文研究{self._clue_text(i)}的问题。",
                    "label": i % 2 if labelled else -1,
                    "keyword": ["还款", f"模型{i}"],
                }
            ),
        )

    def clue(self, configs: tuple[str, ...] = ("drcd",)) -> Path:
        """clue/clue at its parquet conversion, holding the configurations named: each is built by
        its ``clue_<name>`` method (a configuration not laid out is absent from files and card)."""
        return self._parquet_dataset("clue/clue", [getattr(self, f"clue_{name}")() for name in configs], {}, "CLUE")

    def all_datasets(self, lcqmc_score_dtype: str = "int64") -> None:
        self.chnsenticorp()
        self.lcqmc(lcqmc_score_dtype)
        self.xnli()
        self.msra()
        self.peoples_daily_script_repo()
        self.cmrc2018()
        self.clue(CLUE_CONFIGS)


def _json(document: dict) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
