"""run_conformance: point pubsafe at a store (or engine) and get one verdict per guarantee.

1. probe the claimed capabilities;
2. run the exhaustive scenarios (every class of interleavings of two actors, at
   store-operation granularity): the races R1–R3 and the GC race R5;
3. run the Hypothesis state machine; when it breaks a guarantee, keep the shrunk
   counterexample, stop checking that guarantee and run again for the others.
A checker that crashes yields UNKNOWN for what it had not decided, never a lost report.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from importlib.metadata import PackageNotFoundError, version

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

from pubsafe.faults import Crash, FaultyStore, Interleaving, explore_reduced
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.layout import blob_key, current_key

from .checks import GuaranteeViolation, Oracle, Violation, check_store, half_updated
from .machine import GRACE, RACE_GUARANTEE, RunSink, StepClock, machine_for, payload, stale_swap
from .probes import PROBE_GUARANTEES, probe_capabilities
from .serving import hostile_serving_violations, staleness_violations
from .target import Target
from .verdicts import CATALOGUE, Counterexample, Report, Status, TimelineEvent, Verdict

__all__ = ["PROFILES", "Profile", "run_conformance", "merge_reports"]


@dataclass(frozen=True)
class Profile:
    examples: int
    steps: int


PROFILES = {
    "quick": Profile(examples=25, steps=12),
    "default": Profile(examples=150, steps=25),
    "thorough": Profile(examples=1000, steps=40),
}


def _pubsafe_version() -> str:
    try:
        return version("pubsafe")
    except PackageNotFoundError:
        return "0+unknown"


def run_conformance(
    target: Target,
    profile: str | Profile = "default",
    *,
    seed_value: int = 0,
    progress: Callable[[int], None] = lambda n: None,
    replay: str | None = None,
    stop_on: set[str] | frozenset[str] = frozenset(),
) -> Report:
    """Check every guarantee against ``target``; see the module docstring.

    ``stop_on``: stop as soon as one of these guarantees is found broken (the
    mutant catalogue uses it; the remaining verdicts are then partial).
    """
    if isinstance(profile, Profile):
        chosen, profile = profile, f"custom({profile.examples}x{profile.steps})"
    elif profile in PROFILES:
        chosen = PROFILES[profile]
    else:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    started = time.perf_counter()
    replay = replay or f"pubsafe check --store {target.name} --profile {profile} --seed {seed_value}" + (
        " --guarded" if target.guarded else ""
    )
    broken: dict[str, Counterexample] = {}
    unknown: dict[str, str] = {}
    sink = RunSink(progress=progress)

    probes = probe_capabilities(target.store_factory, target.cleanup)
    for probe in probes:
        if probe.honoured is False:
            for guarantee in PROBE_GUARANTEES[probe.capability]:
                if guarantee.startswith("R") and not target.guarded:
                    continue
                broken.setdefault(guarantee, Counterexample(
                    message=f"the store claims {probe.capability} but does not honour it: {probe.evidence}",
                    steps=[f"capability probe: {probe.capability}"],
                    replay=replay,
                ))

    for name, scenario in (("serving", _serving_scenarios), ("crashes", _crash_sweep), ("races", _exhaustive_races)):
        if stop_on & broken.keys():
            break
        try:
            scenario(target, sink, broken, replay)
        except Exception as exc:  # noqa: BLE001 - a broken checker is reported, not lost
            unknown[name] = f"the {name} scenarios crashed: {type(exc).__name__}: {exc}"

    for _ in range(len(CATALOGUE)):
        if stop_on & broken.keys():
            break
        skip = frozenset(broken)
        machine = machine_for(target, skip=skip, sink=sink)
        machine = seed(seed_value)(machine)
        output = io.StringIO()
        try:
            with with_reporter(lambda text: output.write(f"{text}\n")):
                run_state_machine_as_test(machine, settings=_settings(chosen))
        except GuaranteeViolation as exc:
            violation = exc.violation
            broken[violation.guarantee] = Counterexample(
                message=violation.message,
                steps=_program(getattr(exc, "__notes__", []), output.getvalue()),
                replay=replay,
                timeline=list(sink.last_timeline[-80:]),
            )
            continue
        except Exception as exc:  # noqa: BLE001
            unknown["machine"] = f"the state machine crashed: {type(exc).__name__}: {exc}"
        break

    return Report(
        pubsafe_version=_pubsafe_version(),
        target=target.name,
        mode=target.mode,
        profile=profile,
        seed=seed_value,
        seconds=round(time.perf_counter() - started, 3),
        probes=probes,
        verdicts=[_verdict(g, target, sink, broken, unknown) for g in CATALOGUE],
    )


def _program(notes: list[str], reported: str) -> list[str]:
    """The failing program Hypothesis printed (as exception notes or reports), minus noise."""
    lines = "\n".join([*notes, reported]).splitlines()
    keep, steps = False, []
    for line in lines:
        if line.startswith("state = "):
            keep, steps = True, []
        if keep and line.startswith(("state", "Draw", " ", ")")) and "guarantees_hold" not in line:
            steps.append(line)
        if line.startswith("state.teardown()"):
            keep = False
    return steps


def _settings(profile: Profile) -> settings:
    return settings(
        max_examples=profile.examples,
        stateful_step_count=profile.steps,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        print_blob=False,
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )


def _expected(guarantee: str, target: Target) -> Status:
    if guarantee in ("R1", "R2", "R3") and target.guarded:
        return Status.HOLDS
    return Status(CATALOGUE[guarantee][1])


def _verdict(
    guarantee: str, target: Target, sink: RunSink, broken: dict[str, Counterexample], unknown: dict[str, str]
) -> Verdict:
    title = CATALOGUE[guarantee][0]
    expected = _expected(guarantee, target)
    coverage = {
        "examples": sink.examples,
        "steps": sink.steps,
        "interleavings": sink.interleavings,
        "crash_points": sink.crash_points,
        "serving_reads": sink.reads,
    }
    if guarantee in broken:
        return Verdict(guarantee=guarantee, title=title, status=Status.BREAKS, expected=expected,
                       coverage=coverage, counterexample=broken[guarantee])
    if unknown:
        return Verdict(guarantee=guarantee, title=title, status=Status.UNKNOWN, expected=expected,
                       coverage=coverage, error="; ".join(unknown.values()))
    if guarantee in sink.witnesses:
        text, timeline = sink.witnesses[guarantee]
        status = Status.DOCUMENTED if expected == Status.DOCUMENTED else Status.BREAKS
        counterexample = None
        if status == Status.BREAKS:
            counterexample = Counterexample(message=text, steps=[text], replay="", timeline=timeline[-80:])
        return Verdict(guarantee=guarantee, title=title, status=status, expected=expected, coverage=coverage,
                       witness=text, counterexample=counterexample)
    if expected == Status.DOCUMENTED:
        # Predicted to break, but never observed: say so rather than claim it holds.
        return Verdict(guarantee=guarantee, title=title, status=Status.HOLDS, expected=expected, coverage=coverage,
                       witness="never observed in this run")
    return Verdict(guarantee=guarantee, title=title, status=Status.HOLDS, expected=expected, coverage=coverage)


def _serving_scenarios(target: Target, sink: RunSink, broken: dict[str, Counterexample], replay: str) -> None:
    for v in staleness_violations(target.reader_factory) + hostile_serving_violations(target.reader_factory, StepClock()):
        sink.reads += 1
        broken.setdefault(v.guarantee, Counterexample(message=v.message, steps=["serving scenario (models.serving)"], replay=replay))


def _crash_sweep(target: Target, sink: RunSink, broken: dict[str, Counterexample], replay: str) -> None:
    """A two-type publish over an existing manifest, crashed before and after every operation."""
    tenant, surface = "acme", "home"
    artifacts = {"model": payload(5), "items": payload(6)}

    def fresh() -> tuple[Any, Callable[[Any], Any], Oracle, StepClock]:
        clock = StepClock()
        store = target.store_factory()
        engine = lambda s: target.engine_factory(s, guarded=target.guarded, clock=clock)  # noqa: E731
        engine(store).publish(tenant, surface, {"model": payload(1), "items": payload(2)})
        return store, engine, Oracle(), clock

    store, engine, _, _ = fresh()
    counter = FaultyStore(store)
    engine(counter).publish(tenant, surface, artifacts)
    operations = len(counter.events)
    target.cleanup(store)
    for index in range(operations):
        for kind in ("crash", "lost-ack"):
            store, engine, oracle, clock = fresh()
            before = store.get(current_key(tenant, surface))
            before_map = json.loads(before)["current"]
            complete = {**before_map, **{t: blob_key(tenant, surface, t, canonicalize(d)[1]) for t, d in artifacts.items()}}
            fault = f"{kind}@{index}"
            timeline: list[TimelineEvent] = []
            faulty = FaultyStore(store, fault)
            try:
                try:
                    engine(faulty).publish(tenant, surface, artifacts)
                except Crash:
                    pass
                timeline = [TimelineEvent(actor="publish", op=e.op, key=e.key, phase=e.phase, mark="crash" if e.fault else "")
                            for e in faulty.events]
                sink.crash_points += 1
                sink.progress(1)
                problems = []
                if (v := half_updated(store, tenant, surface, before, complete)) is not None:
                    problems.append(v)
                problems += check_store(store, oracle)  # also notes records as first seen
                clock.advance(1.0)  # the retry comes later
                try:
                    engine(store).publish(tenant, surface, artifacts)
                    for t, d in artifacts.items():
                        data, version = canonicalize(d)
                        oracle.ack_blob(blob_key(tenant, surface, t, version), data)
                    if half_updated(store, tenant, surface, None, complete) is not None:
                        problems.append(Violation("G3", f"the retry after {fault} did not converge to the full mapping"))
                except Exception as exc:  # noqa: BLE001 - any failure of the retry is the finding
                    problems.append(Violation("G3", f"the retry after {fault} failed: {exc!r}"))
                problems += check_store(store, oracle)
                for v in problems:
                    if v.guarantee not in broken:
                        broken[v.guarantee] = Counterexample(
                            message=f"{fault} during a two-type publish: {v.message}",
                            steps=[f"publish {sorted(artifacts)} over an existing manifest with fault plan {fault!r}",
                                   "retry the same publish with a fresh engine"],
                            replay=replay,
                            timeline=[*timeline, TimelineEvent(actor="checker", op="violation", key=v.guarantee, mark="violation")],
                        )
            finally:
                target.cleanup(store)


def _exhaustive_races(target: Target, sink: RunSink, broken: dict[str, Counterexample], replay: str) -> None:
    """Every class of interleavings of the four two-actor race scenarios."""
    tenant, surface = "acme", "home"
    key = current_key(tenant, surface)

    def scenario(kind: str, prefix: str, policy):  # type: ignore[no-untyped-def]
        clock = StepClock()
        store = target.store_factory()
        engine = lambda s: target.engine_factory(s, guarded=target.guarded, clock=clock)  # noqa: E731
        oracle = Oracle()
        first = engine(store).publish(tenant, surface, {"model": payload(0), "items": payload(1)})
        engine(store).publish(tenant, surface, {"model": payload(2)})
        mine = {"model": payload(3)} if kind != "publish-rollback" else {"items": payload(3)}
        if kind == "publish-gc":
            try:
                engine(FaultyStore(store, "crash@record-write")).publish(tenant, surface, mine)
            except Crash:
                pass
            clock.advance(2 * GRACE)
        other = {
            "same-type": lambda s: engine(s).publish(tenant, surface, {"model": payload(4)}),
            "cross-type": lambda s: engine(s).publish(tenant, surface, {"items": payload(4)}),
            "publish-rollback": lambda s: engine(s).rollback(tenant, surface, to=first.manifest_version),
            "publish-gc": lambda s: engine(s).gc(GRACE),
        }[kind]
        run = Interleaving(store, {"A": lambda s: engine(s).publish(tenant, surface, mine), "B": other}).run(prefix, policy)
        run.store, run.oracle = store, oracle
        return run

    for kind, guarantee in RACE_GUARANTEE.items():
        for run in explore_reduced(lambda prefix, policy, kind=kind: scenario(kind, prefix, policy)):
            sink.interleavings += 1
            sink.progress(1)
            timeline = [TimelineEvent(actor=s.actor, op=s.op, key=s.key, phase=s.phase) for s in run.trace]
            try:
                if kind == "publish-gc":
                    violations = check_store(run.store, run.oracle, skip=frozenset({"G1", "G3"}))
                    if violations and guarantee not in broken:
                        timeline.append(TimelineEvent(actor="checker", op="violation", key="R5", mark="violation"))
                        broken[guarantee] = Counterexample(
                            message=f"schedule {run.schedule!r}: {violations[0].message}",
                            steps=[f"exhaustive scenario {kind}, schedule {run.schedule!r}"],
                            replay=replay,
                            timeline=timeline,
                        )
                    continue
                text = stale_swap(run, key)
                if text is not None:
                    if target.guarded and guarantee not in broken:
                        broken[guarantee] = Counterexample(
                            message=f"guarded mode let a stale swap through: {text}",
                            steps=[f"exhaustive scenario {kind}"], replay=replay, timeline=timeline)
                    sink.witness(guarantee, f"{kind} scenario, {text}", timeline)
            finally:
                target.cleanup(run.store)



def merge_reports(reports: list[Report]) -> Report:
    """Combine runs of independent seeds: the first counterexample or witness wins."""
    first = reports[0]
    merged = []
    for i, guarantee in enumerate(CATALOGUE):
        verdicts = [r.verdicts[i] for r in reports]
        coverage: dict[str, int] = {}
        for v in verdicts:
            for key, n in v.coverage.items():
                coverage[key] = coverage.get(key, 0) + n
        pick = (
            next((v for v in verdicts if v.status == Status.BREAKS), None)
            or next((v for v in verdicts if v.status == Status.UNKNOWN), None)
            or next((v for v in verdicts if v.status == Status.DOCUMENTED), None)
            or verdicts[0]
        )
        merged.append(pick.model_copy(update={"coverage": coverage}))
    probes = [
        next((p for p in (r.probes[i] for r in reports) if p.honoured is False), first.probes[i])
        for i in range(len(first.probes))
    ]
    return first.model_copy(update={
        "verdicts": merged,
        "probes": probes,
        "seconds": max(r.seconds for r in reports),
        "seed": first.seed,
    })
