"""``pubsafe check``: the conformance run behind the CLI, with progress and workers."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pubsafe.models import Report, run_conformance, target_from_spec
from pubsafe.models.conformance import merge_reports
from pubsafe.models.target import Target

from .inputs import check_report_directory

__all__ = ["check_command"]


def _run_one(spec: str, engine: str | None, reader: str | None, guarded: bool, profile: str, seed: int,
             keep: bool, fixed: bool) -> Report:
    target = target_from_spec(spec, engine=engine, reader=reader, guarded=guarded, keep=keep)
    return run_conformance(target, profile, seed_value=seed, fixed=fixed,
                           replay=_replay(target, spec, engine, reader, guarded, profile, seed))


def _replay(target: Target, spec: str, engine: str | None, reader: str | None, guarded: bool, profile: str,
            seed: int) -> str:
    """One command that replays the run from a fresh shell (the import path included)."""
    words = ["pubsafe check", f"--store {shlex.quote(spec)}", f"--profile {profile}", f"--seed {seed}"]
    words += [f"--engine {shlex.quote(engine)}"] if engine else []
    words += [f"--reader {shlex.quote(reader)}"] if reader else []
    words += ["--guarded"] if guarded else []
    if target.import_paths:
        words.insert(0, "PYTHONPATH=" + shlex.quote(os.pathsep.join(target.import_paths)))
    return " ".join(words)


def _run_with_progress(spec: str, args: argparse.Namespace, seed: int) -> Report:
    from .progress import RunProgress

    target = target_from_spec(spec, engine=args.engine, reader=args.reader, guarded=args.guarded, keep=args.keep)
    with RunProgress(f"checking {spec} (seed {seed})") as progress:
        return run_conformance(
            target, args.profile, seed_value=seed, progress=progress.advance, phase=progress.phase,
            fixed=seed == args.seed,
            replay=_replay(target, spec, args.engine, args.reader, args.guarded, args.profile, seed),
        )


def _keep_hypothesis_out_of_the_working_directory() -> None:
    """Hypothesis caches under ./.hypothesis unless told otherwise; a check should not
    litter the directory it runs in (HYPOTHESIS_STORAGE_DIRECTORY, if set, wins)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(cache, "pubsafe", "hypothesis"))


def check_command(args: argparse.Namespace) -> int:
    from pubsafe.reports import write_reports

    _keep_hypothesis_out_of_the_working_directory()
    check_report_directory(args.report)

    if args.workers < 1 or args.seeds < 1:
        raise ValueError("--workers and --seeds must be at least 1")
    worst = 0
    summary = []
    written: list[list[Path]] = []
    for spec in args.store:
        # Fail fast: a typo, an adapter that breaks the basic contract, --guarded without CAS.
        target_from_spec(spec, engine=args.engine, reader=args.reader, guarded=args.guarded)
        seeds = _shard([args.seed + i for i in range(args.seeds)], args.shard)
        if len(seeds) == 1:
            report = _run_with_progress(spec, args, seeds[0])
            if args.shard:
                report.seeds = seeds
        else:
            with ProcessPoolExecutor(max_workers=args.workers) as pool:
                # the probes, the contract and the fixed scenarios do not depend on the seed: once per check
                futures = [pool.submit(_run_one, spec, args.engine, args.reader, args.guarded, args.profile, s,
                                       args.keep, s == args.seed) for s in seeds]
                report = merge_reports([f.result() for f in futures])
        if len(seeds) > 1 or args.shard:
            print(f"{spec}: seeds {', '.join(map(str, seeds))}" + (f" (shard {args.shard})" if args.shard else "")
                  + (" merged" if len(seeds) > 1 else "")
                  + ("; the probes, the contract and the fixed scenarios run in shard 1" if args.seed not in seeds
                     else ""), file=sys.stderr)
        paths: list[Path] = []
        if args.report:
            directory = Path(args.report) / (_slug(spec) if len(args.store) > 1 else "")
            paths = write_reports(report, directory)
            print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
        for line in report.leftovers:  # each looked for again after its removal failed: really there
            print(f"pubsafe: warning: {spec}: {line}; remove it by hand", file=sys.stderr)
        summary.append(report)
        written.append(paths)
        worst = max(worst, 0 if report.conforming else 1)
    try:
        if args.json:
            print(json.dumps([r.model_dump(mode="json") | {"conforming": r.conforming} for r in summary], indent=2))
        else:
            from .printing import print_report

            for report, paths in zip(summary, written, strict=True):
                print_report(report, args.format, paths)
    except BrokenPipeError:  # `| head`: the run is over, say how it ended where the reader still looks
        print(f"pubsafe: the output was cut short (exit 141); the check itself finished: "
              f"{verdicts(summary)}", file=sys.stderr)
        raise
    for report in summary:
        if not report.conforming:
            print(f"pubsafe: exit 1: {report.target} is NOT CONFORMING: {why_not(report)}", file=sys.stderr)
    return worst


def verdicts(reports: list[Report]) -> str:
    return "; ".join(f"{r.target} {'CONFORMING' if r.conforming else 'NOT CONFORMING'}" for r in reports)


def why_not(report: Report) -> str:
    """The exit code's reason in one line: the root causes, by class, with what they broke."""
    from pubsafe.reports.diagnosis import diagnose

    causes = diagnose(report)
    said = "; ".join(f"{d.fix.title} ({', '.join(g.value for g in d.guarantees)})" for d in causes)
    if causes and all(v.as_expected for v in report.verdicts):
        said += " - every guarantee came out as expected; the claim or contract check above is what fails"
    return said or "see the report"


def _shard(seeds: list[int], shard: str | None) -> list[int]:
    """The seeds of shard ``I/N``: every N-th, from the I-th (1-based)."""
    if not shard:
        return seeds
    try:
        index, count = (int(part) for part in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard {shard!r}: write I/N, for example 1/4") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {shard!r}: I must be between 1 and N")
    if count > len(seeds):
        raise ValueError(f"--shard {shard!r}: {count} shards need at least {count} --seeds (got {len(seeds)})")
    return seeds[index - 1::count]


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in spec).strip("-") or "store"
