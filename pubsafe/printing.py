"""How a report reaches stdout: rich tables on a terminal, Markdown when piped."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_format_option", "print_report"]


def add_format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["auto", "table", "md"], default="auto",
                   help="how to print the report: table (rich tables), md (Markdown, as report.md); auto: table "
                        "on a terminal, md when piped (default: %(default)s)")


def print_report(report, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """The report on stdout: rich tables on a terminal (or --format table), else Markdown."""
    if fmt == "table" or (fmt == "auto" and sys.stdout.isatty()):
        from pubsafe.reports.terminal import print_report as print_tables

        print_tables(report, sys.stdout)
    else:
        from pubsafe.reports import markdown

        print(markdown.render(report))
