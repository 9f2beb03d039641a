"""Each fault kind, on memory and local stores, and what the guarantee checks see."""

from __future__ import annotations

import pytest

from pubsafe.faults import Crash, FaultPlan, FaultyStore
from pubsafe.faults.stale import StaleStore
from pubsafe.refimpl import Engine, FsspecStore, MemoryStore, ServingReader
from pubsafe.refimpl.errors import IntegrityError, InvalidInput, RetryableStoreError
from pubsafe.refimpl.layout import current_key

T, S = "acme", "home"


def published(store, clock):
    Engine(store, clock=clock).publish(T, S, {"model": 0})
    return store.get(current_key(T, S))


def test_plans_round_trip_as_strings():
    text = "lost-ack@swap,crash@record-write#2,torn@op=replace,error@3,slow@key=current/*"
    assert str(FaultPlan.parse(text)) == text
    with pytest.raises(InvalidInput, match="unknown fault kind 'explode'"):
        FaultPlan.parse("explode@swap")
    with pytest.raises(InvalidInput, match="expected KIND@WHERE"):
        FaultPlan.parse("crash")


@pytest.mark.parametrize("phase", [
    "blob-write", "validate-read", "record-write", "confirm-read", "history-write", "swap",
])
def test_crash_before_the_swap_leaves_current_byte_identical(store, clock, phase):
    before = published(store, clock)
    faulty = FaultyStore(store, f"crash@{phase}")
    with pytest.raises(Crash) as info:
        Engine(faulty, clock=clock).publish(T, S, {"model": 1})
    assert info.value.phase == phase
    assert store.get(current_key(T, S)) == before
    with pytest.raises(Crash, match="after the process crashed"):
        faulty.get(current_key(T, S))  # the dead process cannot go on


def test_crash_is_not_swallowed_by_except_exception(store, clock):
    faulty = FaultyStore(store, "crash@blob-write")
    try:
        Engine(faulty, clock=clock).publish(T, S, {"model": 1})
    except Exception:  # noqa: BLE001 - the point: this must not catch a Crash
        pytest.fail("a Crash was caught as an ordinary Exception")
    except Crash:
        pass


@pytest.mark.parametrize("phase", ["blob-write", "record-write", "history-write", "swap"])
def test_lost_ack_then_retry_converges_to_one_record(store, clock, phase):
    published(store, clock)
    with pytest.raises(Crash):
        Engine(FaultyStore(store, f"lost-ack@{phase}"), clock=clock).publish(T, S, {"model": 1})
    retry = Engine(store, clock=clock).publish(T, S, {"model": 1})
    assert retry.swapped is (phase != "swap")
    assert len(store.list("records/")) == 2
    assert Engine(store).audit() == []


@pytest.mark.parametrize("kind", ["error", "error-after"])
def test_transient_errors_surface_as_retryable_and_a_retry_converges(store, clock, kind):
    before = published(store, clock)
    with pytest.raises(RetryableStoreError):
        Engine(FaultyStore(store, f"{kind}@swap"), clock=clock).publish(T, S, {"model": 1})
    assert (store.get(current_key(T, S)) == before) is (kind == "error")
    Engine(store, clock=clock).publish(T, S, {"model": 1})
    assert Engine(store).audit() == []


def test_torn_replace_on_a_non_atomic_store_is_visible_to_a_reader(tmp_path, clock):
    store = FsspecStore((tmp_path / "f").as_uri())
    assert not store.capabilities.atomic_replace
    published(store, clock)
    with pytest.raises(Crash, match="torn write"):
        Engine(FaultyStore(store, "torn@swap"), clock=clock).publish(T, S, {"model": 1})
    reader = ServingReader(store, clock=clock)
    assert reader.manifest(T, S) is None  # no last good manifest to fall back on
    assert "not a valid Manifest" in reader.errors[0].message
    assert [f.guarantee for f in Engine(store).audit()] == ["G2"]


def test_slow_and_pause_call_their_hooks(store, clock):
    slept, paused = [], []
    faulty = FaultyStore(store, "slow@swap,pause-after@record-write", delay=2.5, sleep=slept.append,
                         on_pause=paused.append)
    Engine(faulty, clock=clock).publish(T, S, {"model": 1})
    assert slept == [2.5]
    assert len(paused) == 1 and paused[0].startswith("after put records/")
    assert [str(f) for f in faulty.fired] == ["slow@swap", "pause-after@record-write"]


def test_nth_match_and_op_index_placement(store, clock):
    faulty = FaultyStore(store, "crash@blob-write#2")
    with pytest.raises(Crash):
        Engine(faulty, clock=clock).publish(T, S, {"a": 1, "b": 2})
    assert [e.phase for e in faulty.events].count("blob-write") == 2
    faulty = FaultyStore(store, "crash@0")
    with pytest.raises(Crash):
        Engine(faulty, clock=clock).publish(T, S, {"a": 1})
    assert len(faulty.events) == 1


def test_stale_reads_lag_by_at_most_the_bound(clock):
    inner = MemoryStore(clock=clock)
    stale = StaleStore(inner, lag=10, clock=clock)
    stale.replace("current/k.json", b"v1")
    clock.advance(10)
    stale.replace("current/k.json", b"v2")
    assert stale.get("current/k.json") == b"v1"
    clock.advance(9.9)
    assert stale.get("current/k.json") == b"v1"
    clock.advance(0.1)
    assert stale.get("current/k.json") == b"v2"
    assert inner.get("current/k.json") == b"v2"


def test_delayed_list_visibility(clock):
    stale = StaleStore(MemoryStore(clock=clock), lag=5, clock=clock)
    stale.put("a/1.json", b"1")
    assert stale.list("a/") == []
    clock.advance(5)
    assert stale.list("a/") == ["a/1.json"]
    stale.delete("a/1.json")
    assert stale.list("a/") == ["a/1.json"]  # deletions show late too
    clock.advance(5)
    assert stale.list("a/") == []


def test_without_read_after_write_a_publish_refuses_rather_than_swap(clock):
    inner = MemoryStore(clock=clock)
    stale = StaleStore(inner, lag=30, clock=clock)
    with pytest.raises(IntegrityError, match="does not read back as written"):
        Engine(stale, clock=clock).publish(T, S, {"model": 0})
    assert not inner.exists(current_key(T, S))


def test_a_stale_manifest_read_loses_an_update_silently(clock):
    """Why guarded mode exists: merging into a stale current drops a type (like R2)."""
    inner = MemoryStore(clock=clock)
    stale = StaleStore(inner, lag=30, clock=clock, only="current/*")
    engine = Engine(stale, clock=clock)
    engine.publish(T, S, {"model": 0})
    clock.advance(31)
    engine.publish(T, S, {"items": 1})
    engine.publish(T, S, {"model": 2})  # reads the manifest from before "items"
    assert set(Engine(inner).current(T, S).current) == {"model"}
    assert Engine(inner).audit() == []  # every guarantee of the catalogue still holds


@pytest.mark.serial
def test_a_paused_process_holding_what_the_others_wait_for_is_continued(tmp_path):
    """A publisher paused while holding a lock must not turn the round into a deadlock
    that only the timeout ends (a round once took 120 s instead of 1)."""
    import sys
    import time

    from pubsafe.faults.processes import run_together

    lock = tmp_path / "lock"
    holder = [sys.executable, "-c", f"import os, time; open({str(lock)!r}, 'w').close(); time.sleep(0.2); "
                                    f"os.remove({str(lock)!r})"]
    waiter = [sys.executable, "-c", f"import os, time\nwhile os.path.exists({str(lock)!r}): time.sleep(0.01)"]
    started = time.monotonic()
    runs = run_together([("holder", holder), ("waiter", waiter)], {}, pause_when={0: lock.exists}, timeout=30,
                        pause_limit=0.5)
    assert [r.exit_code for r in runs] == [0, 0] and not any(r.killed for r in runs)
    assert time.monotonic() - started < 15
    assert runs[0].stalled and not runs[1].stalled  # the waiter waited on the paused holder


@pytest.mark.serial
def test_on_pause_sees_the_paused_process_stopped(tmp_path):
    """What the paused process left is what ``on_pause`` sees: a counter it bumps every
    millisecond no longer moves there (a check before the SIGSTOP took hold could see the
    process get further, say, swap current, and call a late pause in time)."""
    import sys
    import time

    from pubsafe.faults.processes import run_together

    counter = tmp_path / "counter"
    ticker = [sys.executable, "-c", f"import os, time\nn = 0\nwhile n < 3000:\n    n += 1\n"
                                    f"    open({str(counter)!r} + '.t', 'w').write(str(n))\n"
                                    f"    os.replace({str(counter)!r} + '.t', {str(counter)!r})\n    time.sleep(0.001)"]
    seen: list[str] = []

    def look() -> None:
        seen.append(counter.read_text())
        time.sleep(0.05)
        seen.append(counter.read_text())

    runs = run_together([("ticker", ticker), ("other", [sys.executable, "-c", "pass"])], {},
                        pause_when={0: counter.exists}, on_pause={0: look}, timeout=60)
    assert runs[0].paused and runs[0].exit_code == 0 and not runs[0].stalled
    assert len(seen) == 2 and seen[0] == seen[1]
    assert int(counter.read_text()) == 3000  # continued after the pause, and ran to its end
