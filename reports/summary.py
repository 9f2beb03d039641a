"""A report in a log: a few plain lines (``--format summary``, the default when stdout
is not a terminal). The verdict, for a failure what went wrong and what to change,
every verdict in one line, the probes in another, and where the whole report is.

A CI log wants the answer, not 500 lines of tables and diagrams: those are in the
report files (``--report DIR``), or printed here with ``--format md``.
"""

from __future__ import annotations

import textwrap
from itertools import groupby

from pubsafe.models.verdicts import Report

from . import diagnosis as diagnosing
from .names import Lookalikes
from .text import gathered_text

__all__ = ["render"]

WIDTH = 110


def render(report: Report, written: list[str] | None = None) -> str:
    names = Lookalikes(gathered_text(report))
    verdict = "CONFORMING" if report.conforming else "NOT CONFORMING"
    lines = [f"{names.mark(report.target)}: {verdict} ({report.mode} mode, profile {report.profile}, "
             f"{report.seed_label}, {report.seconds:.1f}s)"]
    causes = diagnosing.diagnose(report)
    for d in causes:
        lines.append(f"  {', '.join(g.value for g in d.guarantees)}: {d.fix.title}")
        lines += _wrapped("cause:  ", names.mark(d.cause))
        lines += [line for also in d.also for line in _wrapped("with it: ", names.mark(also))]
        story = f" (the story: {', '.join(d.fix.stories)} in {diagnosing.STORY_DOC})" if d.fix.stories else ""
        lines += _wrapped("change: ", d.change + story)
    later = diagnosing.not_judged(report)
    if causes and later:
        lines.append(f"  not judged in this run: {', '.join(g.value for g in later)} (it stopped at the failures "
                     "above)")
    if causes and all(v.as_expected for v in report.verdicts):
        lines.append("  every guarantee came out as expected: NOT CONFORMING because of the claim or contract check "
                     "above")
    lines.append("  verdicts: " + " · ".join(_runs(report)))
    if report.probes or report.contract:
        probes = ", ".join(f"{p.capability} {_probe(p.claimed, p.honoured)}" for p in report.probes)
        passed = sum(c.status == "passed" for c in report.contract)
        contract = f"contract {passed}/{len(report.contract)} passed" if report.contract else ""
        lines.append("  " + "; ".join(filter(None, [f"probes: {probes}" if probes else "", contract])))
    if report.conforming:
        lines += [line for c in diagnosing.caveats(report) for line in _wrapped("not claimed: ", c, 2)]
    advice = diagnosing.guarded_advice(report, causes)
    if advice:
        lines += _wrapped("note: ", advice, 2)
    replays: dict[str, list[str]] = {}  # one seed's run replays all its counterexamples: each command once
    for group in report.counterexample_groups():
        ce = group[0].counterexample
        if ce is not None and ce.replay:
            replays.setdefault(ce.replay, []).extend(v.guarantee.value for v in group)
    lines += [f"  replay {', '.join(ids)}: {command}" for command, ids in replays.items()]
    if report.leftovers:
        lines += [line for left in report.leftovers for line in _wrapped("left behind: ", names.mark(left), 2)]
    where = (f"the whole report: {' and '.join(written)}" if written
             else "the whole report: add --report DIR (report.md, report.html, report.json), or --format md")
    lines.append(f"  {where}")
    return "\n".join(lines)


def _runs(report: Report) -> list[str]:
    """``G1 G2 G3 HOLDS``: consecutive verdicts with the same outcome told once."""
    out = []
    for (status, expected), grouped in groupby(report.verdicts, key=lambda v: (v.status, v.as_expected)):
        run = list(grouped)
        ids = " ".join(v.guarantee.value for v in run)
        out.append(f"{ids} {status.value}" + ("" if expected else f" (expected {run[0].expected.value})"))
    return out


def _probe(claimed: bool, honoured: bool | None) -> str:
    if not claimed:
        return "not claimed"
    return {True: "honoured", False: "NOT HONOURED", None: "not probed"}[honoured]


def _wrapped(label: str, text: str, indent: int = 4) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=" " * indent + label,
                         subsequent_indent=" " * (indent + len(label)), break_on_hyphens=False,
                         break_long_words=False)
