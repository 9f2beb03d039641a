"""Two sweeps and a publish, interleaved at every store operation (R5 with the GC lease).

The story that loses an acknowledged publish: sweep A claims orphan X and is about to
delete it; sweep B takes the lease over and finishes A's claim (deletes X, removes A's
tombstone); a publish of X writes blob and record and swaps; A's delete then lands.
B can take over a live sweep only if it judges the lease lapsed on a clock that is
wrong. Here the sweeps' clocks are an hour ahead of and behind the store's, and every
interleaving keeps each acknowledged publish's blob and record, because lapse is
judged on the store's clock. The mutants show the check has teeth: judged on the
sweep's own clock, or with no lease at all, the story above loses the publish.
"""

from __future__ import annotations

import pytest

from pubsafe.faults import Crash, FaultyStore, Interleaving
from pubsafe.models.checkers.manifest_last import check_currents
from pubsafe.models.checkers.oracle import Oracle, blob_key, payload_version, read_store, record_key
from pubsafe.models.exploration import new_registry, two_sweeps, whole_store_publish, whole_store_sweep
from pubsafe.models.exploration.enumerate import enumerate_race
from pubsafe.refimpl import Engine, MemoryStore, gc
from pubsafe.refimpl.errors import CollectionInProgress, SweepInProgress
from pubsafe.refimpl.gc_lease import Lease
from support import StepClock

T, S = "acme", "home"
ORPHAN = {"w": 2}
HOUR = 3600.0
BLOB = blob_key(T, S, "model", payload_version(ORPHAN))


class _NoLease:
    """What a sweep without the lease does: nothing to stop a second sweep."""

    generation = 0

    def __init__(self, *args: object, owner: str, **kwargs: object) -> None:
        self.owner = owner

    def acquire(self) -> float:
        return float("inf")  # granted at once, and every orphan old enough

    def fence(self) -> None:
        pass

    def release(self) -> None:
        pass


class _OwnClockLease(Lease):
    """Judges whether a lease lapsed by the sweep's own clock, as pubsafe once did."""

    def _store_now(self) -> float:
        return self.clock()


@pytest.mark.slow
def test_two_sweeps_on_hosts_two_hours_apart_and_a_publish_never_lose_an_acknowledged_publish():
    """Every interleaving (explored state by state), sweep B's clock an hour ahead of the
    store's and sweep C's an hour behind: the publish is kept or backs off, never lost."""
    counts = enumerate_race(two_sweeps(HOUR), full=True, crashes=False, max_states=1_000_000)
    assert counts.violations == []
    assert counts.interleavings > 10**14 and counts.checks > 300, counts  # three actors, every order


def _the_story() -> tuple[dict, dict]:
    """Sweep A (the store's clock) until its next operation deletes X; then sweep B (an
    hour ahead) to its end; then the publish adopting X; then A. Outcomes and contents."""
    clock = StepClock()
    store = MemoryStore(clock=clock)
    Engine(store, clock=clock).publish(T, S, {"model": {"w": 1}})
    try:
        Engine(FaultyStore(store, "crash@record-write"), clock=clock).publish(T, S, {"model": ORPHAN})
    except Crash:
        pass
    clock.advance(HOUR)
    ahead = StepClock(clock() + HOUR)
    actors = {"A": lambda s: Engine(s, clock=clock).gc(0), "B": lambda s: Engine(s, clock=ahead).gc(0),
              "P": lambda s: Engine(s, clock=clock).publish(T, S, {"model": ORPHAN})}
    reached = False

    def policy(step: int, waiting: dict) -> str:
        nonlocal reached
        reached = reached or waiting.get("A") == ("delete", BLOB)
        return next(actor for actor in ("BPA" if reached else "A") if actor in waiting)

    result = Interleaving(store, actors).run("", policy)
    assert reached, "sweep A never came to delete the orphan"
    return result.outcomes, read_store(store)


def _lost(outcomes: dict, contents: dict) -> list[str]:
    problems = [str(v) for v in check_currents(contents, "memory://", Oracle())]
    record = record_key(T, S, "model", payload_version(ORPHAN))
    if outcomes["P"].error is None and (BLOB not in contents or record not in contents):
        problems.append("an acknowledged publish lost its blob or record")
    return problems


def test_in_the_story_the_second_sweep_is_refused_and_the_publish_backs_off():
    outcomes, contents = _the_story()
    assert isinstance(outcomes["B"].error, SweepInProgress)
    assert isinstance(outcomes["P"].error, CollectionInProgress)
    assert outcomes["A"].error is None and _lost(outcomes, contents) == []


@pytest.mark.parametrize("lease", [_OwnClockLease, _NoLease], ids=["lapse by the sweep's own clock", "no lease"])
def test_without_fencing_by_the_store_the_story_loses_the_publish(monkeypatch, lease):
    monkeypatch.setattr(gc, "Lease", lease)
    outcomes, contents = _the_story()
    assert outcomes["P"].error is None  # acknowledged...
    assert _lost(outcomes, contents)  # ...and lost


# -- a new registry's first publish and another registry's sweep of their blob store ----


def test_a_new_registrys_first_publish_and_another_registrys_sweep_never_lose_a_publish():
    """Every interleaving and crash point: registry reg-b's first publish adopts an
    orphan that reg-a's sweep of the shared blob store collects. The publish binds
    before it looks at any blob and refuses while a sweep is announced; the sweep
    announces itself before its first delete and re-reads the bindings at every fence
    (refimpl/split.py, refimpl/gc.py ``_Fence``). An outside tester lost 8 of 9 such
    publishes before."""
    counts = enumerate_race(new_registry(), crashes=True, full=True)
    assert counts.interleavings > 10**9 and counts.crash_points > 10**10
    assert counts.violations == []


def _binds_without_looking(self, rid):
    """A publish that binds but never looks for an announced sweep."""


def _fences_the_lease_only(self):
    """A sweep that proves its lease before each delete but never reads the bindings again."""
    self.lease.fence()


def _baseline_read_after_announcing(original):
    def init(self, lease, store):
        original(self, lease, store)
        if self.bound is not None:  # the bindings as read now, not as the survey proved them
            self.bound = set(store.bound_registries())
    return init


@pytest.mark.parametrize("mutant", ["publish never looks for a sweep", "sweep never re-reads the bindings",
                                    "sweep's baseline read after announcing"])
def test_each_half_of_the_binding_argument_is_needed(monkeypatch, mutant):
    from pubsafe.refimpl import gc as gc_module
    from pubsafe.refimpl.split import SplitStore

    if mutant == "publish never looks for a sweep":
        monkeypatch.setattr(SplitStore, "_refuse_while_swept", _binds_without_looking)
    elif mutant == "sweep never re-reads the bindings":
        monkeypatch.setattr(gc_module._Fence, "fence", _fences_the_lease_only)
    else:
        monkeypatch.setattr(gc_module._Fence, "__init__", _baseline_read_after_announcing(gc_module._Fence.__init__))
    counts = enumerate_race(new_registry(), crashes=False)  # one interleaving per class finds it
    assert counts.violations and all("does not exist" in v for v in counts.violations)


# -- a store swept as a whole while a registry's first publish uses it as its blob store --


def test_a_whole_store_sweep_and_a_registrys_first_publish_into_that_store_never_lose_a_publish():
    """Every interleaving and crash point: registry reg-b's first publish into the whole
    store ``objects`` as its blob store adopts an orphan of ``objects`` that gc of
    ``objects`` as a whole store collects. The publish records it in reg-b, where the
    sweep's claim never looks; the sweep announces itself in the store and reads the
    bindings after that (refimpl/gc.py ``_Fence``). On the code before, 38 of the 198
    crash points and interleavings of the reduced enumeration lost the publish."""
    counts = enumerate_race(whole_store_sweep(), crashes=True, full=True)
    assert counts.interleavings > 10**6 and counts.crash_points > 10**7
    assert counts.violations == []


def _announces_nothing(self, lease, store):
    """A whole-store sweep as before: no announcement, no bindings read after the survey."""
    self.lease, self.store, self.generation, self.bound = lease, store, lease.generation, None


@pytest.mark.parametrize("mutant", ["whole-store sweep never announces", "whole-store sweep never reads the bindings"])
def test_each_half_of_the_whole_store_argument_is_needed(monkeypatch, mutant):
    from pubsafe.refimpl import gc as gc_module

    if mutant == "whole-store sweep never announces":
        monkeypatch.setattr(gc_module._Fence, "__init__", _announces_nothing)
    else:
        monkeypatch.setattr(gc_module._Fence, "_refuse_bound_since", lambda self: None)
    counts = enumerate_race(whole_store_sweep(), crashes=False)  # one interleaving per class finds it
    assert counts.violations and all("does not exist" in v for v in counts.violations)


# -- a registry's sweep while its blob store is published into as a whole store ---------


def test_a_registrys_sweep_and_a_whole_store_publish_into_its_blob_store_never_lose_a_publish():
    """Every interleaving and crash point: a publish into ``objects`` as a whole store
    (``--store OBJECTS``) adopts an orphan of registry reg-a, whose sweep collects it. The
    publish records it at ``objects/records/``, which a claim at reg-a's record key never
    blocks; the sweep claims at both record keys (refimpl/gc.py ``_claim_keys``). On the
    code before, 68 of the 832 crash points and interleavings of the reduced enumeration
    lost the publish."""
    counts = enumerate_race(whole_store_publish(), crashes=True, full=True)
    assert counts.interleavings > 10**7 and counts.crash_points > 10**8
    assert counts.violations == []


def test_a_sweep_that_claims_only_in_its_registry_loses_a_whole_store_publish(monkeypatch):
    from pubsafe.refimpl import gc as gc_module

    monkeypatch.setattr(gc_module, "_claim_keys", lambda store, rkey: [(store, rkey)])
    counts = enumerate_race(whole_store_publish(), crashes=False)  # one interleaving per class finds it
    assert counts.violations and all("does not exist" in v for v in counts.violations)
