"""The Store contract suite, reusable for any backend (fsspec abstract-tests style).

Wire a backend in with one class::

    class TestMyStore(StoreContractTests):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(...)

Capabilities the store does not declare are not tested as promises; instead the
suite checks the store refuses or behaves as the weaker contract says.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from pubsafe.refimpl.errors import AlreadyExists, Conflict, InvalidKey, ObjectNotFound, UnsupportedOperation
from pubsafe.refimpl.store import ABSENT, Store


class StoreContractTests:
    #: Opt-out for backends (or test doubles) whose conditional writes are atomic only
    #: for one client at a time; set to the reason as a string.
    skip_concurrent_conditions: str | None = None

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError("override the `store` fixture with your backend")

    # -- get / put -------------------------------------------------------------

    def test_get_missing_raises_not_found(self, store: Store) -> None:
        with pytest.raises(ObjectNotFound):
            store.get("a/missing.json")
        with pytest.raises(FileNotFoundError):  # the built-in meaning matches
            store.get_object("a/missing.json")

    def test_put_then_get_round_trips_bytes(self, store: Store) -> None:
        payload = bytes(range(256)) * 3
        etag = store.put("t/s/x/1.json", payload)
        obj = store.get_object("t/s/x/1.json")
        assert obj.data == payload
        assert obj.etag == etag

    def test_put_refuses_existing_key_and_keeps_bytes(self, store: Store) -> None:
        store.put("k/a.json", b"first")
        with pytest.raises(AlreadyExists):
            store.put("k/a.json", b"second")
        assert store.get("k/a.json") == b"first"

    def test_create_only_is_atomic_under_concurrency(self, store: Store) -> None:
        if not store.capabilities.create_only:
            pytest.skip("store does not claim atomic create-only")
        if self.skip_concurrent_conditions:
            pytest.skip(self.skip_concurrent_conditions)
        winners = _race(8, lambda i: store.put("race/key.json", f"writer-{i}".encode()), AlreadyExists)
        assert len(winners) == 1
        assert store.get("race/key.json") == f"writer-{winners[0]}".encode()

    # -- replace -----------------------------------------------------------------

    def test_replace_creates_and_overwrites_whole_document(self, store: Store) -> None:
        store.replace("current/m.json", b"a much longer first document")
        store.replace("current/m.json", b"short")
        assert store.get("current/m.json") == b"short"

    def test_etag_changes_with_content(self, store: Store) -> None:
        e1 = store.replace("current/m.json", b"one")
        e2 = store.replace("current/m.json", b"two")
        assert e1 != e2
        assert store.get_object("current/m.json").etag == e2
        assert store.stat("current/m.json").etag == e2

    def test_compare_and_swap(self, store: Store) -> None:
        if not store.capabilities.compare_and_swap:
            with pytest.raises(UnsupportedOperation):
                store.replace("current/m.json", b"x", expect=ABSENT)
            assert not store.exists("current/m.json")
            return
        e1 = store.replace("current/m.json", b"one", expect=ABSENT)
        with pytest.raises(Conflict):
            store.replace("current/m.json", b"again", expect=ABSENT)
        e2 = store.replace("current/m.json", b"two", expect=e1)
        with pytest.raises(Conflict) as info:
            store.replace("current/m.json", b"stale", expect=e1)
        assert info.value.actual_etag in (e2, None)  # reported where the backend says it
        assert store.get("current/m.json") == b"two"
        with pytest.raises(Conflict):
            store.replace("current/absent.json", b"x", expect=e2)
        assert not store.exists("current/absent.json")

    def test_compare_and_swap_has_one_winner(self, store: Store) -> None:
        if not store.capabilities.compare_and_swap:
            pytest.skip("store does not claim compare-and-swap")
        if self.skip_concurrent_conditions:
            pytest.skip(self.skip_concurrent_conditions)
        base = store.replace("current/m.json", b"base")
        winners = _race(6, lambda i: store.replace("current/m.json", f"w{i}".encode(), expect=base), Conflict)
        assert len(winners) == 1
        assert store.get("current/m.json") == f"w{winners[0]}".encode()

    def test_replace_is_atomic_to_a_concurrent_reader(self, store: Store) -> None:
        if not store.capabilities.atomic_replace:
            pytest.skip("store does not claim atomic replace")
        old, new = b"A" * 200_000, b"B" * 150_000
        store.replace("current/big.json", old)
        seen: set[bytes] = set()
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                seen.add(store.get("current/big.json"))

        reader = threading.Thread(target=read)
        reader.start()
        for _ in range(20):
            store.replace("current/big.json", new)
            store.replace("current/big.json", old)
        done.set()
        reader.join()
        assert seen <= {old, new}

    # -- list / stat / delete ----------------------------------------------------

    def test_list_is_a_sorted_string_prefix_match(self, store: Store) -> None:
        for key in ["a/b/1.json", "a/b/2.json", "a/bc/3.json", "records/a/b/1.json", "z.json"]:
            store.put(key, b"{}")
        assert store.list("a/b/") == ["a/b/1.json", "a/b/2.json"]
        assert store.list("a/b") == ["a/b/1.json", "a/b/2.json", "a/bc/3.json"]
        assert store.list("") == sorted(["a/b/1.json", "a/b/2.json", "a/bc/3.json", "records/a/b/1.json", "z.json"])
        assert store.list("nothing/") == []

    def test_stat_reports_size_and_time(self, store: Store) -> None:
        store.put("s/one.json", b"12345")
        info = store.stat("s/one.json")
        assert info.size == 5
        assert info.modified > 0
        with pytest.raises(ObjectNotFound):
            store.stat("s/two.json")
        with pytest.raises(ObjectNotFound):
            store.stat("s")  # a "directory" is not an object

    def test_delete(self, store: Store) -> None:
        store.put("d/x.json", b"1")
        store.delete("d/x.json")
        assert not store.exists("d/x.json")
        assert store.list("d/") == []
        with pytest.raises(ObjectNotFound):
            store.delete("d/x.json")

    @pytest.mark.parametrize("key", ["", "/abs.json", "../up.json", "a/../b.json", "a//b.json", "a\\b.json", "./a.json"])
    def test_keys_that_escape_or_alias_are_refused(self, store: Store, key: str) -> None:
        with pytest.raises(InvalidKey):
            store.put(key, b"x")
        with pytest.raises(InvalidKey):
            store.get(key)
        assert store.list("") == []


def _race(writers: int, write: Callable[[int], object], refusal: type[Exception]) -> list[int]:
    """Start ``writers`` threads at once, each calling ``write(i)``; who was not refused."""
    winners: list[int] = []
    barrier = threading.Barrier(writers)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            write(i)
            winners.append(i)
        except refusal:
            pass

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return winners
