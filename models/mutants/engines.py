"""Broken publish engines: swaps out of order, wrong hashes, records rewritten, history
skipped or trusted, GC without a claim, retries that misjudge their own writes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from pubsafe.faults.delegate import DelegatingStore
from pubsafe.refimpl import Engine
from pubsafe.refimpl._serialise import dump_record
from pubsafe.refimpl.canonical import canonical_bytes
from pubsafe.refimpl.documents import GCReport, dump_document, utc_timestamp
from pubsafe.refimpl.errors import (
    AlreadyExists,
    IntegrityError,
    ObjectNotFound,
    PublishConflict,
    RetryableStoreError,
    RollbackRefused,
)
from pubsafe.refimpl.layout import history_key

# -- engines ---------------------------------------------------------------------


class _DeferringEngine(Engine):
    """Runs some phases after the swap instead of before it."""

    defer_validation = False

    def publish(self, tenant: str, surface: str, artifacts: Any):
        self._deferred: list[Callable[[], None]] = []
        return super().publish(tenant, surface, artifacts)

    def _write_record(self, tenant, surface, art, written):
        self._deferred.append(lambda: Engine._write_record(self, tenant, surface, art, written))

    def _write_blob(self, art, written):
        if not self.defer_validation:
            return super()._write_blob(art, written)
        try:
            self.store.put(art.key, art.data)
        except Exception:  # noqa: BLE001
            pass
        self._deferred.append(lambda: self._blob_matches(art))

    def _confirm_blob(self, art, written):
        pass

    def _swap(self, manifest, current):
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

    def _swap(self, manifest, current):
        mapping = dict(current.manifest.current) if current.manifest else {}
        for type_, uri in sorted(manifest.current.items()):
            if mapping.get(type_) == uri:
                continue
            mapping[type_] = uri
            super()._swap(manifest.replace(current=dict(mapping)), current)


class NonCanonicalHashEngine(Engine):
    """Hashes json.dumps output: key order and number spelling change the version."""

    def _encode(self, payload: Any) -> tuple[bytes, str]:
        data = json.dumps(payload).encode()
        return data, hashlib.sha256(data).hexdigest()


class RecordOverwriteEngine(Engine):
    """Rewrites the registry record on every publish instead of appending once."""

    def _write_record(self, tenant, surface, art, written):
        from pubsafe.refimpl.documents import RegistryRecord, dump_document, utc_timestamp

        record = RegistryRecord(tenant=tenant, surface=surface, type=art.type, version=art.version,
                                uri=art.key, size=len(art.data), recorded_at=utc_timestamp(self.clock()))
        self.store.replace("records/" + art.key, dump_document(record))


class RollbackWritesEngine(Engine):
    """Rolls back by re-publishing: writes a fresh history entry besides the pointer."""

    def rollback(self, tenant, surface, *, to=None, steps=None):
        receipt = super().rollback(tenant, surface, to=to, steps=steps)
        entry = self.history_entry(tenant, surface, receipt.to_version)
        self.store.replace(history_key(tenant, surface, receipt.to_version),
                           dump_document(entry.replace(previous=receipt.from_version)))
        return receipt


class NoHistoryEngine(Engine):
    """Keeps no manifest history (as upstream): rollback cannot name a version."""

    def _write_history(self, manifest, previous, written):
        pass


class UnprotectedGCEngine(Engine):
    """Deletes old orphans straight away: no claim, no recheck."""

    def gc(self, grace_seconds: float, *, lease_seconds: float = 0, dry_run: bool = False) -> GCReport:
        report = GCReport()
        for orphan in self.orphans():
            if dry_run:
                continue
            if orphan.age_seconds >= grace_seconds:
                try:
                    self.store.delete(orphan.key)
                except ObjectNotFound:
                    pass
                report.deleted.append(orphan.key)
        return report


class AsciiEscapingEngine(Engine):
    """Canonical JSON, but non-ASCII text written as \\u escapes (json.dumps' default)."""

    def _encode(self, payload: Any) -> tuple[bytes, str]:
        text = canonical_bytes(payload).decode()
        data = "".join(ch if ord(ch) < 128 else json.dumps(ch)[1:-1] for ch in text).encode()
        return data, hashlib.sha256(data).hexdigest()


class PythonNumbersEngine(Engine):
    """Sorted compact JSON with Python's spelling of numbers (-0.0, 1e-07, 1e+16)."""

    def _encode(self, payload: Any) -> tuple[bytes, str]:
        integral = _integral_floats_as_ints(payload)
        data = json.dumps(integral, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return data, hashlib.sha256(data).hexdigest()


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16 and str(value) != "-0.0":
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


# -- engines that fail in ways the old checker called UNKNOWN or misattributed --------


class TimeoutRetryEngine(Engine):
    """Retries a record write that timed out, then takes its own record for a stranger's."""

    def _write_record(self, tenant, surface, art, written):
        key = "records/" + art.key
        record = dump_record(tenant, surface, art.type, art.version, art.key, len(art.data),
                             utc_timestamp(self.clock()))
        try:
            self.store.put(key, record)
            written.append(key)
            return
        except RetryableStoreError:
            pass
        except AlreadyExists:
            return super()._write_record(tenant, surface, art, written)
        try:
            self.store.put(key, record)  # the retry
        except AlreadyExists:
            raise IntegrityError(f"{key} was created by another writer while we retried") from None
        written.append(key)


class CleansUpOnConflictEngine(Engine):
    """Guarded; on its first lost swap it deletes what it wrote and raises its own error."""

    def publish(self, tenant, surface, artifacts):
        self.max_attempts = 1
        recorder = _WrittenKeys(self.store)
        store, self.store = self.store, recorder
        try:
            return super().publish(tenant, surface, artifacts)
        except PublishConflict:
            for key in recorder.created:
                try:
                    store.delete(key)
                except ObjectNotFound:
                    pass
            raise RuntimeError(f"publish to {tenant}/{surface} conflicted; cleaned up") from None
        finally:
            self.store = store


class _WrittenKeys(DelegatingStore):
    """A pass-through that remembers the keys it created (a helper of the mutant above)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.created: list[str] = []

    def put(self, key: str, data: bytes) -> str:
        etag = self.inner.put(key, data)
        self.created.append(key)
        return etag


class StaleEtagSwapEngine(Engine):
    """Guarded, but compares against an etag read just before the swap, not the one merged into."""

    def _swap(self, manifest, current):
        super()._swap(manifest, self._read_current(manifest.tenant, manifest.surface))


class AssumesExistingBlobIsRecordedEngine(Engine):
    """Skips the record when the blob already exists ("someone recorded it")."""

    def _write_blob(self, art, written):
        self._existing = getattr(self, "_existing", set())
        try:
            self.store.put(art.key, art.data)
            written.append(art.key)
        except AlreadyExists:
            self._existing.add(art.key)

    def _write_record(self, tenant, surface, art, written):
        if art.key not in getattr(self, "_existing", set()):
            super()._write_record(tenant, surface, art, written)


class RollbackTrustsHistoryEngine(Engine):
    """Rolls back to any manifest whose history entry checks out, without validating
    its artifacts again ("they were validated when it was published")."""

    def _validate_manifest_for_rollback(self, manifest):
        pass


class StepsFromNewestEngine(Engine):
    """rollback(steps=N) counts N entries back from the newest history entry, taking
    the newest for current (true until a rollback or a race)."""

    def rollback(self, tenant, surface, *, to=None, steps=None):
        if steps is None or isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            return super().rollback(tenant, surface, to=to, steps=steps)
        entries = self.history(tenant, surface)
        if steps >= len(entries):
            raise RollbackRefused(f"{tenant}/{surface} has only {len(entries) - 1} earlier manifest(s)")
        return super().rollback(tenant, surface, to=entries[-1 - steps].manifest.version)
