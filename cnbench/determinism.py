"""``--deterministic``: deterministic algorithms for one run, and what a result can promise.

What repeats without it: on a CPU, the same seed, thread count and software give the same run
bit for bit (cnbench's own ops and oneDNN's kernels are deterministic at a fixed thread count),
and ``--resume`` ends where the uninterrupted run ends (``tests/test_tuning.py`` checks this). On
a GPU neither holds by default: cuBLAS picks split-K reductions per workspace, and several CUDA
kernels accumulate with atomics, in an order that changes from run to run (among cnbench's:
NEZHA's ``scatter_add`` of attention mass per relative position, and the backward pass of every
``gather``: NEZHA's position scores, the CRF's emission and transition look-ups, the compaction of
scored positions).

``configure(True)`` makes a GPU run repeatable: ``torch.use_deterministic_algorithms(True)``, which
switches ``scatter_add_``, ``gather``'s backward, ``index_add`` and the other ops torch lists to
deterministic implementations on CUDA (torch 2.x documents these; cnbench's ops all have one, so
no replacement of its own is needed) and raises for any op without one;
``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (cuBLAS's deterministic workspace, which that mode requires on
CUDA 10.2 and later; an existing ``:16:8`` is kept); cuDNN's deterministic algorithms without
benchmarking. The environment variable is read when cuBLAS first starts in a process: a run that
is not the first in its process (a local sweep) records whether it was in force from the start.
``configure(False)`` restores torch's defaults. Deterministic kernels can be slower; nothing else
about the run changes, so the option is not part of the run key.

Not verified on a GPU in this repository's tests (none was available when this was written): the
tests check that the settings are made, recorded and undone, and that CPU runs are unchanged.
"""

from __future__ import annotations

import os

import torch

CUBLAS_VARIABLE = "CUBLAS_WORKSPACE_CONFIG"
CUBLAS_DETERMINISTIC = (":4096:8", ":16:8")


def configure(deterministic: bool) -> dict:
    """Switch this process's deterministic algorithms on or off; returns the facts a result
    records (``environment.determinism``)."""
    if not deterministic:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
        return {"deterministic": False}
    cublas_started = _cublas_started()
    if os.environ.get(CUBLAS_VARIABLE) not in CUBLAS_DETERMINISTIC:
        os.environ[CUBLAS_VARIABLE] = CUBLAS_DETERMINISTIC[0]
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    facts = {
        "deterministic": True,
        "algorithms": "torch.use_deterministic_algorithms(True)",
        CUBLAS_VARIABLE: os.environ[CUBLAS_VARIABLE],
        "cudnn_deterministic": True,
    }
    if cublas_started:
        facts["note"] = (
            f"cuBLAS had started in this process before {CUBLAS_VARIABLE} was set: set it in the "
            "environment before launching for deterministic matmuls"
        )
    return facts


def _cublas_started() -> bool:
    """Whether CUDA (and so possibly cuBLAS) is already initialised in this process."""
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def repeatability(device, deterministic: bool) -> str:
    """What this run can promise about repeating it, in one line, for the result file."""
    if device.type == "cpu":
        return "bit-exact with the same seed, thread count and software (CPU)"
    if deterministic:
        return "bit-exact with the same seed, GPU model and software (deterministic algorithms)"
    return "not bit-exact: GPU kernels with atomic accumulation vary between runs (pass --deterministic)"
