"""On-disk cache of tokenised features, memory-mapped, so a re-run starts training in seconds and
every process of a run shares one copy of the features.

The key covers everything the features depend on: the tokenizer (its full serialised state), the
task, the split, ``max_len``, word-boundary features, the examples themselves (so ``--limit``, a
changed data file or a held-out dev split never reuse stale features) and ``FORMAT``, bumped
whenever ``cnbench.features`` changes what it produces. An entry is a folder of ``.npy`` files,
one per flat array of ``Features``, written atomically (``cnbench.atomic.atomic_folder``). A hit
maps the files read-only (``numpy.load(mmap_mode="r")``): nothing is unpickled or copied, pages
are read when a batch uses them, and processes that map the same entry share the page cache. An
entry that cannot be read, or whose arrays do not fit together, is rebuilt.

Under a data-parallel launcher the first process of each machine (``LOCAL_RANK`` 0) looks up or
builds the entry while the others wait at a barrier; then they map it. The examples enter the key
as a fingerprint (``examples_fingerprint``), so the others can find the entry without loading the
examples themselves: ``cnbench.train`` gives them rank 0's fingerprint of the train split. A
process that still finds no entry (an unwritable cache, or nodes that do not share it) builds its
own copy.
``CNBENCH_CACHE_DIR`` moves the cache (default ``~/.cache/cnbench``); setting it to an empty string
turns caching off.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnbench import distributed
from cnbench.atomic import atomic_folder
from cnbench.features import Features
from cnbench.paths import cache_dir

FORMAT = 3
HASH_CHUNK = 10_000  # examples hashed per update: the key never needs the whole input as one string


def tokenizer_fingerprint(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        state = repr(sorted(tokenizer.get_vocab().items()))
    else:
        # truncation/padding are call-time settings the backend remembers from the last call
        config = json.loads(backend.to_str())
        config.pop("truncation", None)
        config.pop("padding", None)
        state = json.dumps(config, sort_keys=True)
    return hashlib.sha256(f"{type(tokenizer).__name__}\n{state}".encode()).hexdigest()


def caching_enabled() -> bool:
    return os.environ.get("CNBENCH_CACHE_DIR") != ""


def examples_fingerprint(examples: list) -> str:
    """What the cache key takes from the examples: a hash of all of them, in order. A process that
    did not load a split can still find its entry from another process's fingerprint."""
    digest = hashlib.sha256(str(len(examples)).encode())
    for begin in range(0, len(examples), HASH_CHUNK):
        digest.update("".join(map(repr, examples[begin : begin + HASH_CHUNK])).encode())
    return digest.hexdigest()


def cached_features(name: str, parts: dict, examples: str | None, build: Callable[[], Features]) -> Features:
    """Return the cached features for ``parts`` and the examples with fingerprint ``examples``
    (``examples_fingerprint``; ``None`` with caching off), memory-mapped, or build, store and map
    them.

    Every process of a data-parallel run must call this for the same entries in the same order
    (it holds a barrier)."""
    if not caching_enabled():
        return build()
    key = hashlib.sha256(repr((FORMAT, sorted(parts.items()), examples)).encode()).hexdigest()[:20]
    path = cache_dir() / "features" / f"{name}-{key}"
    features = None
    if distributed.is_local_main():
        features = _load(path)
        if features is None:
            features = build()
            _store(path, features)
            mapped = _load(path)  # the mapped copy is the one the other processes share
            features = mapped if mapped is not None else features
    distributed.barrier()
    if features is None:
        features = _load(path)
    return features if features is not None else build()


def _load(path: Path) -> Features | None:
    try:
        names = json.loads((path / "arrays.json").read_text(encoding="utf-8"))
        return Features.from_arrays(
            {name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in names}
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _store(path: Path, features: Features) -> None:
    arrays = features.arrays()
    try:
        with atomic_folder(path) as folder:
            for name, values in arrays.items():
                np.save(folder / f"{name}.npy", values, allow_pickle=False)
            (folder / "arrays.json").write_text(json.dumps(sorted(arrays)), encoding="utf-8")
    except OSError:
        pass  # a cache that cannot be written only costs time
