"""StaleStore: reads and listings that lag the truth by a bounded time.

Models an eventually consistent store, or a cache in front of one: ``get`` may
return any version of a key written within the last ``lag`` seconds, and ``list``
may omit keys created (or still show keys deleted) within ``lag``. This wrapper
always picks the stalest answer allowed, so it is deterministic and adversarial.
Writes go straight through; compare-and-swap compares against the truth.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pubsafe.refimpl.errors import ObjectNotFound
from pubsafe.refimpl.store import ANY, Expect, ObjectInfo, Store, StoredObject

from .delegate import DelegatingStore

__all__ = ["StaleStore"]


@dataclass
class StaleStore(DelegatingStore):
    inner: Store
    lag: float
    clock: Callable[[], float] = time.monotonic
    only: str = "*"  #: glob of the keys that read stale; others read through
    # key -> [(time written, object or None for deleted)], oldest first
    _versions: dict[str, list[tuple[float, StoredObject | None]]] = field(default_factory=dict, repr=False)

    def _record(self, key: str, obj: StoredObject | None) -> None:
        now = self.clock()
        versions = self._versions.setdefault(key, [])
        versions.append((now, obj))
        # keep the newest version older than the window, and everything within it
        while len(versions) > 1 and versions[1][0] <= now - self.lag:
            versions.pop(0)

    def _stalest(self, key: str) -> tuple[bool, StoredObject | None]:
        """(known, object) as of the oldest moment within the lag window."""
        if not fnmatch.fnmatchcase(key, self.only):
            return False, None
        versions = self._versions.get(key)
        if not versions:
            return False, None
        horizon = self.clock() - self.lag
        visible = None  # created within the window: may not be visible yet
        for written, obj in versions:
            if written > horizon:
                break
            visible = obj
        return True, visible

    def _remember_before_change(self, key: str) -> None:
        """Keep what a key held before this wrapper first changes it: a stale read may return it."""
        if key not in self._versions:
            try:
                self._versions[key] = [(float("-inf"), self.inner.get_object(key))]
            except ObjectNotFound:
                pass

    def get_object(self, key: str) -> StoredObject:
        known, obj = self._stalest(key)
        if not known:
            return self.inner.get_object(key)
        if obj is None:
            raise ObjectNotFound(key)
        return obj

    def put(self, key: str, data: bytes) -> str:
        etag = self.inner.put(key, data)
        self._record(key, StoredObject(bytes(data), etag))
        return etag

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        self._remember_before_change(key)
        etag = self.inner.replace(key, data, expect=expect)
        self._record(key, StoredObject(bytes(data), etag))
        return etag

    def delete(self, key: str) -> None:
        self._remember_before_change(key)
        self.inner.delete(key)
        self._record(key, None)

    def list(self, prefix: str = "") -> list[str]:
        keys = set(self.inner.list(prefix))
        for key in self._versions:
            if key.startswith(prefix):
                known, obj = self._stalest(key)
                (keys.add if obj is not None else keys.discard)(key)
        return sorted(keys)

    def stat(self, key: str) -> ObjectInfo:
        known, obj = self._stalest(key)
        if not known:
            return self.inner.stat(key)
        if obj is None:
            raise ObjectNotFound(key)
        info = self.inner.stat(key) if self.inner.exists(key) else None
        return ObjectInfo(key, obj.etag, len(obj.data), info.modified if info else 0.0)
