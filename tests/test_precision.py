"""``--precision`` means what it says, decided in one place (``cnbench.precision``).

The hardware probes are replaced here by stand-ins for each machine kind (a CPU with and without
AVX512-BF16/AMX, GPUs of compute capability 7.0, 7.5, 8.0, 9.0), so the tests pass the same on
this machine (no native bf16) and on one with it. A T4 or V100 is never given bf16 by ``auto``
(torch's ``is_bf16_supported()`` says yes there, counting emulation), ``--precision bf16`` without
native support is refused in one line, and a result records the precision and why.
"""

from __future__ import annotations

import pytest
import torch
from conftest import only_result

from cnbench import precision
from cnbench.errors import CnbenchError

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)


@pytest.fixture
def cpu_with(monkeypatch):
    def set_features(*features):
        monkeypatch.setattr(precision, "cpu_bf16_features", lambda: list(features))

    return set_features


@pytest.fixture
def gpu_of(monkeypatch):
    def set_capability(major, minor, name="Test GPU"):
        monkeypatch.setattr(precision, "cuda_capability", lambda device: (major, minor))
        monkeypatch.setattr(precision, "cuda_name", lambda device: name)
        monkeypatch.setattr(precision, "is_rocm", lambda: False)
        # torch's own check counts emulation as support: it must not be what decides
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)

    return set_capability


def test_a_cpu_without_bf16_runs_fp32_and_refuses_bf16(cpu_with):
    cpu_with()
    assert precision.choose(CPU, "auto") == precision.Precision(
        "fp32", "auto: CPU without AVX512-BF16 or AMX: no native bf16"
    )
    assert precision.choose(CPU, "fp32").name == "fp32"
    with pytest.raises(CnbenchError) as refused:
        precision.choose(CPU, "bf16")
    assert "\n" not in str(refused.value) and str(refused.value).startswith("--precision bf16: CPU without")
    assert precision.bf16_autocast(CPU, "auto") is None


@pytest.mark.parametrize("features", [("avx512_bf16",), ("amx",), ("avx512_bf16", "amx")])
def test_a_cpu_with_native_bf16_runs_bf16(cpu_with, features):
    cpu_with(*features)
    for requested in ("auto", "bf16"):
        chosen = precision.choose(CPU, requested)
        assert chosen.name == "bf16" and " and ".join(features) in chosen.reason
    assert precision.choose(CPU, "fp32").name == "fp32"
    assert precision.bf16_autocast(CPU, "auto") is not None


@pytest.mark.parametrize(
    "capability, native", [((7, 0), False), ((7, 5), False), ((8, 0), True), ((8, 9), True), ((9, 0), True)]
)
def test_gpus_get_bf16_from_compute_capability_8_on(gpu_of, capability, native):
    gpu_of(*capability, name="Tesla T4" if capability == (7, 5) else "GPU")
    chosen = precision.choose(CUDA, "auto")
    assert chosen.name == ("bf16" if native else "fp32")
    assert f"compute capability {capability[0]}.{capability[1]}" in chosen.reason
    if native:
        assert precision.choose(CUDA, "bf16").name == "bf16"
    else:
        with pytest.raises(CnbenchError, match=r"^--precision bf16: .*no native bf16 \(needs 8.0 or later"):
            precision.choose(CUDA, "bf16")


def test_the_real_probe_of_this_machine_answers():
    native, why = precision.native_bf16(CPU)
    assert isinstance(native, bool) and why


def test_unknown_precision_is_refused():
    with pytest.raises(CnbenchError, match="expected one of auto, bf16, fp32"):
        precision.choose(CPU, "fp16")


def test_the_run_uses_the_one_decision():
    from cnbench import executors, train

    assert train.resolve_precision is precision.resolve_precision
    assert train.bf16_autocast is precision.bf16_autocast
    assert executors.resolve_precision is precision.resolve_precision


RUN = (
    "--task",
    "chnsenticorp",
    "--model",
    "scratch-tiny",
    "--limit",
    "8",
    "--epochs",
    "1",
    "--max-len",
    "16",
    "--no-checkpoint",
)


def test_bf16_on_a_cpu_without_it_is_a_one_line_error(cnbench, tmp_path, cpu_with):
    cpu_with()
    result = cnbench("run", *RUN, "--precision", "bf16", "--output", tmp_path)
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.startswith("error: --precision bf16: CPU without AVX512-BF16 or AMX")
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize("features, expected", [((), "fp32"), (("amx",), "bf16")])
def test_the_result_records_the_precision_and_why(cnbench, tmp_path, cpu_with, features, expected):
    cpu_with(*features)
    result = cnbench("run", *RUN, "--output", tmp_path)
    assert result.code == 0, result.err
    written = only_result(tmp_path)
    assert written["status"] == "completed"
    assert written["hparams"]["precision"] == expected
    assert written["environment"]["precision_reason"] == precision.choose(CPU, "auto").reason
