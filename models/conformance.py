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
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

from faults import Crash, FaultyStore, Interleaving, explore_reduced
from refimpl.layout import current_key

from .checks import GuaranteeViolation, Oracle, check_store
from .machine import GRACE, RACE_GUARANTEE, RunSink, StepClock, machine_for, payload, stale_swap
from .probes import PROBE_GUARANTEES, probe_capabilities
from .target import Target
from .verdicts import CATALOGUE, Counterexample, Report, Status, TimelineEvent, Verdict

__all__ = ["PROFILES", "Profile", "run_conformance"]


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
    profile: str = "default",
    *,
    seed_value: int = 0,
    progress: Callable[[int], None] = lambda n: None,
    replay: str | None = None,
) -> Report:
    """Check every guarantee against ``target``; see the module docstring."""
    if profile not in PROFILES:
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

    try:
        _exhaustive_races(target, sink, broken, replay)
    except Exception as exc:  # noqa: BLE001 - a broken checker is reported, not lost
        unknown["races"] = f"exhaustive race scenarios crashed: {exc!r}"

    for _ in range(len(CATALOGUE)):
        skip = frozenset(broken)
        machine = machine_for(target, skip=skip, sink=sink)
        machine = seed(seed_value)(machine)
        output = io.StringIO()
        try:
            with with_reporter(lambda text: output.write(f"{text}\n")):
                run_state_machine_as_test(machine, settings=_settings(PROFILES[profile]))
        except GuaranteeViolation as exc:
            violation = exc.violation
            broken[violation.guarantee] = Counterexample(
                message=violation.message,
                steps=[line for line in output.getvalue().splitlines() if line.strip()],
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


def _settings(profile: Profile) -> settings:
    return settings(
        max_examples=profile.examples,
        stateful_step_count=profile.steps,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        print_blob=False,
        phases=[Phase.generate, Phase.shrink],
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
                    sink.witness(guarantee, text, timeline)
            finally:
                target.cleanup(run.store)

