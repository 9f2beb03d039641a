"""The mutant catalogue: deliberately broken stores, engines and readers.

Each mutant breaks one thing a real implementation gets wrong, and names the
guarantee that must then be reported BREAKS. The default profile must kill every
one (tests/models/test_mutants.py); ``python -m pubsafe.devtools.mutants`` prints
time-to-detect and counterexample length per mutant.
"""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pubsafe.faults.delegate import DelegatingStore
from pubsafe.refimpl import Engine, LocalStore, MemoryStore, ServingReader
from pubsafe.refimpl._serialise import dump_record
from pubsafe.refimpl.canonical import canonical_bytes
from pubsafe.refimpl.documents import GCReport, dump_document, utc_timestamp
from pubsafe.refimpl.errors import (
    AlreadyExists,
    Conflict,
    IntegrityError,
    InvalidKey,
    ObjectNotFound,
    PublishConflict,
    RetryableStoreError,
    StoreError,
)
from pubsafe.refimpl.layout import history_key
from pubsafe.refimpl.osio import OSOps, RealOS
from pubsafe.refimpl.store import ABSENT, ANY, Expect, ObjectInfo, StoredObject, check_key, etag_of

from .target import Target, factory_target, remove_store_data

__all__ = ["Mutant", "MUTANTS", "BENIGN", "mutant_target"]


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


# -- races inside one store operation ----------------------------------------------


#: Between a check and its write a real store does I/O (a round trip, a disk write); the
#: mutants below wait that long there, so a racing probe meets the window on a loaded
#: machine too, not only when the interpreter happens to switch threads inside it.
_WINDOW = 0.0005


class CheckThenWritePutStore(MemoryStore):
    """Claims create-only, but checks for the key, then writes (fsspec's pipe_file(mode="create"))."""

    def put(self, key: str, data: bytes) -> str:
        if self.exists(key):
            raise AlreadyExists(key)
        time.sleep(_WINDOW)
        return super().replace(key, data)


class CheckThenWriteCASStore(MemoryStore):
    """Claims compare-and-swap, but compares, then writes (a server's If-Match without a lock)."""

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        if expect is not ANY:
            actual = self.stat(key).etag if self.exists(key) else None
            if actual != (None if expect is ABSENT else expect):
                raise Conflict(f"{key}: expected {expect}, found {actual}", actual_etag=actual)
            time.sleep(_WINDOW)
        return super().replace(key, data)


class TearsLargeValuesStore(MemoryStore):
    """Replaces values over 1 MiB in two parts, like a multipart upload made visible early."""

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        if len(data) > 2**20:
            super().replace(key, data[: len(data) // 2], expect=expect)
            time.sleep(0.001)
            return super().replace(key, data)
        return super().replace(key, data, expect=expect)


class ReadsBytesThenEtagStore(MemoryStore):
    """Reads an object's bytes and its etag with two requests (a Redis adapter's GET of the
    value, then of the etag): a write landing between them pairs its etag with the bytes
    it replaced, and a compare-and-swap against that etag replaces what its writer never read."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._window = _Window()

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        etag = super().replace(key, data, expect=expect)
        self._window.acted()
        return etag

    def get_object(self, key: str) -> StoredObject:
        data = super().get_object(key).data
        self._window.hold()  # the second request
        return StoredObject(data, super().get_object(key).etag)


class _Window:
    """The time between a mutant's two requests, held until the other side of a race has
    acted in it (a write between a read's two requests, a read between a write's two
    parts) or for a round trip: a racing probe meets the torn state whatever the thread
    scheduler does, and a run with nobody racing waits a round trip."""

    ROUND_TRIP = 0.002

    def __init__(self) -> None:
        self._acted = threading.Condition()
        self._count = 0

    def acted(self) -> None:
        with self._acted:
            self._count += 1
            self._acted.notify_all()

    def hold(self) -> None:
        with self._acted:
            before = self._count
            self._acted.wait_for(lambda: self._count != before, timeout=self.ROUND_TRIP)


class IncompleteReadError(Exception):
    """What an HTTP client raises for a body shorter than its Content-Length (botocore's name)."""


class _FilesAndMetadataStore(MemoryStore):
    """Keeps each object's bytes (a file) apart from its size and etag (the metadata
    MemoryStore holds), as S3 servers storing objects as files do. Writers take turns and
    compare-and-swap compares the metadata honestly: only what a reader sees can tear.
    A read sends as many bytes as the metadata says, and fails as an HTTP client does
    when there are fewer."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._files: dict[str, bytes | bytearray] = {}
        self._writing = threading.Lock()
        self._window = _Window()

    def _write_file(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def put(self, key: str, data: bytes) -> str:
        with self._writing:
            etag = super().put(key, data)
            self._files[key] = bytes(data)
            return etag

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        key = check_key(key)
        with self._writing:
            if expect is not ANY:
                super().replace(key, self.get_object(key).data if self.exists(key) else b"", expect=expect)
            self._write_file(key, bytes(data))
            return super().replace(key, data)  # the metadata, written last

    def delete(self, key: str) -> None:
        with self._writing:
            super().delete(key)
            self._files.pop(key, None)

    def get_object(self, key: str) -> StoredObject:
        meta = super().get_object(key)  # the size and etag the response headers carry
        body = bytes(self._files.get(key, meta.data))[: len(meta.data)]
        self._window.acted()
        if len(body) < len(meta.data):
            raise StoreError(f"get_object {key}: the body ended early") from IncompleteReadError(
                f"{len(body)} read, but total bytes expected is {len(meta.data)}.")
        return StoredObject(body, meta.etag)

    def get(self, key: str) -> bytes:
        return self.get_object(key).data


class TearsEqualSizeReplacesStore(_FilesAndMetadataStore):
    """Overwrites a file in place when the new document has its length (no truncate, no
    temp file: the cheap path), half and then half; a new file, renamed over, otherwise.
    A reader racing a replace of equal length gets a mix of the two documents, 200 OK."""

    def _write_file(self, key: str, data: bytes) -> None:
        file = self._files.get(key)
        if not isinstance(file, bytearray) or len(file) != len(data):
            self._files[key] = bytearray(data)  # the rename: atomic
            return
        half = len(data) // 2
        file[:half] = data[:half]
        self._window.hold()  # the rest of the body is still on its way
        file[half:] = data[half:]

    def get_object(self, key: str) -> StoredObject:
        meta = MemoryStore.get_object(self, key)
        body = bytes(self._files.get(key, meta.data))  # the whole file: its length is always its own
        self._window.acted()
        return StoredObject(body, meta.etag)


class StaleSizeMetadataStore(_FilesAndMetadataStore):
    """Renames each new file over the old one (whole documents only), then writes its size
    and etag: a read in between sends the new bytes cut to the old length (200 OK), or
    fewer bytes than the old length promised (the client's IncompleteReadError). Between
    documents of equal length every read is whole: only a race of different lengths shows it."""

    def _write_file(self, key: str, data: bytes) -> None:
        self._files[key] = data
        self._window.hold()  # the metadata is written by a second request


class FlexibleChecksumError(Exception):
    """What botocore raises for a body that fails the checksum its response headers carry."""


class StaleChecksumMetadataStore(StaleSizeMetadataStore):
    """As StaleSizeMetadataStore, but each response carries the whole file with the checksum
    (the etag) of the metadata, and its HTTP client checks it: a read racing a replace
    fails the check. Every torn read is an error, never a wrong body."""

    def get_object(self, key: str) -> StoredObject:
        meta = MemoryStore.get_object(self, key)
        body = bytes(self._files.get(key, meta.data))
        self._window.acted()
        if etag_of(body) != meta.etag:
            raise StoreError(f"get_object {key}: the body failed its checksum") from FlexibleChecksumError(
                f"Expected checksum {meta.etag} did not match calculated checksum: {etag_of(body)}")
        return StoredObject(body, meta.etag)


# -- stores and engines whose bugs need particular names or payloads ----------------


class _FoldingStore(MemoryStore):
    """A store whose keys are compared after a fold, and listed as first written."""

    def fold(self, key: str) -> str:
        raise NotImplementedError

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._first: dict[str, str] = {}

    def _canonical(self, key: str) -> str:
        folded = self.fold(check_key(key))
        return self._first.setdefault(folded, key)

    def get_object(self, key: str) -> StoredObject:
        return super().get_object(self._canonical(key))

    def get(self, key: str) -> bytes:
        return super().get(self._canonical(key))

    def put(self, key: str, data: bytes) -> str:
        return super().put(self._canonical(key), data)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        return super().replace(self._canonical(key), data, expect=expect)

    def delete(self, key: str) -> None:
        super().delete(self._canonical(key))

    def exists(self, key: str) -> bool:
        return super().exists(self._canonical(key))

    def stat(self, key: str) -> ObjectInfo:
        info = super().stat(self._canonical(key))
        return ObjectInfo(key, info.etag, info.size, info.modified)


class CaseInsensitiveStore(_FoldingStore):
    """Keys that differ only in case are the same object (a default macOS or Windows volume)."""

    def fold(self, key: str) -> str:
        return key.casefold()


class NormalizingStore(_FoldingStore):
    """Keys are compared in Unicode NFC (macOS APFS): "café" in both forms is one object."""

    def fold(self, key: str) -> str:
        return unicodedata.normalize("NFC", key)


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
        record = dump_record(tenant, surface, art.type, art.version, art.key, len(art.data), utc_timestamp(self.clock()))
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


# -- readers whose bugs need particular names or scenarios ----------------------------


class SurfaceBlindReader(ServingReader):
    """Confines URIs to the manifest's tenant, but not to its surface."""

    def artifact(self, tenant: str, surface: str, type_: str) -> Any:
        manifest = self.manifest(tenant, surface)
        if manifest is None or type_ not in manifest.current:
            raise KeyError(type_)
        key = manifest.current[type_].removeprefix(self.store.root_uri.rstrip("/") + "/")
        if not key.startswith(f"{tenant}/"):
            raise InvalidKey(f"{key} is outside {tenant}")
        data = self.store.get(key)
        if hashlib.sha256(data).hexdigest() != key.rsplit("/", 1)[-1][:-5]:
            raise IntegrityError(key)
        return json.loads(data)


class CachesAbsenceReader(ServingReader):
    """Remembers "no manifest yet" for good: invalidate() forgets only manifests it found."""

    def manifest(self, tenant: str, surface: str):
        if (tenant, surface) in getattr(self, "_absent", set()):
            return None
        found = super().manifest(tenant, surface)
        if found is None:
            self._absent = getattr(self, "_absent", set()) | {(tenant, surface)}
        return found


class CaseFoldingReader(ServingReader):
    """Looks manifests up by the lower-cased tenant (a case-insensitive cache key)."""

    def manifest(self, tenant: str, surface: str):
        return super().manifest(tenant.lower(), surface) if tenant.lower() != tenant else super().manifest(tenant, surface)


# -- benign variants: a correct checker must call these CONFORMING ----------------------


class ExtraReadsEngine(Engine):
    """Reads current and stats every blob once more than it needs to: harmless."""

    def publish(self, tenant, surface, artifacts):
        self.read_current(tenant, surface)
        receipt = super().publish(tenant, surface, artifacts)
        for version_key in receipt.written:
            self.store.exists(version_key)
        return receipt


class UnorderedSlowStore(MemoryStore):
    """Lists in no particular order and takes a little time over every call: harmless."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._shuffle = random.Random(7).shuffle

    def _pause(self) -> None:
        time.sleep(0.00005)

    def list(self, prefix: str = "") -> list[str]:
        self._pause()
        keys = super().list(prefix)
        self._shuffle(keys)
        return keys

    def get(self, key: str) -> bytes:
        self._pause()
        return super().get(key)

    def put(self, key: str, data: bytes) -> str:
        self._pause()
        return super().put(key, data)


# -- issue 24: the stateful model's blind spots (one block: merged apart from the others) --

from pubsafe.faults import SimulatedDisk  # noqa: E402 - this block's own imports, kept with it
from pubsafe.refimpl.errors import RollbackRefused  # noqa: E402
from pubsafe.refimpl.layout import Locator  # noqa: E402
from pubsafe.refimpl.reader import _Cached  # noqa: E402


class FirstPageListingStore(MemoryStore):
    """Lists only the first page of keys: one ListObjectsV2 request, its continuation
    token ignored (S3 and GCS return 1,000 keys a page)."""

    PAGE = 1000

    def list(self, prefix: str = "") -> list[str]:
        return super().list(prefix)[: self.PAGE]


class NormalisingInvalidateReader(ServingReader):
    """invalidate() cleans up the names it is given first (NFC, case-folded), as an
    admin endpoint might: it forgets the slot of the cleaned-up name, not the one named."""

    def invalidate(self, tenant: str, surface: str) -> None:
        def clean(name: str) -> str:
            return unicodedata.normalize("NFC", name).casefold()

        super().invalidate(clean(tenant), clean(surface))


class VerifiesOnceReader(ServingReader):
    """Checks a blob's hash the first time it loads it; when its cache entry expires it
    reads the blob again and trusts it ("blobs are immutable, it was checked")."""

    def artifact(self, tenant: str, surface: str, type_: str) -> Any:
        manifest = self.manifest(tenant, surface)
        if manifest is None or type_ not in manifest.current:
            raise KeyError(type_)
        ref = Locator.of(self.store).resolve(manifest.current[type_], tenant=tenant, surface=surface)
        now = self.clock()
        cached = self._artifacts.get(ref.key)
        if cached is not None and now - cached.loaded_at < self.artifact_ttl:
            return cached.value
        data = self.store.get(ref.key)
        verified = self.__dict__.setdefault("_verified", set())
        if ref.key not in verified:
            if hashlib.sha256(data).hexdigest() != ref.version:
                raise IntegrityError(f"{ref.key} does not hash to its version")
            verified.add(ref.key)
        value = json.loads(data)
        self._artifacts[ref.key] = _Cached(value, now)
        return value


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


class LinkErrorsAsExistsStore(LocalStore):
    """Its create-only put reads every failed link(2) as "already exists", a full disk
    or an I/O error included: the errno is never looked at (``except OSError``).
    The S3 twin reads every 409 as "exists" (ConditionalRequestConflict is a write in
    progress). Runs over an in-memory disk (``faults.SimulatedDisk``)."""

    def __init__(self, root: str = "/store", *, os_ops: OSOps | None = None, **options: Any) -> None:
        if os_ops is None:
            os_ops = disk = SimulatedDisk()
            disk._clock = iter(time.time_ns, None)  # modification times on the wall clock, as a real disk's
        super().__init__(root, os_ops=os_ops, **options)

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        directory = path.rsplit("/", 1)[0]
        try:
            self._ensure_dir(directory)
            temp = self._write_temp(directory, data)
            try:
                self.os.link(temp, path)
            except OSError as exc:
                raise AlreadyExists(key) from exc
            finally:
                self.os.unlink(temp)
            self.os.fsync_dir(directory, "created-entry")
            return etag_of(data)
        except (AlreadyExists, RetryableStoreError):
            raise
        except OSError as exc:
            raise StoreError(f"writing {key}: {exc}") from exc


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
    benign: bool = False  #: a harmless variant: every guarantee must stay as expected


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
    # guarded races judged from outcomes
    Mutant("cas-against-fresh-etag", "R1", "guarded swap compares against an etag re-read just before it",
           engine=StaleEtagSwapEngine, guarded=True),
    # races inside one store operation
    Mutant("check-then-write-put", "G1", "create-only put checks, then writes", store=CheckThenWritePutStore),
    Mutant("check-then-write-cas", "R1", "compare-and-swap compares, then writes (guarded mode)",
           store=CheckThenWriteCASStore, guarded=True),
    Mutant("tears-large-values", "G2", "replaces over 1 MiB become visible half-written", store=TearsLargeValuesStore),
    Mutant("reads-bytes-then-etag", "R1", "get_object reads the bytes, then the etag, in two requests (guarded mode)",
           store=ReadsBytesThenEtagStore, guarded=True),
    Mutant("tears-equal-size-replaces", "G2", "replace overwrites in place when the length is unchanged",
           store=TearsEqualSizeReplacesStore),
    Mutant("stale-size-metadata", "G2", "replace renames the bytes in, then writes size and etag; reads trust the size",
           store=StaleSizeMetadataStore),
    Mutant("stale-checksum-metadata", "G2", "replace renames the bytes in, then writes the checksum; reads check it",
           store=StaleChecksumMetadataStore),
    # bugs that need particular names or payloads
    Mutant("case-insensitive-keys", "G2", "keys differing only in case are one object", store=CaseInsensitiveStore),
    Mutant("unicode-normalizing-keys", "G2", "keys are compared in NFC", store=NormalizingStore),
    Mutant("ascii-escaping-canonical", "G1", "non-ASCII text hashed as \\u escapes", engine=AsciiEscapingEngine),
    Mutant("python-number-spelling", "G1", "numbers hashed as Python spells them", engine=PythonNumbersEngine),
    Mutant("reader-surface-blind", "G5", "serving confines URIs to the tenant, not the surface",
           reader=SurfaceBlindReader),
    Mutant("reader-caches-absence", "G5", "invalidate() forgets found manifests, not absent ones",
           reader=CachesAbsenceReader),
    Mutant("reader-folds-tenant-case", "G5", "serving looks manifests up by lower-cased tenant",
           reader=CaseFoldingReader),
    # the retry path after a timeout, and errors that used to read as UNKNOWN
    Mutant("retry-after-timeout-refuses", "G3", "a record write retried after a timeout calls itself foreign",
           engine=TimeoutRetryEngine),
    Mutant("cleans-up-on-conflict", "G3", "on a lost guarded swap, deletes its writes and raises its own error",
           engine=CleansUpOnConflictEngine, guarded=True),
    Mutant("existing-blob-assumed-recorded", "G2", "an existing blob is taken as recorded (no R5 blamed)",
           engine=AssumesExistingBlobIsRecordedEngine),
    # issue 24: blind spots of the stateful model
    Mutant("listing-stops-at-a-page", "G1", "list() returns the first page of 1,000 keys, continuation ignored",
           store=FirstPageListingStore),
    Mutant("reader-invalidates-normalised-slot", "G5", "invalidate() forgets the NFC, case-folded slot, not the one "
           "named", reader=NormalisingInvalidateReader),
    Mutant("reader-verifies-blobs-once", "G5", "a blob's hash is checked on its first load only, not when re-read",
           reader=VerifiesOnceReader),
    Mutant("rollback-trusts-history", "G4", "rollback does not validate blobs only history names",
           engine=RollbackTrustsHistoryEngine),
    Mutant("steps-from-newest-entry", "G4", "rollback --steps counts back from the newest history entry, not current",
           engine=StepsFromNewestEngine),
    Mutant("link-errors-read-as-exists", "G4", "create-only put maps any failed link (ENOSPC, EIO) to AlreadyExists",
           store=LinkErrorsAsExistsStore),
]

#: Harmless variants: a checker that flags them raises false alarms.
BENIGN = [
    Mutant("extra-harmless-reads", "", "reads current and stats blobs more than needed", engine=ExtraReadsEngine,
           benign=True),
    Mutant("unordered-slow-listings", "", "lists in no order, 50 µs per call", store=UnorderedSlowStore, benign=True),
]


def mutant_target(mutant: Mutant | str) -> Target:
    """The conformance target of a mutant (or of the mutant of that name)."""
    if isinstance(mutant, str):
        mutant = next(m for m in [*MUTANTS, *BENIGN] if m.name == mutant)
    rebuild = f"mutant_target({mutant.name!r})"

    def engine_factory(store, *, clock, guarded=False):
        return mutant.engine(store, guarded=guarded, clock=clock)

    if mutant.local:
        return factory_target(f"mutant:{mutant.name}", lambda: NoFsyncLocalStore(tempfile.mkdtemp(prefix="pubsafe-check-")),
                              remove=remove_store_data, engine_factory=engine_factory, reader_factory=mutant.reader,
                              guarded=mutant.guarded, rebuild=rebuild)
    return Target(f"mutant:{mutant.name}", mutant.store, engine_factory, mutant.reader, mutant.guarded,
                  rebuild=rebuild)
