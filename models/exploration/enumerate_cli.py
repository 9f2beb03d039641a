"""The command line of the exhaustive enumeration: ``python -m
pubsafe.models.exploration.enumerate`` (or ``.enumerate_cli``); prints the counts per
scenario, with progress on stderr for long runs."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from .enumerate import TooManyStates, enumerate_race
from .races import RACES, two_sweeps

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pubsafe.models.exploration.enumerate",
        description="Run every interleaving and crash point of the two-actor race scenarios; print the counts. "
        "Exit 1 if a run broke a guarantee, 2 if a full enumeration hit --max-states.",
    )
    parser.add_argument("--scenario", choices=sorted([*RACES, "two-sweeps"]), action="append",
                        help="default: the four races; two-sweeps (two GC sweeps on clocks an hour ahead of and "
                             "behind the store's, and a publish) is run only when named")
    parser.add_argument("--no-crashes", action="store_true", help="interleavings only")
    parser.add_argument(
        "--full",
        action="store_true",
        help="every interleaving, not one per class of equivalent ones; explored state by state, in seconds",
    )
    parser.add_argument("--max-states", type=int, default=1_000_000, metavar="N",
                        help="with --full, stop a scenario after N distinct states, about 4 KB of memory each "
                        "(default: %(default)s)")
    args = parser.parse_args(argv)
    if args.max_states < 1:
        parser.error("--max-states must be at least 1")
    violations = stopped = False
    print(f"{'scenario':<18} {'interleavings':>13} {'crash points':>12} {'runs':>7} {'violations':>10} {'seconds':>8}")
    for name in args.scenario or list(RACES):
        try:
            scenario = two_sweeps(3600.0) if name == "two-sweeps" else RACES[name]
            counts = enumerate_race(scenario, crashes=not args.no_crashes, full=args.full,
                                    progress=_progress(name), max_states=args.max_states)
        except TooManyStates as exc:
            print(f"{exc}; enumerate it without --full (one interleaving per class), or raise --max-states")
            stopped = True
            continue
        print(
            f"{name:<18} {counts.interleavings:>13} {counts.crash_points:>12} {counts.runs:>7} "
            f"{len(counts.violations):>10} {counts.seconds:>8.1f}"
        )
        for line in counts.violations[:5]:
            print(f"    {line}")
        violations |= bool(counts.violations)
    return 1 if violations else 2 if stopped else 0


def _progress(name: str, every: float = 5.0) -> Callable[[int], None]:
    """Every few seconds, on stderr: how far a long enumeration has got."""
    started = last = time.monotonic()
    done = 0

    def tick(n: int) -> None:
        nonlocal last, done
        done += n
        if (now := time.monotonic()) - last >= every:
            last = now
            print(f"  {name}: {done:,} runs judged, {now - started:.0f} s", file=sys.stderr, flush=True)

    return tick


if __name__ == "__main__":
    sys.exit(main())
