"""Concurrent processes publishing into one local store, and requests per publish."""

from __future__ import annotations

import pytest

from pubsafe.devtools.economy import requests_per_publish
from pubsafe.devtools.load import run_load
from pubsafe.refimpl import MemoryStore


@pytest.mark.slow
def test_concurrent_processes_lose_nothing_in_guarded_mode(tmp_path):
    result = run_load(str(tmp_path / "guarded"), processes=8, publishes=15, guarded=True)
    assert result.acknowledged + result.conflicts == result.publishes == 120
    assert result.blobs_unreadable == 0
    assert result.swaps_lost == 0 and result.types_stale == 0


@pytest.mark.slow
def test_concurrent_processes_in_default_mode_keep_every_blob(tmp_path):
    result = run_load(str(tmp_path / "default"), processes=8, publishes=15)
    assert result.acknowledged == 120 and result.blobs_unreadable == 0


def test_requests_per_publish():
    one, two, three = (requests_per_publish(MemoryStore, n) for n in (1, 2, 3))
    # read current, blob put, read back, record, confirm (HEAD), history, swap
    assert dict(one) == {"get": 2, "put": 3, "stat": 1, "replace": 1}
    assert sum(two.values()) - sum(one.values()) == 4  # put, read back, record, confirm
    assert sum(three.values()) - sum(two.values()) == 4
