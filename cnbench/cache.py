"""On-disk cache of tokenised features, so a re-run starts training in seconds.

The key covers everything the features depend on: the tokenizer (its full serialised state), the
task, the split, ``max_len``, word-boundary features, the examples themselves (so ``--limit``, a
changed data file or a held-out dev split never reuse stale features) and ``FORMAT``, bumped
whenever ``cnbench.features`` changes what it produces. Entries are written atomically; an
unreadable entry is rebuilt. ``CNBENCH_CACHE_DIR`` moves the cache (default
``~/.cache/cnbench``); setting it to an empty string turns caching off.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Callable

from cnbench.atomic import atomic_file
from cnbench.features import Features
from cnbench.paths import cache_dir

FORMAT = 1


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


def cached_features(name: str, parts: dict, examples: list, build: Callable[[], Features]) -> Features:
    """Return the cached features for ``(parts, examples)`` or build, store and return them."""
    if os.environ.get("CNBENCH_CACHE_DIR") == "":
        return build()
    digest = hashlib.sha256(repr((FORMAT, sorted(parts.items()), examples)).encode()).hexdigest()[:20]
    path = cache_dir() / "features" / f"{name}-{digest}.pkl"
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        pass
    features = build()
    _store(path, features)
    return features


def _store(path: Path, features: Features) -> None:
    try:
        with atomic_file(path) as handle:
            pickle.dump(features, handle, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:
        pass  # a cache that cannot be written only costs time
