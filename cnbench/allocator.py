"""Keep glibc's heap from hoarding the memory of freed tensors during CPU training.

glibc serves a large allocation with its own mapping, returned to the system when freed, but each
such free raises the size above which it does so (up to 32 MiB). After a few steps a training
loop's activation tensors all come from the heap, where a freed block is kept and reused only by
requests that fit it; batches of other widths keep carving new blocks, and resident memory grows
with every new shape (the ChnSentiCorp quickstart reached 2.5 GB for a 3.5 M-parameter model).
Fixing the threshold stops that: blocks of ``MMAP_THRESHOLD`` and more are mapped and returned on
free, smaller ones stay on the heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's <malloc.h>
MMAP_THRESHOLD = 1 << 20


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD`` for this process. Returns whether it was
    set; other C libraries (macOS, musl) are left alone and give False."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
