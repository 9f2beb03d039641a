"""run_conformance: point pubsafe at a store (or engine) and get one verdict per guarantee.

1. probe the claimed capabilities;
2. run the fixed scenarios of ``models.exploration``: serving, the crash sweep, and one
   interleaving of every class of equivalent interleavings of the two-actor races;
3. run the Hypothesis state machine; when it breaks a guarantee, keep the shrunk
   counterexample, stop checking that guarantee and run again for the others (on a
   remote store planned on a local model and replayed several examples at once, the
   same run: ``planned``).
A checker that crashes yields UNKNOWN for what it had not decided, never a lost report.
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.reporting import with_reporter

from pubsafe.refimpl.errors import AlreadyExists, Conflict, ObjectNotFound, StoreError

from ..checkers import GuaranteeViolation
from ..checkers.reading import reads_in_flight
from ..failures import NOT_JUDGED, failure_in
from ..guarantees import Guarantee, Status
from ..machine.publish_machine import PublishMachine, RunSink, replay_program
from ..target import Target
from ..verdicts import ContractResult, Counterexample, ProbeResult, Report, Verdict
from .environment import environment, no_local_constants, pubsafe_version
from .planned import run_machine
from .probes import PROBE_GUARANTEES, check_contract, probe_capabilities
from .scenarios import SCENARIOS, Broken, record

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

def preflight(target: Target) -> None:
    """One write, read and delete before anything is judged.

    A store that cannot take them (no such bucket, no permission, a server answering
    404 to every PUT) is unavailable, and says so (exit 3): judged, it would show as
    guarantees that break, which would not be true of its semantics.
    """
    store = target.store_factory()
    try:
        store.put(_PREFLIGHT_KEY, b"{}")
        store.get(_PREFLIGHT_KEY)
        store.delete(_PREFLIGHT_KEY)
    except (ObjectNotFound, AlreadyExists, Conflict):
        pass  # semantics, not availability: the contract checks judge them
    except StoreError as exc:
        raise StoreError(
            f"{target.name} cannot be checked: a first write, read and delete of {_PREFLIGHT_KEY} failed ({exc}). "
            "Nothing was judged; check that the store exists, is reachable and is writable, then run again"
        ) from None
    finally:
        target.cleanup(store)


_PREFLIGHT_KEY = "pubsafe-preflight.json"


def _reads_overlapping_on_remote_stores(run: Callable[..., Report]) -> Callable[..., Report]:
    """The checker's reads of a remote store overlap (``models.reading``), as its runs do."""

    @functools.wraps(run)
    def reading(target: Target, *args: Any, **kwargs: Any) -> Report:
        with reads_in_flight(target.parallel_runs):
            return run(target, *args, **kwargs)

    return reading


@_reads_overlapping_on_remote_stores
def run_conformance(
    target: Target,
    profile: str | Profile = "default",
    *,
    seed_value: int = 0,
    progress: Callable[[int], None] = lambda n: None,
    replay: str | None = None,
    stop_on: set[str] | frozenset[str] = frozenset(),
    phase: Callable[[str], None] = lambda name: None,
    fixed: bool = True,
    argv: list[str] | None = None,
) -> Report:
    """Check every guarantee against ``target``; see the module docstring.

    ``stop_on``: stop as soon as one of these guarantees is found broken (the
    mutant catalogue uses it; the remaining verdicts are then partial).
    ``fixed=False``: the state machine only, without the probes, the contract and the
    fixed scenarios, which do not depend on the seed: the further seeds of one check
    (``--seeds``) run them once, not once per seed.
    ``argv``: the command line that started the check, for the report's environment
    (default: this process's).
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
    stops = {Guarantee(g) for g in stop_on}
    broken: Broken = {}
    unknown: dict[str, str] = {}
    sink = RunSink(progress=progress)

    probes, contract = [], []
    preflight(target)
    if fixed:
        phase("capability probes")
        probes = probe_capabilities(target.store_factory, target.cleanup)
        phase("store contract")
        contract = check_contract(target.store_factory, target.cleanup)
    undecided = _judge_store(target, probes, contract, broken, replay)
    for name, title, scenario in SCENARIOS if fixed else ():
        if stops & broken.keys():
            break
        phase(title)
        try:
            scenario(target, sink, broken, replay)
        except GuaranteeViolation as exc:  # the system under test failed where it must not
            record(broken, exc.violation, [f"the {name} scenarios (models.exploration)"], replay, [])
        except Exception as exc:  # noqa: BLE001 - a broken checker is reported, not lost
            failure = failure_in(exc, f"the {name} scenarios")
            unknown[name] = str(failure) if failure else f"the {name} scenarios crashed: {type(exc).__name__}: {exc}"

    phase("state machine")
    with no_local_constants() as controlled:
        _explore(target, chosen, seed_value, sink, broken, unknown, stops, replay)

    return Report(
        pubsafe_version=pubsafe_version(),
        target=target.name,
        mode=target.mode,
        profile=profile,
        seed=seed_value,
        seconds=round(time.perf_counter() - started, 3),
        probes=probes,
        contract=contract,
        verdicts=[_verdict(g, target, sink, broken, undecided, unknown) for g in Guarantee],
        leftovers=list(target.leftovers),
        environment=environment(replay, argv, controlled),
    )


def _explore(target: Target, chosen: Profile, seed_value: int, sink: RunSink, broken: Broken,
             unknown: dict[str, str], stops: set[Guarantee], replay: str) -> None:
    """The state machine, again after each guarantee it breaks, skipping those found broken."""
    for _ in Guarantee:
        if stops & broken.keys():
            break
        machine = seed(seed_value)(PublishMachine.bind(target, skip=frozenset(broken), sink=sink))
        output = io.StringIO()
        try:
            with with_reporter(functools.partial(_write_line, output)):
                run_machine(machine, _settings(chosen))
        except GuaranteeViolation as exc:
            violation = exc.violation
            steps = _program(getattr(exc, "__notes__", []), output.getvalue())
            broken[violation.guarantee] = Counterexample(
                message=violation.message,
                steps=replay_program(target, steps) if steps else [],
                replay=replay,
                timeline=list(sink.last_history[-80:]),
            )
            continue
        except Unsatisfiable:
            unknown["machine"] = (f"not checked by the state machine: every example it tried ran into a guarantee "
                                  f"already found broken ({', '.join(sorted(g.value for g in broken))})")
        except Exception as exc:  # noqa: BLE001
            failure = failure_in(exc, "the state machine")
            unknown["machine"] = str(failure) if failure else f"the state machine crashed: {type(exc).__name__}: {exc}"
        break


def _write_line(output: io.StringIO, text: str) -> None:
    output.write(f"{text}\n")


def _program(notes: list[str], reported: str) -> list[str]:
    """The failing program Hypothesis printed (as exception notes or reports), minus noise."""
    lines = "\n".join([*notes, reported]).splitlines()
    keep = False
    steps: list[str] = []
    for line in lines:
        if line.startswith("state = "):
            keep, steps = True, []
        if keep and line.startswith(("state", " ", ")")):
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


def _verdict(guarantee: Guarantee, target: Target, sink: RunSink, broken: Broken, undecided: dict[Guarantee, str],
             unknown: dict[str, str]) -> Verdict:
    """What was shown stands (a counterexample, a race observed); what was not shown is
    UNKNOWN when a probe it rests on or the run itself could not decide, else HOLDS."""
    expected = guarantee.expected(guarded=target.guarded)
    coverage = sink.evidence(guarantee)

    def verdict(status: Status, **details: Any) -> Verdict:
        return Verdict(guarantee=guarantee, title=guarantee.heading, expected=expected, coverage=coverage,
                       status=status, **details)

    if guarantee in broken:
        return verdict(Status.BREAKS, counterexample=broken[guarantee])
    if guarantee in sink.witnesses:
        text, history = sink.witnesses[guarantee]
        if expected == Status.DOCUMENTED:
            return verdict(Status.DOCUMENTED, witness=text, witness_timeline=history[-80:])
        counterexample = Counterexample(message=text, steps=[text], replay="", timeline=history[-80:])
        return verdict(Status.BREAKS, witness=text, counterexample=counterexample)
    if guarantee in undecided or unknown:
        reasons = ([undecided[guarantee]] if guarantee in undecided else []) + list(unknown.values())
        return verdict(Status.UNKNOWN, error="; ".join(reasons))
    if not any(coverage.values()):
        return verdict(Status.UNKNOWN, error="not exercised: nothing in this run checked it (the run stopped "
                                             "early); a HOLDS here would mean nothing")
    if expected == Status.DOCUMENTED:
        # Predicted to break, but never observed: say so rather than claim it holds.
        return verdict(Status.HOLDS, witness="never observed in this run")
    return verdict(Status.HOLDS)


def _judge_store(target: Target, probes: list[ProbeResult], contract: list[ContractResult], broken: Broken,
                 replay: str) -> dict[Guarantee, str]:
    """What the probes and the contract checks decide: a capability not honoured, or a
    contract check failed, breaks the guarantees resting on it; one that could not be
    judged leaves those guarantees undecided (returned, with why and how to judge it),
    and nothing else: the rest of the run is judged as usual. A guarantee expected to
    be DOCUMENTED in this mode does not rest on the store (default mode never compares
    an etag), so neither touches it."""
    undecided: dict[Guarantee, str] = {}

    def resting_on(guarantees: Iterable[Guarantee]) -> list[Guarantee]:
        return [g for g in guarantees if g.expected(guarded=target.guarded) != Status.DOCUMENTED]

    for probe in probes:
        costs = resting_on(PROBE_GUARANTEES.get(probe.capability, ()))
        if probe.honoured is False:
            for guarantee in costs:
                broken.setdefault(guarantee, Counterexample(
                    message=f"the store claims {probe.capability} but does not honour it: {probe.evidence}",
                    steps=[f"capability probe: {probe.capability}"], replay=replay))
        elif probe.undecided:
            for guarantee in costs:
                undecided.setdefault(guarantee, f"the capability probe {probe.capability} could not "
                                                f"decide ({probe.evidence}){_how_to_judge(probe.evidence)}")
    for check in contract:
        costs = resting_on(check.guarantees)
        if check.status == "failed":
            for guarantee in costs:
                broken.setdefault(guarantee, Counterexample(
                    message=f"the store fails the contract check {check.check}: {check.detail}",
                    steps=[f"store contract check: {check.check} (pubsafe.models.conformance.contract)"],
                    replay=replay))
        elif check.status == "unavailable":
            for guarantee in costs:
                undecided.setdefault(guarantee, f"the store contract check {check.check} could not "
                                                f"decide ({check.detail}){_how_to_judge(check.detail)}")
    return undecided


def _how_to_judge(evidence: str) -> str:
    """For a probe or check the store broke off; one that saw nothing to judge says how itself."""
    if NOT_JUDGED.removeprefix("not judged: ") not in evidence:
        return ""
    return ("; to judge it, run the check again once the store answers every request (the racing probes send up to "
            "16 at once: a store that throttles them cannot be judged on what they probe)")


def merge_reports(reports: list[Report]) -> Report:
    """Combine runs of independent seeds: the first counterexample or witness wins."""
    first = reports[0]
    merged = []
    for i, _ in enumerate(Guarantee):
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
    probed = [r for r in reports if r.probes or r.contract]  # the runs that also ran the fixed part
    probes = [
        next((p for p in (r.probes[i] for r in probed) if p.honoured is False), probed[0].probes[i])
        for i in range(len(probed[0].probes))
    ] if probed else []
    contract = [
        next((c for c in (r.contract[i] for r in probed) if c.status == "failed"), probed[0].contract[i])
        for i in range(len(probed[0].contract))
    ] if probed else []
    return first.model_copy(update={
        "verdicts": merged,
        "probes": probes,
        "contract": contract,
        "leftovers": sorted({line for r in reports for line in r.leftovers}),
        "seeds": sorted({s for r in reports for s in (r.seeds or [r.seed])}),
        "seconds": max(r.seconds for r in reports),
        "seed": first.seed,
    })
