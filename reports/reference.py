"""Regenerate the committed reference reports and the report JSON Schema.

    python -m pubsafe.reports.reference

Writes reports/reference/{memory,local,memory-guarded,local-guarded}/report.* (default
profile), reports/reference/{s3,s3-guarded}/ (quick profile, against moto's S3 server
started on loopback; every request is a round trip), reports/report.schema.json,
reports/mutants.md and docs/safety-model-by-example.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pubsafe.models import run_conformance, target_from_spec

from . import json_report, write_reports
from .teaching import render_mutants, render_teaching

ROOT = Path(__file__).resolve().parent


def main() -> int:
    (ROOT / "report.schema.json").write_text(json_report.schema())
    conforming = True
    for name, spec, guarded in (("memory", "memory", False), ("local", "local", False),
                                ("memory-guarded", "memory", True), ("local-guarded", "local", True)):
        report = run_conformance(target_from_spec(spec, guarded=guarded), "default",
                                 replay=f"pubsafe check --store {spec} --profile default --seed 0" + (" --guarded" if guarded else ""))
        write_reports(report, ROOT / "reference" / name)
        conforming &= report.conforming
        print(f"{name}: {'conforming' if report.conforming else 'NOT conforming'} ({report.seconds:.1f}s)")
    from pubsafe.moto_server import local_s3

    with local_s3("reference"):
        for name, guarded in (("s3", False), ("s3-guarded", True)):
            spec = "s3://reference/" + name
            report = run_conformance(target_from_spec(spec, guarded=guarded), "quick",
                                     replay=f"pubsafe check --store {spec} --profile quick --seed 0" + (" --guarded" if guarded else ""))
            write_reports(report, ROOT / "reference" / name)
            conforming &= report.conforming
            print(f"{name}: {'conforming' if report.conforming else 'NOT conforming'} ({report.seconds:.1f}s)")
    mutants = render_mutants()
    (ROOT / "mutants.md").write_text(mutants.markdown)
    docs = ROOT.parent / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "safety-model-by-example.md").write_text(render_teaching(mutants.reports))
    print(f"mutants: {mutants.killed}/{mutants.total} killed")
    return 0 if conforming and mutants.killed == mutants.total else 1


if __name__ == "__main__":
    sys.exit(main())
