"""Exhaustive interleavings × crash points of the race scenarios, with counts.

    python -m pubsafe.models.enumerate [--scenario NAME] [--no-crashes] [--full]

For each race of ``models.scenarios`` it runs the reference engine over a memory
store: one interleaving of the two actors' store operations per class of equivalent
ones (``--full``: every interleaving), then every crash point: each distinct prefix
of those schedules, with the actor that moves last crashing before its operation or
right after it (lost ack). After each run a crashed actor is retried by a fresh
engine and the checkers judge the store. It prints how many interleavings and crash
points exist, how many ran, and how many runs broke a guarantee (expected: none).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pubsafe.faults import Crash, FaultyStore, Interleaving, RunResult, explore, explore_reduced
from pubsafe.faults.scheduler import Policy
from pubsafe.refimpl import Engine, MemoryStore
from pubsafe.refimpl.gc import LEASE_SECONDS
from pubsafe.refimpl.store import Store

from .checkers import check_store
from .checkers.retry import retry_failed
from .oracle import Oracle
from .scenarios import RACES, Race, RaceScenario, StepClock

__all__ = ["Counts", "enumerate_race", "crash_points"]


@dataclass
class Counts:
    scenario: str
    interleavings: int = 0
    crash_points: int = 0
    runs: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def crash_points(schedules: list[str]) -> Iterator[tuple[str, tuple[str, str]]]:
    """Each distinct prefix, crashing its last actor before or after that operation."""
    prefixes = sorted({s[:i] for s in schedules for i in range(1, len(s) + 1)})
    for prefix in prefixes:
        actor = prefix[-1]
        own_index = prefix.count(actor) - 1
        for kind in ("crash", "lost-ack"):
            yield prefix, (actor, f"{kind}@{own_index}")


def _run(race: Race, prepared: MemoryStore, schedule: str, fault: tuple[str, str] | None = None,
         policy: Policy | None = None) -> tuple[RunResult, Race]:
    """Run the race from a copy of the prepared store (one setup, many runs)."""
    copy = dataclasses.replace(race, store=prepared.copy())

    def wrap(name: str, gated: Store) -> Store:
        return FaultyStore(gated, fault[1]) if fault is not None and fault[0] == name else gated

    return Interleaving(copy.store, copy.actors, wrap=wrap).run(schedule, policy), copy


def _check(race: Race, result: RunResult, clock: StepClock) -> list[str]:
    problems = [str(v) for v in race.judge(result, guarded=False)[0]]
    # Recovery comes later: once a crashed sweep's lease has expired.
    later = lambda: clock() + LEASE_SECONDS + 1  # noqa: E731
    for name, outcome in result.outcomes.items():
        if isinstance(outcome.error, Crash):
            try:
                race.actions[name](Engine(race.store, clock=later))  # the same request, a fresh engine
            except Exception as exc:  # noqa: BLE001 - a failed recovery is a finding
                problems.append(str(retry_failed(f"a crash of {name}", exc)))
    return problems + [str(v) for v in check_store(race.store, Oracle())]


def enumerate_race(
    scenario: RaceScenario,
    *,
    crashes: bool = True,
    full: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> Counts:
    """Run a race's interleavings (one per equivalence class unless ``full``) and crash points."""
    counts = Counts(scenario.name)
    started = time.perf_counter()
    clock = StepClock()
    race = scenario.prepare(MemoryStore(clock=clock), lambda s: Engine(s, clock=clock), clock)
    prepared = race.store
    assert isinstance(prepared, MemoryStore)
    finished: dict[str, Race] = {}  # each explored run, checked as it is (a schedule replays exactly)

    def run(prefix: str, policy: Policy | None = None) -> RunResult:
        result, copy = _run(race, prepared, prefix, policy=policy)
        finished[result.schedule] = copy
        return result

    results = list(explore(run) if full else explore_reduced(run))
    counts.interleavings = len(results)
    for result in results:
        counts.runs += 1
        progress(1)
        counts.violations += [f"{result.schedule}: {p}" for p in _check(finished[result.schedule], result, clock)]
    if crashes:
        points = list(crash_points([result.schedule for result in results]))
        counts.crash_points = len(points)
        for prefix, fault in points:
            result, copy = _run(race, prepared, prefix, fault)
            counts.runs += 1
            progress(1)
            counts.violations += [f"{prefix} {fault[1]} on {fault[0]}: {p}" for p in _check(copy, result, clock)]
    counts.seconds = time.perf_counter() - started
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pubsafe.models.enumerate",
        description="Run every interleaving and crash point of the two-actor race scenarios; print the counts.",
    )
    parser.add_argument("--scenario", choices=sorted(RACES), action="append", help="default: all")
    parser.add_argument("--no-crashes", action="store_true", help="interleavings only")
    parser.add_argument(
        "--full",
        action="store_true",
        help="every interleaving, not one per class of equivalent ones (slow: minutes)",
    )
    args = parser.parse_args(argv)
    failed = False
    print(f"{'scenario':<18} {'interleavings':>13} {'crash points':>12} {'runs':>7} {'violations':>10} {'seconds':>8}")
    for name in args.scenario or list(RACES):
        counts = enumerate_race(RACES[name], crashes=not args.no_crashes, full=args.full)
        print(
            f"{name:<18} {counts.interleavings:>13} {counts.crash_points:>12} {counts.runs:>7} "
            f"{len(counts.violations):>10} {counts.seconds:>8.1f}"
        )
        for line in counts.violations[:5]:
            print(f"    {line}")
        failed |= bool(counts.violations)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
