"""A report in a terminal: rich tables that fit the window (``--format table``, the
default when stdout is a TTY). What went wrong and what to change come first, then one
line per verdict; the whole evidence and the timelines are in report.html and
report.md (``--report DIR``).
"""

from __future__ import annotations

from typing import Any

from pubsafe.models.verdicts import Report, Status

from . import diagnosis as diagnosing
from .names import Lookalikes
from .text import gathered_text, one_line

__all__ = ["render", "print_report"]

_STYLE = {Status.HOLDS: "bold green", Status.DOCUMENTED: "bold blue", Status.BREAKS: "bold red",
          Status.UNKNOWN: "bold yellow"}


def render(report: Report, written: list[str] | None = None) -> list[Any]:
    """The report as rich renderables, in reading order."""
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    names = Lookalikes(gathered_text(report))
    verdict = Text("CONFORMING", style="bold green") if report.conforming else Text("NOT CONFORMING", "bold red")
    head = Text.assemble(verdict, f"  {names.mark(report.target)} · {report.mode} mode · profile {report.profile} · "
                                  f"{report.seed_label} · {report.seconds:.1f}s")
    parts: list[Any] = [head]
    causes = diagnosing.diagnose(report)
    for d in causes:
        parts.append(Text.assemble(("  " + ", ".join(g.value for g in d.guarantees), "bold red"),
                                   f" · {d.fix.title}"))
        parts.append(Padding(Text.assemble(("cause: ", "bold"), names.mark(d.cause)), (0, 0, 0, 4)))
        parts += [Padding(Text.assemble(("with it: ", "bold"), names.mark(also)), (0, 0, 0, 4)) for also in d.also]
        story = f" (the story: {', '.join(d.fix.stories)} in {diagnosing.STORY_DOC})" if d.fix.stories else ""
        parts.append(Padding(Text.assemble(("change: ", "bold green"), d.change + story), (0, 0, 0, 4)))
    later = diagnosing.not_judged(report)
    if causes and later:
        parts.append(Text(f"  not judged in this run: {', '.join(g.value for g in later)} (the run stopped at the "
                          "failures above)", style="dim"))
    if causes and all(v.as_expected for v in report.verdicts):
        parts.append(Text("  every guarantee came out as expected: the store is NOT CONFORMING because of the claim "
                          "or contract check above", style="red"))
    if report.conforming:
        parts += [Text(f"  not claimed by this store: {c}", style="italic") for c in diagnosing.caveats(report)]
    advice = diagnosing.guarded_advice(report, causes)
    if advice:
        parts.append(Text(f"  {advice}", style="italic"))
    table = Table(expand=True)
    table.add_column("ID", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("guarantee", ratio=2, no_wrap=True, overflow="ellipsis")
    table.add_column("evidence", ratio=4, no_wrap=True, overflow="ellipsis")
    for v in report.verdicts:
        verdict = Text(v.status.value, style=_STYLE[v.status])
        if not v.as_expected:
            verdict.append(f" (expected {v.expected.value})", style="red")
        table.add_row(v.guarantee.value, verdict, v.title, names.mark(one_line(v)))
    parts.append(table)
    if report.probes:
        probes = Table(title="capability probes", expand=True)
        for name, options in (("capability", {"no_wrap": True}), ("claimed", {}), ("honoured", {}),
                              ("evidence", {"ratio": 5, "no_wrap": True, "overflow": "ellipsis"})):
            probes.add_column(name, **options)
        for p in report.probes:
            honoured = {True: Text("yes", "green"), False: Text("NO", "bold red"), None: Text("–")}[p.honoured]
            evidence = p.evidence if p.claimed else diagnosing.UNCLAIMED.get(p.capability, p.evidence)
            probes.add_row(p.capability, "yes" if p.claimed else "no", honoured, _short(evidence, 240))
        parts.append(probes)
    replays: dict[str, list[str]] = {}
    for group in report.counterexample_groups():
        ce = group[0].counterexample
        if ce is not None and ce.replay:
            replays.setdefault(ce.replay, []).extend(v.guarantee.value for v in group)
    parts += [Text(f"  replay {', '.join(ids)}: {command}", style="dim") for command, ids in replays.items()]
    where = " and ".join(written) if written else "write them with --report DIR (report.html, report.md)"
    parts.append(Text(f"The whole evidence, every timeline and counterexample: {where}.", style="dim"))
    return parts


def print_report(report: Report, file: Any = None, written: list[str] | None = None) -> None:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1, the code of a broken guarantee
            self.quiet = True
            raise BrokenPipeError

    console = _Console(file=file, highlight=False, soft_wrap=False)
    for part in render(report, written):
        console.print(part)
    console.print()


def _short(text: str, limit: int) -> str:
    from .markdown import shorten_hashes

    text = shorten_hashes(text)
    return text if len(text) <= limit else text[: limit - 30].rstrip() + " … (whole in report.json)"
