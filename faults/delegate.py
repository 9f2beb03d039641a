"""DelegatingStore: the shape of every wrapper here (fsspec's dirfs, for stores).

It forwards each primitive to ``inner`` through one hook, ``_call``, so a wrapper
that acts around every operation (inject a fault, wait for a turn) overrides just
that, and one that changes a few operations (stale reads) overrides just those.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TypeVar

from pubsafe.refimpl.store import ANY, Capabilities, Debris, Expect, ObjectInfo, Store, StoredObject

T = TypeVar("T")

__all__ = ["DelegatingStore"]


class DelegatingStore(Store):
    inner: Store

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        return self.inner.capabilities

    @property
    def root_uri(self) -> str:  # type: ignore[override]
        return self.inner.root_uri

    def _call(self, op: str, key: str, run: Callable[[], T], data: bytes | None = None) -> T:
        """Every forwarded operation passes through here; the default just runs it."""
        return run()

    def get_object(self, key: str) -> StoredObject:
        return self._call("get", key, lambda: self.inner.get_object(key))

    def put(self, key: str, data: bytes) -> str:
        return self._call("put", key, lambda: self.inner.put(key, data), data)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        return self._call("replace", key, lambda: self.inner.replace(key, data, expect=expect), data)

    def list(self, prefix: str = "") -> list[str]:
        return self._call("list", prefix, lambda: self.inner.list(prefix))

    def delete(self, key: str) -> None:
        return self._call("delete", key, lambda: self.inner.delete(key))

    def stat(self, key: str) -> ObjectInfo:
        return self._call("stat", key, lambda: self.inner.stat(key))

    def debris(self) -> builtins.list[Debris]:
        return self._call("debris", "", self.inner.debris)

    def remove_debris(self, key: str) -> None:
        return self._call("remove-debris", key, lambda: self.inner.remove_debris(key))
