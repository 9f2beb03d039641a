"""Memos of parsed manifests and history entries, keyed by their exact bytes (the engine's, never the checker's)."""

from __future__ import annotations

from typing import Generic, TypeVar

from .documents import HistoryEntry, Manifest, load_document

__all__ = ["DocumentMemo", "ManifestMemo", "MANIFESTS", "HISTORY_ENTRIES"]

D = TypeVar("D", Manifest, HistoryEntry)


class DocumentMemo(Generic[D]):
    """Parsed documents of one kind by their exact bytes, bounded.

    Parsing a manifest and hashing it for its version cost more than the rest of
    reading current, and the bytes a publish reads are usually the bytes the last
    swap wrote (which it remembers here); a gc sweep parses every history entry of
    the store, and entries never change. A pure memo: same bytes, same document, so
    a crash or another process can never make it stale (a document that does not
    parse is not remembered: each read says so again, naming its key). Callers get
    a shared frozen instance and must not mutate its ``current`` dict.
    """

    def __init__(self, kind: type[D], size: int = 256) -> None:
        self._kind: type[D] = kind
        self._by_bytes: dict[bytes, D] = {}
        self._size = size

    def load(self, data: bytes, key: str) -> D:
        document = self._by_bytes.get(data)
        if document is None:
            document = load_document(self._kind, data, key)
            self.remember(data, document)
        return document

    def remember(self, data: bytes, document: D) -> None:
        if len(self._by_bytes) >= self._size:
            self._by_bytes.clear()  # one atomic step, safe without a lock
        self._by_bytes[data] = document


ManifestMemo = DocumentMemo  # the name it had when it held manifests only

MANIFESTS: DocumentMemo[Manifest] = DocumentMemo(Manifest)
HISTORY_ENTRIES: DocumentMemo[HistoryEntry] = DocumentMemo(HistoryEntry, size=1024)
