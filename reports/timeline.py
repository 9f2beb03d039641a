"""A run's history drawn for people: an SVG for report.html, a Mermaid sequence
diagram for report.md (GitHub renders it), both readable without hovering.

Every operation is labelled on the picture itself (step, operation, phase, short
key), each actor has a lane named by its role, and the marks say what happened:
reads hollow, writes filled, an injected fault orange, a crash purple, the
violation the checker saw a red cross. The full keys stay in the SVG's tooltips and
in the Markdown's details block.
"""

from __future__ import annotations

import re
from html import escape

from pubsafe.models import Event

__all__ = ["label", "short_key", "kind", "svg", "mermaid", "KINDS"]

_HEX = re.compile(r"\b([0-9a-f]{8})[0-9a-f]{24,}\b")
_READS = {"get", "stat", "list"}

#: mark kind -> (colour, what the legend says)
KINDS = {
    "read": ("#0969da", "read (get, list, stat)"),
    "write": ("#0969da", "write (put, replace, delete)"),
    "fault": ("#bc4c00", "injected fault: the operation failed or was slowed, the process lives on"),
    "crash": ("#8250df", "crash: the process died here (crash, lost ack, torn write, kill)"),
    "violation": ("#cf222e", "violation: what the checker saw broken"),
}


def short_key(key: str) -> str:
    """A key with its 64-hex version cut to 8 characters: readable in a lane."""
    return _HEX.sub(r"\1…", key)


def kind(event: Event) -> str:
    if event.result == "violation":
        return "violation"
    if event.crashed or event.result == "killed":
        return "crash"
    if event.fault:
        return "fault"
    return "read" if event.op in _READS else "write"


def label(event: Event) -> str:
    """What the picture says of one operation: op, phase, short key, and how it went."""
    if event.result == "violation":
        return f"{event.key} violated"
    words = [event.op]
    if event.phase:
        words.append(f"[{event.phase}]")
    if event.key:
        words.append(short_key(event.key) if event.op not in ("start", "end") else "")
    if event.fault:
        words.append(f"⚡{event.fault}")
    elif event.result not in ("ok", ""):
        words.append(f"→ {event.result}")
    return " ".join(w for w in words if w)


def svg(events: list[Event]) -> str:
    """Time runs down, one row per operation (numbered on the left), one column per actor."""
    actors = list(dict.fromkeys(e.actor for e in events))
    column, row, left, top = 330, 20, 44, 96
    width = left + column * len(actors) + 10
    height = top + row * len(events) + 10
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             "font-family='system-ui,sans-serif' font-size='12'>"]
    parts += _legend()
    parts.append(f"<text x='4' y='{top - 8}' fill='#57606a'>step</text>")
    for i, actor in enumerate(actors):
        x = left + column * i + 14
        parts.append(f"<text x='{x - 8}' y='{top - 8}' font-weight='600'>{escape(actor)}</text>")
        parts.append(f"<line x1='{x}' y1='{top - 2}' x2='{x}' y2='{height - 6}' stroke='#d0d7de'/>")
    for n, event in enumerate(events):
        x, y = left + column * actors.index(event.actor) + 14, top + row * n + 10
        mark = kind(event)
        tip = escape(f"#{n} {event.actor}: {event.op} {event.key}" + (f" [{event.phase}]" if event.phase else "")
                     + (f" {event.fault}" if event.fault else "") + f" → {event.result}")
        parts.append(f"<g><title>{tip}</title>"
                     f"<text x='4' y='{y + 4}' fill='#57606a'>{n}</text>{_mark(mark, x, y)}"
                     f"<text x='{x + 10}' y='{y + 4}' fill='{KINDS[mark][0] if mark != 'read' else '#1f2328'}'>"
                     f"{escape(label(event))}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def _mark(mark: str, x: int, y: int) -> str:
    colour = KINDS[mark][0]
    if mark == "violation":
        return (f"<path d='M{x - 5},{y - 5}L{x + 5},{y + 5}M{x + 5},{y - 5}L{x - 5},{y + 5}' stroke='{colour}' "
                "stroke-width='3'/>")
    fill = "#fff" if mark == "read" else colour
    return f"<circle cx='{x}' cy='{y}' r='5' fill='{fill}' stroke='{colour}' stroke-width='2'/>"


def _legend() -> list[str]:
    parts = []
    for i, (mark, (_, text)) in enumerate(KINDS.items()):
        y = 12 + 14 * i
        parts.append(f"{_mark(mark, 10, y)}<text x='22' y='{y + 4}' fill='#57606a'>{escape(text)}</text>")
    return parts


def mermaid(events: list[Event]) -> list[str]:
    """The history as a Mermaid ``sequenceDiagram``: each actor talks to the store."""
    actors = list(dict.fromkeys(e.actor for e in events if e.actor != "checker"))
    ids = {actor: f"a{i}" for i, actor in enumerate(actors)}
    lines = ["```mermaid", "sequenceDiagram"]
    lines += [f"    participant {ids[a]} as {_safe(a)}" for a in actors]
    lines.append("    participant store")
    for n, event in enumerate(events):
        if event.actor == "checker":
            lines.append(f"    Note over store: {n}. {_safe(label(event))}")
            continue
        who, mark = ids[event.actor], kind(event)
        arrow = "-x" if mark == "crash" else "->>"
        lines.append(f"    {who}{arrow}store: {n}. {_safe(label(event))}")
        if mark == "fault":
            lines.append(f"    Note right of store: fault {_safe(event.fault or '')}")
    lines.append("```")
    return lines


def _safe(text: str) -> str:
    """Mermaid ends a message at ``;`` and reads ``#`` as an entity: keep both out."""
    return text.replace(";", ",").replace("#", "no. ").replace("\n", " ")
