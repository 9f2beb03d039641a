"""The result of a conformance run: one verdict per guarantee, as pydantic models.

report.json is ``Report.model_dump_json()``; its JSON Schema is
``Report.model_json_schema()`` (committed as reports/report.schema.json).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from pubsafe.faults.history import Event

from .guarantees import PROBE_GUARANTEES, Guarantee, Status

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
    check: str = Field(description="a check of pubsafe.models.conformance.contract")
    status: str = Field(description="passed, failed, skipped, or unavailable (the store failed by itself)")
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

    def reasons(self) -> list[str]:
        """Why the report is NOT CONFORMING, one line per cause (empty when it conforms):
        the headline a reader needs before the tables."""
        found = [f"the store claims {p.capability} but does not honour it (costs "
                 f"{', '.join(g.value for g in PROBE_GUARANTEES.get(p.capability, ()))})"
                 for p in self.probes if p.honoured is False]
        found += [f"store contract check {c.check} failed (costs {', '.join(g.value for g in c.guarantees)})"
                  for c in self.contract if c.status == "failed"]
        found += [f"{v.guarantee} {v.status.value} where {v.expected.value} was expected" for v in self.verdicts
                  if not v.as_expected]
        return found

    def guarded_note(self) -> str:
        """For a default-mode report: what ``--guarded`` would and would not protect here."""
        if self.mode != "default":
            return ""
        probes = {p.capability: p for p in self.probes}
        cas, create = probes.get("compare_and_swap"), probes.get("create_only")
        if cas is None:
            return ""
        if not cas.claimed:
            return ("--guarded cannot protect this store: it does not claim compare-and-swap, so R1-R3 stay "
                    "documented races; run one publisher per surface at a time. R4 (orphans) is for pubsafe gc.")
        if cas.honoured is False or (create is not None and create.honoured is False):
            return ("--guarded would NOT protect this store: a conditional write it relies on is not honoured "
                    "(see the capability probes), so R1-R3 would still lose updates.")
        return ("--guarded would turn R1-R3 into guarantees on this store (compare-and-swap and create-only "
                "probed and honoured); it does not change R4 (orphans: pubsafe gc removes them).")

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
