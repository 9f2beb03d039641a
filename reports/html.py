"""report.html: self-contained, with an SVG timeline per counterexample and witness.

A timeline has a lane per actor; each store operation is a mark (reads hollow,
writes filled, the faulted operation orange, the violation red), hover for details.
"""

from __future__ import annotations

from html import escape

from pubsafe.models import Event, Report, Status

__all__ = ["render", "timeline_svg"]

_COLOR = {Status.HOLDS: "#1a7f37", Status.DOCUMENTED: "#0969da", Status.BREAKS: "#cf222e", Status.UNKNOWN: "#9a6700"}
_READS = {"get", "stat", "list"}
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1f2328}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.status{font-weight:600;color:#fff;border-radius:4px;padding:1px 6px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto}svg{background:#fff;border:1px solid #d0d7de}
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
    sections = []
    for v in report.verdicts:
        if v.counterexample:
            ce = v.counterexample
            body = f"<p>{escape(ce.message)}</p>"
            if ce.timeline:
                body += timeline_svg(ce.timeline)
            if ce.steps:
                body += f"<pre>{escape(chr(10).join(ce.steps))}</pre>"
            if ce.replay:
                body += f"<p>Replay: <code>{escape(ce.replay)}</code></p>"
            sections.append(f"<h3 id='{v.guarantee}'>{v.guarantee} BREAKS: {escape(v.title)}</h3>{body}")
    verdict = "CONFORMING" if report.conforming else "NOT CONFORMING"
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>pubsafe: {escape(report.target)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>pubsafe conformance: <code>{escape(report.target)}</code></h1>"
        f"<p><b>{verdict}</b> · {report.mode} mode · profile <code>{report.profile}</code> · {report.seed_label} · "
        f"{report.seconds:.1f}s · pubsafe {escape(report.pubsafe_version)}</p>"
        "<table><tr><th>ID</th><th>guarantee</th><th>verdict</th><th>expected</th><th>evidence</th></tr>"
        f"{verdict_rows}</table>"
        + ("<h2>Capability probes</h2><table><tr><th>capability</th><th>claimed</th><th>honoured</th>"
           f"<th>evidence</th></tr>{probe_rows}</table>" if probe_rows else "")
        + ("<h2>Store contract</h2><table><tr><th>check</th><th>result</th><th>detail</th><th>at stake</th></tr>"
           f"{contract_rows}</table>" if contract_rows else "")
        + ("<h2>Left behind</h2><p>Clean-up after the run failed (the verdicts stand); remove these by hand:</p><ul>"
           + "".join(f"<li>{escape(line)}</li>" for line in report.leftovers) + "</ul>" if report.leftovers else "")
        + (f"<h2>Counterexamples</h2>{''.join(sections)}" if sections else "")
        + "</body></html>\n"
    )


def _mark(event: Event) -> str:
    if event.result == "violation":
        return "violation"
    if event.crashed:
        return "crash"
    return "fault" if event.fault else ""


def timeline_svg(events: list[Event]) -> str:
    actors = list(dict.fromkeys(e.actor for e in events))
    step, lane, left = 16, 34, 90
    width, height = left + step * (len(events) + 1), lane * len(actors) + 30
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"]
    for i, actor in enumerate(actors):
        y = 20 + i * lane
        parts.append(f"<text x='6' y='{y + 4}' font-size='12'>{escape(actor)}</text>")
        parts.append(f"<line x1='{left}' y1='{y}' x2='{width - 8}' y2='{y}' stroke='#d0d7de'/>")
    for n, e in enumerate(events):
        x, y = left + step * n + step // 2, 20 + actors.index(e.actor) * lane
        mark_kind = _mark(e)
        tip = escape(f"#{n} {e.actor}: {e.op} {e.key}" + (f" [{e.phase}]" if e.phase else "")
                     + (f" {e.fault}" if e.fault else "") + (f" {mark_kind}" if mark_kind else ""))
        if mark_kind == "violation":
            mark = f"<path d='M{x - 6},{y - 6}L{x + 6},{y + 6}M{x + 6},{y - 6}L{x - 6},{y + 6}' stroke='#cf222e' stroke-width='3'/>"
        else:
            color = {"crash": "#cf222e", "fault": "#bc4c00"}.get(mark_kind, "#0969da")
            fill = "none" if e.op in _READS and not mark_kind else color
            mark = f"<circle cx='{x}' cy='{y}' r='5' fill='{fill}' stroke='{color}' stroke-width='2'/>"
        parts.append(f"<g><title>{tip}</title>{mark}</g>")
    parts.append("</svg>")
    return "".join(parts)
