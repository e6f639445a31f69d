"""Build ``tests/fixtures/nezha-tiny/``: a tiny NEZHA checkpoint plus the reference implementation's outputs.

The reference is the NEZHA that transformers shipped up to 4.x (``transformers.models.deprecated.nezha``),
so this script runs in its own throwaway environment, never in cnbench's::

    python3 -m venv /tmp/nezha-ref
    /tmp/nezha-ref/bin/pip install torch==2.13.0 transformers==4.57.6
    /tmp/nezha-ref/bin/python scripts/make_nezha_fixture.py            # from the repository root

It writes, with ``save_pretrained``, a randomly initialised ``NezhaForPreTraining`` (the layout of the
released checkpoints: ``nezha.*`` with pooler, ``cls.predictions.*``, ``cls.seq_relationship.*``) and
``expected.safetensors`` holding the inputs and outputs ``tests/test_nezha.py`` compares against:

- ``input_ids``, ``attention_mask``, ``token_type_ids``: a padded ``[3, 16]`` batch. 16 tokens is
  more than ``2 * max_relative_position + 1 = 9``, so distance clipping is exercised.
- ``last_hidden_state``, ``pooler_output``, ``mlm_logits``: reference outputs in eval mode.
- ``long_*``: a ``[2, 40]`` batch, longer than the config's ``max_position_embeddings = 32``, and the
  reference's ``last_hidden_state`` for it. The reference can only run it with a larger
  ``max_position_embeddings``; that value only sizes its precomputed relative table, never a weight,
  so the same weights give the outputs any length-agnostic implementation must reproduce.

Weights are redrawn with a larger spread than NEZHA's 0.02 initialisation: with near-zero queries the
relative-position terms would vanish below the test tolerance, and a wrong sinusoid layout would pass.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from transformers.models.deprecated.nezha import NezhaConfig, NezhaForPreTraining

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nezha-tiny"
SEED = 20240917


def build_config(**overrides) -> NezhaConfig:
    params = dict(
        vocab_size=128,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        max_relative_position=4,
        type_vocab_size=2,
    )
    params.update(overrides)
    return NezhaConfig(**params)


def redraw_weights(model: torch.nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm" in name and name.endswith("weight"):
                param.copy_(1.0 + 0.1 * torch.randn(param.shape, generator=generator))
            else:
                param.copy_(0.2 * torch.randn(param.shape, generator=generator))


def padded_batch(lengths: list[int], seq_len: int, vocab_size: int, generator: torch.Generator):
    """Random ids in [5, vocab) on real tokens, pad id 0 after; segment B is the back half."""
    batch = len(lengths)
    input_ids = torch.randint(5, vocab_size, (batch, seq_len), generator=generator)
    attention_mask = torch.zeros(batch, seq_len, dtype=torch.long)
    token_type_ids = torch.zeros(batch, seq_len, dtype=torch.long)
    for row, length in enumerate(lengths):
        attention_mask[row, :length] = 1
        input_ids[row, length:] = 0
        token_type_ids[row, length // 2 : length] = 1
    return input_ids, attention_mask, token_type_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    if not transformers.__version__.startswith("4."):
        raise SystemExit(f"needs the 4.x reference NEZHA, found transformers {transformers.__version__}")

    generator = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    config = build_config()
    model = NezhaForPreTraining(config).eval()
    redraw_weights(model, generator)
    model.tie_weights()

    input_ids, attention_mask, token_type_ids = padded_batch([16, 12, 6], 16, config.vocab_size, generator)
    with torch.no_grad():
        pretraining_out = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        base_out = model.nezha(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)

    long_model = NezhaForPreTraining(build_config(max_position_embeddings=64)).eval()
    long_model.load_state_dict(model.state_dict())
    long_ids, long_mask, long_types = padded_batch([40, 35], 40, config.vocab_size, generator)
    with torch.no_grad():
        long_out = long_model.nezha(input_ids=long_ids, attention_mask=long_mask, token_type_ids=long_types)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tensors = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": token_type_ids,
        "last_hidden_state": base_out.last_hidden_state,
        "pooler_output": base_out.pooler_output,
        "mlm_logits": pretraining_out.prediction_logits,
        "long_input_ids": long_ids,
        "long_attention_mask": long_mask,
        "long_token_type_ids": long_types,
        "long_last_hidden_state": long_out.last_hidden_state,
    }
    save_file(
        {k: v.contiguous() for k, v in tensors.items()},
        args.out / "expected.safetensors",
        metadata={"reference": f"transformers {transformers.__version__}, torch {torch.__version__}"},
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
