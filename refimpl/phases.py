"""Labels for the store operations of a publish, rollback or sweep.

The engine wraps each store call in ``phase("blob-write")`` and the like. Nothing in
refimpl reads the label; fault injectors and recorders do (through ``current_phase``),
so a fault can be placed "after record-write, before swap" and a report can say where
a crash happened. A foreign engine that never sets a label still works: its
operations are simply unlabelled.
"""

from __future__ import annotations

import contextvars

__all__ = ["phase", "current_phase", "PUBLISH_PHASES"]

_PHASE: contextvars.ContextVar[str | None] = contextvars.ContextVar("pubsafe_phase", default=None)

#: The labels a publish uses, in protocol order (repairs only when needed).
PUBLISH_PHASES = (
    "read-current",
    "blob-write",
    "validate-read",
    "record-write",
    "confirm-read",
    "history-write",
    "swap",
)


def current_phase() -> str | None:
    """The label of the store operation now running in this context, if any."""
    return _PHASE.get()


class phase:
    """``with phase("swap"): ...`` labels the store operations inside it.

    A class rather than a generator-based context manager: it wraps every store
    operation of a publish, so its cost is on the hot path.
    """

    __slots__ = ("label", "_token")

    def __init__(self, label: str) -> None:
        self.label = label

    def __enter__(self) -> None:
        self._token = _PHASE.set(self.label)

    def __exit__(self, *exc_info: object) -> None:
        _PHASE.reset(self._token)
