"""Two sweeps and a publish, interleaved at every store operation (R5 with the GC lease).

The story that once lost an acknowledged publish: sweep A claims orphan X, deletes it
and is about to release its tombstone; sweep B sees A's tombstone as stale; A
releases; a publish of X writes blob and record and swaps; B then deletes X and the
new record. With the lease two sweeps never overlap, and every interleaving keeps
each acknowledged publish's blob and record; without it, some interleaving breaks.
"""

from __future__ import annotations


from pubsafe.faults import Crash, FaultyStore, Interleaving, explore_reduced
from pubsafe.models.checkers.manifest_last import check_currents
from pubsafe.models.oracle import Oracle, blob_key, payload_version, read_store, record_key
from pubsafe.refimpl import Engine, MemoryStore, gc
from pubsafe.refimpl.errors import CollectionInProgress, IntegrityError, SweepInProgress

T, S = "acme", "home"
ORPHAN = {"w": 2}


class _NoLease:
    """What a sweep without the lease does: nothing to stop a second sweep."""

    def __init__(self, *args: object) -> None:
        pass

    def acquire(self) -> None:
        pass

    def check(self) -> None:
        pass

    def release(self) -> None:
        pass


def _explore(clock, *, until_broken: bool = False) -> tuple[int, list[str]]:
    def run(prefix, policy):
        store = MemoryStore(clock=clock)
        Engine(store, clock=clock).publish(T, S, {"model": {"w": 1}})
        try:
            Engine(FaultyStore(store, "crash@record-write"), clock=clock).publish(T, S, {"model": ORPHAN})
        except Crash:
            pass
        clock.advance(3600)
        actors = {
            "A": lambda s: Engine(s, clock=clock).gc(0),
            "B": lambda s: Engine(s, clock=clock).gc(0),
            "P": lambda s: Engine(s, clock=clock).publish(T, S, {"model": ORPHAN}),
        }
        result = Interleaving(store, actors).run(prefix, policy)
        result_stores[result.schedule] = store
        return result

    result_stores: dict = {}
    runs, broken = 0, []
    blob = blob_key(T, S, "model", payload_version(ORPHAN))
    for result in explore_reduced(run):
        runs += 1
        store = result_stores.pop(result.schedule)
        for name in "AB":
            assert result.outcomes[name].error is None or isinstance(result.outcomes[name].error, SweepInProgress)
        published = result.outcomes["P"].error
        assert published is None or isinstance(published, (CollectionInProgress, IntegrityError)), result.schedule
        contents = read_store(store)
        problems = [str(v) for v in check_currents(contents, store.root_uri, Oracle())]
        if published is None and (blob not in contents or record_key(T, S, "model", payload_version(ORPHAN)) not in contents):
            problems.append("an acknowledged publish lost its blob or record")
        if problems:
            broken.append(f"{result.schedule}: {problems[0]}")
            if until_broken:
                break
    return runs, broken


def test_two_sweeps_and_a_publish_never_lose_an_acknowledged_publish(clock):
    runs, broken = _explore(clock)
    assert broken == []
    assert runs > 1000, runs  # every class of interleavings of the three actors


def test_without_the_lease_some_interleaving_loses_the_publish(clock, monkeypatch):
    monkeypatch.setattr(gc, "_Lease", _NoLease)
    runs, broken = _explore(clock, until_broken=True)
    assert broken, f"no interleaving of {runs} broke anything: the lease would not be needed"
