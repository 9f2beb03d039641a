"""Regenerate the committed reference reports, the report schema and the mutant docs.

    python -m pubsafe.devtools.regenerate [--no-s3 | --render-only]

Writes docs/reference-reports/{memory,local,memory-guarded,local-guarded}/report.*
(default profile), docs/reference-reports/{s3,s3-guarded}/ (quick profile, against
moto's S3 server started on loopback; every request is a round trip), the GC mutant's
NOT CONFORMING report and a screenshot of its first screen (with Chromium installed),
reports/report.schema.json, docs/mutants.md and docs/safety-model-by-example.md.
Exits 1 if a reference store is not conforming, a mutant survives, or a mutant's
report names another failure than its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pubsafe.models import run_conformance, target_from_spec
from pubsafe.reports import json_report, write_reports

from . import repository_root
from .teaching import render_mutants, render_teaching


def _reference(name: str, spec: str, guarded: bool, profile: str) -> bool:
    replay = f"pubsafe check --store {spec} --profile {profile} --seed 0" + (" --guarded" if guarded else "")
    report = run_conformance(target_from_spec(spec, guarded=guarded), profile, replay=replay)
    write_reports(report, repository_root() / "docs" / "reference-reports" / name)
    print(f"{name}: {'conforming' if report.conforming else 'NOT conforming'} ({report.seconds:.1f}s)")
    return report.conforming


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pubsafe.devtools.regenerate", description=__doc__.splitlines()[0])
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 reference reports (no moto server)")
    parser.add_argument("--render-only", action="store_true",
                        help="re-render each reference report's report.md and report.html (and the screenshot) from "
                             "its committed report.json, without running anything: after changing a renderer")
    args = parser.parse_args(argv)
    root = repository_root()
    if args.render_only:
        render_committed()
        return 0
    (root / "reports" / "report.schema.json").write_text(json_report.schema())
    conforming = True
    for name, spec, guarded in (("memory", "memory", False), ("local", "local", False),
                                ("memory-guarded", "memory", True), ("local-guarded", "local", True)):
        conforming &= _reference(name, spec, guarded, "default")
    if not args.no_s3:
        from .s3server import local_s3

        with local_s3("reference"):
            for name, guarded in (("s3", False), ("s3-guarded", True)):
                conforming &= _reference(name, f"s3://reference/{name}", guarded, "quick")
    broken_example()
    mutants = render_mutants()
    (root / "docs" / "mutants.md").write_text(mutants.markdown)
    (root / "docs" / "safety-model-by-example.md").write_text(render_teaching(mutants.reports))
    print(f"mutants: {mutants.killed}/{mutants.total} killed")
    for name in mutants.misdiagnosed:
        print(f"mutant {name}: the report's diagnosis does not tell its story (see docs/mutants.md)")
    return 0 if conforming and mutants.killed == mutants.total and not mutants.misdiagnosed else 1


def render_committed() -> None:
    """report.md and report.html of every reference report, from its report.json."""
    from pubsafe.models.verdicts import Report
    from pubsafe.reports import html, markdown

    folders = sorted((repository_root() / "docs" / "reference-reports").iterdir())
    for folder in folders:
        report = Report.model_validate_json((folder / "report.json").read_text())
        (folder / "report.md").write_text(markdown.render(report), encoding="utf-8")
        (folder / "report.html").write_text(html.render(report), encoding="utf-8")
        print(f"{folder.name}: re-rendered")
    _screenshot(repository_root() / "docs" / "reference-reports" / "mutant-gc-without-protection")


def _screenshot(folder: Path) -> None:
    from . import browser

    if browser.find() is None:
        print(f"first-screen.png not refreshed: {browser.MISSING}")
    else:
        browser.screenshot(folder / "report.html", folder / "first-screen.png", width=1280, height=800)


def broken_example() -> None:
    """A NOT CONFORMING reference report: a whole default run against the GC mutant (it
    breaks R5, and G1, G2 and G4 with it), and a screenshot of what its report.html
    shows first (where Chromium is installed)."""
    from pubsafe.models.mutants import mutant_target

    report = run_conformance(mutant_target("gc-without-protection"), "default",
                             replay="pubsafe check --store memory --engine pubsafe.models.mutants:UnprotectedGCEngine")
    out = repository_root() / "docs" / "reference-reports" / "mutant-gc-without-protection"
    write_reports(report, out)
    print(f"mutant-gc-without-protection: {'conforming' if report.conforming else 'NOT CONFORMING'}")
    _screenshot(out)


if __name__ == "__main__":
    sys.exit(main())
