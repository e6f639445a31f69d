"""The CPU dropout: same distribution and scaling as torch's, reproducible, and attention that
matches transformers' own when nothing is dropped."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnbench.models.fast_dropout import FastDropout, _attention, keep_mask, use_fast_dropout


def test_keep_rate_scaling_and_reproducibility():
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([1000, 1001]), 0.1, torch.device("cpu"))
    assert mask.shape == (1000, 1001) and mask.dtype == torch.bool
    assert abs(mask.float().mean().item() - 0.9) < 0.002  # ~1e6 draws: sd 0.0003
    torch.manual_seed(0)
    assert torch.equal(keep_mask(torch.Size([1000, 1001]), 0.1, torch.device("cpu")), mask)

    dropout = FastDropout(0.25)
    x = torch.ones(400, 500)
    dropped = dropout(x)
    assert dropped.unique().tolist() == [0.0, pytest.approx(4 / 3)]
    assert abs(dropped.mean().item() - 1.0) < 0.01  # expectation preserved
    assert torch.equal(dropout.eval()(x), x)
    assert torch.equal(FastDropout(0.0)(x), x) and torch.equal(FastDropout(1.0)(x), torch.zeros_like(x))


def test_attention_equals_transformers_eager_attention_when_nothing_is_dropped():
    from transformers.models.bert.modeling_bert import eager_attention_forward

    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 4, 6, 8) for _ in range(3))
    keep = torch.ones(2, 1, 6, 6, dtype=torch.bool)
    keep[1, :, :, 4:] = False  # the second sequence has two padding positions
    module = nn.Module().train()
    additive = torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)
    expected, _ = eager_attention_forward(module, query, key, value, additive, scaling=8**-0.5)
    # p below 1/65536 rounds to keeping everything, but takes the dropout code path
    ours, _ = _attention(module, query, key, value, keep, dropout=1e-6, scaling=8**-0.5)
    assert torch.allclose(ours, expected, atol=1e-6)
    evaluated, _ = _attention(module, query, key, value, keep, dropout=0.0, scaling=8**-0.5)  # SDPA
    assert torch.allclose(evaluated, expected, atol=1e-5)


def test_use_fast_dropout_swaps_modules_and_attention_and_keeps_eval_outputs(tokenizer):
    from transformers import AutoConfig, BertModel

    from cnbench import paths

    config = AutoConfig.from_pretrained(
        paths.tokenizer_dir(), num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64
    )
    torch.manual_seed(0)
    reference = BertModel(config).eval()
    model = BertModel(config).eval()
    model.load_state_dict(reference.state_dict())
    assert use_fast_dropout(model) == sum(isinstance(m, nn.Dropout) for m in reference.modules())
    assert not any(type(m) is nn.Dropout for m in model.modules())
    assert model.config._attn_implementation == "cnbench_sdpa"
    ids = torch.tensor([[101, 1266, 776, 102, 0], [101, 704, 1744, 4638, 102]])
    mask = ids != 0
    with torch.no_grad():
        assert torch.allclose(
            model(ids, attention_mask=mask).last_hidden_state,
            reference(ids, attention_mask=mask).last_hidden_state,
            atol=1e-5,
        )
    model.train()
    out = model(ids, attention_mask=mask).last_hidden_state  # training mode runs the dropout path
    out.sum().backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
