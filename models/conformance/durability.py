"""Power loss at every OS call of a publish workload, on a LocalStore-shaped store.

Used by the test suite (every fsync is needed) and by conformance probing of the
``durable`` claim of any store built on LocalStore's OS seam.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pubsafe.faults import Crash, SimulatedDisk
from pubsafe.refimpl import Engine
from pubsafe.refimpl.errors import ObjectNotFound
from pubsafe.refimpl.store import Store

from ..checkers import check_store
from ..checkers.oracle import Oracle, blob_key, current_key, parse_manifest, payload_version, read_store
from ..checkers.rollback import check_history

__all__ = ["ROOT", "power_loss_violations", "workload_calls"]

ROOT = "/disk/store"
_ORPHAN = blob_key("beta", "feed", "model", payload_version({"w": 4}))

StoreMaker = Callable[[SimulatedDisk], Store]
Slot = tuple[str, str]


def _workload(engine: Engine, oracle: Oracle, current: dict[Slot, str], in_flight: set[Slot],
              arm: Callable[[], None]) -> None:
    """Publish (new tenant, surface, type directories), roll back, publish, sweep."""
    acme, beta = ("acme", "home"), ("beta", "feed")
    steps: list[tuple[Slot, Callable[[], Any], dict[str, Any]]] = [
        (acme, lambda: engine.publish(*acme, {"model": {"w": 1}}), {"model": {"w": 1}}),
        (acme, lambda: engine.publish(*acme, {"model": {"w": 2}, "items": [1, 2]}),
         {"model": {"w": 2}, "items": [1, 2]}),
        (acme, lambda: engine.rollback(*acme, steps=1), {}),
        (beta, lambda: engine.publish(*beta, {"model": {"w": 3}}), {"model": {"w": 3}}),
        # an orphan (as a crashed publish leaves), swept, then published for real
        (beta, lambda: engine.store.put(_ORPHAN, b'{"w":4}'), {}),
        (beta, lambda: engine.gc(grace_seconds=0), {}),
        (beta, lambda: engine.publish(*beta, {"model": {"w": 4}}), {"model": {"w": 4}}),
    ]
    for slot, step, payloads in steps:
        in_flight.clear()
        in_flight.add(slot)
        step()
        for type_, value in payloads.items():
            oracle.ack_payload(*slot, type_, value)
        manifest = parse_manifest(engine.store.get(current_key(*slot)))
        oracle.ack_manifest(*slot, manifest.version, manifest.current)
        current[slot] = manifest.version
        arm()
    in_flight.clear()


def workload_calls(make: StoreMaker) -> int:
    disk = SimulatedDisk()
    _workload(Engine(make(disk)), Oracle(), {}, set(), lambda: None)
    return disk.calls


def power_loss_violations(make: StoreMaker, cut: int | None, drop: frozenset[str] = frozenset()) -> set[str]:
    """Cut the power before OS call ``cut`` (None: after the workload); broken IDs.

    ``drop`` names fsync labels (``refimpl.osio.FSYNC_LABELS``) that stop working
    after the first step, so a mutant starts from a store whose directories are
    already durable. ``durability`` is reported when an acknowledged swap was undone.
    """
    disk = SimulatedDisk()
    oracle = Oracle()
    acknowledged: dict[Slot, str] = {}
    in_flight: set[Slot] = set()
    disk.cut_after(cut)
    try:
        _workload(Engine(make(disk)), oracle, acknowledged, in_flight, lambda: disk.drop(drop))
    except Crash:
        pass
    disk.power_loss()
    store = make(disk)
    broken = {str(v.guarantee) for v in check_store(store, oracle) + check_history(read_store(store), oracle)}
    for slot, version in acknowledged.items():
        try:
            current = parse_manifest(store.get(current_key(*slot))).version
        except ObjectNotFound:
            broken.add("durability")  # an acknowledged current vanished
            continue
        except ValueError:
            continue  # unreadable: check_store reported G2
        if current != version and slot not in in_flight:
            broken.add("durability")
    return broken
