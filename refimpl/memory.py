"""MemoryStore: a dict under a lock, with every capability.

"Durable" here means what the crash model needs: an acknowledged write outlives the
engine instance that made it (the store object survives; the engine is discarded).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from .errors import AlreadyExists, Conflict, ObjectNotFound
from .store import ABSENT, ANY, Capabilities, Expect, ObjectInfo, Store, StoredObject, check_key, etag_of

__all__ = ["MemoryStore"]

_names = itertools.count()


class MemoryStore(Store):
    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=True)

    def __init__(self, *, clock: Callable[[], float] = time.time, name: str | None = None) -> None:
        self._objects: dict[str, tuple[bytes, str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.root_uri = f"memory://{name if name is not None else next(_names)}"

    def copy(self) -> MemoryStore:
        """A new store holding the same objects: lets a model checker start many runs
        from one prepared state instead of re-creating it each time."""
        twin = MemoryStore(clock=self._clock)
        with self._lock:
            twin._objects = dict(self._objects)
        return twin

    def get_object(self, key: str) -> StoredObject:
        with self._lock:
            entry = self._objects.get(check_key(key))
        if entry is None:
            raise ObjectNotFound(key)
        return StoredObject(entry[0], entry[1])

    def get(self, key: str) -> bytes:
        entry = self._objects.get(check_key(key))  # one dict lookup: atomic under the GIL
        if entry is None:
            raise ObjectNotFound(key)
        return entry[0]

    def put(self, key: str, data: bytes) -> str:
        check_key(key)
        with self._lock:
            if key in self._objects:
                raise AlreadyExists(key)
            return self._set(key, data)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        check_key(key)
        with self._lock:
            if expect is not ANY:
                entry = self._objects.get(key)
                actual = None if entry is None else entry[1]
                wanted = None if expect is ABSENT else expect
                if actual != wanted:
                    raise Conflict(f"{key}: expected etag {wanted}, found {actual}", actual_etag=actual)
            return self._set(key, data)

    def _set(self, key: str, data: bytes) -> str:
        data = bytes(data)
        etag = etag_of(data)
        self._objects[key] = (data, etag, self._clock())
        return etag

    def list(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(k for k in self._objects if k.startswith(prefix))

    def delete(self, key: str) -> None:
        with self._lock:
            if self._objects.pop(check_key(key), None) is None:
                raise ObjectNotFound(key)

    def exists(self, key: str) -> bool:
        return check_key(key) in self._objects  # one dict lookup: atomic under the GIL

    def stat(self, key: str) -> ObjectInfo:
        with self._lock:
            entry = self._objects.get(check_key(key))
        if entry is None:
            raise ObjectNotFound(key)
        return ObjectInfo(key, entry[1], len(entry[0]), entry[2])
