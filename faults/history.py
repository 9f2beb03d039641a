"""The history: one event per store operation, as the nemesis saw it (Jepsen's history).

Fault wrappers and the interleaving scheduler record ``Event``s; the checkers read
them to explain a verdict; the report renderers draw them as timelines; the
black-box harness writes them for foreign publishers. One type for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Event", "CRASH_FAULTS"]

#: Fault kinds after which the process is dead (see ``faults.plan``).
CRASH_FAULTS = frozenset({"crash", "lost-ack", "torn"})


@dataclass(slots=True)
class Event:
    """One operation: who did what to which key, in which phase, and how it ended.

    actor   who performed it: a role (``publish``, ``gc``, ``rollback``) or a
            scheduler letter; ``checker`` for a violation the checker observed
    op      the store primitive (``get``, ``put``, ``replace``, ``list``, ``delete``,
            ``stat``), or ``violation``
    result  ``ok`` if it returned, else the class name of what it raised
            (``AlreadyExists``, ``Conflict``, ``Crash``...)
    fault   the fault injected at this operation (``lost-ack@swap``), if any
    time    the order of events: an index into the history
    """

    actor: str
    op: str
    key: str = ""
    phase: str | None = None
    result: str = "ok"
    fault: str | None = None
    time: int = 0

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    @property
    def crashed(self) -> bool:
        """Did the process die at this operation (a crash, lost ack or torn write)?"""
        return self.fault is not None and self.fault.split("@", 1)[0] in CRASH_FAULTS
