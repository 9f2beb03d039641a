"""How a report reaches stdout: rich tables on a terminal, a short summary in a log.

A CI log wants the answer (the verdict, what went wrong, what to change, where the
whole report is) in a dozen lines; ``--format md`` prints the whole Markdown report
instead (what report.md holds).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # a publish loads this module for its --format option: no imports it does not need
    from collections.abc import Sequence
    from pathlib import Path

    from pubsafe.models.verdicts import Report

__all__ = ["add_format_option", "print_report"]


class _TakesArguments(Protocol):
    """A command's parser, or the stand-in of one this run does not parse (cli._Unused)."""

    def add_argument(self, *args: Any, **kwargs: Any) -> Any: ...


def add_format_option(p: _TakesArguments) -> None:
    p.add_argument("--format", choices=["auto", "table", "summary", "md"], default="auto",
                   help="how to print the report: table (rich tables), summary (a few plain lines: the verdict, what "
                        "went wrong, what to change, where the report files are), md (the whole Markdown report, "
                        "as report.md); auto: table on a terminal, summary when piped (default: %(default)s)")


def print_report(report: Report, fmt: str, written: Sequence[Path] = ()) -> None:
    """The report on stdout in ``fmt``; ``written`` names the report files, for the reader
    who wants the whole of it."""
    files = [str(p) for p in written if p.suffix in (".md", ".html")]
    if fmt == "table" or (fmt == "auto" and sys.stdout.isatty()):
        from pubsafe.reports.terminal import print_report as print_tables

        print_tables(report, sys.stdout, files)
    elif fmt == "md":
        from pubsafe.reports import markdown

        print(markdown.render(report))
    else:
        from pubsafe.reports import summary

        print(summary.render(report, files), flush=True)
