"""open_store: one entry point from a path or URL to the right backend.

- a plain path or ``file://`` URL  -> LocalStore (durable, every capability)
- ``memory://name``                -> MemoryStore, one per name within a process
- ``s3://bucket/prefix``           -> S3Store (conditional PUTs; needs s3fs)
- any other URL                    -> FsspecStore (capabilities per protocol)

With ``blob_store``, a SplitStore over the two roots; ``root_map`` for a store that
was copied away from the root its manifests name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from .errors import InvalidInput
from .local import LocalStore
from .memory import MemoryStore
from .split import SplitStore
from .store import Store

__all__ = ["open_store"]

_memory_stores: dict[str, MemoryStore] = {}
_memory_lock = threading.Lock()


def open_store(
    url_or_path: str | os.PathLike[str],
    *,
    create: bool = True,
    blob_store: str | os.PathLike[str] | None = None,
    root_map: Sequence[str] = (),
    **options: Any,
) -> Store:
    """Open the store that ``url_or_path`` names; options go to the backend.

    ``create=False`` refuses a local directory that does not exist yet, so a typo in
    a read-only command does not leave an empty store behind. ``blob_store`` names a
    separate root for the blobs (then ``url_or_path`` is the registry root: records,
    current, history), as recsys-pipelines deploys it. ``root_map`` entries
    ``ORIGINAL=LOCAL`` say that URIs under ORIGINAL (a path or URL the store's writers
    knew) now live under LOCAL.
    """
    store = _open_one(url_or_path, create=create, **options)
    if blob_store is not None:
        store = SplitStore(_open_one(blob_store, create=create, **options), store)
    if root_map:
        store.uri_rewrites = tuple(_rewrite(entry) for entry in root_map)
    return store


def _rewrite(entry: str) -> tuple[str, str]:
    original, eq, local = entry.partition("=")
    if not eq or not original or not local:
        raise InvalidInput(f"root map {entry!r} must be ORIGINAL=LOCAL, e.g. file:///srv/recsys/pub=./copy")
    return _as_uri(original), _as_uri(local)


def _as_uri(where: str) -> str:
    """A path as ``file://`` + its raw absolute path (recsys-pipelines' form); URLs as they are."""
    return where if "://" in where else "file://" + os.path.abspath(where)


def _open_one(url_or_path: str | os.PathLike[str], *, create: bool, **options: Any) -> Store:
    target = os.fspath(url_or_path)
    if not target or not target.strip():
        raise InvalidInput("no store given: pass a directory path, file://, memory:// or another fsspec URL")
    if "://" not in target:
        return LocalStore(target, create=create, **options)
    scheme = target.split("://", 1)[0].lower()
    if scheme == "file":
        parsed = urlparse(target)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidInput(f"{target!r}: file:// URLs must name a local path (file:///dir)")
        return LocalStore(unquote(parsed.path), create=create, **options)
    if scheme == "memory":
        name = target.split("://", 1)[1]
        with _memory_lock:
            # Same name, same store: lets two engines in one process share state.
            if name not in _memory_stores:
                _memory_stores[name] = MemoryStore(name=name, **options)
            return _memory_stores[name]
    if scheme in ("s3", "s3a"):
        from .s3_store import S3Store

        return S3Store(target, **options)
    from .fsspec_store import FsspecStore

    return FsspecStore(target, **options)
