import os

import pytest
import torch

from cnbench.runinfo import peak_memory_mb, reset_peak_memory


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's clear_refs")
def test_each_run_gets_its_own_cpu_peak():
    cpu = torch.device("cpu")
    big = torch.ones(400 * 2**20 // 4)  # 400 MiB, touched; freed at once by munmap when deleted
    during = peak_memory_mb(cpu)
    del big
    reset_peak_memory(cpu)
    after = peak_memory_mb(cpu)
    assert after < during - 300, (during, after)
