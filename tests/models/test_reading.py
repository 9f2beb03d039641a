"""The checker's reads of a store: the same answers whether they overlap or not."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pubsafe.models.checkers.reading import ListedContents, read_keys, read_store, reads_in_flight
from pubsafe.models.machine.strategies import names
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


class _CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def get(self, key):  # type: ignore[no-untyped-def]
        self.reads.append(key)
        return super().get(key)


def test_listed_contents_read_only_what_is_looked_up_and_agree_with_a_full_read():
    from pubsafe.models.checkers.manifest_last import check_currents
    from pubsafe.models.checkers.oracle import Oracle
    from pubsafe.refimpl import Engine

    store = _CountingStore()
    engine = Engine(store)
    for n in range(10):
        engine.publish("acme", f"s{n}", {"model": {"n": n}, "items": [n]})
    # a broken current
    store.delete("acme/s3/model/" + engine.current("acme", "s3").current["model"].rsplit("/", 1)[-1])
    store.reads.clear()
    lazy = ListedContents(store)
    found = check_currents(lazy, store.root_uri, Oracle())
    lazy_reads = list(store.reads)
    assert [v.message for v in found] == [
        v.message for v in check_currents(read_store(store), store.root_uri, Oracle())]
    assert len(found) == 1 and "does not exist" in found[0].message
    assert len(set(lazy_reads)) == len(lazy_reads) <= 10 * 5  # each current, its 2 blobs and 2 records, once
    assert len(lazy) == len(read_store(store)) > 10 * 5 and "absent" not in lazy and lazy.get("absent") is None
