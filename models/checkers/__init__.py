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
- ``listing``           a listing that leaves keys out (what gc relies on: G1), named
                        as the cause of what it breaks

``check_contents`` is the invariant the state machine asserts after every step (G1–G3
on everything the store holds, as mirrored by ``models.observed``); ``check_store``
reads a store whole and runs it. Checkers parse and hash with ``models.oracle``,
never with the engine's code.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from pubsafe.refimpl.store import Store

from ..guarantees import Guarantee
from .immutability import check_blobs
from .listing import listing_fault
from .manifest_last import check_currents
from .oracle import Oracle, read_store
from .reading import ReadOnMiss
from .retry import check_records
from .violation import GuaranteeViolation, Violation

__all__ = ["Violation", "GuaranteeViolation", "check_store", "check_contents"]


def check_store(store: Store, oracle: Oracle, *, skip: Collection[Guarantee] = ()) -> list[Violation]:
    """G1–G3 on the store's present state, read whole (every object once).

    The whole store is what its listing names; a key a check looks up (an acknowledged
    blob, a blob or record a current names) that the listing left out is read by key,
    and if it is there the finding is the listing fault, with what it would otherwise
    have passed for (``checkers.listing``), not a missing object.
    """
    contents = ReadOnMiss(store, read_store(store))
    found = check_contents(contents, store.root_uri, oracle, skip=skip)
    if contents.omitted and Guarantee.G1 not in skip:
        fault = listing_fault("", contents.given, [*contents.given, *contents.omitted], "; ".join(map(str, found)))
        if fault is not None:
            return [fault]
    return found


def check_contents(contents: Mapping[str, bytes], root_uri: str, oracle: Oracle, *,
                   skip: Collection[Guarantee] = ()) -> list[Violation]:
    """G1–G3 on every object of a store (``contents``: key -> bytes, as read from it);
    guarantees in ``skip`` are not checked."""
    found: list[Violation] = []
    if Guarantee.G1 not in skip:
        found += check_blobs(contents, oracle)
    if Guarantee.G2 not in skip:
        found += check_currents(contents, root_uri, oracle)
    if Guarantee.G3 not in skip:
        found += check_records(contents, oracle)
    return found
