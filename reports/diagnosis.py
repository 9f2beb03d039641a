"""What went wrong and what to change: the opening of a NOT CONFORMING report.

Each root cause is told in one sentence (what the implementation did, at which step,
to which key, and which acknowledged operation it cost), followed by what to change
for its class of failure. The fixes are those the mutant catalogue teaches
(docs/safety-model-by-example.md shows each class on a deliberately broken
implementation, docs/mutants.md lists them).

Everything is read from what the report already holds: the probe and contract
results, and each counterexample's message and timeline. The *culprit* is the step
that did the damage (a sweep's delete, a swap before the record, a rewrite); the
*victim* is the acknowledged step it cost (the swap of the publish whose blob was
deleted, the history entry a rollback rewrote). The timelines highlight both and the
key they share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pubsafe.models.guarantees import PROBE_GUARANTEES, Guarantee, Status
from pubsafe.models.verdicts import Report, Verdict

from .causes import Explanation, explain
from .fixes import DEFENCES, FIXES, STORY_DOC, Fix
from .timeline import Highlight

__all__ = ["Explanation", "Diagnosis", "Fix", "FIXES", "UNCLAIMED", "explain", "diagnose", "caveats", "not_judged",
           "guarded_advice", "highlight", "STORY_DOC"]


@dataclass
class Diagnosis:
    """One root cause of a report: the guarantees it broke, one sentence, the fix."""

    kind: str
    guarantees: list[Guarantee]
    cause: str
    fix: Fix
    #: index into ``report.counterexample_groups()`` of the run the sentence tells, if any
    group: int | None = None
    #: what else this cause broke, one sentence each (``R5: the sweep deleted ...``)
    also: list[str] = field(default_factory=list)

    @property
    def change(self) -> str:
        return self.fix.change



# -- the whole report --------------------------------------------------------------------------


def _fix(kind: str, guarantees: list[Guarantee]) -> Fix:
    if kind in FIXES:
        return FIXES[kind]
    g = guarantees[0]
    return Fix(f"{g} broke", DEFENCES.get(g, "see the safety model."))


_CONTRACT = re.compile(r"the store fails the contract check (\w+):")
#: contract checks whose failure has a fix of its own
_CONTRACT_FIXES = {"get_object_reads_bytes_and_etag_together": "read-together"}


def diagnose(report: Report) -> list[Diagnosis]:
    """Every root cause of a NOT CONFORMING report, most specific first: broken
    claims, failed contract checks, then each class of counterexample once (told by its
    shortest run), then what could not be decided. Empty for a conforming report."""
    found: dict[str, Diagnosis] = {}
    for p in report.probes:
        if p.honoured is False:
            costs = list(PROBE_GUARANTEES.get(p.capability, ()))
            found[p.capability] = Diagnosis(p.capability, costs, f"The store claims {p.capability} but does not "
                                            f"honour it: {p.evidence}.", _fix(p.capability, costs))
    for c in report.contract:
        if c.status == "failed":
            from pubsafe.models.conformance.contract import CHECKS_BY_NAME

            check = CHECKS_BY_NAME.get(c.check)
            wanted = f" (it must: {check.doc.rstrip('.')})" if check and check.doc else ""
            found[f"contract:{c.check}"] = Diagnosis(
                "contract", list(c.guarantees), f"The store failed the contract check {c.check}: "
                f"{c.detail.rstrip('.')}{wanted}.", _fix(_CONTRACT_FIXES.get(c.check, "contract"), list(c.guarantees)))
    groups = report.counterexample_groups()
    explained = [(i, explain(group)) for i, group in enumerate(groups)]
    # the run told is the shortest one whose culprit step is known
    def steps(group: list[Verdict]) -> int:
        return len(group[0].counterexample.timeline) if group[0].counterexample else 0

    for i, why in sorted(explained, key=lambda item: (item[1].culprit is None, steps(groups[item[0]]))):
        group = groups[i]
        broken = [v.guarantee for v in group]
        failed = _CONTRACT.match(group[0].counterexample.message) if group[0].counterexample else None
        if failed and f"contract:{failed.group(1)}" in found:  # what a failed contract check broke: told under it
            known = found[f"contract:{failed.group(1)}"]
            known.guarantees += [g for g in broken if g not in known.guarantees]
            continue
        kind = why.kind if why.kind not in ("other", "unexpected-error") else f"{why.kind}:{broken[0]}"
        if why.relies_on in found and found[why.relies_on].kind in PROBE_GUARANTEES:
            known = found[why.relies_on]  # a consequence of a broken claim: told under it
            known.guarantees += [g for g in broken if g not in known.guarantees]
            known.also.append(f"{', '.join(g.value for g in broken)}: {why.cause}")
            continue
        if kind in found:
            known = found[kind]
            known.guarantees += [g for g in broken if g not in known.guarantees]
            if known.group is None and why.kind not in PROBE_GUARANTEES:
                known.group = i
            continue
        found[kind] = Diagnosis(why.kind, broken, why.cause, _fix(why.kind, broken),
                                None if why.kind in PROBE_GUARANTEES else i)
    for v in report.verdicts:
        if not v.as_expected and v.status == Status.UNKNOWN and found and _consequential(v.error or ""):
            continue  # told once, after the causes: see ``not_judged``
        if not v.as_expected and v.status == Status.UNKNOWN:
            diagnosis = found.setdefault("unknown", Diagnosis("unknown", [], f"{v.guarantee} could not be judged: "
                                         f"{(v.error or 'no reason given').rstrip('.')}.", FIXES["unknown"]))
            if v.guarantee not in diagnosis.guarantees:
                diagnosis.guarantees.append(v.guarantee)
        elif not v.as_expected and not v.counterexample and all(v.guarantee not in d.guarantees
                                                                for d in found.values()):
            found[f"verdict:{v.guarantee}"] = Diagnosis(
                "other", [v.guarantee], f"{v.guarantee} came out {v.status.value} where {v.expected.value} was "
                f"expected: {v.evidence.rstrip('.')}.", _fix("other", [v.guarantee]))
    for d in found.values():  # the guarantees of the run the sentence tells first, then by ID
        first = {v.guarantee for v in groups[d.group]} if d.group is not None else set()
        d.guarantees.sort(key=lambda g: (g not in first, list(Guarantee).index(g)))
    return list(found.values())


#: what a capability the store does not claim leaves open: the same sentence in the report's
#: probe table and in docs/writing-a-store-adapter.md (a test keeps them in step)
UNCLAIMED = {
    "create_only": "not claimed, so not probed: two writers racing one new key may both succeed, one overwriting "
                   "the other's bytes; G1 and G3 then rest on one publisher per artifact at a time",
    "compare_and_swap": "not claimed, so not probed: --guarded is refused on this store, and R1-R3 stay "
                        "documented races",
    "atomic_replace": "not claimed, so not probed: a reader racing a replace may read a half-written manifest; G2 "
                      "then rests on no reader meeting a replace halfway",
    "durable": "not claimed, so not probed: the check judges G1 and G2 against crashes of the publisher, never of "
               "the store; a store that loses acknowledged writes when its own machine loses power keeps G1 and G2 "
               "only while it stays up",
}


def caveats(report: Report) -> list[str]:
    """What a CONFORMING verdict does not cover on this store: each capability it does
    not claim, with what that leaves open (compare-and-swap is the guarded note's)."""
    return [f"{p.capability}: {UNCLAIMED[p.capability]}" for p in report.probes
            if not p.claimed and p.capability in UNCLAIMED and p.capability != "compare_and_swap"]


def not_judged(report: Report) -> list[Guarantee]:
    """Guarantees left UNKNOWN only because the run stopped at a failure found first
    (a consequence of the root causes, not one of them)."""
    return [v.guarantee for v in report.verdicts if v.status == Status.UNKNOWN and not v.as_expected
            and _consequential(v.error or "")]


def _consequential(error: str) -> bool:
    return error.startswith(("not exercised", "not checked by the state machine"))


def guarded_advice(report: Report, diagnoses: list[Diagnosis]) -> str:
    """The guarded-mode note, where it bears on the report: always on a conforming one,
    on a failing one only when the failure is about races or compare-and-swap."""
    if diagnoses and not any(d.kind in ("compare_and_swap", "guarded-lost-update", "race") for d in diagnoses):
        return ""
    return report.guarded_note()


def highlight(group: list[Verdict]) -> Highlight:
    """The ``timeline.Highlight`` of one counterexample run: its culprit, victim and key."""
    why = explain(group)
    return Highlight(why.culprit, why.victim, why.key, why.culprit_note, why.victim_note)
