"""What a run of the machine learns besides pass or fail: coverage per guarantee,
the first witness of each, the last example's history; summed over examples and
shown as each verdict's evidence."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from pubsafe.faults import Event

from ..guarantees import Guarantee

__all__ = ["RunSink"]


@dataclass
class RunSink:
    """What a run learns besides pass/fail: coverage, witnesses, the last history."""

    examples: int = 0
    steps: int = 0
    interleavings: int = 0
    crash_points: int = 0
    reads: int = 0
    rollbacks: int = 0
    sweeps: int = 0
    #: sweeps the reference GC refused because the store does not declare create-only writes
    #: (a documented refusal: a GC that deletes nothing cannot race a publish)
    sweeps_refused: int = 0
    serving_scenarios: int = 0  #: the fixed serving scenarios (staleness, hostile manifests), run once each
    #: interleavings run per race guarantee (R1-R3, R5), fixed scenarios and machine together
    raced: dict[Guarantee, int] = field(default_factory=dict)
    witnesses: dict[Guarantee, tuple[str, list[Event]]] = field(default_factory=dict)
    last_history: list[Event] = field(default_factory=list)
    progress: Callable[[int], None] = lambda n: None

    def interleaving(self, guarantee: Guarantee) -> None:
        """One interleaving of a race scenario for ``guarantee`` was run."""
        self.interleavings += 1
        self.raced[guarantee] = self.raced.get(guarantee, 0) + 1

    def evidence(self, guarantee: Guarantee) -> dict[str, int]:
        """What exercised ``guarantee`` in this run: only the counts of the scenarios and
        steps that check it (a row of the report, not one global line)."""
        machine = {"examples": self.examples, "steps": self.steps}
        races = {"interleavings": self.raced.get(guarantee, 0)}
        if guarantee in (Guarantee.G1, Guarantee.G2, Guarantee.G3):
            return machine | {"crash_points": self.crash_points, "interleavings": self.interleavings}
        if guarantee is Guarantee.G4:
            return machine | {"rollbacks": self.rollbacks, "interleavings": self.raced.get(Guarantee.R3, 0)}
        if guarantee is Guarantee.G5:
            return machine | {"serving_scenarios": self.serving_scenarios, "serving_reads": self.reads}
        if guarantee is Guarantee.R4:
            return machine | {"crash_points": self.crash_points}
        if guarantee is Guarantee.R5:
            refused = {"sweeps_refused": self.sweeps_refused} if self.sweeps_refused else {}
            return machine | races | {"sweeps": self.sweeps} | refused
        return machine | races

    def witness(self, guarantee: Guarantee, text: str, history: list[Event]) -> None:
        self.witnesses.setdefault(guarantee, (text, list(history)))

    def absorb(self, later: RunSink) -> None:
        """Add a later example's run to this one (the planned replay merges its examples
        in order, as a sequential run meets them): counts summed, the first witness of
        each guarantee kept, the last history the later one's. A new field must say here
        how two runs combine (a count is summed; anything else is refused until it does)."""
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(later, f.name)
            if f.name == "progress":
                continue
            if f.name == "last_history":
                self.last_history = theirs
            elif f.name == "witnesses":
                for guarantee, witness in theirs.items():
                    mine.setdefault(guarantee, witness)
            elif isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
            elif isinstance(mine, dict):
                for key, n in theirs.items():
                    mine[key] = mine.get(key, 0) + n
            else:
                raise TypeError(f"RunSink.{f.name} ({type(mine).__name__}): say how two runs' values combine")
