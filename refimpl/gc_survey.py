"""What a store holds, as GC must know it before it may delete: the survey.

A sweep deletes a blob only if the survey proved it unreferenced by every registry
that can name it. So the survey reads *everything* that could keep a blob alive:
every record (not a sample: one upstream record anywhere means a writer that ignores
gc's claims), every current and history manifest, and every URI in them. It fails
closed at two widths:

- **the whole store** (CollectionRefused, nothing deleted): not a pubsafe store at
  all; blobs without any registry (an object-store root given alone); a blob store
  that holds a registry of its own, or that other registries also use; records
  written by recsys-pipelines;
- **one slot** (tenant/surface; ``blocked``): a manifest, history entry or record of
  that slot that does not parse, a URI in one that is no blob key of this store, a
  stray file where only manifests belong. Manifests may only name their own slot's
  blobs (the serving reader refuses anything else), so what pubsafe cannot read in
  one slot can keep alive only that slot's blobs; the rest of the store is still
  collected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ._memo import HISTORY_ENTRIES, MANIFESTS
from .dialects import RECSYS_PIPELINES, parse_any_record
from .documents import OrphanInfo, is_tombstone
from .errors import CollectionRefused, IntegrityError, InvalidKey, ObjectNotFound
from .layout import (
    BOUND,
    CURRENT,
    HISTORY,
    RECORDS,
    BlobRef,
    Listing,
    Locator,
    classify,
    current_keys,
    parse_blob_key,
    record_keys,
)
from .split import REGISTRY_ID, SplitStore, binding_problem
from .store import NOT_REGULAR, Debris, Store

__all__ = ["Survey", "survey_store", "block_unreadable", "list_orphans", "slot_of", "names_in_current"]


def slot_of(ref: BlobRef) -> str:
    return f"{ref.tenant}/{ref.surface}"


class Survey:
    """One listing of the store with every record and manifest read."""

    def __init__(self, listing: Listing) -> None:
        self.blobs: list[BlobRef] = listing.blobs
        self.records: set[str] = listing.records
        self.tombstones: dict[str, bytes] = {}  #: record key -> the tombstone's bytes
        #: a blob store's records/: record key -> a GC tombstone (blob-side claims of crashed sweeps)
        self.blob_claims: dict[str, bytes] = {}
        self.referenced: set[str] = set()  #: blob keys some readable manifest names
        self.blocked: dict[str, str] = {}  #: "tenant/surface" -> why nothing of it may be deleted
        self.left_alone: dict[str, str] = {}  #: keys read but belonging to no slot
        self.manifests: dict[str, int] = {}  #: "tenant/surface" -> manifests read there (for proofs)
        self.gc_keys: list[str] = listing.gc  #: the lease and gc's own objects

    def block(self, slot: str, why: str) -> None:
        self.blocked.setdefault(slot, why)

    def recorded(self, ref: BlobRef) -> bool:
        return any(key in self.records for key in record_keys(ref))

    def orphans(self) -> list[BlobRef]:
        """Blobs proved unrecorded and unreferenced, outside blocked slots (age not judged)."""
        return [ref for ref in self.blobs if slot_of(ref) not in self.blocked and not self.recorded(ref)
                and ref.key not in self.referenced]


def survey_store(store: Store) -> Survey:
    """Everything that keeps a blob alive; CollectionRefused where nothing can be proved."""
    listing = classify(store.list(""))
    claims = _refuse_what_is_not_a_whole_store(store, listing)
    _refuse_a_registrys_blob_store_taken_whole(store, listing)
    survey = Survey(listing)
    survey.blob_claims = claims
    _read_records(store, survey)
    if isinstance(store, SplitStore):
        _refuse_a_shared_blob_store(store)
    _read_manifests(store, listing, survey)
    return survey


def refuse_hidden_bindings(store: Store, gc_keys: list[str], debris: list[Debris]) -> None:
    """A whole store where a binding may hide (a link or directory at ``gc/bound/…``, a
    file named ``gc/bound``): a registry may publish into it unseen, so nothing is
    deleted. (A blob store's are checked with its bindings: ``SplitStore.bindings``.)"""
    if not isinstance(store, SplitStore) and (problem := binding_problem(gc_keys, debris)) is not None:
        raise CollectionRefused(f"{store.root_uri}: {problem}")


def block_unreadable(survey: Survey, debris: Iterable[Debris]) -> None:
    """A named pipe (or socket, device) where a record or manifest belongs hides what
    that slot names: nothing of the slot is deleted, as for a manifest that does not parse.
    (``debris`` is the sweep's own listing of it: no store operation of its own.)"""
    for item in debris:
        if item.kind in NOT_REGULAR and item.key.startswith((RECORDS, CURRENT, HISTORY)):
            _block_by_key(survey, item.key, item.key.split("/", 1)[0] + "/",
                          f"{item.key} is {NOT_REGULAR[item.kind]}, not a regular file, so gc cannot read it; "
                          "remove it by hand")


def _refuse_what_is_not_a_whole_store(store: Store, listing: Listing) -> dict[str, bytes]:
    """Refuse what is no whole store; a split store's blob-side claims (GC tombstones in
    its blob store's records/, written by a sweep: see ``gc``), which are no registry."""
    if not (listing.records or listing.currents or listing.histories):
        if not (listing.blobs or listing.other or listing.gc or store.debris()):
            return {}  # empty: nothing to collect, and nothing a sweep could harm
        if listing.blobs:
            raise CollectionRefused(
                f"{store.root_uri} holds blobs but no registry (no records/, current/ or history/): this looks like "
                "the object-store root of a store whose registry lives elsewhere, and every blob would look like an "
                "orphan. Give the registry root with --store and this one with --blob-store"
            )
        raise CollectionRefused(
            f"{store.root_uri} is not a pubsafe store (no records/, current/ or history/), so gc deletes nothing "
            "there, temp-looking files included. Check the --store path"
        )
    if not isinstance(store, SplitStore):
        return {}
    records = store.blobs.list(RECORDS)
    claims = _blob_store_claims(store, records)
    own = [key for key in records if key not in claims]
    own += [key for prefix in (CURRENT, HISTORY) for key in store.blobs.list(prefix)[:1]]
    if own:
        raise CollectionRefused(
            f"the blob store {store.blobs.root_uri} holds a registry of its own ({own[0]}): it is a whole store "
            f"as well as the object store of {store.registry.root_uri}, and its recorded blobs would look like "
            "orphans here (gc of it by itself refuses too, for this registry's blobs). A store used both ways "
            "cannot be collected until the two are separated"
        )
    return claims


def _blob_store_claims(store: SplitStore, keys: list[str]) -> dict[str, bytes]:
    """The GC tombstones among the blob store's records (usually there are none)."""
    claims = {}
    for key in keys:
        try:
            raw = store.blobs.get(key)
        except ObjectNotFound:
            continue
        if not is_tombstone(raw):
            break  # a record: the blob store holds a registry of its own, refused
        claims[key] = raw
    return claims


def _refuse_a_registrys_blob_store_taken_whole(store: Store, listing: Listing) -> None:
    """A store that registries publish into as their blob store (``gc/bound/``) holds
    blobs that only their manifests name, and gc of it as a whole store reads none of
    them: every such blob would look like an orphan."""
    if isinstance(store, SplitStore):
        return
    bindings = [key for key in listing.gc if key.startswith(BOUND)]
    if not bindings:
        return
    roots = []
    for key in bindings:
        try:
            roots.append(str(json.loads(store.get(key)).get("registry", "?")))
        except (ObjectNotFound, ValueError, AttributeError):
            roots.append("?")
    if set(roots) == {store.root_uri}:
        raise CollectionRefused(
            f"{store.uri(bindings[0])} binds {store.root_uri} to itself: a publish once named this store as its own "
            "blob store (--store S --blob-store S, refused since), so its blobs are named by its own records and "
            f"manifests. gc deletes nothing while a binding stands; remove {', '.join(bindings)} (and "
            f"{REGISTRY_ID}) by hand, then run gc again")
    raise CollectionRefused(
        f"{store.root_uri} is the blob store of {len(bindings)} registr{'y' if len(bindings) == 1 else 'ies'} "
        f"({', '.join(sorted(roots))}; {bindings[0]}): their manifests name blobs here that this store's own "
        "manifests do not, so gc of it as a whole store would delete them. Collect it through its registry "
        f"(--store REGISTRY --blob-store {store.root_uri}); a store used both as a registry's blob store and as a "
        "store of its own cannot be collected until the two are separated"
    )


def _refuse_a_shared_blob_store(store: SplitStore) -> None:
    registry_id = store.registry_id()
    users, problem = store.bindings()
    if problem is not None:
        raise CollectionRefused(f"the blob store {store.blobs.root_uri}: {problem}")
    if registry_id is None or registry_id not in users:
        raise CollectionRefused(
            f"no pubsafe publish has bound {store.registry.root_uri} to the blob store {store.blobs.root_uri}, so gc "
            "cannot tell which registries use that blob store; blobs another registry records would look like "
            "orphans. A `pubsafe publish` through this pair records the binding"
        )
    if users[registry_id] != store.registry.root_uri:
        raise CollectionRefused(
            f"{store.registry.root_uri} carries the registry id {registry_id}, which {users[registry_id]} bound to "
            f"the blob store {store.blobs.root_uri}: this registry is a copy of that one (or was moved), and gc "
            "cannot tell whose blobs are whose. It deletes nothing there. A publish through this registry gives it "
            "an id of its own (gc then refuses the blob store as shared)"
        )
    others = sorted(set(users) - {registry_id})
    if others:
        raise CollectionRefused(
            f"the blob store {store.blobs.root_uri} is shared: "
            f"{len(others)} other registr{'y' if len(others) == 1 else 'ies'} "
            f"({', '.join(users[i] for i in others)}) publish into it too, and gc sees only this one's records and "
            "manifests. It deletes nothing there. (If one of them no longer exists, moved or deleted, remove its "
            f"binding, {store.blobs.uri(f'{BOUND}<id>.json')}, by hand)"
        )


def _read_records(store: Store, survey: Survey) -> None:
    for key in sorted(survey.records):
        try:
            raw = store.get(key)
        except ObjectNotFound:
            continue  # a tombstone released since the listing
        if is_tombstone(raw):
            survey.tombstones[key] = raw
            continue
        record = parse_any_record(raw)
        if record is not None and record.dialect == RECSYS_PIPELINES.name:
            raise CollectionRefused(
                f"{key} was written by recsys-pipelines, whose publish does not honour gc's claims: it takes any file "
                "at a record path as 'already recorded' and swaps in a blob that a sweep may be deleting (R5). gc "
                "cannot prove a deletion safe on a store such a writer may publish to, so it deletes nothing"
            )
        if record is None:
            _block_by_key(survey, key, RECORDS, f"the record {key} does not parse, so gc cannot tell who wrote it")


def _read_manifests(store: Store, listing: Listing, survey: Survey) -> None:
    locator = Locator.of(store)
    for key in [*listing.currents, *listing.histories]:
        slot = _slot_of_key(key)
        expected = key.startswith(CURRENT) and key.endswith("/manifest.json") or key.startswith(HISTORY)
        if slot is None or not expected or key.count("/") != 3:
            if slot is None:
                survey.left_alone[key] = "not at a manifest path of any tenant/surface; gc leaves it alone"
            else:
                survey.block(slot, f"{key} is not a manifest path; gc cannot tell what it names")
            continue
        try:
            raw = store.get(key)
            doc = (MANIFESTS.load(raw, key) if key.startswith(CURRENT)
                   else HISTORY_ENTRIES.load(raw, key).manifest)
        except ObjectNotFound:
            continue  # replaced or removed since the listing: what it named is in the newer one
        except IntegrityError as exc:
            survey.block(slot, f"{exc}; repair it first (`pubsafe audit` says what is wrong, `pubsafe rollback --to` "
                               "restores current from history)")
            continue
        survey.manifests[slot] = survey.manifests.get(slot, 0) + 1
        for uri in doc.current.values():
            placed = _place(locator, uri)
            if placed is None:
                survey.block(slot, f"{key} names {uri!r}, which is no blob key of this store ({store.root_uri}); gc "
                                   "cannot tell which blob that is (a copied store: map its old root with "
                                   "--root-map OLD=NEW)")
            else:
                survey.referenced.add(placed)


def _place(locator: Locator, uri: str) -> str | None:
    """The blob key ``uri`` names, as serving resolves it; None if it names no blob key here."""
    try:
        key = locator.key(uri)
    except InvalidKey:
        return None
    return key if parse_blob_key(key) is not None else None


def _slot_of_key(key: str) -> str | None:
    """tenant/surface of a key under records/, current/ or history/ (None: too short to have one)."""
    parts = key.split("/")
    return f"{parts[1]}/{parts[2]}" if len(parts) >= 4 and parts[1] and parts[2] else None


def _block_by_key(survey: Survey, key: str, prefix: str, why: str) -> None:
    slot = _slot_of_key(key)
    if slot is None:
        survey.left_alone[key] = f"not under any tenant/surface of {prefix}; gc leaves it alone"
    else:
        survey.block(slot, why)


def names_in_current(store: Store, ref: BlobRef) -> str | None:
    """Does current of the blob's slot name it now? Why not provably not (a reason), or None.

    The sweep's re-proof just before a delete: current may have changed since the survey.
    """
    locator = Locator.of(store)
    for key in current_keys(ref.tenant, ref.surface):
        try:
            doc = MANIFESTS.load(store.get(key), key)
        except ObjectNotFound:
            continue
        except IntegrityError:
            return f"{key} no longer parses"
        if any(_place(locator, uri) == ref.key for uri in doc.current.values()):
            return f"{key} names it now"
    return None


# -- listing orphans (read-only, lenient) -------------------------------------------


def list_orphans(store: Store, now: float) -> list[OrphanInfo]:
    """Blobs that no record and no current or historic manifest references (R4).

    Lenient where the sweep is strict: a manifest that does not parse is skipped
    (audit reports it), since listing never deletes.
    """
    listing = classify(store.list(""))
    if listing.blobs and not (listing.records or listing.currents or listing.histories):
        _refuse_what_is_not_a_whole_store(store, listing)
    _refuse_a_registrys_blob_store_taken_whole(store, listing)
    refuse_hidden_bindings(store, listing.gc, store.debris())
    locator = Locator.of(store)
    referenced: set[str] = set()
    for key in [*listing.currents, *listing.histories]:
        try:
            raw = store.get(key)
            doc = (MANIFESTS.load(raw, key) if key.startswith(CURRENT)
                   else HISTORY_ENTRIES.load(raw, key).manifest)
        except (IntegrityError, ObjectNotFound, InvalidKey):
            continue
        referenced.update(placed for uri in doc.current.values() if (placed := _place(locator, uri)) is not None)
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
