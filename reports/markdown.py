"""report.md: a verdict table and the counterexamples, for a pull request."""

from __future__ import annotations

import re

from pubsafe.models import Event
from pubsafe.models.verdicts import Report, Status

from . import timeline

__all__ = ["render", "fence_language", "shorten_hashes"]

_CELL = 300  #: characters of a table cell; longer text is cut visibly, and is whole in report.json
_HASH = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{52}\b")

_ICON = {Status.HOLDS: "✅", Status.DOCUMENTED: "📘", Status.BREAKS: "❌", Status.UNKNOWN: "❓"}


def render(report: Report) -> str:
    lines = [
        f"# pubsafe conformance: `{report.target}` ({report.mode} mode)",
        "",
        f"**{'CONFORMING' if report.conforming else 'NOT CONFORMING'}** · profile `{report.profile}` · "
        f"{report.seed_label} · {report.seconds:.1f}s · pubsafe {report.pubsafe_version}",
        "",
        *([*(f"- because {reason}" for reason in report.reasons()), ""] if report.reasons() else []),
        *([f"> {report.guarded_note()}", ""] if report.guarded_note() else []),
        "| ID | guarantee | verdict | expected | evidence |",
        "|---|---|---|---|---|",
    ]
    for v in report.verdicts:
        lines.append(f"| {v.guarantee} | {v.title} | {_ICON[v.status]} {v.status.value} | {v.expected.value} | "
                     f"{_cell(v.evidence)} |")
    if report.probes:
        lines += ["", "## Capability probes", "", "| capability | claimed | honoured | evidence |", "|---|---|---|---|"]
    for p in report.probes:
        honoured = {True: "yes", False: "**no**", None: "–"}[p.honoured]
        lines.append(f"| {p.capability} | {'yes' if p.claimed else 'no'} | {honoured} | {_cell(p.evidence)} |")
    if report.contract:
        passed = sum(c.status == "passed" for c in report.contract)
        lines += ["", "## Store contract", "", f"{passed} of {len(report.contract)} checks passed.", ""]
        others = [c for c in report.contract if c.status != "passed"]
        if others:
            lines += ["| check | result | detail | at stake |", "|---|---|---|---|"]
            lines += [f"| {c.check} | {'**failed**' if c.status == 'failed' else c.status} | {_cell(c.detail)} | "
                      f"{', '.join(g.value for g in c.guarantees)} |" for c in others]
    if report.leftovers:
        lines += ["", "## Left behind", "", "Clean-up after the run failed (the verdicts stand); remove these by hand:", ""]
        lines += [f"- {_cell(line)}" for line in report.leftovers]
    groups = report.counterexample_groups()
    if groups:
        lines += ["", "## Counterexamples"]
    for group in groups:
        ce = group[0].counterexample
        assert ce is not None
        names = ", ".join(v.guarantee.value for v in group)
        lines += ["", f"### {names}: {group[0].title if len(group) == 1 else 'one run, several guarantees'}", ""]
        lines += [f"**{v.guarantee}**: {v.counterexample.message}" + ("  " if len(group) > 1 else "")
                  for v in group if v.counterexample]
        lines.append("")
        lines += _timeline(ce.timeline)
        if ce.steps:
            lines += [f"```{fence_language(ce.steps)}", *ce.steps, "```", ""]
        if ce.replay:
            lines += [f"Replay: `{ce.replay}`", ""]
    witnesses = [v for v in report.verdicts if v.status == Status.DOCUMENTED and v.witness_timeline]
    if witnesses:
        lines += ["", "## Documented races, as observed", "",
                  "Not failures: what the safety model says happens without guarded mode, shown happening."]
    for v in witnesses:
        lines += ["", f"### {v.guarantee}: {v.title}", "", v.witness or "", "", *_timeline(v.witness_timeline)]
    return "\n".join(lines) + "\n"


def _timeline(events: list[Event]) -> list[str]:
    """A sequence diagram with short keys, and every operation with its full key below."""
    if not events:
        return []
    full = [f"{n}. {e.actor}: {e.op}" + (f" {e.key}" if e.key else "") + (f" [{e.phase}]" if e.phase else "")
            + (f" fault {e.fault}" if e.fault else "") + f" → {e.result}" for n, e in enumerate(events)]
    return [*timeline.mermaid(events), "", "<details><summary>every operation, with full keys</summary>", "",
            "```text", *full, "```", "", "</details>", ""]


def _cell(text: str) -> str:
    """One table cell: 64-hex versions shortened to 12 (tables stay readable), pipes
    escaped, and text beyond ``_CELL`` cut with a visible mark, never silently."""
    text = shorten_hashes(text).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= _CELL else text[: _CELL - 30].rstrip() + " … (cut; whole in report.json)"


def shorten_hashes(text: str) -> str:
    """64-hex versions cut to their first 12 characters (whole in report.json)."""
    return _HASH.sub(r"\1…", text)


def fence_language(steps: list[str]) -> str:
    """``python`` for a program the state machine printed (it runs as written), else
    ``text`` (a scenario described in words is no Python)."""
    return "python" if steps and steps[0].startswith(("from ", "import ", "state")) else "text"
