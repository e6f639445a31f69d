"""glibc keeps freed large blocks on its heap once its mmap threshold has risen; with the threshold
fixed by ``return_large_blocks`` they go back to the system when freed. Small blocks freed below a
live one stay resident until ``give_back_free_heap``."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import sys
import numpy as np
from cnbench.allocator import return_large_blocks
if sys.argv[1] == "fixed":
    assert return_large_blocks()
def rss_mb():
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) // 1024 for line in handle if line.startswith("VmRSS:"))
np.ones(1 << 20)  # 8 MB, freed at once: mapped, and its free raises glibc's dynamic threshold to 8 MB
before = rss_mb()
blocks, pins = [], []
for _ in range(50):
    blocks.append(np.ones(1 << 19))  # 4 MB each: below the raised threshold, so on the heap
    pins.append(np.ones(64))  # a small block after each keeps the heap from shrinking
del blocks
print(rss_mb() - before)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_large_blocks_go_back_to_the_system():
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    kept = {
        mode: int(
            subprocess.run(
                [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, check=True
            ).stdout
        )
        for mode in ("default", "fixed")
    }
    assert kept["default"] >= 150  # the 200 MB freed stay resident: what grew the quickstart
    assert kept["fixed"] <= 20


SMALL_BLOCKS = """
import numpy as np
from cnbench.allocator import give_back_free_heap, return_large_blocks
return_large_blocks()
def rss_mb():
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) // 1024 for line in handle if line.startswith("VmRSS:"))
before = rss_mb()
blocks, pins = [], []
for _ in range(3000):
    blocks.append(np.ones(8192))  # 64 KB each, below the threshold: 192 MB on the heap
    pins.append(np.ones(64))  # a live block after each keeps its pages from going back on free
del blocks
freed = rss_mb() - before
assert give_back_free_heap()
print(freed, rss_mb() - before)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_small_blocks_freed_in_bulk_go_back_when_asked():
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    output = subprocess.run([sys.executable, "-c", SMALL_BLOCKS], capture_output=True, text=True, env=env, check=True)
    kept_after_free, kept_after_trim = map(int, output.stdout.split())
    assert kept_after_free >= 150  # what building the features left resident before the trim
    assert kept_after_trim <= 20
