"""report.md, for a pull request: what went wrong and what to change, the verdict
table (one line a row), then the counterexamples and observed races, each a Mermaid
sequence diagram with every operation and its full key behind a fold.

Text from the report is escaped for Markdown (``<``, ``>``, ``&`` as entities, so a
crafted report.json injects no HTML); program text sits in code fences, as written.
"""

from __future__ import annotations

import dataclasses
import re

from pubsafe.models import Event
from pubsafe.models.verdicts import Report, Status, Verdict

from . import diagnosis as diagnosing
from . import timeline
from .names import Lookalikes
from .text import gathered_text, one_line

__all__ = ["render", "fence_language", "shorten_hashes"]

_CELL = 300  #: characters of a table cell; longer text is cut visibly, and is whole in report.json
_HASH = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{52}\b")

_ICON = {Status.HOLDS: "✅", Status.DOCUMENTED: "📘", Status.BREAKS: "❌", Status.UNKNOWN: "❓"}


def render(report: Report) -> str:
    names = Lookalikes(gathered_text(report))

    def t(text: object) -> str:  # free text: lookalikes marked, HTML made inert
        return _inert(names.mark(str(text)))

    causes = diagnosing.diagnose(report)
    groups = report.counterexample_groups()
    lines = [
        f"# pubsafe conformance: {_code(report.target)} ({t(report.mode)} mode)",
        "",
        f"**{'CONFORMING' if report.conforming else 'NOT CONFORMING'}** · profile {_code(report.profile)} · "
        f"{t(report.seed_label)} · {report.seconds:.1f}s · pubsafe {t(report.pubsafe_version)}",
        "",
    ]
    if causes:
        lines += ["## What went wrong", ""]
        for d in causes:
            lines += [f"**{', '.join(g.value for g in d.guarantees)}** · {t(d.fix.title)}", "",
                      f"- **Cause.** {t(d.cause)}" + _where(d, groups),
                      *(f"- **With it.** {t(also)}" for also in d.also),
                      f"- **What to change:** {t(d.change)}" + (
                          f" The story: {', '.join(_code(s) for s in d.fix.stories)} in "
                          f"{diagnosing.STORY_DOC} (pubsafe's repository)." if d.fix.stories else ""), ""]
        later = diagnosing.not_judged(report)
        if later:
            lines += [f"Not judged in this run: {', '.join(g.value for g in later)} (the run stopped at the "
                      "failures above; fix them and run again).", ""]
        if all(v.as_expected for v in report.verdicts):
            lines += ["Every guarantee came out as expected in this run: the store is NOT CONFORMING because of "
                      "the claim or contract check above.", ""]
    if report.conforming:
        lines += [f"> Not claimed by this store: {t(c)}." for c in diagnosing.caveats(report)]
    advice = diagnosing.guarded_advice(report, causes)
    if advice:
        lines += [f"> {t(advice)}"]
    if lines[-1] != "":
        lines.append("")
    lines += ["## Verdicts", "", "| ID | verdict | guarantee | evidence |", "|---|---|---|---|"]
    for v in report.verdicts:
        verdict = f"{_ICON[v.status]} {v.status.value}" + ("" if v.as_expected else f" (expected {v.expected.value})")
        lines.append(f"| {v.guarantee} | {verdict} | {_cell(names.mark(v.title))} | {_cell(names.mark(one_line(v)))}"
                     f"{_rest(v)} |")
    if report.probes:
        lines += ["", "## Capability probes", "", "| capability | claimed | honoured | evidence |", "|---|---|---|---|"]
    for p in report.probes:
        honoured = {True: "yes", False: "**no**", None: "–"}[p.honoured]
        evidence = p.evidence if p.claimed else diagnosing.UNCLAIMED.get(p.capability, p.evidence)
        lines.append(f"| {t(p.capability)} | {'yes' if p.claimed else 'no'} | {honoured} | "
                     f"{_cell(names.mark(evidence))} |")
    if report.contract:
        passed = sum(c.status == "passed" for c in report.contract)
        lines += ["", "## Store contract", "", f"{passed} of {len(report.contract)} checks passed.", ""]
        others = [c for c in report.contract if c.status != "passed"]
        if others:
            lines += ["| check | result | detail | at stake |", "|---|---|---|---|"]
            lines += [f"| {_cell(c.check)} | {'**failed**' if c.status == 'failed' else _cell(c.status)} | "
                      f"{_cell(names.mark(c.detail))} | {', '.join(g.value for g in c.guarantees)} |" for c in others]
    if report.leftovers:
        lines += ["", "## Left behind", "", "Clean-up after the run could not remove these (the verdicts stand); each "
                  "was looked for again before this report called it left behind:", ""]
        lines += [f"- {_cell(names.mark(line))}" for line in report.leftovers]
    if groups:
        lines += ["", "## Counterexamples"]
    told = {d.group for d in causes if d.group is not None}
    for i in sorted(range(len(groups)), key=lambda i: (i not in told, i)):
        group = groups[i]
        ce = group[0].counterexample
        assert ce is not None
        why = diagnosing.explain(group)
        names_ = ", ".join(v.guarantee.value for v in group)
        lines += ["", f"### {names_}: {t(group[0].title) if len(group) == 1 else 'one run, several guarantees'}", ""]
        lines += [f"**{v.guarantee}**: {t(v.counterexample.message)}" + ("  " if len(group) > 1 else "")
                  for v in group if v.counterexample]
        lines += ["", f"**Cause.** {t(why.cause)}", ""]
        lines += _timeline(ce.timeline, diagnosing.highlight(group), names)
        if ce.steps:
            lines += [_fence(ce.steps, fence_language(ce.steps)), ""]
        if ce.replay:
            lines += [f"Replay: {_code(ce.replay)}", ""]
    witnesses = [v for v in report.verdicts if v.status == Status.DOCUMENTED and v.witness_timeline]
    if witnesses:
        lines += ["", "## Documented races, as observed", "",
                  "Not failures: what the safety model says happens without guarded mode, shown happening."]
    for v in witnesses:
        lines += ["", f"### {v.guarantee}: {t(v.title)}", "", t(one_line(v)), "",
                  "<details><summary>the whole witness</summary>", "", t(v.witness or ""), "", "</details>", "",
                  *_timeline(v.witness_timeline, None, names)]
    return "\n".join(lines) + "\n"


def _rest(v: Verdict) -> str:
    """Where the rest of a row's evidence is, when its one line left some out."""
    if one_line(v) == timeline.short_key(v.evidence):
        return ""
    below = v.counterexample is not None or (v.status == Status.DOCUMENTED and bool(v.witness_timeline))
    return " (whole below)" if below else " (whole in report.json)"


def _where(d: diagnosing.Diagnosis, groups: list[list[Verdict]]) -> str:
    if d.group is None:
        return ""
    others = [v.guarantee.value for i, group in enumerate(groups) if i != d.group for v in group
              if v.guarantee in d.guarantees]
    told = ", ".join(v.guarantee.value for v in groups[d.group])
    return (f" See the {told} counterexample below" + (f" (the runs that broke {', '.join(others)} show the "
                                                      "same)" if others else "") + ".")


def _timeline(events: list[Event], highlight: timeline.Highlight | None, names: Lookalikes) -> list[str]:
    """A sequence diagram with short keys, and every operation with its full key below."""
    if not events:
        return []
    if names:
        events = [Event(names.mark(e.actor), e.op, names.mark(e.key), e.phase, e.result, e.fault, e.time)
                  for e in events]
        if highlight and highlight.key:
            highlight = dataclasses.replace(highlight, key=names.mark(highlight.key))
    full = [f"{n}. {e.actor}: {e.op}" + (f" {e.key}" if e.key else "") + (f" [{e.phase}]" if e.phase else "")
            + (f" fault {e.fault}" if e.fault else "") + f" → {e.result}" for n, e in enumerate(events)]
    return [*timeline.mermaid(events, highlight), "", "<details><summary>every operation, with full keys</summary>",
            "", _fence(full, "text"), "", "</details>", ""]


def _inert(text: str) -> str:
    """Markdown text with HTML made inert: GitHub renders tags and entities in prose."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    """``text`` as inline code, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{tick}{pad}{text}{pad}{tick}"


def _fence(lines: list[str], language: str) -> str:
    """A code block that no line of ``lines`` can close early."""
    body = "\n".join(lines)
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{language}\n{body}\n{fence}"


def _cell(text: str) -> str:
    """One table cell: 64-hex versions shortened to 12 (tables stay readable), HTML
    inert, pipes escaped, and text beyond ``_CELL`` cut with a visible mark, never silently."""
    text = _inert(shorten_hashes(text)).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= _CELL else text[: _CELL - 30].rstrip() + " … (cut; whole in report.json)"


def shorten_hashes(text: str) -> str:
    """64-hex versions cut to their first 12 characters (whole in report.json)."""
    return _HASH.sub(r"\1…", text)


def fence_language(steps: list[str]) -> str:
    """``python`` for a program the state machine printed (it runs as written), else
    ``text`` (a scenario described in words is no Python)."""
    return "python" if steps and steps[0].startswith(("from ", "import ", "state")) else "text"
