"""Audit: check G1–G4 on what a store holds now, one finding per problem.

Read-only. Every current and historic manifest, record and blob is looked at once;
each blob is hashed at most once. Findings of severity ``error`` break a guarantee
or block an operator command; ``notice`` findings are expected leftovers (R4: orphan
blobs and temp files of crashed writers, a crashed sweep's lease) that ``pubsafe gc``
cleans up.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from ._memo import MANIFESTS
from .dialects import Dialect, detect, parse_any_record
from .documents import Finding, GCLease, GCTombstone, HistoryEntry, is_tombstone, load_document
from .errors import IntegrityError, InvalidKey, ObjectNotFound
from .gc import why_gc_cannot_run
from .gc_lease import MAX_LEASE_SECONDS, MIN_LEASE_SECONDS
from .history import read_entry
from .layout import (
    BOUND,
    CURRENT,
    GC_LEASE,
    HISTORY,
    RECORDS,
    Listing,
    Locator,
    blob_key,
    classify,
    current_key,
    current_keys,
    history_key,
    parse_blob_key,
    record_keys,
)
from .split import SplitStore, binding_problem
from .store import NOT_REGULAR, Debris, Store
from .validate import ArtifactValidator

__all__ = ["audit_store"]


class _Findings:
    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, guarantee: str, key: str, message: str, severity: str = "error") -> None:
        if (guarantee, key, message) not in self._seen:
            self._seen.add((guarantee, key, message))
            self.items.append(Finding(guarantee=guarantee, key=key, message=message, severity=severity))


def audit_store(store: Store, now: float | None = None, dialect: Dialect | None = None) -> list[Finding]:
    """``dialect``: the store's writer (default: detected from its records)."""
    listing = classify(store.list(""))
    dialect = dialect or detect(store)
    validator = ArtifactValidator(store)
    found = _Findings()
    debris = store.debris()
    referenced = _currents(store, listing, validator, found, dialect,
                           unreadable={item.key for item in debris if item.kind in NOT_REGULAR})
    referenced |= _histories(store, listing, validator, found)
    _records(store, listing, validator, found, dialect)
    for ref in listing.blobs:
        if validator.blob_ok(ref) is False:
            found.add("G1", ref.key, "blob does not hash to the version in its key (altered or torn)")
    orphans = [ref.key for ref in listing.blobs
               if not any(k in listing.records for k in record_keys(ref)) and ref.key not in referenced]
    advice = gc_advice(store, dialect)
    if orphans and (others := _other_users(store, listing, debris)):  # they may name them: no orphans to judge
        found.add("R4", orphans[0], f"{len(orphans)} blob(s) that no manifest of this store names; {others}",
                  "notice")
    elif orphans:
        found.add("R4", orphans[0], f"{len(orphans)} orphan blob(s) from crashed publishes; `pubsafe orphans` lists "
                                    f"them; {advice}", "notice")
    _debris(debris, found, advice)
    _lease(store, listing, now, found)
    for key in listing.other:
        found.add("G2", key, "not part of the store layout (blob, record, current, history or gc lease); "
                             "pubsafe leaves it alone", "notice")
    return found.items


def _currents(store: Store, listing: Listing, validator: ArtifactValidator, found: _Findings,
              dialect: Dialect, unreadable: set[str]) -> set[str]:
    """``unreadable``: special files (reported as debris); one at a current path is not "no current"."""
    referenced: set[str] = set()
    histories = set(listing.histories)
    slots_with_current = set()
    for key in listing.currents:
        parts = key.split("/")
        if len(parts) != 4 or parts[3] != "manifest.json":
            where = "/".join(parts[:4]) if len(parts) > 4 and parts[3] == "manifest.json" else key
            found.add("G2", where, f"{where} is not a current manifest file ({key} lies inside or beside it); "
                                   "remove what does not belong and restore current with `pubsafe rollback --to`")
            continue
        slots_with_current.add((parts[1], parts[2]))
        try:
            manifest = MANIFESTS.load(store.get(key), key)
        except ObjectNotFound:
            continue
        except IntegrityError as exc:
            found.add("G2", key, f"current manifest does not parse: {exc}; restore one with `pubsafe rollback --to`")
            continue
        if key not in current_keys(manifest.tenant, manifest.surface):
            found.add("G2", key, f"manifest names {manifest.tenant}/{manifest.surface} but lives at {key}")
        for type_, uri in sorted(manifest.current.items()):
            if problem := validator.problem(manifest, type_, uri):
                found.add(problem.guarantee, key, problem.message)
        referenced |= _keys(validator.locator, manifest.current.values())
        if history_key(manifest.tenant, manifest.surface, manifest.version) in histories:
            continue
        if dialect.keeps_history:
            found.add("G4", key, f"current manifest {manifest.version} has no history entry; "
                                 "rollback cannot return to it")
        else:
            found.add("G4", key, f"written by {dialect.name}, which keeps no manifest history: `pubsafe rollback "
                                 "--to` can return only to manifests pubsafe swapped in", "notice")
    slots_with_history = {tuple(k.split("/")[1:3]) for k in listing.histories if len(k.split("/")) == 4}
    for tenant, surface in sorted(slots_with_history - slots_with_current):
        if current_key(tenant, surface) in unreadable:
            continue
        found.add("G2", current_key(tenant, surface), f"no current manifest, but {tenant}/{surface} has history; "
                                                      "restore one with `pubsafe rollback --to VERSION`")
    return referenced


def _histories(store: Store, listing: Listing, validator: ArtifactValidator, found: _Findings) -> set[str]:
    referenced: set[str] = set()
    chains: dict[tuple[str, str], dict[str, str | None]] = defaultdict(dict)
    for key in listing.histories:
        parts = key.split("/")
        if len(parts) != 4 or not parts[3].endswith(".json"):
            found.add("G4", key, "not a history entry (history/<tenant>/<surface>/<version>.json); "
                                 "`pubsafe history` skips it")
            continue
        try:
            entry = read_entry(store, parts[1], parts[2], parts[3].removesuffix(".json"))
        except ObjectNotFound:
            continue
        except IntegrityError as exc:
            found.add("G4", key, f"history entry cannot be trusted: {exc}")
            try:  # it may still name blobs: they are not orphans
                referenced |= _keys(validator.locator,
                                    load_document(HistoryEntry, store.get(key), key).manifest.current.values())
            except (IntegrityError, ObjectNotFound):
                pass
            continue
        manifest = entry.manifest
        chains[(manifest.tenant, manifest.surface)][manifest.version] = entry.previous
        referenced |= _keys(validator.locator, manifest.current.values())
        for type_, uri in sorted(manifest.current.items()):
            if problem := validator.problem(manifest, type_, uri):
                guarantee = "G4" if problem.guarantee == "G2" else problem.guarantee
                found.add(guarantee, key, f"rollback target broken: {problem.message}")
    for (tenant, surface), previous in chains.items():
        for loop in _loops(previous):
            found.add("G4", history_key(tenant, surface, loop[0]),
                      f"the history's previous links loop ({' -> '.join(v[:12] for v in loop)}); "
                      "`rollback --steps` refuses to walk it, use `rollback --to`")
    return referenced


def _loops(previous: dict[str, str | None]) -> list[list[str]]:
    """Each cycle of the previous links, once."""
    loops: list[list[str]] = []
    done: set[str] = set()
    for start in sorted(previous):
        path: list[str] = []
        version: str | None = start
        while version in previous and version not in done and version not in path:
            path.append(version)
            version = previous[version]
        if version is not None and version in path:
            loops.append(path[path.index(version):])
        done.update(path)
    return loops


def _records(store: Store, listing: Listing, validator: ArtifactValidator, found: _Findings,
             dialect: Dialect) -> None:
    for key in sorted(listing.records):
        try:
            raw = store.get(key)
        except ObjectNotFound:
            continue
        ref = parse_blob_key(key[len(RECORDS):])
        if is_tombstone(raw):
            if ref is None:
                found.add("G3", key, "a GC tombstone at a key that is no blob's record key; gc leaves it alone: "
                                     "remove it by hand")
                continue
            try:
                load_document(GCTombstone, raw, key)
            except IntegrityError:
                found.add("G3", key, "a malformed GC tombstone; gc leaves it alone: inspect it and remove it by "
                                     "hand if no sweep is running")
                continue
            finish = ("`pubsafe gc` finishes it once no sweep holds the lease" if dialect.honours_claims and
                      why_gc_cannot_run(store) is None else "remove it by hand once no sweep runs")
            if not isinstance(store, SplitStore) and any(k.startswith(BOUND) for k in listing.gc):
                # a claim that a registry's sweep made in its blob store too (gc of this store refuses)
                finish = ("this store is also a registry's blob store, whose sweep claims here too: `pubsafe gc "
                          "--store REGISTRY --blob-store this store` finishes it once no sweep holds the lease")
            found.add("G3", key, f"GC tombstone left by an unfinished sweep blocks republishing this version; {finish}")
            continue
        record = parse_any_record(raw)
        if record is None:
            found.add("G3", key, "registry record does not parse as a record of pubsafe or recsys-pipelines")
            continue
        if ref is None or (record.type, record.version) != (ref.type, ref.version):
            found.add("G3", key, "registry record does not describe the blob its key names")
            continue
        blob = parse_blob_key(blob_key(record.tenant, record.surface, record.type, record.version).strip())
        if blob is None or validator.blob_ok(blob) is None:
            found.add("G1", key, f"recorded artifact {ref.key} is missing")
            continue
        if record.built_at and (rewritten := _republished(store, blob.key, record.built_at)):
            found.add("G1", blob.key, rewritten, "notice")


def _debris(debris: Iterable[Debris], found: _Findings, advice: str) -> None:
    temps = []
    for item in debris:
        if item.kind == "link":
            found.add("G2", item.key, "a symbolic link inside the store; pubsafe never follows it (it could lead "
                                      "outside the store) and nothing is written through it: remove it by hand")
        elif item.kind in NOT_REGULAR:
            found.add("G2", item.key, f"{NOT_REGULAR[item.kind]}, not a regular file; pubsafe never reads it (a read "
                                      "could wait for ever), so the commands that need this key refuse: remove it "
                                      "by hand" + (", then restore current with `pubsafe rollback --to VERSION`"
                                                   if item.key.startswith("current/") else ""))
        elif item.kind == "dir":
            found.add("G2", item.key, "a directory where pubsafe keeps only files (a binding, lease or "
                                      "announcement of gc may hide behind it), so gc refuses: remove it by hand, "
                                      "restoring the file it replaced")
        elif item.kind == "temp":
            temps.append(item)
    if temps:
        size = sum(t.size for t in temps)
        found.add("R4", temps[0].key, f"{len(temps)} temp file(s) of interrupted writes ({size} bytes); {advice}",
                  "notice")


def _lease(store: Store, listing: Listing, now: float | None, found: _Findings) -> None:
    if GC_LEASE not in listing.gc:
        return
    try:
        lease = load_document(GCLease, store.get(GC_LEASE), GC_LEASE)
        renewed = store.stat(GC_LEASE).modified
    except ObjectNotFound:
        return
    except IntegrityError:
        found.add("G3", GC_LEASE, "the GC lease does not parse, so every gc refuses; if no gc runs (an older "
                                  "pubsafe's lease, or damage), remove it by hand")
        return
    if lease.released:
        return
    lasts = min(max(lease.lease_seconds, MIN_LEASE_SECONDS), MAX_LEASE_SECONDS)
    age = None if now is None else now - renewed
    who = f"gc sweep {lease.owner} (generation {lease.generation})"
    if age is not None and age >= lasts:
        then = ("the next gc takes it over" if store.capabilities.compare_and_swap else
                "this store has no compare-and-swap, so no gc takes it over: remove it by hand if no gc runs")
        found.add("R4", GC_LEASE, f"the lease of {who} lapsed {age - lasts:.0f}s ago (it crashed or stalled); {then}",
                  "notice")
    else:
        when = "" if age is None else f", last renewed {max(age, 0):.0f}s ago by this host's clock"
        found.add("R4", GC_LEASE, f"{who} holds the lease ({lasts:g}s{when}); every other gc refuses until it "
                                  "releases it or it lapses", "notice")


def _other_users(store: Store, listing: Listing, debris: list[Debris]) -> str | None:
    """Who else may name this store's blobs in manifests this audit does not read, said
    as what to do instead of gc: a registry bound to a whole store; for a registry's blob
    store, other registries bound to it or a store of its own (a blob store someone also
    publishes into with ``--store OBJECTS``). gc refuses each of these."""
    if not isinstance(store, SplitStore):
        if (problem := binding_problem(listing.gc, debris)) is not None:
            return f"`pubsafe gc` refuses this store: {problem}"
        bindings = [key for key in listing.gc if key.startswith(BOUND)]
        return (f"this store is also the blob store of a registry ({bindings[0]}), whose manifests may name them: "
                "audit it through that registry (--store REGISTRY --blob-store this store); `pubsafe gc` refuses "
                "this store") if bindings else None
    try:
        mine = store.registry_id()
    except IntegrityError:
        mine = None
    others = sorted(root for rid, root in store.bound_registries().items() if rid != mine)
    if others:
        return (f"the blob store {store.blobs.root_uri} is shared with {len(others)} other registr"
                f"{'y' if len(others) == 1 else 'ies'} ({', '.join(others)}), whose manifests may name them: audit "
                "each through its registry; `pubsafe gc` refuses this blob store")
    own = [key for prefix in (CURRENT, HISTORY) for key in store.blobs.list(prefix)[:1]]
    if own:
        return (f"the blob store {store.blobs.root_uri} also holds a store of its own ({own[0]}), whose manifests "
                f"may name them: audit it by itself (--store {store.blobs.root_uri}); `pubsafe gc` refuses this pair")
    return None


def gc_advice(store: Store, dialect: Dialect) -> str:
    """What to tell a person about cleaning up: `pubsafe gc`, or why gc refuses here."""
    if not dialect.honours_claims:
        return (f"`pubsafe gc` refuses on a store written by {dialect.name} (its publish ignores gc's claims); clean "
                "up with that writer's own tools")
    if (why := why_gc_cannot_run(store)) is not None:
        return f"`pubsafe gc` refuses here: {why}"
    return "`pubsafe gc` deletes those older than its grace period"


def _keys(locator: Locator, uris: Iterable[str]) -> set[str]:
    """The store keys that manifest URIs name (URIs outside the store are reported elsewhere)."""
    keys = set()
    for uri in uris:
        try:
            keys.add(locator.key(uri))
        except InvalidKey:
            continue
    return keys


def _republished(store: Store, key: str, first_built: str) -> str | None:
    """recsys-pipelines rewrites a blob when the same version is published again (its
    version leaves out ``build``): say so when the blob was built well after the first
    publish its record remembers."""
    try:
        built = json.loads(store.get(key)).get("build", {}).get("built_at", "")
        later = datetime.fromisoformat(built.replace("Z", "+00:00")).timestamp()
        first = datetime.fromisoformat(first_built[:19] + "+00:00").timestamp()
    except (ValueError, AttributeError, TypeError, ObjectNotFound):
        return None
    if later <= first + 1:
        return None
    return (f"same version, different bytes: a republish of this version rewrote the blob (build.built_at {built} "
            f"is later than the first publish its record remembers, {first_built}); the versioned content is "
            "unchanged, the build fields are not")
