"""What the store under test raised by itself: a failure of the store, not a finding.

A throttled, unreachable or refusing store (SlowDown, 503, AccessDenied) raises store
errors no engine can do anything about, and a fault pubsafe did not inject proves
nothing about the engine's semantics. Judged as findings, they would make guarantees
BREAK that hold; so a run a store broke off yields UNKNOWN, and says so. Errors that
are the store's *answers* (ObjectNotFound, AlreadyExists, Conflict, ...) and the
faults the nemesis injected are judged as usual.
"""

from __future__ import annotations

from pubsafe.faults import InjectedError
from pubsafe.refimpl.errors import (
    AlreadyExists,
    Conflict,
    ObjectNotFound,
    StoreError,
    UnsafeStoreState,
    UnsupportedOperation,
)

__all__ = ["StoreFailed", "is_store_failure", "store_failed", "failure_in", "NOT_JUDGED"]

#: Store errors that are answers, not failures: the engine is judged on what it does with them.
_ANSWERS = (ObjectNotFound, AlreadyExists, Conflict, UnsafeStoreState, UnsupportedOperation, InjectedError)

#: How a probe or contract check the store broke off begins its evidence.
NOT_JUDGED = "not judged: the store failed by itself"


class StoreFailed(Exception):
    """The store under test failed by itself during a run: the run proves nothing."""


def is_store_failure(exc: BaseException) -> bool:
    return isinstance(exc, StoreError) and not isinstance(exc, _ANSWERS)


def store_failed(what: str, exc: BaseException) -> StoreFailed | None:
    """``exc`` as a StoreFailed if the store raised it by itself, else None (then it
    is the engine's doing, and judged)."""
    if is_store_failure(exc):
        return StoreFailed(f"{what}: {NOT_JUDGED} ({type(exc).__name__}: {exc}); nothing is judged from a run "
                           "it broke off, so run the check again")
    return None


def failure_in(exc: BaseException, what: str) -> StoreFailed | None:
    """The store failure behind ``exc``, if any: ``exc`` itself, or among its causes and
    grouped exceptions (a failure Hypothesis could not repeat while shrinking reaches
    us inside its FlakyFailure group); a checker's own read the store failed counts too."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, StoreFailed):
            return current
        if failure := store_failed(what, current):
            return failure
        pending += [*getattr(current, "exceptions", ()), current.__cause__, current.__context__]
    return None
