"""report.html: self-contained, with a labelled SVG timeline (``reports.timeline``)
per root cause of a counterexample and per observed documented race."""

from __future__ import annotations

from html import escape

from pubsafe.models import Event, Report, Status
from pubsafe.models.verdicts import Verdict

from . import timeline

__all__ = ["render"]

_COLOR = {Status.HOLDS: "#1a7f37", Status.DOCUMENTED: "#0969da", Status.BREAKS: "#cf222e", Status.UNKNOWN: "#9a6700"}
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1f2328}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.status{font-weight:600;color:#fff;border-radius:4px;padding:1px 6px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto}.timeline{overflow-x:auto}svg{background:#fff;border:1px solid #d0d7de}
"""


def render(report: Report) -> str:
    verdict_rows = "".join(
        f"<tr><td>{v.guarantee}</td><td>{escape(v.title)}</td>"
        f"<td><span class=status style='background:{_COLOR[v.status]}'>{v.status.value}</span></td>"
        f"<td>{v.expected.value}</td><td>{escape(v.evidence)}</td></tr>"
        for v in report.verdicts
    )
    probe_rows = "".join(
        f"<tr><td>{p.capability}</td><td>{'yes' if p.claimed else 'no'}</td>"
        f"<td>{ {True: 'yes', False: '<b>no</b>', None: '–'}[p.honoured] }</td><td>{escape(p.evidence)}</td></tr>"
        for p in report.probes
    )
    contract_rows = "".join(
        f"<tr><td>{escape(c.check)}</td><td>{'<b>failed</b>' if c.status == 'failed' else c.status}</td>"
        f"<td>{escape(c.detail)}</td><td>{', '.join(g.value for g in c.guarantees)}</td></tr>"
        for c in report.contract
    )
    sections = [_counterexample(group) for group in report.counterexample_groups()]
    witnesses = [_witness(v) for v in report.verdicts if v.status == Status.DOCUMENTED and v.witness_timeline]
    verdict = "CONFORMING" if report.conforming else "NOT CONFORMING"
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>pubsafe: {escape(report.target)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>pubsafe conformance: <code>{escape(report.target)}</code></h1>"
        f"<p><b>{verdict}</b> · {report.mode} mode · profile <code>{report.profile}</code> · {report.seed_label} · "
        f"{report.seconds:.1f}s · pubsafe {escape(report.pubsafe_version)}</p>"
        + ("<ul>" + "".join(f"<li>because {escape(r)}</li>" for r in report.reasons()) + "</ul>"
           if report.reasons() else "")
        + (f"<p><i>{escape(report.guarded_note())}</i></p>" if report.guarded_note() else "")
        + "<table><tr><th>ID</th><th>guarantee</th><th>verdict</th><th>expected</th><th>evidence</th></tr>"
        f"{verdict_rows}</table>"
        + ("<h2>Capability probes</h2><table><tr><th>capability</th><th>claimed</th><th>honoured</th>"
           f"<th>evidence</th></tr>{probe_rows}</table>" if probe_rows else "")
        + ("<h2>Store contract</h2><table><tr><th>check</th><th>result</th><th>detail</th><th>at stake</th></tr>"
           f"{contract_rows}</table>" if contract_rows else "")
        + ("<h2>Left behind</h2><p>Clean-up after the run failed (the verdicts stand); remove these by hand:</p><ul>"
           + "".join(f"<li>{escape(line)}</li>" for line in report.leftovers) + "</ul>" if report.leftovers else "")
        + (f"<h2>Counterexamples</h2>{''.join(sections)}" if sections else "")
        + ("<h2>Documented races, as observed</h2><p>Not failures: what the safety model says happens without "
           f"guarded mode, shown happening.</p>{''.join(witnesses)}" if witnesses else "")
        + "</body></html>\n"
    )


def _counterexample(group: list[Verdict]) -> str:
    """One root cause: the guarantees it broke, each one's message, the run once."""
    ce = group[0].counterexample
    assert ce is not None
    names = ", ".join(v.guarantee.value for v in group)
    title = escape(group[0].title) if len(group) == 1 else "one run, several guarantees"
    body = "".join(f"<p><b>{v.guarantee}</b>: {escape(v.counterexample.message)}</p>" for v in group
                   if v.counterexample)
    if ce.timeline:
        body += _figure(ce.timeline)
    if ce.steps:
        body += f"<pre>{escape(chr(10).join(ce.steps))}</pre>"
    if ce.replay:
        body += f"<p>Replay: <code>{escape(ce.replay)}</code></p>"
    anchors = "".join(f"<a id='{v.guarantee}'></a>" for v in group)
    return f"<h3>{anchors}{names} BREAK{'S' if len(group) == 1 else ''}: {title}</h3>{body}"


def _witness(v: Verdict) -> str:
    return (f"<h3 id='{v.guarantee}-witness'>{v.guarantee} DOCUMENTED: {escape(v.title)}</h3>"
            f"<p>{escape(v.witness or '')}</p>{_figure(v.witness_timeline)}")


def _figure(events: list[Event]) -> str:
    return f"<div class=timeline>{timeline.svg(events)}</div>"
