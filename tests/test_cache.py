"""The feature cache: hits only for identical inputs, maps its files instead of reading them,
rebuilds anything it cannot trust, and is built once per machine under a data-parallel launcher."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch.multiprocessing

from cnbench.cache import cached_features, examples_fingerprint, tokenizer_fingerprint
from cnbench.data.examples import TaggedSentence, TextExample
from cnbench.kinds.classification import encode_text
from cnbench.kinds.tagging import encode_tagging
from cnbench.registry import get_task

EXAMPLES = [TextExample("很好", None, "1"), TextExample("很差", None, "0")]


def test_hits_only_when_everything_matches(tmp_path, monkeypatch, tokenizer):
    monkeypatch.setenv("CNBENCH_CACHE_DIR", str(tmp_path))
    builds = []

    def features_for(examples, max_len):
        def build():
            builds.append(max_len)
            return encode_text(examples, tokenizer, ("0", "1"), max_len)

        parts = {"tokenizer": tokenizer_fingerprint(tokenizer), "max_len": max_len}
        return cached_features("senti-train", parts, examples_fingerprint(examples), build)

    first = features_for(EXAMPLES, 16)
    again = features_for(EXAMPLES, 16)
    assert builds == [16] and again == first
    assert isinstance(again.input_ids.values, np.memmap) and not again.input_ids.values.flags.writeable
    features_for(EXAMPLES, 8)  # another max_len
    features_for(EXAMPLES[:1], 16)  # other examples (e.g. --limit)
    features_for([TextExample("很好", None, "0"), EXAMPLES[1]], 16)  # another label
    assert builds == [16, 8, 16, 16]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "no index", "mismatched"])
def test_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch, tokenizer, damage):
    monkeypatch.setenv("CNBENCH_CACHE_DIR", str(tmp_path))
    builds = []

    def features():
        return cached_features(
            "x",
            {},
            examples_fingerprint(EXAMPLES),
            lambda: builds.append(1) or encode_text(EXAMPLES, tokenizer, ("0", "1"), 8),
        )

    expected = encode_text(EXAMPLES, tokenizer, ("0", "1"), 8)
    features()
    del builds[:]
    (entry,) = (tmp_path / "features").iterdir()
    ids = entry / "input_ids.npy"
    if damage == "garbage":
        ids.write_bytes(b"not an array")
    elif damage == "truncated":
        ids.write_bytes(ids.read_bytes()[:-4])
    elif damage == "no index":
        (entry / "arrays.json").unlink()
    else:  # a well-formed array that does not fit the offsets
        np.save(ids, np.zeros(3, dtype=np.int32))
    assert features() == expected and builds == [1]
    assert features() == expected and builds == [1]  # the rebuilt entry replaced the damaged one
    assert [path.name for path in (tmp_path / "features").iterdir()] == [entry.name]


def test_tagging_windows_survive_the_cache(tmp_path, monkeypatch, tokenizer):
    monkeypatch.setenv("CNBENCH_CACHE_DIR", str(tmp_path))
    tags = get_task("peoples_daily_ner").labels
    sentences = [TaggedSentence(tuple("中国人民银行在北京开会" * 3), ("O",) * 33), TaggedSentence(("人",), ("O",))]
    built = encode_tagging(sentences, tokenizer, tags, max_len=12, boundary_tags=lambda chars: [1] * len(chars))
    for _ in range(2):
        mapped = cached_features("ner", {}, examples_fingerprint(sentences), lambda: built)
    assert isinstance(mapped.scored.values, np.memmap) and mapped == built
    assert [row.tolist() for row in mapped.scored] == [row.tolist() for row in built.scored]


def test_empty_cache_dir_turns_caching_off(tmp_path, monkeypatch, tokenizer):
    monkeypatch.setenv("CNBENCH_CACHE_DIR", "")
    builds = []
    for _ in range(2):
        cached_features(
            "x",
            {},
            examples_fingerprint([]),
            lambda: builds.append(1) or encode_text([TextExample("好", None, "1")], tokenizer, ("0", "1"), 8),
        )
    assert builds == [1, 1]


def _process(rank: int, port: int, cache: str, log: str, tokenizer) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        CNBENCH_CACHE_DIR=cache,
    )
    from cnbench import distributed

    distributed.setup()

    def build():
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{rank}\n")
        return encode_text(EXAMPLES, tokenizer, ("0", "1"), 8)

    features = cached_features("x", {}, examples_fingerprint(EXAMPLES), build)
    values = features.input_ids.values
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(
            f"mapped {rank} {type(values).__name__} {''.join(map(str, features.labels.tolist()))} {values.filename}\n"
        )


@pytest.mark.slow
def test_the_first_process_builds_and_the_others_map_its_entry(tmp_path, tokenizer):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "log"
    torch.multiprocessing.spawn(_process, args=(port, str(tmp_path / "cache"), str(log), tokenizer), nprocs=2)
    lines = sorted(log.read_text(encoding="utf-8").splitlines())
    built, mapped = [line for line in lines if not line.startswith("mapped")], [line.split() for line in lines[1:]]
    assert built == ["0"]
    assert [row[1:4] for row in mapped] == [["0", "memmap", "10"], ["1", "memmap", "10"]]
    assert mapped[0][4] == mapped[1][4]  # the same file
