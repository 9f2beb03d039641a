"""SplitStore: blobs under one root, the registry (records, current, history) under another.

recsys-pipelines' shipped configurations keep its object store and its registry in
sibling directories (``…/objectstore``, ``…/registry``). A command that sees only
one of them sees half a store: every blob looks unrecorded, or every manifest names
blobs that are not there. This store routes each key to its half, so everything
above it sees one layout.
"""

from __future__ import annotations

from .layout import CURRENT, GC, HISTORY, RECORDS
from .store import ANY, Capabilities, Debris, Expect, ObjectInfo, Store, StoredObject

__all__ = ["SplitStore"]

_REGISTRY = (RECORDS, CURRENT, HISTORY, GC)


class SplitStore(Store):
    def __init__(self, blobs: Store, registry: Store) -> None:
        self.blobs, self.registry = blobs, registry
        self.root_uri = blobs.root_uri  # manifests name blobs: their URIs are under the blob root
        self.blob_root = getattr(blobs, "root", None)
        self.uri_rewrites = (*blobs.uri_rewrites, *registry.uri_rewrites)
        a, b = blobs.capabilities, registry.capabilities
        self.capabilities = Capabilities(*(getattr(a, f) and getattr(b, f) for f in (
            "atomic_replace", "create_only", "compare_and_swap", "durable")))

    def _half(self, key: str) -> Store:
        return self.registry if key.startswith(_REGISTRY) else self.blobs

    def get_object(self, key: str) -> StoredObject:
        return self._half(key).get_object(key)

    def put(self, key: str, data: bytes) -> str:
        return self._half(key).put(key, data)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        return self._half(key).replace(key, data, expect=expect)

    def list(self, prefix: str = "") -> list[str]:
        keys = [k for k in self.registry.list(prefix) if k.startswith(_REGISTRY)]
        keys += [k for k in self.blobs.list(prefix) if not k.startswith(_REGISTRY)]
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._half(key).delete(key)

    def stat(self, key: str) -> ObjectInfo:
        return self._half(key).stat(key)

    def exists(self, key: str) -> bool:
        return self._half(key).exists(key)

    def debris(self) -> list[Debris]:
        return sorted([*self.registry.debris(), *self.blobs.debris()], key=lambda d: d.key)

    def remove_debris(self, key: str) -> None:
        self._half(key).remove_debris(key)

    def close(self) -> None:
        self.blobs.close()
        self.registry.close()

    def __repr__(self) -> str:
        return f"SplitStore(blobs={self.blobs!r}, registry={self.registry!r})"
