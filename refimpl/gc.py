"""Orphans (R4) and the garbage collector that never races a publish (R5).

An orphan is a blob that no registry record and no current or historic manifest
references: what a crashed publish leaves behind.

The sweep deletes an orphan only while holding a *tombstone* it created, create-only,
at that blob's record key. A publish's record-write and a sweep's claim are therefore
mutually exclusive: if the publish's record lands first, the sweep's claim fails and
the blob is kept; if the claim lands first, the publish backs off before its swap
(CollectionInProgress). A publish whose record lands after a deletion sees the gap
in its confirm-read and rewrites the blob. Tombstones that a crashed sweep left behind
for longer than the grace period are finished by the next sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from ._memo import MANIFESTS
from .documents import (
    GCReport,
    GCTombstone,
    HistoryEntry,
    OrphanInfo,
    dump_document,
    is_tombstone,
    load_document,
    utc_timestamp,
)
from .errors import AlreadyExists, IntegrityError, InvalidInput, ObjectNotFound
from .layout import CURRENT, RECORDS, classify
from .phases import phase
from .store import Store

__all__ = ["list_orphans", "sweep"]


def _referenced(store: Store, currents: Iterable[str], histories: Iterable[str]) -> set[str]:
    """Blob keys named by any current or historic manifest."""
    root = store.root_uri.rstrip("/") + "/"
    referenced: set[str] = set()
    for key in [*currents, *histories]:
        try:
            raw = store.get(key)
            doc = MANIFESTS.load(raw, key) if key.startswith(CURRENT) else load_document(HistoryEntry, raw, key).manifest
        except (IntegrityError, ObjectNotFound):
            continue  # audit reports unreadable manifests
        referenced.update(uri.removeprefix(root) for uri in doc.current.values())
    return referenced


def list_orphans(store: Store, now: float) -> list[OrphanInfo]:
    """Blobs that no record and no current or historic manifest references (R4)."""
    listing = classify(store.list(""))
    referenced = _referenced(store, listing.currents, listing.histories)
    found = []
    for ref in listing.blobs:
        if RECORDS + ref.key in listing.records or ref.key in referenced:
            continue
        try:
            info = store.stat(ref.key)
        except ObjectNotFound:
            continue
        found.append(OrphanInfo(key=ref.key, size=info.size, age_seconds=max(0.0, now - info.modified)))
    return found


def sweep(store: Store, grace_seconds: float, *, clock: Callable[[], float]) -> GCReport:
    """Delete orphans older than ``grace_seconds``; never a blob a publish will name.

    Run one sweep at a time. Each deletion holds a tombstone at the blob's record key
    (see the module docstring), and the sweep first finishes tombstones that a
    crashed sweep left behind for longer than the grace period.
    """
    if grace_seconds < 0:
        raise InvalidInput("grace period must not be negative")
    sweep_id = uuid.uuid4().hex
    report = GCReport()
    now = clock()
    for key in store.list(RECORDS):
        with phase("gc-scan"):
            try:
                raw = store.get(key)
            except ObjectNotFound:
                continue
        if not is_tombstone(raw):
            continue
        tomb = load_document(GCTombstone, raw, key)
        if now - tomb.claimed_at.timestamp() >= grace_seconds:
            _collect(store, key[len(RECORDS):], key)
            report.finished_tombstones.append(key)
    for orphan in list_orphans(store, clock()):
        if orphan.age_seconds < grace_seconds:
            report.kept_young.append(orphan.key)
            continue
        rkey = RECORDS + orphan.key
        tomb = GCTombstone(sweep_id=sweep_id, claimed_at=utc_timestamp(clock()))
        with phase("gc-claim"):
            try:
                store.put(rkey, dump_document(tomb))
            except AlreadyExists:
                report.lost_race.append(orphan.key)
                continue
        _collect(store, orphan.key, rkey)
        report.deleted.append(orphan.key)
    return report


def _collect(store: Store, blob: str, tombstone: str) -> None:
    with phase("gc-delete"):
        try:
            store.delete(blob)
        except ObjectNotFound:
            pass
    with phase("gc-release"):
        try:
            store.delete(tombstone)
        except ObjectNotFound:
            pass
