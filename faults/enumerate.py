"""Exhaustive interleavings × crash points for small scenarios, with counts.

    python -m pubsafe.faults.enumerate [--scenario NAME] [--no-crashes]

For each scenario (two publishers of the same type, of different types, a publish
racing a rollback) it runs one interleaving of the two actors' store operations per
class of equivalent ones (``--full``: every interleaving), then every crash point:
each distinct prefix of those schedules, with the actor that moves last crashing
before its operation or right after it (lost ack). After
each run the crashed actor is retried by a fresh engine and the store is audited.
It prints how many interleavings and crash points exist, how many ran, and how many
runs broke a guarantee (expected: none).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pubsafe.refimpl import Engine, MemoryStore
from pubsafe.refimpl.store import Store

from .crash import Crash
from .scheduler import Interleaving, Policy, RunResult, explore, explore_reduced
from .store import FaultyStore

__all__ = ["Scenario", "SCENARIOS", "Counts", "enumerate_scenario", "crash_points"]

T, S = "acme", "home"
Action = Callable[[Store], Any]


@dataclass(frozen=True)
class Scenario:
    """Two actors over a store prepared by ``setup``."""

    name: str
    description: str
    setup: Callable[[Store], None]
    actors: dict[str, Action]


def _seed(store: Store) -> None:
    engine = Engine(store)
    engine.publish(T, S, FIRST)
    engine.publish(T, S, {"model": 1})


FIRST = {"model": 0, "items": 0}
# Roll back by version, not by steps: a retried "steps=1" after a lost ack would go
# back twice, while "to=<version>" is idempotent.
FIRST_VERSION = Engine(MemoryStore()).publish(T, S, FIRST).manifest_version


SCENARIOS = {
    s.name: s
    for s in [
        Scenario(
            "same-type",
            "two publishers of the same type (R1: last swap wins)",
            _seed,
            {"A": lambda st: Engine(st).publish(T, S, {"model": 2}), "B": lambda st: Engine(st).publish(T, S, {"model": 3})},
        ),
        Scenario(
            "cross-type",
            "two publishers of different types (R2: lost update)",
            _seed,
            {"A": lambda st: Engine(st).publish(T, S, {"model": 2}), "B": lambda st: Engine(st).publish(T, S, {"items": 3})},
        ),
        Scenario(
            "publish-rollback",
            "a publish racing a rollback (R3: rollback undone)",
            _seed,
            {"A": lambda st: Engine(st).publish(T, S, {"items": 2}), "B": lambda st: Engine(st).rollback(T, S, to=FIRST_VERSION)},
        ),
    ]
}


@dataclass
class Counts:
    scenario: str
    interleavings: int = 0
    crash_points: int = 0
    runs: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _prepared(scenario: Scenario) -> MemoryStore:
    store = MemoryStore()
    scenario.setup(store)
    return store


def _run(
    prepared: MemoryStore,
    scenario: Scenario,
    schedule: str,
    fault: tuple[str, str] | None = None,
    policy: Policy | None = None,
) -> tuple[RunResult, Store]:
    store = prepared.copy()

    def wrap(name: str, gated: Store) -> Store:
        if fault is None or fault[0] != name:
            return gated
        return FaultyStore(gated, fault[1])

    return Interleaving(store, scenario.actors, wrap=wrap).run(schedule, policy), store


def _check(scenario: Scenario, result: RunResult, store: Store) -> list[str]:
    problems = []
    for name, outcome in result.outcomes.items():
        if isinstance(outcome.error, Crash):
            try:
                scenario.actors[name](store)  # recovery: the same request, a fresh engine
            except Exception as exc:  # noqa: BLE001 - a failed recovery is a finding
                problems.append(f"{name} retry after crash failed: {exc!r}")
        elif outcome.error is not None:
            problems.append(f"{name} failed: {outcome.error!r}")
    problems += [f"{f.guarantee} {f.key}: {f.message}" for f in Engine(store).audit()]
    return problems


def crash_points(schedules: list[str]) -> Iterator[tuple[str, tuple[str, str]]]:
    """Each distinct prefix, crashing its last actor before or after that operation."""
    prefixes = sorted({s[:i] for s in schedules for i in range(1, len(s) + 1)})
    for prefix in prefixes:
        actor = prefix[-1]
        own_index = prefix.count(actor) - 1
        for kind in ("crash", "lost-ack"):
            yield prefix, (actor, f"{kind}@{own_index}")


def enumerate_scenario(
    scenario: Scenario,
    *,
    crashes: bool = True,
    full: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> Counts:
    """Run a scenario's interleavings (one per equivalence class unless ``full``)."""
    counts = Counts(scenario.name)
    started = time.perf_counter()
    prepared = _prepared(scenario)
    stores: dict[str, Store] = {}  # each explored run's final store, checked below

    def run(prefix: str, policy: Policy | None = None) -> RunResult:
        result, store = _run(prepared, scenario, prefix, policy=policy)
        stores[result.schedule] = store  # a schedule replays exactly: same schedule, same store
        return result

    results = list(explore(run) if full else explore_reduced(run))
    counts.interleavings = len(results)
    for result in results:
        counts.runs += 1
        progress(1)
        counts.violations += [f"{result.schedule}: {p}" for p in _check(scenario, result, stores[result.schedule])]
    if crashes:
        points = list(crash_points([result.schedule for result in results]))
        counts.crash_points = len(points)
        for prefix, fault in points:
            result, store = _run(prepared, scenario, prefix, fault)
            counts.runs += 1
            progress(1)
            counts.violations += [f"{prefix} {fault[1]} on {fault[0]}: {p}" for p in _check(scenario, result, store)]
    counts.seconds = time.perf_counter() - started
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pubsafe.faults.enumerate",
        description="Run every interleaving and crash point of small two-actor scenarios; print the counts.",
    )
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append", help="default: all")
    parser.add_argument("--no-crashes", action="store_true", help="interleavings only")
    parser.add_argument(
        "--full",
        action="store_true",
        help="every interleaving, not one per class of equivalent ones (slow: minutes)",
    )
    args = parser.parse_args(argv)
    failed = False
    print(f"{'scenario':<18} {'interleavings':>13} {'crash points':>12} {'runs':>7} {'violations':>10} {'seconds':>8}")
    for name in args.scenario or list(SCENARIOS):
        counts = enumerate_scenario(SCENARIOS[name], crashes=not args.no_crashes, full=args.full)
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
