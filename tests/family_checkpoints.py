"""Tiny local checkpoints of every encoder family cnbench supports, saved as their Hub repositories
ship them (weights via ``save_pretrained`` of the base model, tokenizer files beside them).

Families with a BERT vocabulary get the bundle's ``vocab.txt`` only (the Chinese checkpoints ship
it, and cnbench reads it with ``BertTokenizer``). XLM-R ships its own sentencepiece vocabulary;
building a ``sentencepiece.bpe.model`` needs the ``sentencepiece`` trainer, which cnbench does not
depend on, so its checkpoint gets what ``transformers`` 5 reads first: a ``tokenizer.json``
(Unigram model, Metaspace pre-tokenizer, ``<s> ... </s></s> ... </s>`` template), trained here on
the bundle's ChnSentiCorp dev text with the ``tokenizers`` library.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

SIZE = dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64)
FAMILIES = ("bert", "roberta", "albert", "electra", "ernie", "megatron-bert", "xlm-roberta", "nezha")


def build(family: str, folder: Path, shared: Path, dtype: str | None = None, **config_options) -> Path:
    """Save a randomly initialised ``family`` base model and its tokenizer files into ``folder``;
    ``dtype`` (``"bfloat16"``, ``"float16"``) saves the weights in that dtype, as many Hub
    checkpoints are stored; ``config_options`` override the family's config."""
    import torch
    from transformers import AutoConfig, AutoModel

    import cnbench  # noqa: F401  (registers NEZHA with the Auto classes)

    folder.mkdir(parents=True, exist_ok=True)
    vocab = (shared / "models" / "bert-base-chinese-tokenizer" / "vocab.txt").read_bytes()
    size = len(vocab.decode("utf-8").splitlines())
    options = {
        "bert": dict(type_vocab_size=2),
        # RoBERTa class with a BERT vocabulary (Chinese RoBERTa-style releases): one token type,
        # positions offset past the padding id, and saved without a pooler.
        "roberta": dict(type_vocab_size=1, pad_token_id=0, max_position_embeddings=66),
        "albert": dict(embedding_size=16, type_vocab_size=2),
        "electra": dict(embedding_size=16, type_vocab_size=2),
        "ernie": dict(type_vocab_size=4, use_task_id=True, task_type_vocab_size=3),
        "megatron-bert": dict(type_vocab_size=2),
        "nezha": dict(type_vocab_size=2, max_relative_position=8),
    }
    if family == "xlm-roberta":
        size = _xlmr_tokenizer(folder, shared)
        extra = dict(type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, max_position_embeddings=66)
    else:
        (folder / "vocab.txt").write_bytes(vocab)
        extra = options[family]
    config = AutoConfig.for_model(family, vocab_size=size, **{**SIZE, **extra, **config_options})
    torch.manual_seed(0)
    model = AutoModel.from_config(config)
    if family == "roberta":
        model.pooler = None  # a checkpoint without pooler weights, as RoBERTa MLM releases are
    if dtype is not None:
        model.to(getattr(torch, dtype))
    model.save_pretrained(folder)
    return folder


def _xlmr_tokenizer(folder: Path, shared: Path) -> int:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    with gzip.open(shared / "data" / "chnsenticorp" / "dev.tsv.gz", "rt", encoding="utf-8") as handle:
        texts = [line.split("\t", 1)[-1] for line in handle.read().splitlines()[1:200]]
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=3000, special_tokens=specials, unk_token="<unk>")
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.add_special_tokens(["<mask>"])
    ids = {token: tokenizer.token_to_id(token) for token in ("<s>", "</s>")}
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=list(ids.items())
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "XLMRobertaTokenizer",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "sep_token": "</s>",
                "cls_token": "<s>",
                "unk_token": "<unk>",
                "pad_token": "<pad>",
                "mask_token": "<mask>",
            }
        )
    )
    return tokenizer.get_vocab_size()
