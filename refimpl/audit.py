"""Audit: check G1–G4 on what a store holds now, one finding per problem.

Read-only. Every current and historic manifest, record and blob is looked at once;
each blob is hashed at most once.
"""

from __future__ import annotations

from ._memo import MANIFESTS
from .documents import Finding, HistoryEntry, RegistryRecord, is_tombstone, load_document
from .errors import IntegrityError
from .layout import RECORDS, classify, current_key, history_key, parse_blob_key
from .store import Store
from .validate import ArtifactValidator

__all__ = ["audit_store"]


def audit_store(store: Store) -> list[Finding]:
    listing = classify(store.list(""))
    validator = ArtifactValidator(store)
    findings: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()

    def add(guarantee: str, key: str, message: str) -> None:
        if (guarantee, key, message) not in seen:
            seen.add((guarantee, key, message))
            findings.append(Finding(guarantee=guarantee, key=key, message=message))

    histories = set(listing.histories)
    for key in listing.currents:
        try:
            manifest = MANIFESTS.load(store.get(key), key)
        except IntegrityError as exc:
            add("G2", key, f"current manifest does not parse: {exc}")
            continue
        if current_key(manifest.tenant, manifest.surface) != key:
            add("G2", key, f"manifest names {manifest.tenant}/{manifest.surface} but lives at {key}")
        for type_, uri in sorted(manifest.current.items()):
            if problem := validator.problem(manifest, type_, uri):
                add(problem.guarantee, key, problem.message)
        if history_key(manifest.tenant, manifest.surface, manifest.version) not in histories:
            add("G4", key, f"current manifest {manifest.version} has no history entry; rollback cannot return to it")
    for key in listing.histories:
        try:
            entry = load_document(HistoryEntry, store.get(key), key)
        except IntegrityError as exc:
            add("G4", key, f"history entry does not parse: {exc}")
            continue
        manifest = entry.manifest
        if history_key(manifest.tenant, manifest.surface, manifest.version) != key:
            add("G4", key, f"history entry holds manifest {manifest.version}, not the one its key names")
        for type_, uri in sorted(manifest.current.items()):
            if problem := validator.problem(manifest, type_, uri):
                guarantee = "G4" if problem.guarantee == "G2" else problem.guarantee
                add(guarantee, key, f"rollback target broken: {problem.message}")
    for key in sorted(listing.records):
        raw = store.get(key)
        if is_tombstone(raw):
            add("G3", key, "GC tombstone left by an unfinished sweep blocks republishing this version; run `pubsafe gc`")
            continue
        try:
            record = load_document(RegistryRecord, raw, key)
        except IntegrityError as exc:
            add("G3", key, f"registry record does not parse: {exc}")
            continue
        ref = parse_blob_key(key[len(RECORDS):])
        if ref is None or (record.type, record.version) != (ref.type, ref.version):
            add("G3", key, "registry record does not describe the blob its key names")
            continue
        if validator.blob_ok(ref) is None:
            add("G1", key, f"recorded artifact {ref.key} is missing")
    for ref in listing.blobs:
        if validator.blob_ok(ref) is False:
            add("G1", ref.key, "blob does not hash to the version in its key (altered or torn)")
    return findings
