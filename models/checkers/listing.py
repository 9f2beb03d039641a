"""Listings: ``list(prefix)`` names every key the store holds under the prefix, once.

No publish, rollback or read needs a listing, so a store whose listing stops at a
page (the first 1,000 keys, a page without its continuation) or skips keys passes
every other check. What relies on it is deletion: ``pubsafe gc`` proves a blob
unreferenced from one listing of every record and manifest (the "knowledge" step of
its safety argument, G1: every acknowledged blob stays readable). pubsafe's own
sweep still spares recorded blobs, since its create-only claim at the record key
fails; a collector without such claims deletes them, and a tombstone past the page
is never cleared (so a publish of that version stays refused). ``pubsafe audit`` and
``pubsafe history`` see part of the store. The verdict is G1, and the message says
it is the listing, so that it does not pass for a lost blob.

Judged against keys known to exist because they were read *by key* (the checker's
mirror, or keys just written), never against another listing. A key the listing
leaves out but that folds (case, Unicode normalisation) onto a listed one is not
counted: a store that folds keys holds one object under both names, and the
name checks judge that.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable

from ..guarantees import Guarantee
from .violation import Violation

__all__ = ["listing_fault", "LISTING_FAULT"]

#: How every listing violation begins, so a report (and a test) can tell the cause.
LISTING_FAULT = "listing fault"


def _fold(key: str) -> str:
    return unicodedata.normalize("NFC", key).casefold()


def listing_fault(prefix: str, listed: Iterable[str], present: Collection[str], consequence: str = ""
                  ) -> Violation | None:
    """Why ``listed`` (what ``list(prefix)`` returned) is not the keys of ``present``
    under ``prefix`` (keys read by key just before or after), or None if it is.

    ``consequence``: what the fault already did (the violation it explains).
    """
    listed = list(listed)
    wanted = {k for k in present if k.startswith(prefix)}
    seen = set(listed)
    folded = {_fold(k) for k in seen}
    omitted = sorted(k for k in wanted - seen if _fold(k) not in folded)
    doubled = sorted(k for k, n in Counter(listed).items() if n > 1)
    outside = sorted(k for k in seen if not k.startswith(prefix))
    if not (omitted or doubled or outside):
        return None
    problems = []
    if omitted:
        page = " (it stops at a page: a listing that ignores its continuation)" if _looks_paged(listed, omitted) else ""
        problems.append(f"it leaves out {len(omitted)} key(s) that exist when read by key, e.g. {omitted[0]!r} "
                        f"({len(wanted)} known there); it returned {len(seen)}{page}")
    if doubled:
        problems.append(f"it names {len(doubled)} key(s) more than once, e.g. {doubled[0]!r}")
    if outside:
        problems.append(f"it returns {len(outside)} key(s) that do not start with the prefix, e.g. {outside[0]!r}")
    message = (f"{LISTING_FAULT}: list({prefix!r}) is not every key under the prefix: {'; '.join(problems)}. "
               "What a sweep may delete rests on it (G1): gc proves a blob unreferenced from one listing of every "
               "record and manifest (pubsafe's create-only claims still spare recorded blobs; a collector without "
               "them deletes them), and a tombstone the listing leaves out is never cleared")
    if consequence:
        message += f"; that is why: {consequence}"
    key = omitted[0] if omitted else ""
    return Violation(Guarantee.G1, message, key)


def _looks_paged(listed: list[str], omitted: list[str]) -> bool:
    """The listing is a prefix of the sorted keys (every omitted key sorts after every
    listed one), as a first page of a lexicographic listing is."""
    return bool(listed) and max(listed) < min(omitted)
