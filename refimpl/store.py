"""The Store contract: the seam every backend implements.

Six primitives, each with the semantics the engine relies on. A backend declares
in ``capabilities`` which of the stronger semantics it really provides; the
conformance suite checks exactly what is claimed and the engine never assumes more.

Keys are ``/``-separated, relative, with no empty, ``.`` or ``..`` segment.
"""

from __future__ import annotations

import builtins
import enum
import hashlib
from abc import ABC, abstractmethod
from typing import NamedTuple

from .errors import InvalidKey, ObjectNotFound, UnsupportedOperation

__all__ = [
    "Store",
    "Capabilities",
    "StoredObject",
    "ObjectInfo",
    "Debris",
    "NOT_REGULAR",
    "Expect",
    "ANY",
    "ABSENT",
    "etag_of",
    "check_key",
]


class Expect(enum.Enum):
    """Special compare-and-swap expectations for ``Store.replace``."""

    ANY = "any"  #: unconditional replace
    ABSENT = "absent"  #: succeed only if the key does not exist yet


ANY = Expect.ANY
ABSENT = Expect.ABSENT


class Capabilities(NamedTuple):
    """What a store guarantees beyond "get returns what was last written".

    atomic_replace:   a concurrent reader of ``replace`` sees the old or the new
                      document, never a mix or an empty file.
    create_only:      ``put`` on an existing key fails atomically (no check-then-write
                      window in which two writers can both succeed).
    compare_and_swap: ``replace(expect=...)`` is atomic with its comparison.
    durable:          an acknowledged write survives a crash of the writer (for the
                      local store: power loss too, thanks to fsync).
    """

    atomic_replace: bool
    create_only: bool
    compare_and_swap: bool
    durable: bool

    def names(self) -> list[str]:
        return [name for name, on in self._asdict().items() if on]


class StoredObject:
    """Bytes read together with their etag; the etag may be computed on first use."""

    __slots__ = ("data", "_etag")

    def __init__(self, data: bytes, etag: str | None = None) -> None:
        self.data = data
        self._etag = etag

    @property
    def etag(self) -> str:
        if self._etag is None:
            self._etag = etag_of(self.data)
        return self._etag

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredObject) and (self.data, self.etag) == (other.data, other.etag)

    def __repr__(self) -> str:
        return f"StoredObject({len(self.data)} bytes, etag={self._etag!r})"


class ObjectInfo(NamedTuple):
    key: str
    etag: str
    size: int
    modified: float  #: seconds since the epoch, by the store's clock


class Debris(NamedTuple):
    """Something in the store that is not an object: never read, reported by audit.

    kind: ``temp`` (an interrupted write's temporary file; GC removes it after the
    grace period), ``link`` (a symbolic link), ``dir`` (a directory where pubsafe
    keeps only files: inside ``gc/``, so that a binding replaced by a directory is not
    simply absent), or one of ``NOT_REGULAR`` (a named pipe, socket or device, which a
    read could wait on for ever); only a person should remove a link, a directory or a
    special file.
    """

    key: str
    kind: str
    size: int
    modified: float


#: Debris kinds of entries that are not regular files, in words.
NOT_REGULAR = {"fifo": "a named pipe (FIFO)", "socket": "a socket", "device": "a device file",
               "special": "a special file"}


def etag_of(data: bytes) -> str:
    """Content etag used by the built-in stores; identical bytes, identical etag."""
    return hashlib.sha256(data).hexdigest()


def check_key(key: str) -> str:
    """Refuse keys that could escape the store root or alias another key."""
    # On the hot path of every operation: plain substring tests, no split.
    wrapped = f"/{key}/" if isinstance(key, str) else ""
    if (
        not key
        or not wrapped
        or "//" in wrapped
        or "/./" in wrapped
        or "/../" in wrapped
        or "\\" in key
        or "\x00" in key
    ):
        raise InvalidKey(f"{key!r} is not a valid store key (relative, '/'-separated, no '..')")
    return key


class Store(ABC):
    """A key/value object store with the few primitives safe publishing needs."""

    capabilities: Capabilities
    #: Where this store's keys live, as a URI (``file:///srv/pub``, ``s3://b/p``).
    root_uri: str
    #: (old root, where it is now) pairs for a store copied elsewhere: its manifests may
    #: still name blobs by absolute URIs under the old root (``--root-map``).
    uri_rewrites: tuple[tuple[str, str], ...] = ()
    #: How the conditional writes are asked for in the backend's own protocol, so a
    #: failed capability probe can say what the server did in its words: keys
    #: ``create_only``, ``compare_and_swap``, ``refused`` (the answer that refuses) and
    #: ``read`` (how get_object reads the bytes and their etag).
    wire_terms: dict[str, str] = {}

    def uri(self, key: str) -> str:
        """Where ``key`` lives, for messages that send a person to it."""
        return f"{self.root_uri.rstrip('/')}/{key}"

    @abstractmethod
    def get_object(self, key: str) -> StoredObject:
        """The bytes under ``key`` and their etag, read together.

        Raises ObjectNotFound if absent.
        """

    @abstractmethod
    def put(self, key: str, data: bytes) -> str:
        """Create ``key`` with ``data``; never overwrite. Returns the new etag.

        Raises AlreadyExists if the key exists. With ``create_only`` the check and
        the write are one atomic step, and a reader never sees a partial object.
        """

    @abstractmethod
    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        """Replace the whole document under ``key`` (creating it if absent).

        ``expect`` makes it a compare-and-swap: an etag the current object must have,
        or ABSENT for "must not exist yet". A mismatch raises Conflict and writes
        nothing. Stores without ``compare_and_swap`` raise UnsupportedOperation for
        any expectation but ANY.
        """

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every key starting with ``prefix`` (a plain string prefix), each once.

        In no promised order: S3 lists lexicographically, other backends need not, and
        nothing in pubsafe depends on it (the built-in stores sort anyway).
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``. Raises ObjectNotFound if absent. Used by GC only."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Etag, size and modification time of ``key``. Raises ObjectNotFound."""

    # Derived helpers: backends need not override these.

    def get(self, key: str) -> bytes:
        return self.get_object(key).data

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def debris(self) -> builtins.list[Debris]:
        """Entries that are not objects (temp files of interrupted writes, links).

        Object stores have none (a PUT is whole or absent); the default says so.
        """
        return []

    def remove_debris(self, key: str) -> None:
        """Remove a ``temp`` entry that ``debris`` reported. Used by GC only."""
        raise UnsupportedOperation(f"{self!r} keeps no debris")

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract: most stores hold nothing to release
        """Release resources; the default has none."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root_uri!r})"
