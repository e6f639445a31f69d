"""A learning test: the harness actually learns, in the README quickstart's one epoch on the real data."""

from __future__ import annotations

import pytest
from conftest import only_result

pytestmark = pytest.mark.slow  # a full epoch on the real training set


def test_scratch_tiny_learns_chnsenticorp_in_one_epoch(cnbench, tmp_path):
    result = cnbench("run", "--task", "chnsenticorp", "--model", "scratch-tiny", "--epochs", "1", "--output", tmp_path)
    assert result.code == 0, result.err
    doc = only_result(tmp_path)
    assert doc["data"]["counts"] == {"train": 9600, "dev": 1200, "test": 1200}
    assert doc["metrics"]["test"]["accuracy"] >= 0.80
