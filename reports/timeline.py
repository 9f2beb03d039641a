"""A run's history drawn for people: an SVG for report.html, a Mermaid sequence
diagram for report.md (GitHub renders it), both readable without hovering.

Time runs down, one row per operation. Each actor has a narrow lane named by its role,
and the marks in it say what happened: reads hollow, writes filled, an injected fault
orange, a crash purple, the violation the checker saw a red cross. Every operation is
labelled in full to the right of the lanes (actor, operation, phase, short key), so a
label never runs into another lane. Given a ``Highlight`` (``reports.diagnosis``), the
step that did the damage and the acknowledged step it cost are banded and joined by
an arrow, and the key they share is set in bold wherever it occurs.

The picture is sized to its text: ``text_width`` estimates each label's extent
(generously: DejaVu Sans, one of the widest common fonts, stays inside it), and the
SVG's viewBox holds every one of them; a picture wider than the page scrolls inside
its frame. The full keys stay in the tooltips and in the Markdown's details block.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html import escape

from pubsafe.models import Event

__all__ = ["label", "short_key", "kind", "svg", "mermaid", "KINDS", "Highlight", "text_width", "MONO", "SANS"]

_HEX = re.compile(r"\b([0-9a-f]{8})[0-9a-f]{24,}\b")
_READS = {"get", "stat", "list"}

MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace"
SANS = "system-ui,-apple-system,'Segoe UI',sans-serif"
_SIZE = 12

#: mark kind -> (colour, what the legend says)
KINDS = {
    "read": ("#0969da", "read (get, list, stat)"),
    "write": ("#0969da", "write (put, replace, delete)"),
    "fault": ("#bc4c00", "injected fault: the operation failed or was slowed, the process lives on"),
    "crash": ("#8250df", "crash: the process died here (crash, lost ack, torn write, kill)"),
    "violation": ("#cf222e", "violation: what the checker saw broken"),
}
_CULPRIT, _VICTIM = "#ffd8d3", "#fff1b8"


@dataclass(frozen=True)
class Highlight:
    """The steps of a timeline a diagnosis names: ``culprit`` did the damage,
    ``victim`` is the acknowledged step it cost, ``key`` the key they share."""

    culprit: int | None = None
    victim: int | None = None
    key: str | None = None
    culprit_note: str = "culprit"
    victim_note: str = "what it cost"

    def __bool__(self) -> bool:
        return self.culprit is not None or self.victim is not None


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


def text_width(text: str, size: float = _SIZE, *, mono: bool = False) -> float:
    """An upper estimate of ``text``'s width in pixels at ``size``: wide (East Asian)
    characters and symbols count a full em, combining marks nothing, the rest by class
    of letter (proportional) or 0.62 em (monospace)."""
    width = 0.0
    for ch in text:
        if unicodedata.combining(ch) or ch in "\u200b\u200c\u200d\ufe0f":
            continue
        wide = unicodedata.east_asian_width(ch) in "WF"
        if wide or (ord(ch) >= 0x2000 and ch != "…"):
            width += 1.05
        elif mono:
            width += 0.62
        elif ch in "mwMW@%…":
            width += 1.02
        elif ch.isupper() or ch in "#&":
            width += 0.8
        elif ch in " .,:;'|!il()[]{}/":
            width += 0.42
        else:
            width += 0.66
    return width * size


def _lanes(events: list[Event]) -> list[str]:
    return list(dict.fromkeys(e.actor for e in events))


def svg(events: list[Event], highlight: Highlight | None = None) -> str:
    """Time runs down, one row per operation (numbered on the left), a lane per actor,
    every label to the right of the lanes; sized so that no text is cut."""
    highlight = highlight or Highlight()
    actors = _lanes(events)
    row, legend_row = 20, 15
    legend = [(k, text) for k, (_, text) in KINDS.items()]
    if highlight:
        legend += [("culprit", "the culprit: the step that did the damage"),
                   ("victim", "what it cost: the acknowledged step it undid, or the step that then failed")]
        if highlight.key:
            legend.append(("key", f"bold: the key they share, {short_key(highlight.key)}"))
    step_w, gap = 40, 16  # step numbers, then room for the arrow that joins culprit and victim
    lane_w = [max(30, text_width(a, weight_bold(True)) + 14) for a in actors]
    lanes_x = [step_w + gap + sum(lane_w[:i]) + 10 for i in range(len(actors))]
    label_x = step_w + gap + sum(lane_w) + 14
    top = 12 + legend_row * len(legend) + 30
    texts = [f"{e.actor}: {label(e)}" + _tag(n, highlight) for n, e in enumerate(events)]
    width = max([label_x + text_width(t, mono=True) for t in texts]
                + [26 + text_width(t) for _, t in legend]
                + [lanes_x[-1] + lane_w[-1]] if actors else [200]) + 12
    width = int(width + 0.5)
    height = top + row * len(events) + 10
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' font-family=\"{SANS}\" font-size='{_SIZE}'>"]
    parts += _legend(legend)
    for n in (highlight.culprit, highlight.victim):
        if n is not None and 0 <= n < len(events):
            fill = _CULPRIT if n == highlight.culprit else _VICTIM
            parts.append(f"<rect x='0' y='{top + row * n}' width='{width}' height='{row}' fill='{fill}'/>")
    parts.append(f"<text x='{step_w - 4}' y='{top - 8}' fill='#57606a' text-anchor='end'>step</text>")
    for i, actor in enumerate(actors):
        x = lanes_x[i]
        parts.append(f"<text x='{x - 6}' y='{top - 8}' font-weight='600'>{escape(actor)}</text>")
        parts.append(f"<line x1='{x}' y1='{top - 2}' x2='{x}' y2='{height - 6}' stroke='#d0d7de'/>")
    for n, event in enumerate(events):
        x, y = lanes_x[actors.index(event.actor)], top + row * n + 10
        mark = kind(event)
        tip = escape(f"#{n} {event.actor}: {event.op} {event.key}" + (f" [{event.phase}]" if event.phase else "")
                     + (f" {event.fault}" if event.fault else "") + f" → {event.result}")
        colour = KINDS[mark][0] if mark != "read" else "#1f2328"
        leader = (f"<line x1='{x + 8}' y1='{y}' x2='{label_x - 4}' y2='{y}' stroke='#d0d7de' "
                  "stroke-dasharray='1 3'/>" if label_x - x > 16 else "")
        parts.append(f"<g><title>{tip}</title>"
                     f"<text x='{step_w - 4}' y='{y + 4}' fill='#57606a' text-anchor='end'>{n}</text>{leader}"
                     f"{_mark(mark, x, y)}<text x='{label_x}' y='{y + 4}' fill='{colour}' font-family=\"{MONO}\">"
                     f"{_label_spans(event, highlight)}{escape(_tag(n, highlight))}</text></g>")
    if highlight.culprit is not None and highlight.victim is not None and highlight.culprit != highlight.victim:
        parts.append(_arrow(top + row * highlight.culprit + 10, top + row * highlight.victim + 10, step_w + 2))
    parts.append("</svg>")
    return "".join(parts)


def weight_bold(bold: bool) -> float:
    """The font size lane headers are measured at (bold runs wider: measured larger)."""
    return _SIZE * (1.1 if bold else 1.0)


def _tag(n: int, highlight: Highlight) -> str:
    if n == highlight.culprit:
        return f"  ◀ {highlight.culprit_note}"
    if n == highlight.victim:
        return f"  ◀ {highlight.victim_note}"
    return ""


def _label_spans(event: Event, highlight: Highlight) -> str:
    """The label, escaped, with the actor first and the shared key in bold."""
    text = f"{event.actor}: {label(event)}"
    if not highlight.key or event.key != highlight.key or event.result == "violation":
        return escape(text)
    shown = short_key(event.key)
    before, _, after = text.partition(shown)
    return f"{escape(before)}<tspan font-weight='700'>{escape(shown)}</tspan>{escape(after)}"


def _arrow(y_from: int, y_to: int, x: int) -> str:
    """A bracket on the left margin from the culprit's row to the victim's, arrow at the victim."""
    bend = x + 12
    head = 4 if y_to > y_from else -4
    return (f"<path d='M{bend},{y_from} C{x},{y_from} {x},{y_to} {bend},{y_to}' fill='none' stroke='#cf222e' "
            f"stroke-width='2'/><path d='M{bend - 5},{y_to - head} L{bend},{y_to} L{bend - 6},{y_to + 1}' "
            "fill='none' stroke='#cf222e' stroke-width='2'/>")


def _mark(mark: str, x: float, y: float) -> str:
    if mark in ("culprit", "victim"):
        fill = _CULPRIT if mark == "culprit" else _VICTIM
        return f"<rect x='{x - 6}' y='{y - 6}' width='12' height='12' fill='{fill}' stroke='#d0d7de'/>"
    if mark == "key":
        return f"<text x='{x - 5}' y='{y + 4}' font-weight='700' font-family=\"{MONO}\">k</text>"
    colour = KINDS[mark][0]
    if mark == "violation":
        return (f"<path d='M{x - 5},{y - 5}L{x + 5},{y + 5}M{x + 5},{y - 5}L{x - 5},{y + 5}' stroke='{colour}' "
                "stroke-width='3'/>")
    fill = "#fff" if mark == "read" else colour
    return f"<circle cx='{x}' cy='{y}' r='5' fill='{fill}' stroke='{colour}' stroke-width='2'/>"


def _legend(entries: list[tuple[str, str]]) -> list[str]:
    parts = []
    for i, (mark, text) in enumerate(entries):
        y = 12 + 15 * i
        parts.append(f"{_mark(mark, 10, y)}<text x='22' y='{y + 4}' fill='#57606a'>{escape(text)}</text>")
    return parts


def mermaid(events: list[Event], highlight: Highlight | None = None, *, first: int = 0) -> list[str]:
    """The history as a Mermaid ``sequenceDiagram``: each actor talks to the store; the
    culprit and victim steps of a ``Highlight`` are boxed in red and yellow. ``events``
    may be the tail of a run: ``first`` is the step number of its first event."""
    highlight = highlight or Highlight()
    actors = list(dict.fromkeys(e.actor for e in events if e.actor != "checker"))
    ids = {actor: f"a{i}" for i, actor in enumerate(actors)}
    lines = ["```mermaid", "sequenceDiagram"]
    lines += [f"    participant {ids[a]} as {_safe(a)}" for a in actors]
    lines.append("    participant store")
    for n, event in enumerate(events, first):
        box = {highlight.culprit: "rgb(255, 216, 211)", highlight.victim: "rgb(255, 241, 184)"}.get(n)
        if box:
            lines.append(f"    rect {box}")
        if event.actor == "checker":
            lines.append(f"    Note over store: {n}. {_safe(label(event))}")
        else:
            who, mark = ids[event.actor], kind(event)
            arrow = "-x" if mark == "crash" else "->>"
            lines.append(f"    {who}{arrow}store: {n}. {_safe(label(event) + _tag(n, highlight))}")
            if mark == "fault":
                lines.append(f"    Note right of store: fault {_safe(event.fault or '')}")
        if box:
            lines.append("    end")
    lines.append("```")
    return lines


def _safe(text: str) -> str:
    """Mermaid ends a message at ``;``, reads ``#…;`` as an entity and renders HTML tags
    in labels: keep all of them out (``<`` ``>`` ``&`` ``"`` as Mermaid's own entities)."""
    text = text.replace(";", ",").replace("#", "no. ").replace("\n", " ")
    return (text.replace("&", "#amp;").replace("<", "#lt;").replace(">", "#gt;").replace('"', "#quot;")
            .replace("`", "'"))
