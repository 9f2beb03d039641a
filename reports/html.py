"""report.html: self-contained, opening with what went wrong and what to change, then
the verdicts, then a labelled SVG timeline (``reports.timeline``) per root cause of a
counterexample (culprit and victim steps highlighted) and per observed documented race.

Every string of the report is escaped wherever it lands (text, attributes, SVG): a
report.json is input (``pubsafe merge`` reads other jobs' files), never markup.
"""

from __future__ import annotations

import dataclasses
import re
from html import escape

from pubsafe.models import Event, Report, Status
from pubsafe.models.verdicts import Verdict

from . import diagnosis as diagnosing
from . import timeline
from .names import Lookalikes
from .text import gathered_text, one_line

__all__ = ["render"]

_COLOR = {Status.HOLDS: "#1a7f37", Status.DOCUMENTED: "#0969da", Status.BREAKS: "#cf222e", Status.UNKNOWN: "#9a6700"}
_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:1100px;padding:0 16px;
color:#1f2328;overflow-wrap:anywhere}
h1{font-size:1.6em;margin:.2em 0;overflow-wrap:anywhere}h2{font-size:1.25em;margin:1.4em 0 .5em}
h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;table-layout:fixed}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa}.status{font-weight:600;color:#fff;border-radius:4px;padding:1px 6px;white-space:nowrap}
col.id{width:3em}col.verdict{width:15em}col.title{width:24em}col.cap{width:11.5em}col.small{width:6.5em}
th{overflow-wrap:normal}
table.verdicts{font-size:14px}table.verdicts td{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
table.verdicts summary,table.verdicts .line{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
table.verdicts details[open] summary{white-space:normal}table.verdicts details[open]{white-space:normal}
table.verdicts td:last-child,table.verdicts td:nth-child(3){white-space:normal}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;white-space:pre}code{overflow-wrap:anywhere}
.timeline{overflow-x:auto;max-width:100%;border:1px solid #d0d7de;background:#fff}.timeline svg{display:block}
.verdict-line{font-size:1.05em}.bad{color:#cf222e;font-weight:700}.good{color:#1a7f37;font-weight:700}
.diagnosis{border:2px solid #cf222e;border-radius:6px;padding:4px 16px 8px;background:#fff8f7}
.diagnosis h2{margin-top:.4em;color:#cf222e}.cause{margin:.6em 0 1em}.cause p{margin:.3em 0}
.fix{border-left:4px solid #1a7f37;padding-left:10px}.exp{color:#cf222e;font-size:12px}.note{color:#57606a}
.cause code{background:#fff;padding:0 3px}
details summary{cursor:pointer}
"""


def render(report: Report) -> str:
    e = Escaper(report)
    causes = diagnosing.diagnose(report)
    groups = report.counterexample_groups()
    told = {d.group for d in causes if d.group is not None}
    verdict = "CONFORMING" if report.conforming else "NOT CONFORMING"
    head = (f"<p class=verdict-line><span class={'good' if report.conforming else 'bad'}>{verdict}</span> · "
            f"{e(report.mode)} mode · profile <code>{e(report.profile)}</code> · {e(report.seed_label)} · "
            f"{report.seconds:.1f}s · pubsafe {e(report.pubsafe_version)}</p>")
    advice = diagnosing.guarded_advice(report, causes)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>pubsafe: {e(report.target)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>pubsafe conformance: <code>{e(report.target)}</code></h1>", head,
        _diagnosis(report, causes, groups, e) if causes else "",
        "".join(f"<p class=note>Not claimed by this store: {e(c)}.</p>" for c in diagnosing.caveats(report))
        if report.conforming else "",
        f"<p class=note><i>{e(advice)}</i></p>" if advice else "",
        "<h2>Verdicts</h2>", _verdicts(report, groups, e),
        _probes(report, e), _contract(report, e), _leftovers(report, e),
    ]
    if groups:
        order = sorted(range(len(groups)), key=lambda i: (i not in told, i))
        parts.append("<h2>Counterexamples</h2>" + "".join(_counterexample(i, groups[i], e) for i in order))
    witnesses = [v for v in report.verdicts if v.status == Status.DOCUMENTED and v.witness_timeline]
    if witnesses:
        parts.append("<h2>Documented races, as observed</h2><p>Not failures: what the safety model says happens "
                     "without guarded mode, shown happening.</p>" + "".join(_witness(v, e) for v in witnesses))
    parts.append("</body></html>\n")
    return "".join(parts)


class Escaper:
    """Escapes for HTML (quotes included: safe in attributes too), marking names that
    print alike with their code points (``reports.names``)."""

    def __init__(self, report: Report) -> None:
        self.names = Lookalikes(gathered_text(report))

    def __call__(self, text: object) -> str:
        return escape(self.names.mark(str(text)), quote=True)


def _diagnosis(report: Report, causes: list[diagnosing.Diagnosis], groups: list[list[Verdict]], e: Escaper) -> str:
    items = []
    for d in causes:
        broken = ", ".join(g.value for g in d.guarantees)
        where = ""
        if d.group is not None:
            others = [g.value for i, group in enumerate(groups) if i != d.group
                      for g in (v.guarantee for v in group) if g in d.guarantees]
            where = (f" <a href='#run-{d.group}'>Timeline below</a>"
                     + (f"; the runs that broke {', '.join(others)} show the same." if others else "."))
        story = (f" <span class=note>The story: {', '.join(f'<code>{e(s)}</code>' for s in d.fix.stories)} in "
                 f"{diagnosing.STORY_DOC}.</span>" if d.fix.stories else "")
        items.append(f"<div class=cause><p><b class=bad>{e(broken)}</b> · {e(d.fix.title)}</p>"
                     f"<p><b>Cause.</b> {_marked_up(e(d.cause))}{where}</p>"
                     + "".join(f"<p><b>With it.</b> {_marked_up(e(also))}</p>" for also in d.also)
                     + f"<p class=fix><b>What to change:</b> {e(d.change)}{story}</p></div>")
    later = diagnosing.not_judged(report)
    if later:
        items.append(f"<p class=note>Not judged in this run: {e(', '.join(g.value for g in later))} (the run "
                     "stopped at the failures above; fix them and run again).</p>")
    if all(v.as_expected for v in report.verdicts):
        items.append("<p class=note>Every guarantee came out as expected in this run: the store is NOT "
                     "CONFORMING because of the claim or contract check above.</p>")
    return f"<section class=diagnosis id=what-went-wrong><h2>What went wrong</h2>{''.join(items)}</section>"


_KEY = re.compile(r"(?<![\w/])((?:[^\s/<>&]+/)+[^\s/<>&]*?[^\s/<>&,.:;)])(?=[,.:;)]*(?:\s|$))")
_STEP = re.compile(r"\b(steps? \d+(?:-\d+)?)\b")


def _marked_up(escaped: str) -> str:
    """An escaped sentence with its keys as code and its steps in bold: what the eye looks for."""
    return _STEP.sub(r"<b>\1</b>", _KEY.sub(r"<code>\1</code>", escaped))


def _verdicts(report: Report, groups: list[list[Verdict]], e: Escaper) -> str:
    runs = {v.guarantee: i for i, group in enumerate(groups) for v in group}
    rows = []
    for v in report.verdicts:
        status = f"<span class=status style='background:{_COLOR[v.status]}'>{e(v.status.value)}</span>"
        if not v.as_expected:
            status += f" <span class=exp>expected {e(v.expected.value)}</span>"
        rows.append(f"<tr><td>{e(v.guarantee.value)}</td><td>{status}</td><td>{e(v.title)}</td>"
                    f"<td>{_evidence(v, runs.get(v.guarantee), e)}</td></tr>")
    return ("<table class=verdicts><colgroup><col class=id><col class=verdict><col class=title><col></colgroup>"
            "<tr><th>ID</th><th>verdict</th><th>guarantee</th><th>evidence</th></tr>" + "".join(rows) + "</table>")


def _evidence(v: Verdict, run: int | None, e: Escaper) -> str:
    """One line; the whole text behind a fold when the line had to leave some out."""
    short, whole = one_line(v), v.evidence
    link = ""
    if v.status == Status.DOCUMENTED and v.witness_timeline:
        link = f" <a href='#{e(v.guarantee.value)}-witness'>timeline</a>"
    elif run is not None:
        link = f" <a href='#run-{run}'>timeline</a>"
    if short == whole:
        return f"<div class=line title='{e(whole)}'>{e(short)}{link}</div>"
    return f"<details><summary>{e(short)}{link}</summary>{e(whole)}</details>"


def _probes(report: Report, e: Escaper) -> str:
    if not report.probes:
        return ""
    rows = "".join(
        f"<tr><td>{e(p.capability)}</td><td>{'yes' if p.claimed else 'no'}</td>"
        f"<td>{ {True: 'yes', False: '<b class=bad>no</b>', None: '–'}[p.honoured] }</td>"
        f"<td>{e(p.evidence if p.claimed else diagnosing.UNCLAIMED.get(p.capability, p.evidence))}</td></tr>"
        for p in report.probes)
    return ("<h2>Capability probes</h2><table><colgroup><col class=cap><col class=small><col class=small><col>"
            "</colgroup><tr><th>capability</th><th>claimed</th><th>honoured</th><th>evidence</th></tr>"
            f"{rows}</table>")


def _contract(report: Report, e: Escaper) -> str:
    if not report.contract:
        return ""
    passed = sum(c.status == "passed" for c in report.contract)
    others = [c for c in report.contract if c.status != "passed"]
    rows = "".join(
        f"<tr><td>{e(c.check)}</td><td>{'<b class=bad>failed</b>' if c.status == 'failed' else e(c.status)}</td>"
        f"<td>{e(c.detail)}</td><td>{e(', '.join(g.value for g in c.guarantees))}</td></tr>" for c in others)
    table = ("<table><colgroup><col class=title><col class=small><col><col class=small></colgroup><tr><th>check"
             f"</th><th>result</th><th>detail</th><th>at stake</th></tr>{rows}</table>" if rows else "")
    return f"<h2>Store contract</h2><p>{passed} of {len(report.contract)} checks passed.</p>{table}"


def _leftovers(report: Report, e: Escaper) -> str:
    if not report.leftovers:
        return ""
    return ("<h2>Left behind</h2><p>Clean-up after the run could not remove these (the verdicts stand); each was "
            "looked for again before this report called it left behind:</p><ul>"
            + "".join(f"<li>{e(line)}</li>" for line in report.leftovers) + "</ul>")


def _counterexample(index: int, group: list[Verdict], e: Escaper) -> str:
    """One root cause: the guarantees it broke, each one's message, the run once."""
    ce = group[0].counterexample
    assert ce is not None
    names = ", ".join(v.guarantee.value for v in group)
    title = group[0].title if len(group) == 1 else "one run, several guarantees"
    why = diagnosing.explain(group)
    body = "".join(f"<p><b>{e(v.guarantee.value)}</b>: {e(v.counterexample.message)}</p>" for v in group
                   if v.counterexample)
    body += f"<p><b>Cause.</b> {e(why.cause)}</p>"
    if ce.timeline:
        body += _figure(ce.timeline, diagnosing.highlight(group), e)
    if ce.steps:
        body += f"<pre>{escape(chr(10).join(ce.steps), quote=True)}</pre>"
    if ce.replay:
        body += f"<p>Replay: <code>{escape(ce.replay, quote=True)}</code></p>"
    anchors = "".join(f"<a id='{e(v.guarantee.value)}'></a>" for v in group)
    return (f"<h3 id='run-{index}'>{anchors}{e(names)} BREAK{'S' if len(group) == 1 else ''}: {e(title)}</h3>"
            f"{body}")


def _witness(v: Verdict, e: Escaper) -> str:
    return (f"<h3 id='{e(v.guarantee.value)}-witness'>{e(v.guarantee.value)} DOCUMENTED: {e(v.title)}</h3>"
            f"<p>{e(v.witness or '')}</p>{_figure(v.witness_timeline, None, e)}")


def _figure(events: list[Event], highlight: timeline.Highlight | None, e: Escaper) -> str:
    marked = [ev if not e.names else Event(e.names.mark(ev.actor), ev.op, e.names.mark(ev.key), ev.phase, ev.result,
                                            ev.fault, ev.time) for ev in events]
    if highlight and highlight.key and e.names:
        highlight = dataclasses.replace(highlight, key=e.names.mark(highlight.key))
    return f"<div class=timeline>{timeline.svg(marked, highlight)}</div>"
