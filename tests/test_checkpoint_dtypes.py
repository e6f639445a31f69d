"""Half-precision checkpoints train in float32 master weights, in fp32 and under bf16 autocast.

Many Hub checkpoints are stored in fp16 or bf16, and transformers 5 loads weights in the dtype they
were saved in unless told otherwise: a bf16 encoder under an fp32 head crashed on mixed dtypes,
and under autocast AdamW updated bf16 weights (most small updates rounding away). Every family's
tiny checkpoint is saved in bf16 and in fp16 here; each must load as float32, record the stored
dtype, and take a training step (finite loss, every trained weight float32 and moved) both in
fp32 and under CPU bf16 autocast (CPU autocast computes bf16 correctly without native support;
nothing here measures speed).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import only_result
from family_checkpoints import FAMILIES, build

DTYPES = ("bfloat16", "float16")


@pytest.fixture(scope="module")
def half_checkpoints(tmp_path_factory, data_dir) -> dict[tuple[str, str], Path]:
    root = tmp_path_factory.mktemp("half-families")
    return {
        (family, dtype): build(family, root / f"{family}-{dtype}", data_dir.parent, dtype=dtype)
        for family in FAMILIES
        for dtype in DTYPES
    }


@pytest.fixture(scope="module")
def examples(data_dir):
    from cnbench.data.load import load_task_data
    from cnbench.registry import get_task

    task = get_task("chnsenticorp")
    return task, load_task_data(task, data_dir, train_on_dev=True, limit=6, source="local").splits["train"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family", FAMILIES)
def test_a_half_precision_checkpoint_trains_in_float32_masters(half_checkpoints, examples, family, dtype):
    from cnbench.batching import collate
    from cnbench.heads import build_head
    from cnbench.models.encoders import load_model
    from cnbench.train import TaskModel

    torch.set_num_threads(1)
    folder = half_checkpoints[family, dtype]
    saved = {tensor.dtype for tensor in _saved_tensors(folder) if tensor.is_floating_point()}
    assert saved == {getattr(torch, dtype)}  # the fixture really is a half-precision checkpoint
    task, chosen = examples
    for autocast in (False, True):
        loaded = load_model(str(folder), seed=0)
        assert loaded.provenance["stored_dtype"] == dtype
        assert {p.dtype for p in loaded.encoder.parameters()} == {torch.float32}
        features = task.kind_rules.encode(task, chosen, loaded.tokenizer, {"max_len": 32}, False)
        batch = collate(features, list(range(len(features))), loaded.tokenizer.pad_token_id, task.kind_rules)
        model = TaskModel(loaded.encoder, build_head("linear", "classification", loaded.encoder.hidden_size, 2)).train()
        before = {name: p.detach().clone() for name, p in model.named_parameters()}
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        with torch.autocast("cpu", dtype=torch.bfloat16) if autocast else torch.autocast("cpu", enabled=False):
            loss = model(**batch).loss
        assert math.isfinite(loss.item()), (family, dtype, autocast)
        loss.backward()
        optimizer.step()
        assert {p.dtype for p in model.parameters()} == {torch.float32}
        moved = [name for name, p in model.named_parameters() if not torch.equal(p, before[name])]
        word_embeddings = next(name for name in before if "word_embeddings" in name)
        assert word_embeddings in moved and any(name.startswith("head.") for name in moved)


def _saved_tensors(folder: Path) -> list[torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    if files:
        return [tensor for path in files for tensor in load_file(path).values()]
    return [
        tensor
        for path in sorted(folder.glob("pytorch_model*.bin"))
        for tensor in torch.load(path, weights_only=True).values()
    ]


def test_stored_dtype_is_read_from_bin_and_safetensors_headers(tmp_path):
    from safetensors.torch import save_file

    from cnbench.models.encoders import stored_dtype

    state = {"a.weight": torch.zeros(2, 2, dtype=torch.bfloat16), "ids": torch.arange(3)}
    torch.save(state, tmp_path / "pytorch_model.bin")
    save_file({"a.weight": torch.zeros(2, dtype=torch.float16), "b": torch.zeros(2)}, tmp_path / "model.safetensors")
    assert stored_dtype([tmp_path / "pytorch_model.bin"]) == "bfloat16"  # integer buffers do not count
    assert stored_dtype([tmp_path / "model.safetensors"]) == "float16+float32"
    (tmp_path / "broken.bin").write_bytes(b"not a checkpoint")
    assert stored_dtype([tmp_path / "broken.bin"]) is None


def test_a_bf16_checkpoint_runs_with_precision_fp32_and_records_its_dtype(cnbench, tmp_path, half_checkpoints):
    """The issue's reproduction: this crashed with "mat1 and mat2 must have the same dtype"."""
    run = cnbench(
        "run",
        "--model",
        half_checkpoints["bert", "bfloat16"],
        "--task",
        "chnsenticorp",
        "--precision",
        "fp32",
        "--limit",
        "8",
        "--epochs",
        "1",
        "--max-len",
        "32",
        "--no-checkpoint",
        "--output",
        tmp_path,
    )
    assert run.code == 0, run.err
    result = only_result(tmp_path)
    assert result["status"] == "completed", result["failure"]
    assert result["model"]["stored_dtype"] == "bfloat16" and result["hparams"]["precision"] == "fp32"


def test_replica_hub_checkpoints_record_float32(cnbench, tmp_path, data_dir):
    """A Hub checkpoint's stored dtype is read from the snapshot's weights (``.bin`` here)."""
    from huggingface_hub import constants
    from replica_hub import ReplicaHub

    from cnbench.models.encoders import load_model

    ReplicaHub(Path(constants.HF_HUB_CACHE), data_dir.parent).hfl(
        "hfl/chinese-bert-wwm-ext", {"output_past": True}, layer_norm_names="gamma"
    )
    loaded = load_model("bert-wwm-ext", seed=0)
    assert loaded.provenance["stored_dtype"] == "float32"


def test_a_bf16_checkpoint_runs_under_native_bf16_autocast(cnbench, tmp_path, half_checkpoints, monkeypatch):
    """As on a CPU with AMX (stood in for here: CPU autocast computes bf16 correctly without it)."""
    from cnbench import precision

    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: ["amx"])
    run = cnbench(
        "run",
        "--model",
        half_checkpoints["electra", "bfloat16"],
        "--task",
        "chnsenticorp",
        "--precision",
        "bf16",
        "--limit",
        "8",
        "--epochs",
        "1",
        "--max-len",
        "32",
        "--no-checkpoint",
        "--output",
        tmp_path,
    )
    assert run.code == 0, run.err
    result = only_result(tmp_path)
    assert result["status"] == "completed", result["failure"]
    assert result["model"]["stored_dtype"] == "bfloat16" and result["hparams"]["precision"] == "bf16"
    assert result["environment"]["precision_reason"] == "bf16: CPU with amx: bf16 native"
