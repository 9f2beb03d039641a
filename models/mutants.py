"""The mutant catalogue: deliberately broken stores, engines and readers.

Each mutant breaks one thing a real implementation gets wrong, and names the
guarantee that must then be reported BREAKS. The default profile must kill every
one (tests/models/test_mutants.py); ``python -m pubsafe.devtools.mutants`` prints
time-to-detect and counterexample length per mutant.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pubsafe.refimpl import Engine, LocalStore, MemoryStore, ServingReader
from pubsafe.refimpl.errors import ObjectNotFound
from pubsafe.refimpl.osio import OSOps, RealOS
from pubsafe.refimpl.layout import history_key
from pubsafe.refimpl.documents import GCReport
from pubsafe.refimpl.store import ANY, Expect

from .target import Target, _local_factory

__all__ = ["Mutant", "MUTANTS", "mutant_target"]


# -- stores ----------------------------------------------------------------------


class NonAtomicReplaceStore(MemoryStore):
    """Claims atomic replace, but truncates first and writes later (a slow PUT)."""

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        super().replace(key, b"", expect=expect)
        time.sleep(0.0005)  # the network write takes a moment
        return super().replace(key, data)


class OverwritingPutStore(MemoryStore):
    """Claims create-only, but put silently overwrites (an ignored If-None-Match)."""

    def put(self, key: str, data: bytes) -> str:
        return super().replace(key, data)


class IgnoresConditionsStore(MemoryStore):
    """Claims compare-and-swap, but ignores the expected etag (an ignored If-Match)."""

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        return super().replace(key, data)


class _SkipsFileDataFsync:
    """An OS that does every call but the fsync of a temp file's data."""

    def __init__(self, inner: OSOps) -> None:
        self._inner = inner

    def fsync(self, fd: int, label: str) -> None:
        if label != "file-data":
            self._inner.fsync(fd, label)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class NoFsyncLocalStore(LocalStore):
    """Renames a temp file into place without fsyncing its data first."""

    def __init__(self, root: Any, *, os_ops: OSOps | None = None, **options: Any) -> None:
        super().__init__(root, os_ops=_SkipsFileDataFsync(os_ops or RealOS()), **options)


# -- engines ---------------------------------------------------------------------


class _DeferringEngine(Engine):
    """Runs some phases after the swap instead of before it."""

    defer_validation = False

    def publish(self, tenant: str, surface: str, artifacts: Any):  # type: ignore[no-untyped-def]
        self._deferred: list[Callable[[], None]] = []
        return super().publish(tenant, surface, artifacts)

    def _write_record(self, tenant, surface, art, written):  # type: ignore[no-untyped-def]
        self._deferred.append(lambda: Engine._write_record(self, tenant, surface, art, written))

    def _write_blob(self, art, written):  # type: ignore[no-untyped-def]
        if not self.defer_validation:
            return super()._write_blob(art, written)
        try:
            self.store.put(art.key, art.data)
        except Exception:  # noqa: BLE001
            pass
        self._deferred.append(lambda: self._blob_matches(art))

    def _confirm_blob(self, art, written):  # type: ignore[no-untyped-def]
        pass

    def _swap(self, manifest, current):  # type: ignore[no-untyped-def]
        super()._swap(manifest, current)
        for step in getattr(self, "_deferred", []):
            step()
        self._deferred = []


class SwapBeforeRecordEngine(_DeferringEngine):
    """Swaps the manifest, then appends the registry records."""


class SwapBeforeValidateEngine(_DeferringEngine):
    """Swaps the manifest, then validates the blobs (and records them)."""

    defer_validation = True


class InPlacePatchEngine(Engine):
    """Patches current one type at a time instead of one whole-document swap."""

    def _swap(self, manifest, current):  # type: ignore[no-untyped-def]
        mapping = dict(current.manifest.current) if current.manifest else {}
        for type_, uri in sorted(manifest.current.items()):
            if mapping.get(type_) == uri:
                continue
            mapping[type_] = uri
            super()._swap(manifest.model_copy(update={"current": dict(mapping)}), current)


class NonCanonicalHashEngine(Engine):
    """Hashes json.dumps output: key order and number spelling change the version."""

    def _encode(self, payload: Any) -> tuple[bytes, str]:
        data = json.dumps(payload).encode()
        return data, hashlib.sha256(data).hexdigest()


class RecordOverwriteEngine(Engine):
    """Rewrites the registry record on every publish instead of appending once."""

    def _write_record(self, tenant, surface, art, written):  # type: ignore[no-untyped-def]
        from pubsafe.refimpl.documents import RegistryRecord, dump_document, utc_timestamp

        record = RegistryRecord(tenant=tenant, surface=surface, type=art.type, version=art.version,
                                uri=art.key, size=len(art.data), recorded_at=utc_timestamp(self.clock()))
        self.store.replace("records/" + art.key, dump_document(record))


class RollbackWritesEngine(Engine):
    """Rolls back by re-publishing: writes a fresh history entry besides the pointer."""

    def rollback(self, tenant, surface, *, to=None, steps=None):  # type: ignore[no-untyped-def]
        receipt = super().rollback(tenant, surface, to=to, steps=steps)
        entry = self.history_entry(tenant, surface, receipt.to_version)
        self.store.replace(history_key(tenant, surface, receipt.to_version),
                           entry.model_copy(update={"previous": receipt.from_version}).model_dump_json().encode())
        return receipt


class NoHistoryEngine(Engine):
    """Keeps no manifest history (as upstream): rollback cannot name a version."""

    def _write_history(self, manifest, previous, written):  # type: ignore[no-untyped-def]
        pass


class UnprotectedGCEngine(Engine):
    """Deletes old orphans straight away: no claim, no recheck."""

    def gc(self, grace_seconds: float) -> GCReport:
        report = GCReport()
        for orphan in self.orphans():
            if orphan.age_seconds >= grace_seconds:
                try:
                    self.store.delete(orphan.key)
                except ObjectNotFound:
                    pass
                report.deleted.append(orphan.key)
        return report


# -- readers ---------------------------------------------------------------------


class NeverExpiringReader(ServingReader):
    """Caches the manifest forever (TTL ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manifest_ttl = float("inf")


class TrustingReader(ServingReader):
    """Follows any URI a manifest names and never checks a hash."""

    def artifact(self, tenant: str, surface: str, type_: str) -> Any:
        manifest = self.manifest(tenant, surface)
        if manifest is None or type_ not in manifest.current:
            raise KeyError(type_)
        return json.loads(self.store.get(manifest.current[type_]))


# -- the catalogue ---------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str
    what: str
    store: Callable[[], Any] = MemoryStore
    engine: type[Engine] = Engine
    reader: type[ServingReader] = ServingReader
    guarded: bool = False
    local: bool = False


MUTANTS = [
    Mutant("non-atomic-replace", "G2", "replace truncates, then writes", store=NonAtomicReplaceStore),
    Mutant("put-overwrites", "G1", "create-only put overwrites", store=OverwritingPutStore),
    Mutant("ignores-conditions", "R1", "compare-and-swap ignores the etag (guarded mode)",
           store=IgnoresConditionsStore, guarded=True),
    Mutant("missing-fsync-before-rename", "G2", "temp file renamed into place unsynced", local=True),
    Mutant("swap-before-validate", "G2", "swap first, validate and record after", engine=SwapBeforeValidateEngine),
    Mutant("swap-before-record", "G2", "swap first, record after", engine=SwapBeforeRecordEngine),
    Mutant("in-place-manifest-patch", "G2", "current patched type by type", engine=InPlacePatchEngine),
    Mutant("non-canonical-hash", "G1", "version = sha256(json.dumps(payload))", engine=NonCanonicalHashEngine),
    Mutant("record-overwrite", "G3", "registry record rewritten on each publish", engine=RecordOverwriteEngine),
    Mutant("rollback-writes-artifacts", "G4", "rollback also rewrites history", engine=RollbackWritesEngine),
    Mutant("no-history", "G4", "no manifest history kept", engine=NoHistoryEngine),
    Mutant("gc-without-protection", "R5", "GC deletes orphans without a claim", engine=UnprotectedGCEngine),
    Mutant("reader-cache-never-expires", "G5", "serving cache ignores its TTL", reader=NeverExpiringReader),
    Mutant("reader-trusts-uris", "G5", "serving follows any URI, no hash check", reader=TrustingReader),
]


def mutant_target(mutant: Mutant | str) -> Target:
    """The conformance target of a mutant (or of the mutant of that name)."""
    if isinstance(mutant, str):
        mutant = next(m for m in MUTANTS if m.name == mutant)
    rebuild = f"mutant_target({mutant.name!r})"

    def engine_factory(store, *, clock, guarded=False):  # type: ignore[no-untyped-def]
        return mutant.engine(store, guarded=guarded, clock=clock)

    if mutant.local:
        make, cleanup = _local_factory()

        def store_factory():  # type: ignore[no-untyped-def]
            return NoFsyncLocalStore(make().root)

        return Target(f"mutant:{mutant.name}", store_factory, engine_factory, mutant.reader, mutant.guarded, cleanup,
                      rebuild)
    return Target(f"mutant:{mutant.name}", mutant.store, engine_factory, mutant.reader, mutant.guarded,
                  rebuild=rebuild)
