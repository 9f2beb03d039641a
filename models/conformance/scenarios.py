"""The fixed scenarios a check runs before the state machine, against the target:
serving (stale caches, hostile manifests), name collisions, the crash sweep, and
every race scenario's interleavings, one of each class of equivalent ones (several
at once on a remote store: ``Target.parallel_runs``). What each finds is recorded in
``broken`` as the guarantee's counterexample; what each exercised is counted in the
run's ``RunSink``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pubsafe.faults import Event, Interleaving, RunResult, explore_reduced
from pubsafe.refimpl import MemoryStore
from pubsafe.refimpl.store import Store

from ..checkers import Violation
from ..exploration import (
    COLLIDING_SLOTS,
    RACES,
    Race,
    RaceScenario,
    StepClock,
    crash_sweep,
    name_collisions,
    serving_violations,
)
from ..guarantees import Guarantee
from ..machine import RunSink
from ..target import Target
from ..verdicts import Counterexample

__all__ = ["Broken", "SCENARIOS", "record"]

Broken = dict[Guarantee, Counterexample]


def record(broken: Broken, violation: Violation, steps: list[str], replay: str, history: list[Event]) -> None:
    if violation.guarantee not in broken:
        marker = Event("checker", "violation", str(violation.guarantee), result="violation", time=len(history))
        broken[violation.guarantee] = Counterexample(message=violation.message, steps=steps, replay=replay,
                                                     timeline=[*history, marker])


def serving(target: Target, sink: RunSink, broken: Broken, replay: str) -> None:
    sink.serving_scenarios += 1
    for violation in serving_violations(target.reader_factory):
        record(broken, violation, ["serving scenario (models.exploration.serving_violations)"], replay, [])


def names(target: Target, sink: RunSink, broken: Broken, replay: str) -> None:
    for violation in name_collisions(target.store_factory, target.engine_for, target.reader_factory, target.cleanup):
        record(broken, violation, ["names scenario (models.exploration.name_collisions): one publish to each of "
                                    f"{COLLIDING_SLOTS}"], replay, [])


def crashes(target: Target, sink: RunSink, broken: Broken, replay: str) -> None:
    for point in crash_sweep(target.store_factory, target.engine_for, target.cleanup, width=target.parallel_runs):
        sink.crash_points += 1
        sink.progress(1)
        steps = [f"publish ['items', 'model'] over an existing manifest with fault plan {point.fault!r}",
                 "retry the same publish with a fresh engine"]
        for violation in point.violations:
            message = f"{point.fault} during a two-type publish: {violation.message}"
            record(broken, Violation(violation.guarantee, message, violation.key), steps, replay, point.history)


def races(target: Target, sink: RunSink, broken: Broken, replay: str) -> None:
    """One interleaving of every class of equivalent ones, for each race scenario
    (several at once on a remote store: ``Target.parallel_runs``).

    On a remote store the schedules are planned in memory first: the reduction runs
    each scenario over a MemoryStore, and only the schedules it keeps run on the
    store (its redundant runs cost 3 of every 4 requests of this phase). Each of them
    must then follow, operation by operation, the trace it had in memory; if one does
    not, the store (or the engine on it) behaves otherwise, and the scenario is
    explored on the store itself, as on a local one.
    """
    for scenario in RACES.values():
        planned = _planned(target, scenario) if target.parallel_runs > 1 else None
        if planned is None or not _run_planned(target, scenario, planned, sink, broken, replay):
            _explore_on_store(target, scenario, sink, broken, replay)


def _prepared(target: Target, scenario: RaceScenario,
              store_for: Callable[[StepClock], Store] | None = None) -> Race:
    """The scenario set up on a fresh store (the target's own, unless ``store_for`` gives one)."""
    clock = StepClock()
    store = store_for(clock) if store_for is not None else target.store_factory()
    return scenario.prepare(store, target.engine_for(clock), clock)


def _signature(result: RunResult) -> list[tuple[str, str, str, str]]:
    return [(e.actor, e.op, e.key, e.result) for e in result.trace]


def _planned(target: Target, scenario: RaceScenario) -> list[RunResult] | None:
    """The runs the reduction keeps, explored over a MemoryStore with the target's
    engine; None if the engine fails there (only what happens on the store is judged)."""
    def run(prefix: str, policy):
        race = _prepared(target, scenario, lambda clock: MemoryStore(clock=clock))
        return Interleaving(race.store, race.actors).run(prefix, policy)

    try:
        return list(explore_reduced(run))
    except Exception:  # noqa: BLE001 - then the scenario is explored on the store, and judged there
        return None


def _run_planned(target: Target, scenario: RaceScenario, planned: list[RunResult], sink: RunSink, broken: Broken,
                 replay: str) -> bool:
    """Run the planned schedules on the store and judge them; False (nothing judged,
    nothing left behind) if one did not follow its planned trace."""
    def run(plan: RunResult) -> tuple[RunResult, Race]:
        race = _prepared(target, scenario)
        try:
            return Interleaving(race.store, race.actors).run(plan.schedule), race
        except BaseException:
            target.cleanup(race.store)
            raise

    with ThreadPoolExecutor(max_workers=target.parallel_runs, thread_name_prefix="race") as pool:
        futures = [pool.submit(run, plan) for plan in planned]
    done, errors = [], []
    for future in futures:
        try:
            done.append(future.result())
        except BaseException as exc:  # noqa: BLE001 - raised below, once every store is torn down
            errors.append(exc)
    if errors or any(_signature(result) != _signature(plan) for (result, _), plan in zip(done, planned, strict=False)):
        for _, race in done:
            target.cleanup(race.store)
        if errors:
            raise errors[0]
        return False
    for result, race in done:
        _judge_run(target, scenario, result, race, sink, broken, replay)
    return True


def _judge_run(target: Target, scenario: RaceScenario, result: RunResult, race: Race, sink: RunSink, broken: Broken,
               replay: str) -> None:
    """Judge one run of a race scenario, then tear its store down."""
    sink.interleaving(scenario.guarantee)
    sink.progress(1)
    history = scenario.history(result.trace)
    try:
        violations, witness = race.judge(result, guarded=target.guarded)
        for violation in violations:
            steps = [f"exhaustive scenario {scenario.name}, schedule {result.schedule!r}"]
            record(broken, violation, steps, replay, history)
        if witness is not None:
            sink.witness(scenario.guarantee, witness, history)
    finally:
        target.cleanup(race.store)


def _explore_on_store(target: Target, scenario: RaceScenario, sink: RunSink, broken: Broken, replay: str) -> None:
    """The reduction run on the store itself (redundant runs included, then discarded)."""
    prepared: dict[int, Race] = {}  # id(result) -> its race, until judged or discarded
    lock = threading.Lock()

    def run(prefix: str, policy):
        race = _prepared(target, scenario)
        result = Interleaving(race.store, race.actors).run(prefix, policy)
        with lock:
            prepared[id(result)] = race
        return result

    def discard(result):
        target.cleanup(prepared.pop(id(result)).store)  # a run the reduction found redundant

    try:
        for result in explore_reduced(run, width=target.parallel_runs, discard=discard):
            _judge_run(target, scenario, result, prepared.pop(id(result)), sink, broken, replay)
    finally:
        for race in prepared.values():  # runs left unjudged by an error
            target.cleanup(race.store)


#: The fixed scenarios in the order a check runs them: (name, what the progress line calls it, the run)
SCENARIOS: tuple[tuple[str, str, Callable[[Target, RunSink, Broken, str], None]], ...] = (
    ("serving", "serving scenarios", serving),
    ("names", "name collisions", names),
    ("crashes", "crash sweep", crashes),
    ("races", "race interleavings", races),
)
