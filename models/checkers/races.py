"""R1–R3: lost updates among concurrent publishes and rollbacks.

Judged from outcomes, as Jepsen judges a history: given the operations that were
acknowledged (returned without error), their real-time order (one that finished
before another started comes first) and the mapping that was current before, the
final mapping must be what *some* serial order of them produces. Operations that
failed may or may not have taken effect. A final mapping no serial order explains
is a lost update: R1 (same type), R2 (different types) or R3 (a rollback undone).
In default mode that is the documented race; in guarded mode it breaks the
guarantee.

``stale_swap`` explains *how* from the history: which actor swapped over a current
it had not read.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from pubsafe.faults.history import Event

__all__ = ["RaceOp", "lost_update", "stale_swap"]


@dataclass(frozen=True)
class RaceOp:
    """One actor's operation, as far as the mapping is concerned."""

    actor: str
    kind: str  #: "publish" (overlay its types) or "rollback" (install a whole mapping)
    mapping: dict[str, str]
    acknowledged: bool
    start: int  #: index of its first event in the history
    end: int  #: index of its last event

    def apply(self, current: dict[str, str]) -> dict[str, str]:
        return current | self.mapping if self.kind == "publish" else dict(self.mapping)


def lost_update(before: dict[str, str], ops: Sequence[RaceOp], final: dict[str, str] | None) -> str | None:
    """Why ``final`` is not the result of any serial order of ``ops``; None if it is."""
    possible = []
    for order in itertools.permutations(ops):
        if any(a.start > b.end for i, a in enumerate(order) for b in order[i + 1:]):
            continue  # b finished before a started: a cannot come first
        mappings = [dict(before)]
        for op in order:
            applied = [op.apply(m) for m in mappings]
            mappings = applied if op.acknowledged else mappings + applied
        possible += mappings
    if (final or {}) in possible:
        return None
    acked = ", ".join(f"{op.actor} ({op.kind} {op.mapping})" for op in ops if op.acknowledged) or "none"
    return f"final mapping {final} is the result of no serial order of the acknowledged operations: {acked}"


def stale_swap(trace: Sequence[Event], key: str) -> str | None:
    """A successful swap of ``key`` built on a current the other actor replaced meanwhile.

    Reads only the history (each actor's last read of ``key`` before its last
    successful replace of it), so it explains any engine on the layout.
    """
    last_read: dict[str, int] = {}
    final: dict[str, tuple[int, int]] = {}  # actor -> (its last swap, its last read before)
    for i, event in enumerate(trace):
        if event.key == key and event.op == "get":
            last_read[event.actor] = i
        elif event.key == key and event.op == "replace" and event.ok:
            final[event.actor] = (i, last_read.get(event.actor, -1))
    if len(final) < 2:
        return None
    (late_actor, (late_swap, late_read)), (_, (early_swap, _)) = sorted(final.items(), key=lambda kv: -kv[1][0])
    if late_read < early_swap < late_swap:
        return (
            f"actor {late_actor} read current at step {late_read}, the other actor swapped at step "
            f"{early_swap}, and {late_actor} swapped over it at step {late_swap}"
        )
    return None
