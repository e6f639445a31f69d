"""cnbench's NEZHA against transformers 4.57.6's reference outputs (tests/fixtures/nezha-tiny, made by
scripts/make_nezha_fixture.py), its loading through the Auto classes, and the cost of ``import cnbench``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from huggingface_hub.errors import StrictDataclassClassValidationError
from safetensors.torch import load_file

import cnbench  # noqa: F401  (registers NEZHA with the Auto classes)
from cnbench.models.configuration_nezha import NezhaConfig
from cnbench.models.nezha import NezhaForMaskedLM, NezhaModel

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "nezha-tiny"
ATOL = 1e-5


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return load_file(FIXTURE / "expected.safetensors")


def _inputs(expected, prefix=""):
    return {
        "input_ids": expected[f"{prefix}input_ids"],
        "attention_mask": expected[f"{prefix}attention_mask"],
        "token_type_ids": expected[f"{prefix}token_type_ids"],
    }


def _assert_clean(info):
    assert info["missing_keys"] == set()
    assert info["unexpected_keys"] == set()
    assert info["mismatched_keys"] == set()
    assert not info["error_msgs"]


def _max_diff(actual, wanted):
    return (actual - wanted).abs().max().item()


@pytest.fixture(scope="module")
def base_model():
    from transformers import AutoModel

    model, info = AutoModel.from_pretrained(FIXTURE, output_loading_info=True)
    _assert_clean(info)
    return model.eval()


@pytest.fixture(scope="module")
def mlm_model():
    from transformers import AutoModelForMaskedLM

    model, info = AutoModelForMaskedLM.from_pretrained(FIXTURE, output_loading_info=True)
    _assert_clean(info)
    return model.eval()


def test_fixture_exercises_clipping(expected):
    config = json.loads((FIXTURE / "config.json").read_text())
    assert config["model_type"] == "nezha"
    assert expected["input_ids"].shape[1] > 2 * config["max_relative_position"] + 1
    assert expected["long_input_ids"].shape[1] > config["max_position_embeddings"]


def test_auto_model_matches_reference(base_model, expected):
    assert type(base_model) is NezhaModel
    with torch.no_grad():
        out = base_model(**_inputs(expected))
    assert _max_diff(out.last_hidden_state, expected["last_hidden_state"]) <= ATOL
    assert _max_diff(out.pooler_output, expected["pooler_output"]) <= ATOL


def test_auto_masked_lm_matches_reference(mlm_model, expected):
    assert type(mlm_model) is NezhaForMaskedLM
    embeddings = mlm_model.nezha.embeddings.word_embeddings.weight
    assert mlm_model.cls.predictions.decoder.weight is embeddings
    assert mlm_model.cls.predictions.decoder.bias is mlm_model.cls.predictions.bias
    with torch.no_grad():
        logits = mlm_model(**_inputs(expected)).logits
    assert _max_diff(logits, expected["mlm_logits"]) <= ATOL


def test_longer_than_max_position_embeddings(base_model, expected):
    """The table is computed for any length: a 40-token input under max_position_embeddings=32
    matches the reference run with a table large enough for it."""
    assert expected["long_input_ids"].shape[1] > base_model.config.max_position_embeddings
    with torch.no_grad():
        out = base_model(**_inputs(expected, "long_"))
    assert _max_diff(out.last_hidden_state, expected["long_last_hidden_state"]) <= ATOL


def test_optional_outputs_and_tuple_return(base_model, expected):
    inputs = _inputs(expected)
    batch, length = inputs["input_ids"].shape
    layers, heads = base_model.config.num_hidden_layers, base_model.config.num_attention_heads
    with torch.no_grad():
        out = base_model(**inputs, output_hidden_states=True, output_attentions=True)
        as_tuple = base_model(**inputs, return_dict=False)
    assert len(out.hidden_states) == layers + 1
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    assert [a.shape for a in out.attentions] == [(batch, heads, length, length)] * layers
    # Padded keys get no attention.
    assert out.attentions[0][1, :, :, inputs["attention_mask"][1] == 0].abs().max() == 0
    assert torch.equal(as_tuple[0], out.last_hidden_state)


def test_save_load_round_trip(mlm_model, expected, tmp_path):
    from transformers import AutoModelForMaskedLM

    mlm_model.save_pretrained(tmp_path)
    saved = load_file(tmp_path / "model.safetensors")
    assert not any("relative" in name or "position" in name for name in saved)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "nezha"

    reloaded, info = AutoModelForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    _assert_clean(info)
    with torch.no_grad():
        before = mlm_model(**_inputs(expected)).logits
        after = reloaded.eval()(**_inputs(expected)).logits
    assert torch.equal(before, after)


def test_auto_tokenizer_for_a_vocab_only_nezha_folder(tmp_path):
    from transformers import AutoTokenizer

    (tmp_path / "config.json").write_text((FIXTURE / "config.json").read_text())
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "我", "们"]) + "\n")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert type(tokenizer).__name__ == "BertTokenizer"
    assert tokenizer("我们")["input_ids"] == [2, 5, 6, 3]


def test_masked_lm_loss_trains_tied_embeddings(expected):
    model = NezhaForMaskedLM(NezhaConfig.from_pretrained(FIXTURE)).train()
    inputs = _inputs(expected)
    labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
    out = model(**inputs, labels=labels)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert model.nezha.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    assert model.nezha.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0


def test_rejects_unsupported_inputs(base_model, expected):
    ids = expected["input_ids"]
    with pytest.raises(ValueError, match="attention_mask"):
        base_model(input_ids=ids, attention_mask=torch.ones(ids.shape[0], ids.shape[1], ids.shape[1]))
    with pytest.raises(ValueError, match="exactly one"):
        base_model()
    with pytest.raises(StrictDataclassClassValidationError, match="even"):
        NezhaConfig(hidden_size=30, num_attention_heads=2)
    with pytest.raises(StrictDataclassClassValidationError, match="multiple"):
        NezhaConfig(hidden_size=32, num_attention_heads=3)
    with pytest.raises(StrictDataclassClassValidationError, match="use_relative_position is false"):
        NezhaConfig(use_relative_position=False)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_import_cnbench_is_cheap():
    result = _python(
        """
        import sys, time
        start = time.perf_counter()
        import cnbench
        elapsed = time.perf_counter() - start
        heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
        assert not heavy, heavy
        assert elapsed < 0.5, elapsed
        """
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_fresh_process_resolves_nezha_after_import_cnbench():
    result = _python(
        f"""
        import cnbench
        from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
        assert type(AutoConfig.from_pretrained({str(FIXTURE)!r})).__name__ == "NezhaConfig"
        assert type(AutoModel.from_pretrained({str(FIXTURE)!r})).__name__ == "NezhaModel"
        assert type(AutoModelForMaskedLM.from_pretrained({str(FIXTURE)!r})).__name__ == "NezhaForMaskedLM"
        """
    )
    assert result.returncode == 0, result.stderr
