"""reports: render a conformance Report for machines, pull requests and people.

One small renderer per format, each a single ``render(report) -> str``:
``json_report`` (report.json, plus its JSON Schema), ``markdown`` (report.md) and
``html`` (a self-contained report.html with an SVG timeline per counterexample).
Reference reports for the built-in backends live in ``reports/reference/``.
"""

from __future__ import annotations

from pathlib import Path

from pubsafe.models.verdicts import Report

from . import html, json_report, markdown

__all__ = ["write_reports"]


def write_reports(report: Report, directory: str | Path) -> list[Path]:
    """Write report.json, report.md and report.html into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, module in (("report.json", json_report), ("report.md", markdown), ("report.html", html)):
        path = out / name
        path.write_text(module.render(report), encoding="utf-8")
        written.append(path)
    return written
