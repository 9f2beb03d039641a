"""The result of a conformance run: one verdict per guarantee, as pydantic models.

report.json is ``Report.model_dump_json()``; its JSON Schema is
``Report.model_json_schema()`` (committed as reports/report.schema.json).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from pubsafe.faults.history import Event

from .guarantees import Guarantee, Status

__all__ = [
    "Status",
    "Counterexample",
    "Verdict",
    "ProbeResult",
    "ContractResult",
    "Report",
]


class Counterexample(BaseModel):
    message: str
    steps: list[str] = Field(description="the minimal failing program, as Hypothesis printed it")
    replay: str = Field(description="one command that replays this run")
    timeline: list[Event] = Field(default=[], description="the operations of the failing run, in order")


class Verdict(BaseModel):
    guarantee: Guarantee
    title: str
    status: Status
    expected: Status
    coverage: dict[str, int] = {}
    counterexample: Counterexample | None = None
    witness: str | None = Field(None, description="for DOCUMENTED: how the race was observed")
    witness_timeline: list[Event] = Field(default=[], description="for DOCUMENTED: the operations of the run "
                                                                  "that showed it, in order")
    error: str | None = Field(None, description="for UNKNOWN: why the checker failed")

    @property
    def evidence(self) -> str:
        """The report's evidence cell: the counterexample, witness or error, else what
        exercised this guarantee (its own counts, see ``RunSink.evidence``)."""
        if self.counterexample:
            return self.counterexample.message
        if self.error:
            return self.error
        counted = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in self.coverage.items())
        checked = f"checked over {counted}" if counted else ""
        if self.witness:  # a DOCUMENTED race seen, or one predicted but never observed
            return self.witness if self.status != Status.HOLDS else "; ".join(filter(None, [self.witness, checked]))
        return checked

    @property
    def as_expected(self) -> bool:
        """As predicted; a documented race that was never observed is no failure (the
        witness says so: an engine may well be stronger than documented)."""
        return self.status == self.expected or (self.status == Status.HOLDS and self.expected == Status.DOCUMENTED)


class ProbeResult(BaseModel):
    capability: str
    claimed: bool
    honoured: bool | None = Field(description="None when not probed (not claimed)")
    evidence: str


class ContractResult(BaseModel):
    check: str = Field(description="a check of pubsafe.models.contract")
    status: str = Field(description="passed, failed or skipped")
    detail: str
    guarantees: list[Guarantee] = Field(description="what a store failing this check cannot keep")


class Report(BaseModel):
    pubsafe_version: str
    target: str
    mode: str = Field(description="'default' or 'guarded'")
    profile: str
    seed: int
    seeds: list[int] = Field(default=[], description="every seed merged into this report (--seeds N); "
                                                      "empty for a run of one seed")
    seconds: float
    probes: list[ProbeResult]
    contract: list[ContractResult] = []
    verdicts: list[Verdict]
    leftovers: list[str] = Field(
        default=[], description="what the run could not remove or close after itself (never affects the verdicts)")

    @property
    def conforming(self) -> bool:
        return (all(p.honoured is not False for p in self.probes) and all(c.status != "failed" for c in self.contract)
                and all(v.as_expected for v in self.verdicts))

    @property
    def seed_label(self) -> str:
        """``seed 7``, or ``seeds 0..3 (4 runs merged)``."""
        if len(self.seeds) > 1:
            return f"seeds {min(self.seeds)}..{max(self.seeds)} ({len(self.seeds)} runs merged)"
        return f"seed {self.seed}"

    def counterexample_groups(self) -> list[list[Verdict]]:
        """Broken verdicts grouped by root cause: those whose counterexamples are the
        same run (same steps, same operations) are one story told once."""
        groups: dict[tuple[object, ...], list[Verdict]] = {}
        for v in self.verdicts:
            if v.counterexample:
                ce = v.counterexample
                run = tuple((e.actor, e.op, e.key, e.result, e.fault) for e in ce.timeline if e.actor != "checker")
                groups.setdefault((tuple(ce.steps), run, ce.replay), []).append(v)
        return list(groups.values())

    def verdict(self, guarantee: str | Guarantee) -> Verdict:
        return next(v for v in self.verdicts if v.guarantee == guarantee)
