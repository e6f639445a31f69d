"""The feature cache: hits only for identical inputs, rebuilds anything it cannot trust."""

from __future__ import annotations

from cnbench.cache import cached_features, tokenizer_fingerprint
from cnbench.data.examples import TextExample
from cnbench.features import encode_text


def test_hits_only_when_everything_matches(tmp_path, monkeypatch, tokenizer):
    monkeypatch.setenv("CNBENCH_CACHE_DIR", str(tmp_path))
    examples = [TextExample("很好", None, "1"), TextExample("很差", None, "0")]
    builds = []

    def features_for(examples, max_len):
        def build():
            builds.append(max_len)
            return encode_text(examples, tokenizer, ("0", "1"), max_len)

        parts = {"tokenizer": tokenizer_fingerprint(tokenizer), "max_len": max_len}
        return cached_features("senti-train", parts, examples, build)

    first = features_for(examples, 16)
    again = features_for(examples, 16)
    assert builds == [16] and again == first
    features_for(examples, 8)  # another max_len
    features_for(examples[:1], 16)  # other examples (e.g. --limit)
    assert builds == [16, 8, 16]

    for entry in (tmp_path / "features").glob("*.pkl"):
        entry.write_bytes(b"not a pickle")
    assert features_for(examples, 16) == first and len(builds) == 4


def test_empty_cache_dir_turns_caching_off(tmp_path, monkeypatch, tokenizer):
    monkeypatch.setenv("CNBENCH_CACHE_DIR", "")
    builds = []
    for _ in range(2):
        cached_features("x", {}, [], lambda: builds.append(1) or encode_text([TextExample("好", None, "1")],
                                                                             tokenizer, ("0", "1"), 8))
    assert builds == [1, 1]
