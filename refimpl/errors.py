"""Every exception pubsafe raises, in one place.

The tree (built-in bases in brackets, so callers can catch what they already know)::

    PubsafeError
    ├── InvalidInput [ValueError]           bad input; refused before anything is written
    │   ├── InvalidName                     tenant / surface / type is not one path segment
    │   ├── InvalidPayload                  not canonicalisable JSON (names the path inside)
    │   └── InvalidKey                      a store key or URI escapes the store root
    ├── StoreError                          a backend failed; backend errors are chained
    │   ├── ObjectNotFound [FileNotFoundError]
    │   ├── AlreadyExists [FileExistsError] create-only put on an existing key
    │   ├── Conflict                        compare-and-swap expectation did not hold
    │   ├── RetryableStoreError             transient (timeout, 503, S3 409); retry is safe
    │   ├── NoSpace                         the store has no room for a write (a full disk)
    │   ├── UnsupportedOperation            the store does not declare that capability
    │   └── UnsafeStoreState                a link, a named pipe or other special file, or a
    │                                       directory where an object belongs: touched by
    │                                       nothing until a person looks
    ├── IntegrityError                      bytes do not hash to their version, or a
    │                                       document does not parse
    └── Refused                             the engine will not do this; nothing written
        ├── RollbackRefused                 unknown or invalid rollback target
        ├── PublishConflict                 guarded publish lost its race too many times
        ├── CollectionInProgress            a GC sweep holds a tombstone on this version
        └── CollectionRefused               GC cannot prove a deletion safe; deleted nothing more
            └── SweepInProgress             another sweep holds the GC lease

Backend exceptions are translated at the store boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "PubsafeError",
    "InvalidInput",
    "InvalidName",
    "InvalidPayload",
    "InvalidKey",
    "StoreError",
    "ObjectNotFound",
    "AlreadyExists",
    "Conflict",
    "RetryableStoreError",
    "NoSpace",
    "UnsupportedOperation",
    "UnsafeStoreState",
    "IntegrityError",
    "Refused",
    "RollbackRefused",
    "PublishConflict",
    "CollectionInProgress",
    "CollectionRefused",
    "SweepInProgress",
]


class PubsafeError(Exception):
    """Base of every pubsafe error."""


class InvalidInput(PubsafeError, ValueError):
    """The caller's input is unusable; nothing was written."""


class InvalidName(InvalidInput):
    """A tenant, surface or type name is not a safe single path segment."""


class InvalidPayload(InvalidInput):
    """A payload cannot be put in RFC 8785 canonical form."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.path = path


class InvalidKey(InvalidInput):
    """A store key or manifest URI points outside where it is allowed to."""


class StoreError(PubsafeError):
    """A store operation failed."""


class ObjectNotFound(StoreError, FileNotFoundError):
    """No object under that key."""


class AlreadyExists(StoreError, FileExistsError):
    """A create-only put found the key already taken."""


class Conflict(StoreError):
    """A compare-and-swap found a different etag (or presence) than expected.

    ``actual_etag`` is the etag found, where the backend reports it (S3 does not).
    """

    def __init__(self, message: str, *, actual_etag: str | None = None) -> None:
        super().__init__(message)
        self.actual_etag = actual_etag


class RetryableStoreError(StoreError):
    """A transient failure: the operation may or may not have happened; retry."""


class NoSpace(StoreError):
    """A write failed for lack of room (ENOSPC, a quota); nothing was written."""


class UnsupportedOperation(StoreError):
    """The store does not declare the capability this call needs."""


class UnsafeStoreState(StoreError):
    """The store holds something pubsafe will not read through or write over.

    A symbolic link inside a local store (it could lead outside the store), a named
    pipe, socket or device (a read could wait for ever), or a directory where an
    object belongs. Nothing is followed, read, written or deleted.
    """


class IntegrityError(PubsafeError):
    """Stored bytes do not match their version, or a document does not parse."""


class Refused(PubsafeError):
    """The engine declined the request; nothing was written."""


class RollbackRefused(Refused):
    """The rollback target is unknown or its artifacts do not validate."""


class PublishConflict(Refused):
    """A guarded publish kept losing the compare-and-swap on the manifest."""

    def __init__(self, message: str, *, competing_version: str | None = None) -> None:
        super().__init__(message)
        self.competing_version = competing_version


class CollectionInProgress(Refused):
    """A GC sweep has claimed this version; retry after the sweep finishes."""


class CollectionRefused(Refused):
    """GC stopped: it could not prove that what it would delete is unreferenced."""


class SweepInProgress(CollectionRefused):
    """Another GC sweep holds the lease; two sweeps never run at once."""
