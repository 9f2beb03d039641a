"""G3: retrying a publish is safe.

Re-running a publish (after success, or after a crash or timeout anywhere) converges
to the same versions and mapping; there is one registry record per version, and it
is never rewritten.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping

from ..failures import store_failed
from ..guarantees import Guarantee
from .oracle import RECORDS, Oracle, is_tombstone
from .violation import Violation

__all__ = ["check_records", "whole_record", "retry_failed"]

G3 = Guarantee.G3


def check_records(contents: Mapping[str, bytes], oracle: Oracle) -> list[Violation]:
    """Registry records are append-only and whole: the bytes first seen at a record key stay."""
    found = []
    for key, data in contents.items():
        if not key.startswith(RECORDS):
            continue
        if not whole_record(data):
            found.append(Violation(G3, f"registry record {key} does not parse (torn or truncated)", key))
            continue
        first = oracle.first_seen_records.setdefault(key, data)
        if first != data and not (is_tombstone(first) or is_tombstone(data)):
            found.append(Violation(G3, f"registry record {key} was rewritten", key))
    return found


@functools.lru_cache(maxsize=16384)  # records never change: each distinct one is parsed once
def whole_record(data: bytes) -> bool:
    """Does a record read whole (a JSON object)? A torn one may be repaired; a whole one never changes."""
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        return False


def retry_failed(cause: str, error: BaseException) -> Violation:
    """The retry's failure as a G3 violation; a store that failed by itself (not a fault
    pubsafe injected) raises StoreFailed instead, for the run proves nothing."""
    if failure := store_failed(f"the retry after {cause}", error):
        raise failure from error
    return Violation(G3, f"retry after {cause} failed: {error!r}")
