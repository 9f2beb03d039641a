"""The checkers: one module per guarantee, each returning the violations it finds.

Where is G*n* checked? Here, and only here:

- G1 ``immutability``   acknowledged blobs stay, stored blobs never change, versions
- G2 ``manifest_last``  current parses and names valid, recorded blobs; failed
                        publishes leave it unchanged; returned publishes are current
- G3 ``retry``          records are append-only; retries converge
- G4 ``rollback``       only the pointer changes, to exactly the chosen mapping
- G5 ``serving``        staleness within the TTL, verified bytes only
- R1–R3 ``races``       lost updates, judged from acknowledged outcomes
- R4 ``orphans``        unreferenced blobs, counted
- R5 ``gc_race``        a sweep's deletion on the path of a broken current

``check_store`` is the invariant the state machine asserts after every step (G1–G3
on everything the store holds). Checkers parse and hash with ``models.oracle``,
never with the engine's code.
"""

from __future__ import annotations

from collections.abc import Collection

from pubsafe.refimpl.store import Store

from ..guarantees import Guarantee
from ..oracle import Oracle, read_store
from .immutability import check_blobs
from .manifest_last import check_currents
from .retry import check_records
from .violation import GuaranteeViolation, Violation

__all__ = ["Violation", "GuaranteeViolation", "check_store"]


def check_store(store: Store, oracle: Oracle, *, skip: Collection[Guarantee] = ()) -> list[Violation]:
    """G1–G3 on the store's present state; guarantees in ``skip`` are not checked.

    Every object is read once per check (remote stores pay per request).
    """
    contents = read_store(store)
    found: list[Violation] = []
    if Guarantee.G1 not in skip:
        found += check_blobs(contents, oracle)
    if Guarantee.G2 not in skip:
        found += check_currents(contents, store.root_uri, oracle)
    if Guarantee.G3 not in skip:
        found += check_records(contents, oracle)
    return found
