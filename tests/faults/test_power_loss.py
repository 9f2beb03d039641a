"""LocalStore under simulated power loss, at every OS call of a workload.

The workload (models.durability) publishes, creating new tenant, surface and type
directories, rolls back, publishes again and sweeps an orphan. The power is cut
before each OS primitive in turn (and once after the workload); after the power
loss a fresh engine checks that the audit is clean (no torn or empty files, no
dangling names: G1/G2/G4) and that every acknowledged operation survived.
Then each fsync of LocalStore (by its label) is removed in turn, and some cut must break something.
"""

from __future__ import annotations

import pytest

from pubsafe.models.conformance.durability import ROOT, power_loss_violations, workload_calls
from pubsafe.refimpl import LocalStore


def local(disk):
    return LocalStore(ROOT, os_ops=disk)


CALLS = workload_calls(local)


def test_the_workload_touches_the_disk_enough_to_matter():
    assert CALLS > 150


@pytest.mark.parametrize("cut", [*range(CALLS), None])
def test_power_loss_at_any_point_keeps_every_guarantee(cut):
    assert power_loss_violations(local, cut) == set()


@pytest.mark.parametrize(
    ("fsync_site", "breaks"),
    [
        ("file-data", "G2"),  # file data not synced: current survives as an empty file
        ("new-directory", "G2"),  # a new type directory vanishes under a durable manifest
        ("created-entry", "G2"),  # a blob's name vanishes under a durable manifest
        ("replaced-entry", "durability"),  # an acknowledged swap (the rollback) is undone
    ],
)
def test_each_fsync_is_needed(fsync_site, breaks):
    found: set[str] = set()
    for cut in [*range(CALLS), None]:
        found |= power_loss_violations(local, cut, frozenset({fsync_site}))
        if breaks in found:
            break
    assert breaks in found, f"removing the fsync in {fsync_site} broke nothing we could see: {found}"
