"""The Store contract, run against every built-in backend."""

from __future__ import annotations

import uuid

import pytest

from pubsafe.models.pytest_suite import StoreContractTests
from pubsafe.refimpl import FsspecStore, LocalStore, MemoryStore
from pubsafe.refimpl.store import Capabilities


class TestMemoryStore(StoreContractTests):
    @pytest.fixture
    def store(self):
        return MemoryStore()


class TestLocalStore(StoreContractTests):
    @pytest.fixture
    def store(self, tmp_path):
        return LocalStore(tmp_path / "store")


class TestFsspecMemoryStore(StoreContractTests):
    @pytest.fixture
    def store(self):
        store = FsspecStore(f"memory://pubsafe-test-{uuid.uuid4().hex}")
        yield store
        store.fs.rm(store.root, recursive=True) if store.fs.exists(store.root) else None


class TestFsspecLocalStore(StoreContractTests):
    @pytest.fixture
    def store(self, tmp_path):
        return FsspecStore((tmp_path / "fsspec").as_uri())


def test_fsspec_claims_only_what_fsspec_gives():
    memory = FsspecStore(f"memory://caps-{uuid.uuid4().hex}")
    assert memory.capabilities == Capabilities(
        atomic_replace=True, create_only=False, compare_and_swap=False, durable=False
    )
    assert FsspecStore("file:///tmp").capabilities.names() == []


def test_built_in_stores_claim_everything():
    for store in (MemoryStore(), LocalStore("unused-root-not-created")):
        assert set(store.capabilities.names()) == {"atomic_replace", "create_only", "compare_and_swap", "durable"}


def test_a_memory_store_copy_holds_the_same_objects_and_then_goes_its_own_way():
    original = MemoryStore()
    original.put("t/s/x/1.json", b"one")
    twin = original.copy()
    assert twin.get_object("t/s/x/1.json") == original.get_object("t/s/x/1.json")
    twin.put("t/s/x/2.json", b"two")
    original.replace("t/s/x/1.json", b"changed")
    assert original.list("") == ["t/s/x/1.json"] and twin.get("t/s/x/1.json") == b"one"


def test_a_local_read_holds_one_copy_of_the_file_at_a_time(tmp_path):
    import tracemalloc

    store = LocalStore(tmp_path)
    size = 8 * 2**20
    store.put("t/s/x/big.json", b"x" * size)
    tracemalloc.start()
    try:
        data = store.get("t/s/x/big.json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(data) == size and peak < 1.25 * size


def test_a_race_whose_set_up_fails_raises_instead_of_hanging(monkeypatch):
    """A store that fails between races (a remote store timing out) must end the check
    with its error, not leave the racing threads waiting for ever."""
    from pubsafe.models.conformance.contract import racing as contract

    def prepare(trial: int) -> None:
        if trial == 3:
            raise ConnectionError("the store went away")

    with pytest.raises(ConnectionError, match="went away"):
        contract._races(10, prepare, lambda trial, i: None, KeyError)


def test_a_racing_write_that_never_returns_is_a_timeout(monkeypatch):
    import threading

    from pubsafe.models.conformance.contract import racing as contract

    monkeypatch.setattr(contract, "RACE_TIMEOUT", 0.5)
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match="did not return"):
            contract._races(2, lambda trial: None, lambda trial, i: release.wait(30) if i == 0 else None, KeyError)
    finally:
        release.set()


def test_an_fsspec_scheme_whose_package_is_missing_says_what_to_install(monkeypatch):
    import sys

    from pubsafe.refimpl import FsspecStore
    from pubsafe.refimpl.errors import InvalidInput

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # as on a machine without it
    monkeypatch.delitem(sys.modules, "fsspec.implementations.http", raising=False)
    with pytest.raises(InvalidInput, match=r"pip install aiohttp requests\), then run again"):
        FsspecStore("http://127.0.0.1:9/store")
