"""What ``--precision`` means on the machine that runs: the one place a run's precision is decided.

- ``fp32``: float32 everywhere.
- ``bf16``: float32 master weights and optimiser state, with the forward and backward passes under
  bf16 autocast. Only where the hardware runs bf16 natively; elsewhere refused with one line,
  since an emulated bf16 run is slower than fp32 and not the configuration its label names.
- ``auto``: ``bf16`` where it is native, else ``fp32``.

Native bf16 means:

- CUDA: compute capability 8.0 or later (Ampere, Ada, Hopper, Blackwell). Older GPUs (T4 is 7.5,
  V100 7.0) run bf16 matmuls through emulation; ``torch.cuda.is_bf16_supported()`` counts that
  unless asked with ``including_emulation=False``, so the capability is read directly here.
- ROCm: treated as native, as torch does (every GPU ROCm supports has bf16 instructions).
- CPU: AVX512-BF16 or AMX tiles (Cooper Lake, Sapphire Rapids and later Xeons; Zen 4 and later EPYCs
  have AVX512-BF16). Other CPUs compute bf16 autocast in converted fp32, correct but slow.

``choose(device, requested)`` returns the resolved precision and the reason, which a run records
(``hparams.precision``, ``environment.precision_reason``). The probes are module functions so
tests can stand in for hardware they do not have.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnbench.errors import CnbenchError

PRECISIONS = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class Precision:
    name: str  # "bf16" | "fp32"
    reason: str  # why, in a few words, for the result file


def cuda_capability(device) -> tuple[int, int]:
    return torch.cuda.get_device_capability(device)


def cuda_name(device) -> str:
    return torch.cuda.get_device_name(device)


def is_rocm() -> bool:
    return bool(getattr(torch.version, "hip", None))


def cpu_bf16_features() -> list[str]:
    """The native bf16 features this CPU has: ``avx512_bf16`` and/or ``amx``."""
    found = []
    if torch.cpu._is_avx512_bf16_supported():
        found.append("avx512_bf16")
    if torch.cpu._is_amx_tile_supported():
        found.append("amx")
    return found


def native_bf16(device) -> tuple[bool, str]:
    """Whether ``device`` runs bf16 natively, and what says so."""
    if device.type == "cuda":
        if is_rocm():
            return True, "ROCm GPU (bf16 native)"
        major, minor = cuda_capability(device)
        name = f"{cuda_name(device)}, compute capability {major}.{minor}"
        if major >= 8:
            return True, f"{name}: bf16 native"
        return False, f"{name}: no native bf16 (needs 8.0 or later; older GPUs emulate it)"
    if device.type == "cpu":
        features = cpu_bf16_features()
        if features:
            return True, f"CPU with {' and '.join(features)}: bf16 native"
        return False, "CPU without AVX512-BF16 or AMX: no native bf16"
    return False, f"{device.type}: cnbench knows no native bf16 there"


def choose(device, requested: str) -> Precision:
    """``requested`` (``auto``, ``bf16``, ``fp32``) resolved on ``device``; ``CnbenchError`` for
    ``bf16`` where it is not native, or an unknown name."""
    if requested not in PRECISIONS:
        raise CnbenchError(f"--precision {requested!r}: expected one of {', '.join(PRECISIONS)}")
    if requested == "fp32":
        return Precision("fp32", "fp32 requested")
    native, why = native_bf16(device)
    if requested == "bf16" and not native:
        raise CnbenchError(
            f"--precision bf16: {why}; it would run emulated, slower than fp32: pass --precision fp32 (or auto)"
        )
    if native:
        return Precision("bf16", f"{requested}: {why}")
    return Precision("fp32", f"auto: {why}")


def resolve_precision(device, requested: str) -> str:
    """``"bf16"`` or ``"fp32"``: what ``requested`` means on ``device`` (see ``choose``)."""
    return choose(device, requested).name


def bf16_autocast(device, requested: str) -> torch.autocast | None:
    """The bf16 autocast context ``requested`` resolves to on ``device``, or None for fp32. Weights
    stay float32 (``cnbench.models.encoders`` loads every checkpoint so): autocast computes in bf16,
    the optimiser updates float32 masters."""
    if resolve_precision(device, requested) == "fp32":
        return None
    return torch.autocast(device.type, dtype=torch.bfloat16)
