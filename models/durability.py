"""Power loss at every OS call of a publish workload, on a LocalStore-shaped store.

Used by the test suite (every fsync is needed) and by conformance probing of the
``durable`` claim of any store built on LocalStore's OS seam.
"""

from __future__ import annotations

from collections.abc import Callable

from pubsafe.faults import Crash, SimulatedDisk
from pubsafe.refimpl import Engine
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.errors import IntegrityError
from pubsafe.refimpl.store import Store

__all__ = ["ROOT", "power_loss_violations", "workload_calls"]

ROOT = "/disk/store"
_ORPHAN = "beta/feed/model/" + canonicalize({"w": 4})[1] + ".json"

StoreMaker = Callable[[SimulatedDisk], Store]


def _workload(engine: Engine, acknowledged: dict, in_flight: dict, arm: Callable[[], None]) -> None:
    """Publish (new tenant, surface, type directories), roll back, publish, sweep."""
    steps = [
        ("acme", "home", lambda: engine.publish("acme", "home", {"model": {"w": 1}})),
        ("acme", "home", lambda: engine.publish("acme", "home", {"model": {"w": 2}, "items": [1, 2]})),
        ("acme", "home", lambda: engine.rollback("acme", "home", steps=1)),
        ("beta", "feed", lambda: engine.publish("beta", "feed", {"model": {"w": 3}})),
        # an orphan (as a crashed publish leaves), swept, then published for real
        ("beta", "feed", lambda: engine.store.put(_ORPHAN, b'{"w":4}')),
        ("beta", "feed", lambda: engine.gc(grace_seconds=0)),
        ("beta", "feed", lambda: engine.publish("beta", "feed", {"model": {"w": 4}})),
    ]
    for tenant, surface, step in steps:
        in_flight.clear()
        in_flight[(tenant, surface)] = None
        receipt = step()
        version = getattr(receipt, "manifest_version", None) or getattr(receipt, "to_version", None)
        if version is not None:
            acknowledged[(tenant, surface)] = version
        arm()
    in_flight.clear()


def workload_calls(make: StoreMaker) -> int:
    disk = SimulatedDisk()
    _workload(Engine(make(disk)), {}, {}, lambda: None)
    return disk.calls


def power_loss_violations(make: StoreMaker, cut: int | None, drop: frozenset[str] = frozenset()) -> set[str]:
    """Cut the power before OS call ``cut`` (None: after the workload); broken IDs.

    ``drop`` names LocalStore methods whose fsyncs stop working after the first
    step, so a mutant starts from a store whose directories are already durable.
    """
    disk = SimulatedDisk()
    acknowledged: dict = {}
    in_flight: dict = {}
    disk.cut_after(cut)
    try:
        _workload(Engine(make(disk)), acknowledged, in_flight, lambda: disk.drop(drop))
    except Crash:
        pass
    disk.power_loss()
    engine = Engine(make(disk))
    broken = {f.guarantee for f in engine.audit() if f.guarantee != "G3" or "does not parse" in f.message}
    for slot, version in acknowledged.items():
        try:
            current = engine.current(*slot)
        except IntegrityError:
            broken.add("G2")
            continue
        if current is None or (current.version != version and slot not in in_flight):
            broken.add("durability")
    return broken
