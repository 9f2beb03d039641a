"""``pubsafe merge``: one report from the report.json files of shards or seeds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pubsafe.models import Report
from pubsafe.models.conformance import merge_reports

__all__ = ["merge_command"]


def merge_command(args: argparse.Namespace) -> int:
    """``pubsafe merge``: one report from the report.json files of shards or seeds."""
    from pydantic import ValidationError

    from pubsafe.refimpl.errors import InvalidInput
    from pubsafe.reports import write_reports

    from .inputs import check_report_directory

    check_report_directory(args.report)

    from .printing import print_report

    reports = []
    paths = [Path(name) / "report.json" if Path(name).is_dir() else Path(name) for name in args.reports]
    if args.report and (out := (Path(args.report) / "report.json").resolve()) in {p.resolve() for p in paths}:
        raise InvalidInput(f"--report {args.report} would overwrite the input {out.name} there with the merged "
                           "report (a later merge would count it twice); write the merge to a directory of its own")
    for path in paths:
        try:
            reports.append(Report.model_validate_json(path.read_bytes()))
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
        except ValidationError as exc:
            raise InvalidInput(f"{path} is not a pubsafe report.json ({exc.error_count()} problem(s), first: "
                               f"{exc.errors()[0]['loc']}: {exc.errors()[0]['msg']})") from None
    first = reports[0]
    for path, other in zip(args.reports, reports, strict=True):
        differs = [f for f in ("target", "mode", "profile") if getattr(other, f) != getattr(first, f)]
        if differs or len(other.verdicts) != len(first.verdicts) or (
                other.probes and first.probes and len(other.probes) != len(first.probes)):
            raise InvalidInput(f"{path} is a report of another run ({', '.join(differs) or 'other guarantees'} "
                               f"differ from {args.reports[0]}); merge only shards of one target, mode and profile")
    seen: dict[int, str] = {}
    for path, other in zip(args.reports, reports, strict=True):
        for seed in other.seeds or [other.seed]:
            if seed in seen:
                raise InvalidInput(f"seed {seed} is in both {seen[seed]} and {path}: merging it twice would "
                                   "count its coverage twice")
            seen[seed] = path
    merged = merge_reports(reports)
    written = []
    if args.report:
        written = write_reports(merged, args.report)
        print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    if args.json:
        print(json.dumps(merged.model_dump(mode="json") | {"conforming": merged.conforming}, indent=2))
    else:
        print_report(merged, args.format, written)
    if not merged.conforming:
        from .check import why_not

        print(f"pubsafe: exit 1: {merged.target} is NOT CONFORMING: {why_not(merged)}", file=sys.stderr)
    return 0 if merged.conforming else 1
