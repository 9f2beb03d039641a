"""Broken stores: writes that are not atomic, conditions not honoured, races inside one
operation, keys folded, listings cut short, link errors misread."""

from __future__ import annotations

import threading
import time
import unicodedata
from typing import Any

from pubsafe.faults import SimulatedDisk
from pubsafe.refimpl import LocalStore, MemoryStore
from pubsafe.refimpl.errors import (
    AlreadyExists,
    Conflict,
    RetryableStoreError,
    StoreError,
)
from pubsafe.refimpl.osio import OSOps, RealOS
from pubsafe.refimpl.store import ABSENT, ANY, Expect, ObjectInfo, StoredObject, check_key, etag_of

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


class FirstPageListingStore(MemoryStore):
    """Lists only the first page of keys: one ListObjectsV2 request, its continuation
    token ignored (S3 and GCS return 1,000 keys a page)."""

    PAGE = 1000

    def list(self, prefix: str = "") -> list[str]:
        return super().list(prefix)[: self.PAGE]


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
