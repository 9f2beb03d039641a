"""PrefixedStore: one store seen through a key prefix, as if it were a store of its own.

``pubsafe check`` against an adapter's URL needs a fresh, empty store per example,
and must never touch what the store already holds: each example runs under its own
``pubsafe-check-…/`` prefix and clean-up removes that prefix only. Works over any
backend, whatever its URLs look like (one database file, one bucket...).
"""

from __future__ import annotations

from .store import ANY, Expect, ObjectInfo, Store, StoredObject, check_key

__all__ = ["PrefixedStore"]


class PrefixedStore(Store):
    def __init__(self, inner: Store, prefix: str) -> None:
        self.inner, self.prefix = inner, check_key(prefix.strip("/")) + "/"
        self.capabilities = inner.capabilities
        self.root_uri = f"{inner.root_uri.rstrip('/')}/{self.prefix}"

    def get_object(self, key: str) -> StoredObject:
        return self.inner.get_object(self.prefix + check_key(key))

    def put(self, key: str, data: bytes) -> str:
        return self.inner.put(self.prefix + check_key(key), data)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        return self.inner.replace(self.prefix + check_key(key), data, expect=expect)

    def list(self, prefix: str = "") -> list[str]:
        return [k[len(self.prefix):] for k in self.inner.list(self.prefix + prefix)]

    def delete(self, key: str) -> None:
        self.inner.delete(self.prefix + check_key(key))

    def stat(self, key: str) -> ObjectInfo:
        info = self.inner.stat(self.prefix + check_key(key))
        return ObjectInfo(key, info.etag, info.size, info.modified)

    def close(self) -> None:
        self.inner.close()

    def __repr__(self) -> str:
        return f"PrefixedStore({self.inner!r}, {self.prefix!r})"
