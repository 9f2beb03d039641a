"""The guarantee catalogue: one enum of IDs, used by checkers, verdicts and reports.

G1–G5 must hold on a conforming store. R1–R4 are documented non-guarantees of the
default (unguarded) mode, expected to be observed; guarded mode turns R1–R3 into
detected conflicts, so there they must hold. R5 (GC deleting what a publish in
flight will reference) must never happen with pubsafe's own GC.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Guarantee", "Status", "RACES", "PROBE_GUARANTEES"]


class Status(str, Enum):
    """What a verdict says about one guarantee."""

    HOLDS = "HOLDS"  #: checked and never broken
    BREAKS = "BREAKS"  #: a counterexample was found
    DOCUMENTED = "DOCUMENTED"  #: a documented non-guarantee, observed as predicted
    UNKNOWN = "UNKNOWN"  #: the checker itself failed; never silently dropped


class Guarantee(str, Enum):
    G1 = "G1"
    G2 = "G2"
    G3 = "G3"
    G4 = "G4"
    G5 = "G5"
    R1 = "R1"
    R2 = "R2"
    R3 = "R3"
    R4 = "R4"
    R5 = "R5"

    def __str__(self) -> str:
        return self.value

    @property
    def heading(self) -> str:
        """The guarantee in a few words (a verdict's title); not ``title``, which is str's."""
        return _TITLES[self]

    def expected(self, *, guarded: bool) -> Status:
        """The verdict a conforming store and engine get for this guarantee."""
        if self in (Guarantee.R1, Guarantee.R2, Guarantee.R3, Guarantee.R4):
            return Status.HOLDS if guarded and self in RACES else Status.DOCUMENTED
        return Status.HOLDS


#: The lost-update races that guarded mode closes.
RACES = (Guarantee.R1, Guarantee.R2, Guarantee.R3)

_TITLES = {
    Guarantee.G1: "immutable, version-addressed artifacts",
    Guarantee.G2: "manifest swapped last; current always valid",
    Guarantee.G3: "idempotent retry; records append-only",
    Guarantee.G4: "rollback is a pointer change",
    Guarantee.G5: "bounded staleness and safety in serving",
    Guarantee.R1: "same-type race: last swap wins silently",
    Guarantee.R2: "cross-type race: lost update",
    Guarantee.R3: "rollback undone by a publish in flight",
    Guarantee.R4: "orphans left by crashed publishes",
    Guarantee.R5: "GC deletes a blob a publish will reference",
}

#: Which guarantees a claimed but dishonoured store capability breaks.
PROBE_GUARANTEES = {
    "create_only": (Guarantee.G1, Guarantee.G3),
    "compare_and_swap": (Guarantee.R1, Guarantee.R2, Guarantee.R3),
    "atomic_replace": (Guarantee.G2,),
    "durable": (Guarantee.G1, Guarantee.G2),
}
