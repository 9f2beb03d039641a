"""``pubsafe check``: the conformance run behind the CLI, with progress and workers."""

from __future__ import annotations

import json
import os
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pubsafe.models import Report, run_conformance, target_from_spec
from pubsafe.models.conformance import merge_reports

from .inputs import check_report_directory

__all__ = ["check_command"]


def _run_one(spec: str, engine: str | None, reader: str | None, guarded: bool, profile: str, seed: int,
             keep: bool, fixed: bool) -> Report:
    target = target_from_spec(spec, engine=engine, reader=reader, guarded=guarded, keep=keep)
    return run_conformance(target, profile, seed_value=seed, fixed=fixed,
                           replay=_replay(target, spec, engine, reader, guarded, profile, seed))


def _replay(target, spec: str, engine: str | None, reader: str | None, guarded: bool, profile: str,  # type: ignore[no-untyped-def]
            seed: int) -> str:
    """One command that replays the run from a fresh shell (the import path included)."""
    words = ["pubsafe check", f"--store {shlex.quote(spec)}", f"--profile {profile}", f"--seed {seed}"]
    words += [f"--engine {shlex.quote(engine)}"] if engine else []
    words += [f"--reader {shlex.quote(reader)}"] if reader else []
    words += ["--guarded"] if guarded else []
    if target.import_paths:
        words.insert(0, "PYTHONPATH=" + shlex.quote(os.pathsep.join(target.import_paths)))
    return " ".join(words)


def _run_with_progress(spec: str, args, seed: int) -> Report:  # type: ignore[no-untyped-def]
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


def check_command(args) -> int:  # type: ignore[no-untyped-def]
    from pubsafe.reports import write_reports

    _keep_hypothesis_out_of_the_working_directory()
    check_report_directory(args.report)

    if args.workers < 1 or args.seeds < 1:
        raise ValueError("--workers and --seeds must be at least 1")
    worst = 0
    summary = []
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
        if args.report:
            directory = Path(args.report) / (_slug(spec) if len(args.store) > 1 else "")
            paths = write_reports(report, directory)
            print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
        for line in report.leftovers:
            print(f"pubsafe: warning: {spec}: {line}", file=sys.stderr)
        summary.append(report)
        worst = max(worst, 0 if report.conforming else 1)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") | {"conforming": r.conforming} for r in summary], indent=2))
    else:
        from .printing import print_report

        for report in summary:
            print_report(report, args.format)
    return worst


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
