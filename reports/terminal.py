"""A report in a terminal: rich tables that fit the window (``--format table``, the
default when stdout is a TTY); piped output stays Markdown (``reports.markdown``).

Timelines are not drawn here: the table says where they are (report.html, report.md).
"""

from __future__ import annotations

from typing import Any

from pubsafe.models.verdicts import Report, Status

__all__ = ["render", "print_report"]

_STYLE = {Status.HOLDS: "bold green", Status.DOCUMENTED: "bold blue", Status.BREAKS: "bold red",
          Status.UNKNOWN: "bold yellow"}


def render(report: Report) -> list[Any]:
    """The report as rich renderables, in reading order."""
    from rich.table import Table
    from rich.text import Text

    verdict = Text("CONFORMING", style="bold green") if report.conforming else Text("NOT CONFORMING", "bold red")
    head = Text.assemble(verdict, f"  {report.target} · {report.mode} mode · profile {report.profile} · "
                                  f"{report.seed_label} · {report.seconds:.1f}s")
    parts: list[Any] = [head]
    parts += [Text(f"  because {reason}", style="red") for reason in report.reasons()]
    if report.guarded_note():
        parts.append(Text(f"  {report.guarded_note()}", style="italic"))
    table = Table(expand=True)
    table.add_column("ID", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("guarantee", ratio=2)
    table.add_column("evidence", ratio=4)
    for v in report.verdicts:
        verdict = Text(v.status.value, style=_STYLE[v.status])
        if not v.as_expected:
            verdict.append(f" (expected {v.expected.value})", style="red")
        table.add_row(v.guarantee.value, verdict, v.title, _short(v.evidence, 160))
    parts.append(table)
    if report.probes:
        probes = Table(title="capability probes", expand=True)
        for name, options in (("capability", {"no_wrap": True}), ("claimed", {}), ("honoured", {}),
                              ("evidence", {"ratio": 5})):
            probes.add_column(name, **options)
        for p in report.probes:
            honoured = {True: Text("yes", "green"), False: Text("NO", "bold red"), None: Text("–")}[p.honoured]
            probes.add_row(p.capability, "yes" if p.claimed else "no", honoured, _short(p.evidence, 240))
        parts.append(probes)
    for group in report.counterexample_groups():
        ce = group[0].counterexample
        assert ce is not None
        names = ", ".join(v.guarantee.value for v in group)
        parts.append(Text.assemble((f"{names} counterexample: ", "bold red"), _short(ce.message, 400)))
        if ce.replay:
            parts.append(Text(f"  replay: {ce.replay}", style="dim"))
    if report.counterexample_groups() or any(v.witness_timeline for v in report.verdicts):
        parts.append(Text("Timelines of every counterexample and observed race: write them with --report DIR "
                          "(report.html, report.md).", style="dim"))
    return parts


def print_report(report: Report, file: Any = None) -> None:
    from rich.console import Console

    console = Console(file=file, highlight=False, soft_wrap=False)
    for part in render(report):
        console.print(part)
    console.print()


def _short(text: str, limit: int) -> str:
    from .markdown import shorten_hashes

    text = shorten_hashes(text)
    return text if len(text) <= limit else text[: limit - 30].rstrip() + " … (whole in report.json)"
