"""R5: a GC sweep never deletes a blob that a publish in flight will reference.

After a sweep raced a publish, current must still be valid (G2). A violation is
R5 only when the sweep's own deletion is on its path (the sweep deleted the blob,
or the registry record, that current now misses); otherwise it is the underlying
guarantee, and the sweep is not blamed for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pubsafe.faults.history import Event

from ..guarantees import Guarantee
from .oracle import RECORDS
from .violation import Violation

__all__ = ["attribute_to_gc"]


def attribute_to_gc(violations: Iterable[Violation], history: Sequence[Event], gc_actor: str) -> list[Violation]:
    deleted = {e.key for e in history if e.actor == gc_actor and e.op == "delete" and e.ok}
    attributed = []
    for v in violations:
        if v.key and (v.key in deleted or RECORDS + v.key in deleted):
            attributed.append(Violation(Guarantee.R5, f"the sweep deleted {v.key}: {v.message}", v.key))
        else:
            attributed.append(v)
    return attributed
