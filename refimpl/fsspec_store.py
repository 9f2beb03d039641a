"""FsspecStore: any fsspec URL, claiming only what that protocol really gives.

fsspec's generic API has no atomic create-only write (``pipe_file(mode="create")``
is exists-then-write on local and memory filesystems), no compare-and-swap and no
fsync. So by default this store declares nothing beyond plain reads and writes, and
the conformance suite and the engine treat it that way. Protocols whose native
primitive is stronger are listed in ``KNOWN_CAPABILITIES``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .errors import AlreadyExists, InvalidInput, ObjectNotFound, StoreError, UnsupportedOperation
from .store import ANY, Capabilities, Expect, ObjectInfo, Store, StoredObject, check_key, etag_of

__all__ = ["FsspecStore", "KNOWN_CAPABILITIES", "NO_CAPABILITIES"]

NO_CAPABILITIES = Capabilities(atomic_replace=False, create_only=False, compare_and_swap=False, durable=False)

KNOWN_CAPABILITIES: dict[str, Capabilities] = {
    # MemoryFileSystem.pipe_file swaps in a whole new file object: readers see old
    # or new. Creation is still check-then-write, and nothing outlives the process.
    "memory": Capabilities(atomic_replace=True, create_only=False, compare_and_swap=False, durable=False),
    # LocalFileSystem writes in place (truncate, then write) and never fsyncs.
    "file": NO_CAPABILITIES,
}


class FsspecStore(Store):
    def __init__(
        self,
        url: str,
        *,
        capabilities: Capabilities | None = None,
        **storage_options: Any,
    ) -> None:
        if url.startswith(("file://", "local://")):
            storage_options.setdefault("auto_mkdir", True)  # object stores need no dirs
        import fsspec  # here, not at import: the operator commands on a directory never need it (start-up time)

        try:
            fs, path = fsspec.core.url_to_fs(url, **storage_options)
        except ImportError as exc:  # the scheme's implementation needs a package that is not installed
            hint = " (for http:// and https://: pip install aiohttp requests)" if url.startswith("http") else ""
            raise InvalidInput(f"cannot open fsspec URL {url!r}: {exc}; install what it names into this "
                               f"environment{hint}, then run again") from exc
        except ValueError as exc:
            raise InvalidInput(f"cannot open fsspec URL {url!r}: {exc}") from exc
        self.fs = fs
        self.root = path.rstrip("/")
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self.protocol = protocol
        self.capabilities = capabilities or KNOWN_CAPABILITIES.get(protocol, NO_CAPABILITIES)
        self.root_uri = fs.unstrip_protocol(self.root)

    def _path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def get_object(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        except Exception as exc:
            raise StoreError(f"reading {key} from {self.root_uri}: {exc}") from exc
        return StoredObject(data, etag_of(data))

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        try:
            # Not atomic: another writer can slip in between these two calls. The
            # store does not claim create_only, and the suite knows it.
            if self.fs.exists(path):
                raise AlreadyExists(key)
            self.fs.pipe_file(path, bytes(data))
        except AlreadyExists:
            raise
        except Exception as exc:
            raise StoreError(f"writing {key} to {self.root_uri}: {exc}") from exc
        return etag_of(data)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        check_key(key)
        if expect is not ANY:
            raise UnsupportedOperation(
                f"{self.root_uri} ({self.protocol}) has no compare-and-swap; use a store "
                "that declares compare_and_swap for guarded publishing"
            )
        path = self._path(key)
        try:
            self.fs.pipe_file(path, bytes(data))
        except Exception as exc:
            raise StoreError(f"replacing {key} in {self.root_uri}: {exc}") from exc
        return etag_of(data)

    def list(self, prefix: str = "") -> list[str]:
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = f"{self.root}/{base}" if base else self.root
        try:
            found = self.fs.find(start)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise StoreError(f"listing {prefix!r} in {self.root_uri}: {exc}") from exc
        cut = len(self.root) + 1
        keys = (self.fs._strip_protocol(p)[cut:] for p in found)
        return sorted(k for k in keys if k.startswith(prefix) and not k.rsplit("/", 1)[-1].startswith("."))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            self.fs.rm_file(path)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        except Exception as exc:
            raise StoreError(f"deleting {key} from {self.root_uri}: {exc}") from exc

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            info = self.fs.info(path)
            if info.get("type") != "file":
                raise FileNotFoundError(path)
            data = self.fs.cat_file(path)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        except Exception as exc:
            raise StoreError(f"stat of {key} in {self.root_uri}: {exc}") from exc
        return ObjectInfo(key, etag_of(data), len(data), _modified(info))


def _modified(info: dict[str, Any]) -> float:
    """fsspec backends spell modification time differently; take what is there."""
    for field in ("mtime", "LastModified", "last_modified", "created", "modified"):
        value = info.get(field)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, _dt.datetime):
            return value.timestamp()
    return 0.0
