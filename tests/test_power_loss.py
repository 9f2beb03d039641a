"""LocalStore under simulated power loss, at every OS call of a workload.

The workload publishes (creating new tenant, surface and type directories), rolls
back and publishes again. The power is cut before each OS primitive in turn (and
once after the workload); after the power loss a fresh engine checks:

- G1/G2/G4: audit of what survived is clean (torn or empty files, dangling names);
- durability: every acknowledged operation survived; current is the last
  acknowledged manifest or the one the interrupted operation was swapping in.

Then each fsync of LocalStore is removed in turn, and some cut must break a guarantee.
"""

from __future__ import annotations

import pytest

from faults import Crash
from faults.power import SimulatedDisk
from refimpl import Engine, LocalStore
from refimpl.canonical import canonicalize
from refimpl.errors import IntegrityError

ROOT = "/disk/store"
ORPHAN = "beta/feed/model/" + canonicalize({"w": 4})[1] + ".json"


def workload(engine: Engine, acknowledged: dict[tuple[str, str], str], in_flight: dict, arm=lambda: None) -> None:
    """``arm`` runs after the first step: mutants start on an existing, synced store."""
    steps = [
        ("acme", "home", lambda: engine.publish("acme", "home", {"model": {"w": 1}})),
        ("acme", "home", lambda: engine.publish("acme", "home", {"model": {"w": 2}, "items": [1, 2]})),
        ("acme", "home", lambda: engine.rollback("acme", "home", steps=1)),
        ("beta", "feed", lambda: engine.publish("beta", "feed", {"model": {"w": 3}})),
        # an orphan (as a crashed publish leaves), swept, then published for real
        ("beta", "feed", lambda: engine.store.put(ORPHAN, b'{"w":4}')),
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


def violations_after_cut(cut: int | None, drop: frozenset[str] = frozenset()) -> set[str]:
    """Run the workload, cut power before OS call ``cut``, return broken guarantee IDs."""
    disk = SimulatedDisk()
    acknowledged: dict[tuple[str, str], str] = {}
    in_flight: dict = {}
    disk.cut_after(cut)
    finished = True
    try:
        workload(Engine(LocalStore(ROOT, os_ops=disk)), acknowledged, in_flight, lambda: disk.drop(drop))
    except Crash:
        finished = False
    disk.power_loss()
    engine = Engine(LocalStore(ROOT, os_ops=disk))
    broken = {f.guarantee for f in engine.audit() if f.guarantee != "G3" or "does not parse" in f.message}
    for slot, version in acknowledged.items():
        try:
            current = engine.current(*slot)
        except IntegrityError:
            broken.add("G2")
            continue
        if current is None or (current.version != version and slot not in in_flight):
            broken.add("durability")
    if finished and cut is not None:
        raise AssertionError("cut point beyond the workload")
    return broken


def total_calls() -> int:
    disk = SimulatedDisk()
    workload(Engine(LocalStore(ROOT, os_ops=disk)), {}, {})
    return disk.calls


CALLS = total_calls()


def test_the_workload_touches_the_disk_enough_to_matter():
    assert CALLS > 100


@pytest.mark.parametrize("cut", [*range(CALLS), None])
def test_power_loss_at_any_point_keeps_every_guarantee(cut):
    assert violations_after_cut(cut) == set()


@pytest.mark.parametrize(
    ("fsync_site", "breaks"),
    [
        ("_write_temp", "G2"),  # file data not synced: current survives as an empty file
        ("_ensure_dir", "G2"),  # a new type directory vanishes under a durable manifest
        ("put", "G2"),  # a blob's name vanishes under a durable manifest
        ("replace", "durability"),  # an acknowledged swap (the rollback) is undone
    ],
)
def test_each_fsync_is_needed(fsync_site, breaks):
    drop = frozenset({fsync_site})
    found: set[str] = set()
    for cut in [*range(CALLS), None]:
        found |= violations_after_cut(cut, drop)
        if breaks in found:
            break
    assert breaks in found, f"removing the fsync in {fsync_site} broke nothing we could see: {found}"
