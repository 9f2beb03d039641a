"""Backend faults: errors injected below a store's API, so that its own mapping runs."""

from __future__ import annotations

import pytest

from pubsafe.faults.backend import LOCAL_KINDS, S3_KINDS, BackendFault, backend_seam
from pubsafe.models.exploration import backend_point, crash_sweep
from pubsafe.models.target import target_from_spec
from pubsafe.refimpl import Engine, LocalStore, MemoryStore
from pubsafe.refimpl.errors import InvalidInput, NoSpace, RetryableStoreError, StoreError
from pubsafe.refimpl.phases import phase
from pubsafe.refimpl.prefixed import PrefixedStore


def test_faults_read_and_print_as_strings_and_a_bad_one_shows_a_good_one():
    fault = BackendFault.parse("no-space@history-write/link#2", LOCAL_KINDS)
    assert (fault == BackendFault("no-space", "history-write", "link", 2)
            and str(fault) == "no-space@history-write/link#2")
    assert str(BackendFault.parse("throttle@swap", S3_KINDS)) == "throttle@swap"
    with pytest.raises(InvalidInput, match="KIND@PHASE.*for example 'throttle@history-write'"):
        BackendFault.parse("slow@swap", S3_KINDS)


def test_a_store_without_a_reachable_backend_has_no_seam_and_a_wrapped_one_has_its_inner_stores(tmp_path):
    assert backend_seam(MemoryStore()) is None
    local = LocalStore(tmp_path)
    assert backend_seam(PrefixedStore(local, "p")).store is local  # type: ignore[union-attr]


def test_a_local_fault_fires_once_at_its_phase_and_call_and_the_os_seam_is_restored(tmp_path):
    store = LocalStore(tmp_path)
    seam = backend_seam(store)
    assert seam is not None
    os_before = store.os
    store.put("a/x.json", b"{}")  # outside any phase: never touched
    with seam.injecting(seam.fault("no-space", "blob-write", "link")) as shot:
        store.put("a/y.json", b"{}")  # no phase: not it
        with phase("blob-write"), pytest.raises(NoSpace):
            store.put("a/z.json", b"{}")
        with phase("blob-write"):
            store.put("a/z.json", b"{}")  # fired once only
    assert shot.fired and "ENOSPC to link" in shot.what and store.os is os_before
    assert store.list("a/") == ["a/x.json", "a/y.json", "a/z.json"]


def test_an_error_after_the_call_took_effect_leaves_the_change_in_place(tmp_path):
    store = LocalStore(tmp_path)
    seam = backend_seam(store)
    with seam.injecting(seam.fault("timeout-after", "swap", "rename")) as shot, phase("swap"):
        with pytest.raises(StoreError):
            store.replace("current/x.json", b'{"v":1}')
    assert shot.fired and store.get("current/x.json") == b'{"v":1}'


def test_an_io_error_on_a_keys_own_lstat_is_a_store_error_not_a_raw_os_error(tmp_path):
    """Found by the backend sweep: LocalStore.exists() and stat() let an errno other than
    ENOENT escape as a bare OSError (a publish then failed with an error pubsafe does not
    document)."""
    store = LocalStore(tmp_path)
    store.put("a/b/c.json", b"{}")
    seam = backend_seam(store)
    for method in (store.exists, store.stat):
        with seam.injecting(seam.fault("io-error", "confirm-read", "lstat", 3)) as shot, phase("confirm-read"):
            with pytest.raises(StoreError, match="examining a/b/c.json"):
                method("a/b/c.json")
        assert shot.fired


def test_recording_lists_the_calls_and_a_sweep_fails_each_of_them_in_turn(tmp_path):
    store = LocalStore(tmp_path)
    engine = Engine(store)
    engine.publish("acme", "home", {"model": {"n": 1}})
    seam = backend_seam(store)
    with seam.injecting(None) as recording:
        engine.publish("acme", "home", {"model": {"n": 2}})
    assert ("history-write", "link") in recording.calls and ("swap", "rename") in recording.calls
    faults = seam.sweep(recording.calls)
    before = [(f.phase, f.call, f.nth) for f in faults if not f.kind.endswith("-after")]
    assert before == [(p, c, recording.calls[: i + 1].count((p, c))) for i, (p, c) in enumerate(recording.calls)]
    assert len({f.kind for f in faults}) == len(LOCAL_KINDS)  # one kind each, in turn
    assert BackendFault("timeout-after", "history-write", "link") in faults


@pytest.mark.parametrize("kind, expected", [("throttle", RetryableStoreError), ("conflict", RetryableStoreError),
                                            ("internal", RetryableStoreError), ("timeout", RetryableStoreError)])
def test_s3_errors_are_mapped_by_the_s3_store_itself(kind, expected):
    """No server needed: the injected answer replaces the request, and S3Store's own
    translation turns it into pubsafe's error (409 ConditionalRequestConflict is a
    conditional write in progress: retry, never "already exists")."""
    pytest.importorskip("s3fs")
    from pubsafe.refimpl.s3_store import S3Store

    store = S3Store("s3://bucket/prefix", key="k", secret="s", endpoint_url="http://127.0.0.1:9")
    seam = backend_seam(store)
    assert seam is not None and seam.name == "S3"
    with seam.injecting(seam.fault(kind, "history-write", "put_object")) as shot, phase("history-write"):
        with pytest.raises(expected):
            store.put("history/acme/home/x.json", b"{}")
    assert shot.fired and ("409 ConditionalRequestConflict" in shot.what) == (kind == "conflict")


def test_the_reference_local_store_keeps_every_guarantee_at_every_backend_fault_of_the_sweep():
    target = target_from_spec("local")
    points = [p for p in crash_sweep(target.store_factory, target.engine_for, target.cleanup)
              if p.fault.startswith("backend ")]
    assert len(points) > 40
    assert [(p.fault, v) for p in points for v in p.violations] == []


def test_a_backend_point_names_what_the_backend_said_and_what_the_store_made_of_it():
    from pubsafe.models.exploration import StepClock, payload
    from pubsafe.models.mutants import LinkErrorsAsExistsStore

    clock = StepClock()
    store = LinkErrorsAsExistsStore()
    engine = lambda s: Engine(s, clock=clock)  # noqa: E731
    engine(store).publish("acme", "home", {"model": payload(1), "items": payload(2)})
    point = backend_point(store, engine, clock, {"model": payload(5), "items": payload(6)},
                          BackendFault("no-space", "history-write", "link"))
    (violation,) = point.violations
    assert violation.guarantee == "G4" and "no history entry" in violation.message
    assert "answered ENOSPC to link" in violation.message and "raised AlreadyExists" in violation.message
