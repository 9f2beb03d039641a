"""The GC lease: which sweep may delete, fenced by a generation, timed by the store.

``gc/lease.json`` holds the owner (a sweep id), a **generation** that grows by one
with every sweep that takes the lease, and how long it lasts unless renewed. It is
taken create-only (the first time) or by compare-and-swap on the etag read (after
that), so two sweeps can never both believe they took it: the store picks one.

**Fencing, not clocks.** A sweep proves the lease is still its own immediately before
every delete: by a compare-and-swap renewal, or by reading the lease and finding its
own owner and generation. Whether a lease has lapsed, so that another sweep may take
it over, is judged on the *store's* clock: the age of the lease object by the
modification time the store gave it, against the store's "now" read from a write of
the taker's own. No host compares its wall clock with another's, so a
host whose clock runs hours ahead cannot take over a sweep that is alive. The holder
keeps its own deadline on its monotonic clock (no offsets involved): it renews a
third of the way in and never starts a delete when half the lease has gone by since
it last proved its hold, so it has stopped deleting long before the store's clock
lets anyone take over.

**What remains.** A process that stalls *inside* a delete request (after its fence
check, before the store applies the delete) for longer than half the lease could
have that one delete land after a takeover; only a store that checked the fence
itself on every delete could exclude that. The lease is clamped to
``MAX_LEASE_SECONDS`` so a lease document written with an absurd duration cannot
wedge gc forever.

Without compare-and-swap a lease is never taken over (there is no safe way to
replace another sweep's lease): a crashed sweep's lease must be removed by a person,
and gc says so.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

from .documents import GCLease, dump_document, load_document, utc_timestamp
from .errors import (
    AlreadyExists,
    CollectionRefused,
    Conflict,
    IntegrityError,
    InvalidInput,
    NoSpace,
    ObjectNotFound,
    StoreError,
    SweepInProgress,
    UnsupportedOperation,
)
from .layout import GC, GC_LEASE
from .phases import phase
from .store import Store

__all__ = [
    "Lease", "LEASE_SECONDS", "MIN_LEASE_SECONDS", "MAX_LEASE_SECONDS", "validated_lease", "new_sweep_id", "CLOCKS",
]

#: Where a sweep that finds the lease held writes an object to read the store's clock.
CLOCKS = f"{GC}clock-"
#: How long a sweep's lease lasts unless renewed.
LEASE_SECONDS = 300.0
#: Below this a renewal cannot be trusted to land in time (and S3 times have 1 s steps).
MIN_LEASE_SECONDS = 1.0
#: Above this no sweep needs it, and a crashed one would block every other too long.
MAX_LEASE_SECONDS = 86400.0


def validated_lease(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise InvalidInput(f"the lease must be a finite number of seconds, got {seconds!r}")
    if not MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS:
        raise InvalidInput(
            f"the lease must be between {MIN_LEASE_SECONDS:g}s and {MAX_LEASE_SECONDS / 3600:g}h, got {seconds:g}s: "
            "a sweep renews it a third of the way in, so it must outlast one store request with room to spare, "
            "and a crashed sweep's lease blocks the next sweep for that long"
        )
    return float(seconds)


class Lease:
    """One sweep's hold on ``gc/lease.json``; see the module docstring."""

    def __init__(self, store: Store, *, owner: str, seconds: float, clock: Callable[[], float],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store, self.owner, self.seconds = store, owner, validated_lease(seconds)
        self.clock, self.monotonic = clock, monotonic
        self.generation = 0
        self.etag: str | None = None
        self.proved_at = -math.inf  #: monotonic time of the last proof that the lease is ours
        self.cas = store.capabilities.compare_and_swap

    def _document(self, *, released: bool = False) -> bytes:
        return dump_document(GCLease(owner=self.owner, generation=self.generation, lease_seconds=self.seconds,
                                     renewed_at=utc_timestamp(self.clock()), released=released))

    # -- taking it ------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the lease (or raise SweepInProgress), then probe the store on it."""
        for _ in range(3):
            started = self.monotonic()
            self.generation = 1
            with phase("gc-lease"):
                try:
                    self.etag = self.store.put(GC_LEASE, self._document())
                    self.proved_at = started
                    return self._probed()
                except AlreadyExists:
                    pass
                try:
                    info = self.store.stat(GC_LEASE)
                    held = self.store.get_object(GC_LEASE)
                except ObjectNotFound:
                    continue  # released (deleted) between our put and our read: try again
            if held.etag == info.etag:
                break  # the modification time read belongs to the document read
        else:
            raise SweepInProgress("other gc sweeps keep taking and releasing the lease; try again later")
        lease = self._parse(held.data)
        if lease.owner == self.owner:  # never with random ids: a caller's sweep_ids gave one twice
            raise CollectionRefused(
                f"{GC_LEASE} is held under this sweep's own id {self.owner!r}; a sweep cannot tell its lease from "
                "another's then, so it deletes nothing. Give every sweep an id of its own (Engine(sweep_ids=...))"
            )
        if not lease.released:
            lasts = min(max(lease.lease_seconds, MIN_LEASE_SECONDS), MAX_LEASE_SECONDS)
            age = self._store_now() - info.modified
            if age < lasts:
                raise SweepInProgress(
                    f"another gc sweep ({lease.owner}, generation {lease.generation}) holds the lease: it renewed "
                    f"it {max(age, 0):.0f}s ago by the store's clock and its lease lasts {lasts:g}s; two sweeps "
                    f"never delete at once. Wait for it to finish; if it crashed, run gc again in {lasts - age:.0f}s"
                )
            if not self.cas:
                raise CollectionRefused(
                    f"a crashed sweep's lease ({lease.owner}) is at {GC_LEASE}, and {self.store!r} has no "
                    "compare-and-swap to take it over safely; if no gc is running, delete that key by hand"
                )
        self.generation = lease.generation + 1
        started = self.monotonic()
        with phase("gc-lease"):
            try:
                self.etag = self.store.replace(GC_LEASE, self._document(), expect=held.etag)
            except (Conflict, ObjectNotFound):
                raise SweepInProgress("another gc sweep took the lease first; try again later") from None
        self.proved_at = started
        return self._probed()

    def _probed(self) -> None:
        """The probe, on the lease just taken. If it fails (a full disk fails its write),
        the lease is withdrawn first, so the sweep gives up holding nothing: a refusal
        leaves nothing behind, and the next sweep need not wait for a lapse."""
        try:
            self._probe()
        except Exception as exc:
            with phase("gc-lease"):
                try:
                    left = self._withdraw()
                except (Conflict, ObjectNotFound, CollectionRefused):
                    left = None
                except StoreError as failure:
                    left = self._left(str(failure))
            if left is not None:
                raise StoreError(f"{exc}; besides, {left}") from exc
            raise

    def _probe(self) -> None:
        """The conditional writes gc relies on, tried on the lease just taken: a second
        create is refused, and so is a compare-and-swap with a stale etag (an honest
        store writes nothing; a dishonest one only rewrites our own lease)."""
        with phase("gc-probe"):
            try:
                self.store.put(GC_LEASE, self._document())
            except AlreadyExists:
                pass
            else:
                raise CollectionRefused(self._not_honoured("create-only", "a second create of one key succeeded"))
            if self.cas:
                try:
                    self.store.replace(GC_LEASE, self._document(), expect=f"{self.etag}-stale")
                except (Conflict, UnsupportedOperation):
                    pass
                else:
                    raise CollectionRefused(self._not_honoured("compare-and-swap",
                                                               "a replace expecting a stale etag succeeded"))

    def _not_honoured(self, capability: str, what: str) -> str:
        terms = self.store.wire_terms.get("create_only" if capability == "create-only" else "compare_and_swap")
        how = f" ({terms})" if terms else ""
        return (f"{self.store!r} declares {capability} writes{how}, but {what}; gc's lease and claims rely on them, "
                "so it deletes nothing. `pubsafe check` on this store says more")

    def _store_now(self) -> float:
        """The store's clock, from an object of our own written just now (and removed;
        one left by a killed process is removed by a later sweep, see CLOCKS)."""
        key = f"{CLOCKS}{self.owner}.json"
        with phase("gc-lease"):
            try:  # create-only: a replace would leave a lock file per sweep on a local store
                self.store.put(key, b"{}")
            except AlreadyExists:
                pass  # our own, from an earlier attempt of this sweep
            try:
                return self.store.stat(key).modified
            finally:
                try:
                    self.store.delete(key)
                except ObjectNotFound:
                    pass

    def _parse(self, data: bytes) -> GCLease:
        try:
            return load_document(GCLease, data, GC_LEASE)
        except IntegrityError as exc:
            raise CollectionRefused(
                f"{exc}; gc cannot tell whether another sweep is running, so it deletes nothing. If no gc is "
                f"running (an older pubsafe's lease, or damage), delete {GC_LEASE} by hand and run gc again"
            ) from None

    # -- keeping it -----------------------------------------------------------------

    def fence(self) -> None:
        """Prove, just before a delete, that this sweep still holds the lease.

        A compare-and-swap renewal once a third of the lease has gone by, otherwise a
        read that finds this sweep's owner and generation. Raises CollectionRefused
        (and the sweep stops) if the lease is no longer ours.
        """
        started = self.monotonic()
        if started - self.proved_at >= self.seconds / 3:
            self._renew(started)
            return
        with phase("gc-fence"):
            try:
                raw = self.store.get(GC_LEASE)
            except ObjectNotFound:
                raw = b""
        if not raw or self._holder(self._parse(raw)) != (self.owner, self.generation):
            raise self._lost()
        if self.monotonic() - self.proved_at >= self.seconds / 2:
            raise self._late()

    def _held(self) -> str:
        """The etag of the lease as this sweep last wrote it (it holds one once acquired)."""
        if self.etag is None:
            raise RuntimeError("the sweep renews or releases a lease it never took")
        return self.etag

    def _renew(self, started: float) -> None:
        with phase("gc-lease"):
            try:
                if self.cas:
                    self.etag = self.store.replace(GC_LEASE, self._document(), expect=self._held())
                else:  # nobody can take over without compare-and-swap: only we write it
                    if self._holder(self._parse(self.store.get(GC_LEASE))) != (self.owner, self.generation):
                        raise Conflict("taken")
                    self.etag = self.store.replace(GC_LEASE, self._document())
            except (Conflict, ObjectNotFound):
                raise self._lost() from None
        if self.monotonic() - started >= self.seconds / 2:
            raise self._late()  # the renewal itself took too long to count on it
        self.proved_at = started

    @staticmethod
    def _holder(lease: GCLease) -> tuple[str, int] | None:
        return None if lease.released else (lease.owner, lease.generation)

    def _lost(self) -> CollectionRefused:
        return CollectionRefused(
            f"this sweep (generation {self.generation}) no longer holds {GC_LEASE}: another sweep took it over, so "
            "this one stopped before deleting anything more. What it left is finished by a later sweep"
        )

    def _late(self) -> CollectionRefused:
        return CollectionRefused(
            f"this sweep could not prove its lease within half of --lease ({self.seconds:g}s): a store request or "
            "the process itself took too long, so it stopped before deleting anything more. Run gc again, with a "
            "longer --lease if the store is slow"
        )

    def release(self) -> str | None:
        """Hand the lease back so the next sweep need not wait: None once it is handed
        back (or is no longer this sweep's), else why it is left held and when it lapses.

        Handing back is a write (``released: true``); where that write fails for want of
        space the lease is deleted instead, which needs none and frees some.
        """
        with phase("gc-lease"):
            try:
                if not self.cas:
                    return self._withdraw()
                try:
                    self.store.replace(GC_LEASE, self._document(released=True), expect=self._held())
                except NoSpace:
                    return self._withdraw()
            except (Conflict, ObjectNotFound, CollectionRefused):
                pass
            except StoreError as exc:
                return self._left(str(exc))
        return None

    def _withdraw(self) -> str | None:
        """Delete the lease if it is still this sweep's (the read finds its owner and
        generation). With compare-and-swap another sweep may take the lease over once it
        lapsed, so, as with every delete, not once half the lease has gone by since this
        sweep last proved it: then it is left to lapse."""
        try:
            raw = self.store.get(GC_LEASE)
        except ObjectNotFound:
            return None
        if self._holder(self._parse(raw)) != (self.owner, self.generation):
            return None
        if self.cas and self.monotonic() - self.proved_at >= self.seconds / 2:
            return self._left("too late to delete it safely: another sweep may be taking it over")
        try:
            self.store.delete(GC_LEASE)
        except ObjectNotFound:
            pass
        return None

    def _left(self, why: str) -> str:
        """Why this sweep's lease stays held, and when it lapses (by the store's clock)."""
        remaining = self.seconds - (self.monotonic() - self.proved_at)
        lapses = f"lapses in about {max(remaining, 0):.0f}s" if math.isfinite(remaining) else \
            f"lapses {self.seconds:g}s after it was taken"
        return (f"this sweep's lease {GC_LEASE} (generation {self.generation}) could not be handed back ({why}): it "
                f"is left held and {lapses} by the store's clock, and gc refuses until then. If no gc is running, "
                f"deleting {GC_LEASE} by hand lets the next sweep start at once")


def new_sweep_id() -> str:
    return os.urandom(16).hex()
