"""Orphans (R4) and the garbage collector that never loses live data (R5).

An orphan is a blob key that no registry record and no current or historic manifest
references: what a crashed publish leaves behind. The sweep deletes only what it can
prove is one, and fails closed: a manifest it cannot parse, a URI it cannot place,
a listing that fails, stop it before it deletes anything (CollectionRefused).

- **One sweep at a time.** A sweep first takes a lease, created create-only at
  ``gc/lease.json`` with an owner and an expiry; it renews the lease as it goes and
  stops if the lease was lost. Another sweep meanwhile refuses (SweepInProgress); a
  lease left by a crashed sweep is taken over once it has expired (by
  compare-and-swap where the store has it). A lease cannot fence a process that
  stalls for longer than the lease: keep sweeps' host pauses well below it.
- **No race with publishes.** Each deletion holds a *tombstone* the sweep created,
  create-only, at that blob's record key. A publish's record-write and a sweep's
  claim are therefore mutually exclusive: if the record lands first, the claim fails
  and the blob is kept; if the claim lands first, the publish backs off before its
  swap (CollectionInProgress). A publish whose record lands after a deletion sees
  the gap in its confirm-read and rewrites the blob.
- **Crashed sweeps.** Their tombstones are finished by the next lease holder (the
  blob, if still unreferenced, deleted; the tombstone removed), re-reading the
  tombstone before each step. A tombstone at a key that is not a blob's record key,
  or one that does not parse, is reported and left alone.
- **Debris.** Temp files of interrupted writes older than the grace period are
  removed; links are reported and left to a person.
- **Other writers.** A store with recsys-pipelines records is refused: that writer
  does not honour claims. So is an object-store root seen without its registry.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from ._memo import MANIFESTS
from .documents import (
    GCLease,
    GCReport,
    GCTombstone,
    HistoryEntry,
    OrphanInfo,
    dump_document,
    is_tombstone,
    load_document,
    utc_timestamp,
)
from .errors import (
    AlreadyExists,
    CollectionRefused,
    Conflict,
    IntegrityError,
    InvalidInput,
    InvalidKey,
    ObjectNotFound,
    SweepInProgress,
)
from .dialects import DIALECTS, parse_any_record
from .layout import CURRENT, GC_LEASE, RECORDS, Listing, Locator, classify, parse_blob_key, record_keys
from .phases import phase
from .store import Debris, Store

__all__ = ["list_orphans", "sweep", "LEASE_SECONDS", "validated_grace"]

#: How long a sweep's lease lasts unless renewed (it is renewed a third of the way in).
LEASE_SECONDS = 300.0


def validated_grace(grace_seconds: float) -> float:
    if isinstance(grace_seconds, bool) or not isinstance(grace_seconds, (int, float)):
        raise InvalidInput(f"grace period must be a number of seconds, got {grace_seconds!r}")
    if not math.isfinite(grace_seconds) or grace_seconds < 0:
        raise InvalidInput(f"grace period must be a finite, non-negative number of seconds, got {grace_seconds!r}")
    return float(grace_seconds)


# -- what the store holds ----------------------------------------------------------


class _Survey:
    """One listing of the store, with every manifest parsed (or the sweep refused)."""

    def __init__(self, blobs: list[str], records: set[str]) -> None:
        self.blobs = blobs
        self.records = records
        self.referenced: set[str] = set()


def _refuse_half_a_store(store: Store, listing: Listing) -> None:
    if listing.blobs and not (listing.records or listing.currents or listing.histories):
        raise CollectionRefused(
            f"{store.root_uri} holds blobs but no registry (no records/, current/ or history/): this looks like the "
            "object-store root of a store whose registry lives elsewhere, and every blob would look like an orphan. "
            "Give the registry root with --store and this one with --blob-store"
        )


def _survey(store: Store) -> _Survey:
    listing = classify(store.list(""))
    _refuse_half_a_store(store, listing)
    writers = {record.dialect for key in sorted(listing.records)[:_SAMPLE]
               if (record := parse_any_record(_quietly(store, key))) is not None}
    if any(not DIALECTS[name].honours_claims for name in writers):
        raise CollectionRefused(
            "records written by recsys-pipelines are here, and its publish does not honour gc's claims: it takes "
            "any file at a record path as 'already recorded' and swaps in a blob that a sweep may be deleting "
            "(R5). gc cannot prove a deletion safe on a store such a writer may publish to, so it deletes "
            "nothing. What would make it safe: a store that only pubsafe publishes to"
        )
    survey = _Survey([ref.key for ref in listing.blobs], listing.records)
    locator = Locator.of(store)
    for key in [*listing.currents, *listing.histories]:
        try:
            raw = store.get(key)
            doc = MANIFESTS.load(raw, key) if key.startswith(CURRENT) else load_document(HistoryEntry, raw, key).manifest
        except ObjectNotFound:
            continue  # replaced or removed since the listing: what it named is in the newer one
        except IntegrityError as exc:
            raise CollectionRefused(
                f"{key} does not parse ({exc}); gc deletes nothing while a manifest it cannot read might name "
                "a blob. Repair it first: `pubsafe audit` says what is wrong, `pubsafe rollback --to` restores a "
                "current manifest from history"
            ) from None
        for uri in doc.current.values():
            try:
                survey.referenced.add(locator.key(uri))
            except InvalidKey:
                raise CollectionRefused(
                    f"{key} names {uri!r}, which is not a key of this store ({store.root_uri}); gc cannot tell "
                    "whether that is one of this store's blobs under another name, so it deletes nothing "
                    "(a copied store: map its old root with --root-map OLD=NEW)"
                ) from None
    return survey


_SAMPLE = 50  # records looked at to learn who writes this store


def _quietly(store: Store, key: str) -> bytes:
    try:
        return store.get(key)
    except ObjectNotFound:
        return b""


def list_orphans(store: Store, now: float) -> list[OrphanInfo]:
    """Blobs that no record and no current or historic manifest references (R4)."""
    listing = classify(store.list(""))
    _refuse_half_a_store(store, listing)
    referenced = _referenced_lenient(store, listing.currents, listing.histories)
    found = []
    for ref in listing.blobs:
        if any(k in listing.records for k in record_keys(ref)) or ref.key in referenced:
            continue
        try:
            info = store.stat(ref.key)
        except ObjectNotFound:
            continue
        found.append(OrphanInfo(key=ref.key, size=info.size, age_seconds=max(0.0, now - info.modified)))
    return found


def _referenced_lenient(store: Store, currents: list[str], histories: list[str]) -> set[str]:
    """Blob keys named by the manifests that parse (listing orphans never deletes)."""
    locator = Locator.of(store)
    referenced: set[str] = set()
    for key in [*currents, *histories]:
        try:
            raw = store.get(key)
            doc = MANIFESTS.load(raw, key) if key.startswith(CURRENT) else load_document(HistoryEntry, raw, key).manifest
        except (IntegrityError, ObjectNotFound, InvalidKey):
            continue  # audit reports unreadable manifests
        for uri in doc.current.values():
            try:
                referenced.add(locator.key(uri))
            except InvalidKey:
                continue
    return referenced


# -- the lease ---------------------------------------------------------------------


class _Lease:
    """The one-sweep-at-a-time lease at ``gc/lease.json``."""

    def __init__(self, store: Store, clock: Callable[[], float], seconds: float, owner: str) -> None:
        self.store, self.clock, self.seconds, self.owner = store, clock, seconds, owner
        self.etag: str | None = None
        self.renewed_at = 0.0

    def _document(self) -> bytes:
        now = self.clock()
        self.renewed_at = now
        return dump_document(GCLease(owner=self.owner, acquired_at=utc_timestamp(now),
                                     expires_at=utc_timestamp(now + self.seconds)))

    def acquire(self) -> None:
        for _ in range(3):
            with phase("gc-lease"):
                try:
                    self.etag = self.store.put(GC_LEASE, self._document())
                    return
                except AlreadyExists:
                    pass
                try:
                    held = self.store.get_object(GC_LEASE)
                    break
                except ObjectNotFound:
                    continue  # released between our put and our read: try again
        else:
            raise SweepInProgress("other gc sweeps keep taking the lease; try again later")
        try:
            lease = load_document(GCLease, held.data, GC_LEASE)
        except IntegrityError:
            raise CollectionRefused(
                f"{GC_LEASE} is not a valid lease; if no gc is running, remove it by hand and run gc again"
            ) from None
        if lease.owner == self.owner:  # never with random ids: a caller's sweep_ids gave one twice
            raise CollectionRefused(
                f"{GC_LEASE} is held under this sweep's own id {self.owner!r}; a sweep cannot tell its lease from "
                "another's then, so it deletes nothing. Give every sweep an id of its own (Engine(sweep_ids=...))"
            )
        if self.clock() < lease.expires_at.timestamp():
            raise SweepInProgress(
                f"another gc sweep ({lease.owner}) holds the lease until {lease.expires_at.isoformat()}; two sweeps "
                "never run at once. Wait for it to finish; if it crashed, run gc again after that time"
            )
        with phase("gc-lease"):  # an expired lease: its sweep crashed or stalled; take it over
            try:
                if self.store.capabilities.compare_and_swap:
                    self.etag = self.store.replace(GC_LEASE, self._document(), expect=held.etag)
                else:
                    self.store.delete(GC_LEASE)
                    self.etag = self.store.put(GC_LEASE, self._document())
            except (Conflict, AlreadyExists, ObjectNotFound):
                raise SweepInProgress("another gc sweep took over the expired lease first; try again later") from None

    def check(self) -> None:
        """Before each deletion: still ours? Renewed a third of the way into it."""
        now = self.clock()
        if now - self.renewed_at >= self.seconds:
            raise CollectionRefused("this sweep's lease expired mid-sweep (the process stalled); it stopped")
        if now - self.renewed_at < self.seconds / 3:
            return
        with phase("gc-lease"):
            try:
                if self.store.capabilities.compare_and_swap:
                    self.etag = self.store.replace(GC_LEASE, self._document(), expect=self.etag)
                else:
                    if load_document(GCLease, self.store.get(GC_LEASE), GC_LEASE).owner != self.owner:
                        raise Conflict("taken over")
                    self.etag = self.store.replace(GC_LEASE, self._document())
            except (Conflict, ObjectNotFound, IntegrityError):
                raise CollectionRefused("another sweep took over this sweep's lease; this one stopped") from None

    def release(self) -> None:
        with phase("gc-lease"):
            try:
                held = self.store.get(GC_LEASE)
                if load_document(GCLease, held, GC_LEASE).owner == self.owner:
                    self.store.delete(GC_LEASE)
            except (ObjectNotFound, IntegrityError):
                pass


# -- the sweep ---------------------------------------------------------------------


def sweep(
    store: Store, grace_seconds: float, *, clock: Callable[[], float], lease_seconds: float = LEASE_SECONDS,
    sweep_id: str | None = None,
) -> GCReport:
    """Delete orphans and temp debris older than ``grace_seconds``; see the module docstring.

    ``sweep_id`` names this sweep in its lease and tombstones (default: random); it must
    differ from every other sweep's on the store: a lease is told apart by it, so a sweep
    that finds its own id on the lease refuses.
    """
    grace = validated_grace(grace_seconds)
    sweep_id = sweep_id or os.urandom(16).hex()
    lease = _Lease(store, clock, lease_seconds, sweep_id)
    lease.acquire()
    try:
        report = GCReport()
        survey = _survey(store)
        _finish_tombstones(store, survey, lease, report)
        _collect_orphans(store, survey, grace, clock, lease, sweep_id, report)
        _remove_debris(store, grace, clock(), lease, report)
        return report
    finally:
        lease.release()


def _finish_tombstones(store: Store, survey: _Survey, lease: _Lease, report: GCReport) -> None:
    for key in sorted(survey.records):
        with phase("gc-scan"):
            try:
                raw = store.get(key)
            except ObjectNotFound:
                continue
        if not is_tombstone(raw):
            continue
        try:
            load_document(GCTombstone, raw, key)
        except IntegrityError:
            report.left_alone[key] = "a malformed GC tombstone; inspect it and remove it by hand if no gc is running"
            continue
        blob = key[len(RECORDS):]
        if parse_blob_key(blob) is None:
            report.left_alone[key] = "a GC tombstone at a key that is no blob's record key; remove it by hand"
            continue
        lease.check()
        if blob not in survey.referenced:
            with phase("gc-delete"):
                if _still(store, key, raw):
                    _delete_quietly(store, blob)
        with phase("gc-release"):
            if _still(store, key, raw):
                _delete_quietly(store, key)
        report.finished_tombstones.append(key)


def _collect_orphans(
    store: Store, survey: _Survey, grace: float, clock: Callable[[], float], lease: _Lease, sweep_id: str,
    report: GCReport,
) -> None:
    for blob in survey.blobs:
        rkey = RECORDS + blob
        if rkey in survey.records or blob in survey.referenced:
            continue
        try:
            info = store.stat(blob)
        except ObjectNotFound:
            continue
        if clock() - info.modified < grace:
            report.kept_young.append(blob)
            continue
        lease.check()
        tomb = dump_document(GCTombstone(sweep_id=sweep_id, claimed_at=utc_timestamp(clock())))
        with phase("gc-claim"):
            try:
                store.put(rkey, tomb)
            except AlreadyExists:
                report.lost_race.append(blob)  # a publish recorded it meanwhile
                continue
        with phase("gc-delete"):
            _delete_quietly(store, blob)
        with phase("gc-release"):
            if _still(store, rkey, tomb):
                _delete_quietly(store, rkey)
        report.deleted.append(blob)


def _remove_debris(store: Store, grace: float, now: float, lease: _Lease, report: GCReport) -> None:
    for item in store.debris():
        if item.kind != "temp":
            report.left_alone[item.key] = _why_left(item)
        elif now - item.modified >= grace:
            lease.check()
            with phase("gc-delete"):
                store.remove_debris(item.key)
            report.removed_debris.append(item.key)


def _why_left(item: Debris) -> str:
    if item.kind == "link":
        return "a symbolic link inside the store; pubsafe never follows or removes links: remove it by hand"
    return f"{item.kind} entry that is not an object"


def _still(store: Store, key: str, expected: bytes) -> bool:
    """Does ``key`` still hold ``expected`` (our tombstone, not a record written since)?"""
    try:
        return store.get(key) == expected
    except ObjectNotFound:
        return False


def _delete_quietly(store: Store, key: str) -> None:
    try:
        store.delete(key)
    except ObjectNotFound:
        pass
