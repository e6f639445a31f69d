"""Keep glibc's heap from hoarding the memory of freed tensors and objects during CPU training.

glibc serves a large allocation with its own mapping, returned to the system when freed, but each
such free raises the size above which it does so (up to 32 MiB). After a few steps a training
loop's activation tensors all come from the heap, where a freed block is kept and reused only by
requests that fit it; batches of other widths keep carving new blocks, and resident memory grows
with every new shape (the ChnSentiCorp quickstart reached 2.5 GB for a 3.5 M-parameter model).
Fixing the threshold stops that: blocks of ``MMAP_THRESHOLD`` and more are mapped and returned on
free, smaller ones stay on the heap.

Small blocks freed in bulk stay resident too, as long as a live block sits above them on the heap:
building features frees the tokenizer's and the encoders' temporaries at once (about 175 MB for
ChnSentiCorp), so a run gives those pages back once its features exist.

On other C libraries (macOS, musl) both functions leave the allocator alone and return False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from functools import lru_cache

M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's <malloc.h>
MMAP_THRESHOLD = 1 << 20


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD`` for this process. Returns whether it was set."""
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def give_back_free_heap() -> bool:
    """Return the heap's free pages to the system now (``malloc_trim``). Returns whether it ran."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


@lru_cache(maxsize=1)
def _glibc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
