"""The watching reader: G2 at the moments between a round's start and end.

Each scenario is played against a real watcher, with the writer waiting until the
watcher has read current again before its next move, so every version is seen
whatever the machine's speed. The at-rest check (what blackbox did alone) is run at
the end too, to show what only the watcher catches."""

from __future__ import annotations

import random
import time

import pytest

from pubsafe.models.blackbox.watch import CurrentWatcher
from pubsafe.models.checkers.manifest_last import check_currents
from pubsafe.models.checkers.oracle import Oracle, read_store
from pubsafe.models.guarantees import Guarantee
from pubsafe.refimpl import Engine, MemoryStore
from pubsafe.refimpl.layout import current_key

T, S = "acme", "home"
CURRENT = current_key(T, S)


def watching(store: MemoryStore) -> CurrentWatcher:
    return CurrentWatcher(store, CURRENT, store.root_uri, Oracle())


def seen_again(watcher: CurrentWatcher, times: int = 2) -> None:
    """Wait until the watcher has read current ``times`` more times."""
    target, deadline = watcher.reads + times, time.monotonic() + 10
    while watcher.reads < target and watcher.sighting is None:
        assert time.monotonic() < deadline, "the watcher stopped reading"
        time.sleep(0.0005)


def at_rest_finds_nothing(store: MemoryStore) -> bool:
    return check_currents(read_store(store), store.root_uri, Oracle()) == []


@pytest.mark.parametrize("kept", [0.0, 0.5, 0.99])
def test_a_current_torn_for_a_moment_is_seen_and_an_at_rest_check_misses_it(kept):
    store = MemoryStore()
    Engine(store).publish(T, S, {"model": {"w": 1}})
    whole = store.get(CURRENT)
    torn = whole[: int(len(whole) * kept)]
    with watching(store) as watcher:
        seen_again(watcher)
        store.replace(CURRENT, torn)  # truncate (and write the first part)...
        seen_again(watcher)
        store.replace(CURRENT, whole)  # ...then the rest
        seen_again(watcher)
    assert watcher.sighting is not None and watcher.sighting.violation.guarantee is Guarantee.G2
    assert "does not parse" in watcher.sighting.violation.message
    assert watcher.sighting.data == torn
    assert at_rest_finds_nothing(store)


def test_a_first_current_created_empty_then_written_is_seen():
    """open(path, "wb") creates the file empty before the first write: the very first
    version a reader sees can be zero bytes."""
    written = MemoryStore()
    Engine(written).publish(T, S, {"model": {"w": 3}})
    contents = read_store(written)
    store = MemoryStore()
    for key, data in contents.items():
        if key != CURRENT:
            store.put(key, data)
    with watching(store) as watcher:
        seen_again(watcher)
        store.put(CURRENT, b"")
        seen_again(watcher)
        store.replace(CURRENT, contents[CURRENT])
        seen_again(watcher)
    assert watcher.sighting is not None and watcher.sighting.data == b""
    assert "does not parse" in watcher.sighting.violation.message


def test_a_swap_before_the_blob_is_seen_naming_a_missing_blob():
    written = MemoryStore()
    Engine(written).publish(T, S, {"model": {"w": 2}, "items": ["caf\u00e9"]})
    contents = read_store(written)
    store = MemoryStore()
    with watching(store) as watcher:
        store.put(CURRENT, contents[CURRENT])  # the swap first...
        seen_again(watcher)
        for key, data in contents.items():  # ...then the blobs and records
            if key != CURRENT:
                store.put(key, data)
        seen_again(watcher)
    assert watcher.sighting is not None and "does not exist" in watcher.sighting.violation.message
    assert at_rest_finds_nothing(store)


def test_a_named_blob_rewritten_in_place_under_an_unchanged_current_is_seen():
    """Current never changes, but the blob it names is rewritten in place (truncated,
    then written again): a reader fetching it then gets bytes that do not validate."""
    store = MemoryStore()
    Engine(store).publish(T, S, {"model": {"w": 4}})
    (blob,) = [k for k in read_store(store) if k.startswith(f"{T}/{S}/model/")]
    whole = store.get(blob)
    with watching(store) as watcher:
        seen_again(watcher)
        store.replace(blob, whole[: len(whole) // 2])
        seen_again(watcher, times=2 * watcher.rejudge_every)
        store.replace(blob, whole)
        seen_again(watcher)
    assert watcher.sighting is not None and "does not validate" in watcher.sighting.violation.message
    assert watcher.versions == 1 and at_rest_finds_nothing(store)


@pytest.mark.parametrize("seed", range(3))
def test_correct_publishes_while_watched_show_nothing_and_every_version_is_judged(seed):
    rng = random.Random(seed)
    store, publishes = MemoryStore(), 25
    engine = Engine(store)
    with watching(store) as watcher:
        for n in range(publishes):
            types = rng.sample(["model", "items", "features", "r\u00e9sum\u00e9", "\u6a21\u578b"], rng.randint(1, 3))
            engine.publish(T, S, {t: {"n": n, "x": rng.random(), "s": "\U0001f600" * rng.randint(0, 5)} for t in types})
            seen_again(watcher)
    assert watcher.sighting is None
    assert watcher.versions == publishes


def test_a_read_that_fails_ends_the_watch_and_is_raised():
    class Failing(MemoryStore):
        def get(self, key: str) -> bytes:
            raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        with CurrentWatcher(Failing(), CURRENT, "memory://x", Oracle()) as watcher:
            time.sleep(0.01)
    assert watcher.reads == 0


RECORD = f"records/{T}/{S}/model/{'a' * 64}.json"


def watching_records(store: MemoryStore, known: tuple[str, ...] = ()) -> CurrentWatcher:
    return CurrentWatcher(store, CURRENT, store.root_uri, Oracle(), records=[f"records/{T}/{S}/"], known=known)


def records_read_again(watcher: CurrentWatcher, times: int = 2) -> None:
    target, deadline = watcher.record_reads + times, time.monotonic() + 10
    while watcher.record_reads < target and watcher.record_sighting is None:
        assert time.monotonic() < deadline, "the watcher stopped reading records"
        time.sleep(0.0005)


def test_a_record_rewritten_while_watched_is_seen_with_both_versions():
    """Two runs of a check-then-write: the second writes the record over the first's
    within milliseconds; the store at rest holds one record, as if written once."""
    store = MemoryStore()
    first = b'{"Version": "a", "BuiltAt": "2026-01-01T00:00:00.1Z"}'
    second = b'{"Version": "a", "BuiltAt": "2026-01-01T00:00:00.2Z"}'
    with watching_records(store) as watcher:
        store.put(RECORD, first)
        records_read_again(watcher)
        store.replace(RECORD, second)
        records_read_again(watcher)
    sighting = watcher.record_sighting
    assert sighting is not None and sighting.violation.guarantee is Guarantee.G3
    assert f"registry record {RECORD} was rewritten while the round ran" in sighting.violation.message
    assert "00.1Z" in sighting.violation.message and "00.2Z" in sighting.violation.message
    assert watcher.first_seen[RECORD][1] == first and sighting.data == second


@pytest.mark.parametrize("seed", range(3))
def test_records_written_once_while_watched_show_nothing(seed):
    """Correct publishes (create-only records) while watched: every new record is read,
    none changes; records there before the watch (``known``) are left to the at-rest check."""
    store = MemoryStore()
    engine = Engine(store)
    engine.publish(T, S, {"model": {"before": seed}})
    known = tuple(k for k in store.list("records/"))
    with watching_records(store, known) as watcher:
        for n in range(10):
            engine.publish(T, S, {"model": {"n": n, "seed": seed}, "items": [n]})
            engine.publish(T, S, {"model": {"n": n, "seed": seed}, "items": [n]})  # a republish: no new record
            records_read_again(watcher)
    assert watcher.record_sighting is None and watcher.sighting is None
    assert len(watcher.first_seen) == 20 and not set(watcher.first_seen) & set(known)


def test_a_record_read_mid_write_then_whole_is_no_rewrite():
    """On a store without atomic writes a reader can catch a record half written; the
    write completing is not a rewrite of a record (one read whole never changes)."""
    store = MemoryStore()
    whole = b'{"v": 1, "version": "' + b"a" * 64 + b'"}'
    with watching_records(store) as watcher:
        store.put(RECORD, whole[:10])
        records_read_again(watcher)
        store.replace(RECORD, whole)
        records_read_again(watcher)
    assert watcher.record_sighting is None and watcher.first_seen[RECORD][1] == whole
