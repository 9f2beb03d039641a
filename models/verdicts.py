"""The result of a conformance run: one verdict per guarantee, as pydantic models.

report.json is ``Report.model_dump_json()``; its JSON Schema is
``Report.model_json_schema()`` (committed as reports/report.schema.json).
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field

__all__ = [
    "CATALOGUE",
    "Status",
    "TimelineEvent",
    "Counterexample",
    "Verdict",
    "ProbeResult",
    "Report",
]

#: Guarantee ID -> (one-line title, expected status in default mode)
CATALOGUE: dict[str, tuple[str, str]] = {
    "G1": ("immutable, version-addressed artifacts", "HOLDS"),
    "G2": ("manifest swapped last; current always valid", "HOLDS"),
    "G3": ("idempotent retry; records append-only", "HOLDS"),
    "G4": ("rollback is a pointer change", "HOLDS"),
    "G5": ("bounded staleness and safety in serving", "HOLDS"),
    "R1": ("same-type race: last swap wins silently", "DOCUMENTED"),
    "R2": ("cross-type race: lost update", "DOCUMENTED"),
    "R3": ("rollback undone by a publish in flight", "DOCUMENTED"),
    "R4": ("orphans left by crashed publishes", "DOCUMENTED"),
    "R5": ("GC deletes a blob a publish will reference", "HOLDS"),
}


class Status(str, Enum):
    HOLDS = "HOLDS"  #: checked and never broken
    BREAKS = "BREAKS"  #: a counterexample was found
    DOCUMENTED = "DOCUMENTED"  #: a documented non-guarantee, observed as predicted
    UNKNOWN = "UNKNOWN"  #: the checker itself failed; never silently dropped


class TimelineEvent(BaseModel):
    actor: str
    op: str
    key: str = ""
    phase: str | None = None
    mark: str = Field("", description="'', 'fault', 'crash' or 'violation'")


class Counterexample(BaseModel):
    message: str
    steps: list[str] = Field(description="the minimal failing program, as Hypothesis printed it")
    replay: str = Field(description="one command that replays this run")
    timeline: list[TimelineEvent] = []


class Verdict(BaseModel):
    guarantee: str
    title: str
    status: Status
    expected: Status
    coverage: dict[str, int] = {}
    counterexample: Counterexample | None = None
    witness: str | None = Field(None, description="for DOCUMENTED: how the race was observed")
    error: str | None = Field(None, description="for UNKNOWN: why the checker failed")

    @property
    def as_expected(self) -> bool:
        return self.status == self.expected


class ProbeResult(BaseModel):
    capability: str
    claimed: bool
    honoured: bool | None = Field(description="None when not probed (not claimed)")
    evidence: str


class Report(BaseModel):
    pubsafe_version: str
    target: str
    mode: str = Field(description="'default' or 'guarded'")
    profile: str
    seed: int
    seconds: float
    probes: list[ProbeResult]
    verdicts: list[Verdict]

    @property
    def conforming(self) -> bool:
        return all(p.honoured is not False for p in self.probes) and all(v.as_expected for v in self.verdicts)

    def verdict(self, guarantee: str) -> Verdict:
        return next(v for v in self.verdicts if v.guarantee == guarantee)
