"""Facts about the machine and software a run used, for the result file."""

from __future__ import annotations

import platform
import resource
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from cnbench.paths import REPO_ROOT

PACKAGES = (
    "cnbench",
    "torch",
    "transformers",
    "datasets",
    "accelerate",
    "tokenizers",
    "seqeval",
    "numpy",
    "jieba",
    "peft",
)


@lru_cache(maxsize=1)
def code_version() -> dict:
    """The git commit of the cnbench checkout, and whether its code differed from it: a tracked
    file changed, or an untracked file in the code a run executes (``cnbench/``, ``tasks/``: a
    new task module). Untracked results and notes elsewhere do not make a run's code dirty."""

    def git(*args):
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
        new_code = git("ls-files", "--others", "--exclude-standard", "-z", "--", "cnbench", "tasks")
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": None, "git_dirty": None}
    if head.returncode != 0:
        return {"git_commit": None, "git_dirty": None}
    if changed.returncode != 0 or new_code.returncode != 0:  # unknown is not clean
        return {"git_commit": head.stdout.strip(), "git_dirty": None}
    return {"git_commit": head.stdout.strip(), "git_dirty": bool(changed.stdout.strip() or new_code.stdout)}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_info(device) -> dict:
    import os

    import torch

    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    hardware = {
        "device": device.type,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        hardware["gpu"] = torch.cuda.get_device_name(device)
        hardware["gpu_count"] = torch.cuda.device_count()
    return {
        **code_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "hardware": hardware,
    }


def reset_peak_memory(device) -> None:
    """Start a new peak-memory window, so that each of several runs in one process (``--seeds``, a
    local sweep) records its own peak rather than the largest so far."""
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # Linux: writing 5 resets the process's peak resident set size (VmHWM) to the current one
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        pass  # elsewhere the peak stays the process's lifetime peak


def peak_memory_mb(device) -> float:
    """Peak GPU memory allocated by torch on CUDA; on CPU the peak resident set size of the process
    since ``reset_peak_memory`` (Linux), else over the process's lifetime."""
    import torch

    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
