"""G5: bounded staleness and safety in serving.

A reader lags current by at most its TTL; after ``invalidate()`` it serves current;
it never returns bytes that do not hash to their version, nor anything outside its
tenant/surface or the store root.
"""

from __future__ import annotations

from typing import Any

from ..guarantees import Guarantee
from .oracle import payload_version
from .violation import Violation

__all__ = ["check_staleness", "check_served_payload", "refused", "CurrentLog"]

G5 = Guarantee.G5

#: (time it became current, manifest version or None), oldest first
CurrentLog = list[tuple[float, "str | None"]]


def check_staleness(log: CurrentLog, now: float, ttl: float, served: str | None, invalidated: bool) -> Violation | None:
    """Is ``served`` a manifest that was current at some moment of the last ``ttl`` seconds?"""
    allowed = {version for when, version in log if when > now - ttl}
    earlier = [version for when, version in log if when <= now - ttl]
    if earlier:
        allowed.add(earlier[-1])  # what was current at the start of the window
    truth = log[-1][1] if log else None
    if invalidated and served != truth:
        return Violation(G5, f"after invalidate() the reader serves {served}, current is {truth}")
    if served not in allowed | {truth}:
        return Violation(G5, f"reader serves {served}, which was not current within the last {ttl}s")
    return None


def check_served_payload(type_: str, value: Any, uri: str) -> Violation | None:
    """The payload served for ``uri`` hashes to the version in its key."""
    if payload_version(value) != uri.rsplit("/", 1)[-1].removesuffix(".json"):
        return Violation(G5, f"reader served {type_} bytes that do not hash to {uri}")
    return None


def refused(what: str, served: Any) -> Violation:
    """A reader served something it had to refuse."""
    return Violation(G5, f"the reader {what}: served {served!r}")
