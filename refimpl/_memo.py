"""A memo of parsed manifests, keyed by their exact bytes (the engine's, never the checker's)."""

from __future__ import annotations

from .documents import Manifest, load_document

__all__ = ["ManifestMemo", "MANIFESTS"]


class ManifestMemo:
    """Parsed manifests by their exact bytes, bounded.

    Parsing a manifest and hashing it for its version cost more than the rest of
    reading current, and the bytes a publish reads are usually the bytes the last
    swap wrote (which it remembers here). A pure memo: same bytes, same manifest, so
    a crash or another process can never make it stale. Callers get a shared frozen
    instance and must not mutate its ``current`` dict.
    """

    def __init__(self, size: int = 256) -> None:
        self._by_bytes: dict[bytes, Manifest] = {}
        self._size = size

    def load(self, data: bytes, key: str) -> Manifest:
        manifest = self._by_bytes.get(data)
        if manifest is None:
            manifest = load_document(Manifest, data, key)
            self.remember(data, manifest)
        return manifest

    def remember(self, data: bytes, manifest: Manifest) -> None:
        if len(self._by_bytes) >= self._size:
            self._by_bytes.clear()  # one atomic step, safe without a lock
        self._by_bytes[data] = manifest


MANIFESTS = ManifestMemo()
