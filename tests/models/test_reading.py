"""The checker's reads of a store: the same answers whether they overlap or not."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, strategies as st

from pubsafe.models.reading import read_keys, read_store, reads_in_flight
from pubsafe.models.strategies import names
from pubsafe.refimpl import MemoryStore
from pubsafe.refimpl.errors import ObjectNotFound


class _VanishingStore(MemoryStore):
    """Lists ``gone``, then answers ObjectNotFound for it (deleted between list and get)."""

    def __init__(self, gone: str) -> None:
        super().__init__()
        self.gone = gone

    def get(self, key):  # type: ignore[no-untyped-def]
        if key == self.gone:
            raise ObjectNotFound(key)
        return super().get(key)


@given(st.dictionaries(names(), st.binary(max_size=64), min_size=1, max_size=30), st.integers(1, 9))
def test_overlapping_reads_give_what_reading_one_by_one_gives(objects, width):
    store = _VanishingStore(gone=sorted(objects)[0] + "/x")
    for name, data in objects.items():
        store.put(name + "/x", data)
    keys = [name + "/x" for name in sorted(objects)]
    alone = read_store(store)
    with reads_in_flight(width):
        together = read_store(store)
        some = read_keys(store, ["absent", *reversed(keys)])
    assert together == alone and list(together) == list(alone)
    assert alone == {key: objects[key[:-2]] for key in keys if key != store.gone}
    assert list(some.items()) == [("absent", None), *((key, alone.get(key)) for key in reversed(keys))]


class _MeetingStore(MemoryStore):
    """Each get waits until ``parties`` gets are in flight at once."""

    def __init__(self, parties: int, timeout: float) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=timeout)

    def get(self, key):  # type: ignore[no-untyped-def]
        self.barrier.wait()
        return super().get(key)


def test_reads_overlap_as_many_as_allowed_and_only_inside_the_block():
    store = _MeetingStore(parties=4, timeout=10)
    for i in range(8):
        store.put(f"k/{i}", b"%d" % i)
    with reads_in_flight(4):
        assert read_store(store) == {f"k/{i}": b"%d" % i for i in range(8)}  # two rounds of four at once
    store = _MeetingStore(parties=2, timeout=0.2)
    store.put("k/0", b"0")
    store.put("k/1", b"1")
    with pytest.raises(threading.BrokenBarrierError):
        read_store(store)  # outside the block: one read at a time, so the first waits alone
