"""The garbage collector that never deletes live data (R5), and why it cannot.

GC is the only code that deletes. Its safety is one argument, checked by exhaustive
exploration (tests/refimpl/test_gc_concurrency.py: every class of interleavings of
two sweeps whose clocks are an hour apart and a publish adopting the orphan) and by
real processes SIGKILLed at random with random clock offsets
(tests/slow/test_sigkill_gc.py), not by a list of cases.

**What "live" means.** A blob is live if a record names it, if a current or history
manifest names it, or if a publish in flight will be acknowledged with it.

**The argument.** A sweep deletes blob ``X`` only after all of these, in order:

1. *Capabilities.* The store declares create-only writes, and a probe on the lease
   just taken saw a second create of it refused (and, where compare-and-swap is
   declared, a stale etag refused). Without create-only there are no claims; gc
   refuses.
2. *The lease.* It holds ``gc/lease.json`` at a generation no other sweep holds
   (``gc_lease``: taken create-only or by compare-and-swap; lapse judged on the
   store's clock, never by comparing two hosts' clocks).
3. *Knowledge.* The survey (``gc_survey``) read every record and every manifest of
   every user of the store's blobs, and found ``X`` unrecorded and named by no
   manifest, in a slot where everything parsed; ``X``'s bytes hash to its version as
   pubsafe writes blobs (``_not_pubsafes``). A blob store's users: a whole store is
   its own only user when no registry is bound to it (``gc/bound/``: else refused); a
   registry's blob store has that registry alone, bound to it, and no registry of its
   own (records, current, history; else refused). Users that come after the survey
   are step 6's.
4. *The claim.* It created, create-only, a tombstone at every record key a publish
   could use for ``X``: the store's; for a registry's blob store, the registry's and
   then the blob store's own (a publish into the blob store as a whole store,
   ``--store OBJECTS``, records there; ``_claim_keys``). A publish records ``X`` with a
   create-only write to one of these keys before it confirms the blob and swaps, so
   at each key exactly one of them gets it: if a publish's record landed first the
   claim fails, what was claimed is withdrawn and ``X`` is kept; while the tombstones
   stand no publish can record ``X``, and one that tries stops before its swap
   (CollectionInProgress). A crashed sweep's claim is finished only once it stands
   at every such key again (it may have crashed between them).
5. *The re-proof.* After the claim it reads ``X``'s slot's current again: not named.
   (No new manifest can name ``X`` meanwhile: a manifest names only blobs that a
   publish recorded, or that a manifest already named, and step 3 found none.)
6. *The fence.* Immediately before the delete it proves it still holds the lease at
   its generation (a compare-and-swap renewal, or a read of the lease). And no new
   user of the store's blobs adopts ``X`` unseen: a registry's publish binds itself to
   its blob store before it looks at any blob, then refuses while a sweep of another
   user is announced there (``SplitStore.bind``); every sweep announces itself in the
   store that holds the blobs before its first delete, then reads the bindings (a
   whole store: none may appear; a blob store: no registry but its own, read again at
   every fence). Whichever comes first, the publish sees the announcement or the
   sweep sees the binding and stops (``_Fence`` says why one read suffices for a
   whole store).

Then it deletes ``X``, and only then removes its tombstones (in reverse order). So
every delete of ``X`` happens while each of ``X``'s record keys holds a tombstone, and a publish that records ``X``
afterwards sees the blob missing in its confirm-read and writes it again before it
swaps. Another sweep removes a tombstone only once it holds the lease at a later
generation, which the store grants only after this sweep's lease lapsed on the
store's clock; this sweep stops deleting at half its lease on its own monotonic
clock. The one thing left outside the argument: a delete request that stalls,
after its fence, for longer than half the lease (``gc_lease`` says more).

**Failing closed, and still making progress.** A store that is not a whole pubsafe
store, a blob store other registries share, or upstream records: nothing is deleted
(CollectionRefused). A slot whose manifests or records pubsafe cannot read: that
slot is left alone and reported, the rest is collected. A blob that cannot be
deleted (permission denied): reported, its claim withdrawn so it can be published
again, the sweep goes on; an error that leaves the delete's outcome unknown keeps
the claim for the next sweep to finish. A full disk: temp files of interrupted
writes (never acknowledged data) are removed first, without the lease, to make room
for it; a sweep that gives up after taking the lease hands it back (on a full disk by
deleting it, which needs no space), and one whose lease cannot be handed back says so,
with when it lapses. The report says what was left (``GCReport.partial``), and the CLI
exits 4.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

from .canonical import version_of_bytes
from .documents import GCReport, GCTombstone, dump_document, is_tombstone, load_document, utc_timestamp
from .errors import (
    AlreadyExists,
    CollectionRefused,
    IntegrityError,
    InvalidInput,
    NoSpace,
    ObjectNotFound,
    RetryableStoreError,
    StoreError,
)
from .gc_lease import CLOCKS, LEASE_SECONDS, Lease, new_sweep_id, validated_lease
from .gc_survey import (
    Survey,
    block_unreadable,
    list_orphans,
    names_in_current,
    refuse_hidden_bindings,
    slot_of,
    survey_store,
)
from .layout import BOUND, GC_LEASE, RECORDS, BlobRef, parse_blob_key
from .phases import phase
from .split import WHOLE_STORE_SWEEP, SplitStore
from .store import NOT_REGULAR, Debris, Store

__all__ = ["list_orphans", "sweep", "plan", "LEASE_SECONDS", "validated_grace", "why_gc_cannot_run"]


def validated_grace(grace_seconds: float) -> float:
    if isinstance(grace_seconds, bool) or not isinstance(grace_seconds, (int, float)):
        raise InvalidInput(f"grace period must be a number of seconds, got {grace_seconds!r}")
    if not math.isfinite(grace_seconds) or grace_seconds < 0:
        raise InvalidInput(f"grace period must be a finite, non-negative number of seconds, got {grace_seconds!r}")
    return float(grace_seconds)


def why_gc_cannot_run(store: Store) -> str | None:
    """Why gc refuses this store whatever it holds (missing capabilities), or None."""
    if not store.capabilities.create_only:
        return (f"{store!r} does not declare create-only writes, and gc's lease and claims rely on them (a claim "
                "written by check-then-write could overwrite a publish's record); gc deletes nothing there")
    return None


# -- the sweep ----------------------------------------------------------------------


def sweep(
    store: Store, grace_seconds: float, *, clock: Callable[[], float], lease_seconds: float = LEASE_SECONDS,
    sweep_id: str | None = None, monotonic: Callable[[], float] = time.monotonic,
) -> GCReport:
    """Delete orphans and temp debris older than ``grace_seconds``; see the module docstring.

    ``clock`` (this host's) stamps the documents a sweep writes and judges the grace
    period, which spares publishes in flight the work of writing a blob again but is
    not part of the safety argument; the lease is judged on the store's clock.
    ``sweep_id`` names this sweep in its lease and tombstones (default: random); it
    must differ from every other sweep's on the store.
    """
    grace = validated_grace(grace_seconds)
    seconds = validated_lease(lease_seconds)
    if (why := why_gc_cannot_run(store)) is not None:
        raise CollectionRefused(why)
    sweep_id = sweep_id or new_sweep_id()
    # Read-only first, so that every refusal comes before anything is written. Changes
    # after the survey are safe: a record written since makes the claim fail, a
    # tombstone finished since no longer holds the bytes read (see _still).
    survey = survey_store(store)
    debris = store.debris()
    refuse_hidden_bindings(store, survey.gc_keys, debris)
    block_unreadable(survey, debris)
    report = GCReport(blocked_slots=dict(survey.blocked), left_alone=dict(survey.left_alone))
    if not (survey.orphans() or survey.tombstones or survey.blob_claims or
            any(item.kind == "temp" for item in debris) or
            any(key.startswith((CLOCKS, WHOLE_STORE_SWEEP)) for key in survey.gc_keys)):
        for item in debris:
            _leave(report, item)
        return report  # nothing it could delete: nothing is written either (not even the lease)
    lease = Lease(store, owner=sweep_id, seconds=seconds, clock=clock, monotonic=monotonic)
    _acquire(lease, store, grace, clock, report)
    report.generation = lease.generation
    try:
        fence = _Fence(lease, store)
        _finish_tombstones(store, survey, fence, report)
        _remove_stray_claims(store, survey, fence, report)
        _collect_orphans(store, survey, grace, clock, fence, sweep_id, report)
        _remove_debris(store, grace, clock(), fence, report)
        _remove_clock_leftovers(store, survey, clock(), seconds, fence)
        _remove_stale_announcements(store, survey, fence)
    except BaseException as failure:
        _end_sweep(store, lease.generation)
        # A lease that cannot be handed back is no longer "nothing written": say so.
        if (left := lease.release()) is not None and isinstance(failure, Exception):
            raise StoreError(f"{failure}; besides, {left}") from failure
        raise
    _end_sweep(store, lease.generation)
    if (left := lease.release()) is not None:
        report.left_alone[GC_LEASE] = left
        report.for_a_person.append(GC_LEASE)
    return report


def _end_sweep(store: Store, generation: int) -> None:
    """Withdraw this sweep's announcement (best effort: the lease goes back anyway, and
    a later sweep of the store removes what is left, see ``_remove_stale_announcements``)."""
    try:
        if isinstance(store, SplitStore):
            store.end_sweep()
        else:
            _delete_quietly(store, _announcement(generation))
    except (StoreError, IntegrityError):  # the registry's id turned unreadable mid-sweep: a person removes it
        pass


def _announcement(generation: int) -> str:
    """Where a sweep of a whole store announces itself: under its lease generation, which
    no other sweep holds while it runs, so that only it, or a sweep that took the lease
    over after its lease lapsed, ever removes it. (Not its random id: equal runs of a
    conformance check must send equal requests.) A sweep withdraws it before it hands
    its lease back, so a sweep that takes the next lease at the same generation (a lease
    deleted, not handed back) never has its announcement withdrawn by this one."""
    return f"{WHOLE_STORE_SWEEP}{generation}.json"


class _Fence:
    """Step 6 of the argument: the lease, and the bindings of registries to the store.

    *A blob store* is swept only while this registry is the only one bound to it. A
    sweep announces itself in the blob store before its first fence, and every fence
    re-reads the bindings: a registry bound since (its publish could adopt an orphan
    whose claim sits in *this* registry, where it never looks) stops the sweep, and a
    publish that binds after the announcement refuses to go on (``SplitStore.bind``).

    *A whole store* is swept only while no registry is bound to it (the survey proved
    none). A registry's first publish into it as its blob store would record an
    orphan it adopts in its own registry, where this sweep's claim never looks. So the
    sweep announces itself in the store (``gc/sweeping/store-<generation>.json``) and
    then reads the bindings once: a publish that bound before the announcement is seen
    there (the sweep stops before its first delete); one that binds after it sees the
    announcement and refuses (``SplitStore.bind``). Once suffices because the
    announcement is this sweep's alone and stands until it ends: only this sweep, or
    one that took the lease over after this one's lapsed (when it no longer deletes),
    removes it. (A blob store's announcement is one per registry, which a stale sweep
    of the same registry could withdraw under its successor: hence its re-reads.)
    """

    def __init__(self, lease: Lease, store: Store) -> None:
        self.lease, self.store, self.generation = lease, store, lease.generation
        self.bound: set[str] | None = None
        if isinstance(store, SplitStore):
            # what the survey proved: this registry alone (not the bindings as read now,
            # which may already hold a registry bound since the survey)
            self.bound = {str(store.registry_id())}
            store.announce_sweep(lease.owner)
            return
        doc = {"store": store.root_uri, "sweep_id": lease.owner, "generation": lease.generation}
        store.replace(_announcement(lease.generation), json.dumps(doc).encode())
        self._refuse_bound_since()

    def _refuse_bound_since(self) -> None:
        """A whole store, after its announcement: no registry bound since the survey."""
        root = self.store.root_uri
        if bound := self.store.list(BOUND):
            raise CollectionRefused(
                f"a registry bound itself to {root} during this sweep ({bound[0]}): it publishes into this store as "
                "its blob store, and its manifests name blobs here that this store's own do not, so the sweep "
                "stopped before deleting anything. gc of it as a whole store refuses from now on; a store used both "
                "as a registry's blob store and as a store of its own cannot be collected until the two are separated")

    def fence(self) -> None:
        self.lease.fence()
        if isinstance(self.store, SplitStore) and self.store.bound_ids() != self.bound:
            raise CollectionRefused(
                f"another registry bound itself to the blob store {self.store.blobs.root_uri} during this sweep: "
                "its publishes cannot see this registry's claims, so the sweep stopped before deleting anything "
                "more. gc refuses this blob store from now on (it is shared)")


def _remove_stale_announcements(store: Store, survey: Survey, lease: _Fence) -> None:
    """Announcements of earlier sweeps of this whole store that were killed (seen by the
    survey, so older than this sweep's lease, which the store granted only after theirs
    lapsed: they delete nothing any more). Each one stops registries' publishes into the store."""
    if isinstance(store, SplitStore):
        return
    for key in survey.gc_keys:
        if key.startswith(WHOLE_STORE_SWEEP) and key != _announcement(lease.generation):
            lease.fence()
            _delete_quietly(store, key)


def plan(store: Store, grace_seconds: float, now: float) -> GCReport:
    """What a sweep would delete now and why, writing and deleting nothing (``--dry-run``).

    ``now`` is this host's clock, as for a sweep. The sweep itself proves every key
    again before deleting it.
    """
    grace = validated_grace(grace_seconds)
    if (why := why_gc_cannot_run(store)) is not None:
        raise CollectionRefused(why)
    survey = survey_store(store)
    debris = store.debris()
    refuse_hidden_bindings(store, survey.gc_keys, debris)
    block_unreadable(survey, debris)
    report = GCReport(dry_run=True, blocked_slots=dict(survey.blocked), left_alone=dict(survey.left_alone))
    for key in sorted(survey.tombstones):
        blob = key[len(RECORDS):]
        if parse_blob_key(blob) is not None:
            report.planned[key] = "a crashed sweep's claim: finished (its blob deleted if still unreferenced)"
    for ref in survey.orphans():
        slot = slot_of(ref)
        try:
            age = now - store.stat(ref.key).modified
        except ObjectNotFound:
            continue
        if age < grace:
            report.kept_young.append(ref.key)
            continue
        if (foreign := _not_pubsafes(store, ref)) is not None:
            report.left_alone[ref.key] = foreign
            continue
        report.planned[ref.key] = (
            f"unrecorded (no {RECORDS}{ref.key}); named by none of the {sum(survey.manifests.values())} current and "
            f"history manifests read ({survey.manifests.get(slot, 0)} of them in {slot}); {age:.0f}s old by this "
            f"host's clock (grace {grace:g}s)")
    for item in debris:
        if item.kind == "temp" and now - item.modified >= grace:
            report.planned[item.key] = f"temp file of an interrupted write, {now - item.modified:.0f}s old"
        elif item.kind != "temp":
            _leave(report, item)
    return report


def _acquire(lease: Lease, store: Store, grace: float, clock: Callable[[], float], report: GCReport) -> None:
    """Take the lease; on a full disk make room for it first by
    removing temp files of interrupted writes, which needs no lease: they never hold
    acknowledged data, so removing one early only makes a write in flight fail and retry."""
    try:
        return lease.acquire()
    except NoSpace:
        _remove_debris(store, grace, clock(), None, report)
    try:
        return lease.acquire()
    except NoSpace as exc:
        raise CollectionRefused(
            f"the store is full ({exc}); gc needs a few hundred bytes for its lease and one small claim per orphan "
            f"before it can delete anything. It removed {len(report.removed_debris)} temp file(s) of interrupted "
            "writes; free a little space (any file outside the store) and run gc again"
        ) from None


def _finish_tombstones(store: Store, survey: Survey, lease: _Fence, report: GCReport) -> None:
    for key, raw in sorted(survey.tombstones.items()):
        try:
            load_document(GCTombstone, raw, key)
        except IntegrityError:
            report.left_alone[key] = "a malformed GC tombstone; inspect it and remove it by hand if no gc is running"
            continue
        ref = parse_blob_key(key[len(RECORDS):])
        if ref is None:
            report.left_alone[key] = "a GC tombstone at a key that is no blob's record key; remove it by hand"
            continue
        if slot_of(ref) in survey.blocked:
            report.left_alone[key] = f"a crashed sweep's claim in {slot_of(ref)}, which gc cannot read (see blocked)"
            continue
        claims = _claim_keys(store, key)
        delete = ref.key not in survey.referenced and _still(store, key, raw)
        if delete and not _claim_the_rest(claims, raw, ref.key, report):
            continue
        lease.fence()
        if delete and not _delete_blob(store, ref.key, claims, raw, report):
            continue
        _release(claims, raw)
        report.finished_tombstones.append(key)


def _claim_the_rest(claims: list[tuple[Store, str]], raw: bytes, blob: str, report: GCReport) -> bool:
    """A crashed sweep's claim is finished only once it stands at every record key a
    publish could use: it may have crashed after its first claim. False (and the claim
    withdrawn, the blob kept) if a publish recorded the blob at one of them since."""
    for half, key in claims[1:]:
        with phase("gc-claim"):
            try:
                half.put(key, raw)
                continue
            except AlreadyExists:
                try:
                    if is_tombstone(half.get(key)):
                        continue  # the crashed sweep's own, written before it crashed
                except ObjectNotFound:
                    pass
            except StoreError as exc:
                report.failed[blob] = f"a crashed sweep's claim could not be completed ({exc}); it is kept"
                _release(claims, raw)
                return False
        report.left_alone[blob] = f"kept: a publish recorded it at {key} in {half.root_uri} since"
        _release(claims, raw)
        return False
    return True


def _remove_stray_claims(store: Store, survey: Survey, lease: _Fence, report: GCReport) -> None:
    """Claims in a blob store's records/ whose twin in the registry is gone (a sweep
    killed while it released them): removed under the lease, where only a crashed
    sweep of this registry can have left them. Removing a claim only lets publishes go on."""
    if not isinstance(store, SplitStore):
        return
    for key, raw in sorted(survey.blob_claims.items()):
        if key in survey.tombstones:
            continue  # finished with its twin
        lease.fence()
        _withdraw(store.blobs, key, raw)
        report.finished_tombstones.append(store.blobs.uri(key))


def _collect_orphans(
    store: Store, survey: Survey, grace: float, clock: Callable[[], float],
    lease: _Fence, sweep_id: str, report: GCReport,
) -> None:
    for ref in survey.orphans():
        blob, rkey = ref.key, RECORDS + ref.key
        try:
            info = store.stat(blob)
        except ObjectNotFound:
            continue
        if clock() - info.modified < grace:
            report.kept_young.append(blob)
            continue
        if (foreign := _not_pubsafes(store, ref)) is not None:
            report.left_alone[blob] = foreign
            continue
        tomb = dump_document(GCTombstone(sweep_id=sweep_id, claimed_at=utc_timestamp(clock()),
                                         generation=lease.generation))
        claims = _claim_keys(store, rkey)
        if not _claim(claims, tomb, blob, report):
            continue
        with phase("gc-reprove"):
            try:
                named = names_in_current(store, ref)
            except StoreError as exc:
                named = f"current could not be read again ({exc})"
        if named is not None:
            report.left_alone[blob] = f"kept: {named}"
            _release(claims, tomb)
            continue
        lease.fence()
        if _delete_blob(store, blob, claims, tomb, report):
            _release(claims, tomb)
            report.deleted.append(blob)


def _claim_keys(store: Store, rkey: str) -> list[tuple[Store, str]]:
    """Step 4: every record key at which a publish could record the blob, registry first.
    A registry's blob store can be published into as a whole store too (``--store
    OBJECTS``), and such a publish records at the blob store's own ``records/``."""
    if isinstance(store, SplitStore):
        return [(store.registry, rkey), (store.blobs, rkey)]
    return [(store, rkey)]


def _claim(claims: list[tuple[Store, str]], tomb: bytes, blob: str, report: GCReport) -> bool:
    """Create the tombstone at each record key in turn; on the first refusal, withdraw
    what was claimed and keep the blob (a publish recorded it: the race is lost)."""
    for i, (half, key) in enumerate(claims):
        with phase("gc-claim"):
            try:
                half.put(key, tomb)
                continue
            except AlreadyExists:
                report.lost_race.append(blob)  # a publish recorded it meanwhile
                taken = claims[:i]
            except StoreError as exc:
                report.failed[blob] = f"its claim could not be written ({exc}); it is kept"
                taken = claims[:i] if i == 0 else claims[:i + 1]  # the first one is left for the next sweep
        _release(taken, tomb)
        return False
    return True


def _release(claims: list[tuple[Store, str]], tomb: bytes) -> None:
    """Remove this sweep's tombstones, in reverse order of claiming (so one killed meanwhile
    leaves the registry's, which the next sweep's survey finds and finishes)."""
    for half, key in reversed(claims):
        _withdraw(half, key, tomb)


def _not_pubsafes(store: Store, ref: BlobRef) -> str | None:
    """Why an orphan is not provably pubsafe's to delete, or None. Only a blob whose
    bytes hash to its version under pubsafe's rule can be one pubsafe wrote and left
    unrecorded; another writer's blob (recsys-pipelines hashes differently, and writes
    no binding) or a damaged one is kept for a person."""
    try:
        data = store.get(ref.key)
    except ObjectNotFound:
        return None
    if version_of_bytes(data) == ref.version:
        return None
    return ("kept: its bytes do not hash to its version as pubsafe writes blobs, so it is another writer's blob "
            "(recsys-pipelines hashes differently) or a damaged one; gc deletes only what it can prove pubsafe "
            "wrote. Inspect it and remove it by hand")


def _delete_blob(store: Store, blob: str, claims: list[tuple[Store, str]], claim: bytes, report: GCReport) -> bool:
    """Delete a claimed blob. On a failure, withdraw the claim only if the blob is
    certainly still there and no delete can still land (the store answered no);
    otherwise keep it for the next sweep. True if the blob is gone."""
    with phase("gc-delete"):
        try:
            store.delete(blob)
            return True
        except ObjectNotFound:
            return True
        except RetryableStoreError as exc:
            report.failed[blob] = f"the delete's outcome is unknown ({exc}); its claim stays for the next sweep"
            return False
        except StoreError as exc:
            failure = exc
    if store.exists(blob):
        report.failed[blob] = f"it could not be deleted ({failure}); it is kept, and can be published again"
        _release(claims, claim)
    else:
        report.failed[blob] = f"the delete failed ({failure}) yet it is gone; its claim stays for the next sweep"
    return False


def _withdraw(store: Store, rkey: str, claim: bytes) -> None:
    with phase("gc-release"):
        if _still(store, rkey, claim):
            _delete_quietly(store, rkey)


def _remove_debris(store: Store, grace: float, now: float, lease: _Fence | None, report: GCReport) -> None:
    """Temp files of interrupted writes older than the grace period."""
    for item in store.debris():
        if item.kind != "temp":
            _leave(report, item)
        elif now - item.modified >= grace and item.key not in report.removed_debris:
            if lease is not None:
                lease.fence()
            with phase("gc-delete"):
                try:
                    store.remove_debris(item.key)
                except StoreError as exc:
                    report.failed[item.key] = f"a temp file that could not be removed ({exc})"
                    continue
            report.removed_debris.append(item.key)


def _remove_clock_leftovers(store: Store, survey: Survey, now: float, lease_seconds: float, lease: _Fence) -> None:
    """Clock objects of killed sweeps (``gc/clock-*``), once older than a lease."""
    for key in survey.gc_keys:
        if not key.startswith(CLOCKS):
            continue
        try:
            if now - store.stat(key).modified < lease_seconds:
                continue
            lease.fence()
            store.delete(key)
        except ObjectNotFound:
            continue


def _leave(report: GCReport, item: Debris) -> None:
    """A link or special file: never followed, read or removed, and left for a person (exit 4)."""
    report.left_alone[item.key] = _why_left(item)
    if item.key not in report.for_a_person:
        report.for_a_person.append(item.key)


def _why_left(item: Debris) -> str:
    if item.kind == "link":
        return "a symbolic link inside the store; pubsafe never follows or removes links: remove it by hand"
    if item.kind == "dir":
        return "a directory where pubsafe keeps only files; gc never removes one: remove it by hand"
    return (f"{NOT_REGULAR.get(item.kind, 'an entry')}, not a regular file; pubsafe never reads, follows or removes "
            "one: remove it by hand")


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
