"""Text shared by the renderers: a verdict's evidence in one line, and every string a
report shows (what ``reports.names`` looks for lookalikes in)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pubsafe.models.guarantees import Status
from pubsafe.models.verdicts import Report, Verdict

from .timeline import short_key

__all__ = ["one_line", "gathered_text", "ONE_LINE"]

ONE_LINE = 110  #: characters of a verdict's evidence in a table row; the whole text sits behind a fold
_RACE = re.compile(r"^(?P<scenario>[\w-]+) scenario, schedule '(?P<schedule>\w+)'.*; actor (?P<actor>\w+) read current "
                   r"at step (?P<read>\d+), the other actor swapped at step (?P<other>\d+), and \w+ swapped over it "
                   r"at step (?P<over>\d+)$", re.S)


def one_line(v: Verdict) -> str:
    """The evidence of ``v`` short enough for one table row: a documented race as who
    read, who swapped and who swapped over it; versions cut to 8 hex digits; anything
    longer than ``ONE_LINE`` cut with a visible mark (the whole text is in report.json,
    and behind the row's fold)."""
    text = v.evidence
    race = _RACE.match(text) if v.status == Status.DOCUMENTED else None
    if race:
        text = (f"{race['scenario']} race: {race['actor']} read current at step {race['read']}, the other swapped "
                f"at {race['other']}, {race['actor']} swapped over it at {race['over']}")
    text = short_key(text).replace("\n", " ")
    return text if len(text) <= ONE_LINE else text[: ONE_LINE - 1].rstrip() + "…"


def gathered_text(report: Report) -> Iterator[str]:
    """Every string of ``report`` a renderer may show."""
    yield report.target
    for p in report.probes:
        yield p.evidence
    for c in report.contract:
        yield c.detail
    yield from report.leftovers
    for v in report.verdicts:
        yield v.evidence
        if v.counterexample:
            yield v.counterexample.message
            yield from v.counterexample.steps
            for e in v.counterexample.timeline:
                yield e.key
        for e in v.witness_timeline:
            yield e.key
