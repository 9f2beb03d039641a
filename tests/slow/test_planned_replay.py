"""The state machine planned on a local model and replayed at once, on the test S3 server,
judged exactly as one sequential run (models.conformance.planned).

Each test runs the machine alone (``fixed=False``) twice with the same seed on a remote
target (eight checker reads at a time in both): once as Hypothesis runs it, one example
after another (``run_machine`` replaced by ``run_state_machine_as_test``), and once
planned then replayed eight examples at a time; and compares what the reports say:
statuses, coverage, witnesses and counterexamples. Small profiles keep each to seconds;
``stop_on`` every guarantee ends a run at its first break, so each shrinks once. What
each test shows failing against a broken ``planned.py`` is in its docstring.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, seed
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from hypothesis.stateful import run_state_machine_as_test as sequentially

from pubsafe.models import Guarantee, Status, run_conformance, target_from_spec
from pubsafe.models.conformance import Profile, planned
from pubsafe.models.conformance import run as conformance_run
from pubsafe.models.conformance.environment import no_local_constants
from pubsafe.models.conformance.run import _settings
from pubsafe.models.machine import PublishMachine, RunSink
from support import fresh_s3_url
from support.http_proxy import Rules, proxy_to

pytestmark = pytest.mark.slow

SMALL = Profile(examples=5, steps=5)
EVERY = frozenset(g.value for g in Guarantee)


def _both_ways(make_target, profile: Profile = SMALL, **options):
    """(report, how the machine ran): sequentially, then planned and replayed.

    A planned run whose plan met a failure Hypothesis could not repeat (FlakyFailure:
    something else in this process, once, as CI saw in 1 of ~3 full runs) went
    sequential, as it must; it is run once more, and that run is the one judged.
    Whatever the plan itself does wrong repeats, so the second run still shows it."""
    runs = []
    for run_machine in (lambda machine, settings: sequentially(machine, settings=settings), planned.run_machine):
        for _attempt in range(2):
            target = make_target()
            assert target.parallel_runs == 8
            planned.RUNS.clear()
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(conformance_run, "run_machine", run_machine)
                report = run_conformance(target, profile, fixed=False, **{"seed_value": 3} | options)
            if not any(run.why.startswith("the plan found FlakyFailure") for run in planned.RUNS):
                break
        runs.append((report, list(planned.RUNS)))
    return runs


def _plain(text: str) -> str:
    """Without the fresh prefixes each run makes (its target's, and one per example)."""
    return re.sub(r"s3://[a-z0-9.-]+/t-[0-9a-f]{12}|pubsafe-check-[0-9a-f]{12}", "PREFIX", text)


def _judged_alike(sequential, replayed) -> None:
    """Same verdicts, coverage, witnesses and counterexamples, prefixes aside."""
    assert len(sequential.verdicts) == len(replayed.verdicts) == len(Guarantee)
    for one, other in zip(sequential.verdicts, replayed.verdicts, strict=True):
        assert (one.guarantee, one.status, one.coverage) == (other.guarantee, other.status, other.coverage)
        assert (one.witness, one.error) == (other.witness, other.error), one.guarantee
        assert (one.counterexample is None) == (other.counterexample is None), one.guarantee
        if one.counterexample is not None:
            assert [_plain(s) for s in one.counterexample.steps] == [_plain(s) for s in other.counterexample.steps]
            assert _plain(one.counterexample.message) == _plain(other.counterexample.message)
            assert one.counterexample.timeline == other.counterexample.timeline


def test_a_conforming_bucket_replayed_at_once_is_judged_as_one_sequential_run(s3_endpoint):
    """Every example planned is replayed and matched, those Hypothesis judged invalid or
    stopped while drawing (overrun) too, and the merged coverage is the sequential
    run's. Fails with a planned.py that replays only the examples judged valid (the
    coverage counts fewer examples and steps)."""
    profile = Profile(examples=10, steps=5)  # with seed 0: 10 valid examples, 1 invalid, 1 overrun
    (sequential, none), (replayed, [run]) = _both_ways(lambda: target_from_spec(fresh_s3_url()), profile, seed_value=0)
    assert none == [] and not run.sequential, run
    assert run.replayed == run.planned > profile.examples and {"VALID", "INVALID", "OVERRUN"} <= run.ended.keys()
    assert sequential.conforming, [(v.guarantee, v.status) for v in sequential.verdicts if not v.as_expected]
    _judged_alike(sequential, replayed)


def test_an_engine_breaking_on_a_bucket_is_found_and_shrunk_as_one_sequential_run(s3_endpoint):
    """The plan finds the break on the model, and the machine runs sequentially on the
    store: one counterexample, shrunk once there, the sequential one. Fails with a
    planned.py that reports the break as the plan found it (unshrunk: the plan does
    not shrink), instead of running again on the store."""
    (sequential, _), (replayed, [run]) = _both_ways(
        lambda: target_from_spec(fresh_s3_url(), engine="pubsafe.models.mutants:NonCanonicalHashEngine"),
        stop_on=EVERY)
    assert any(v.status == Status.BREAKS and v.counterexample.steps for v in sequential.verdicts)
    _judged_alike(sequential, replayed)
    assert run.sequential and run.why.startswith("the plan found GuaranteeViolation: "), run


def _drops_history(method: str, path: str):
    """A gateway that acknowledges every write under history/ and stores none (as a
    lifecycle rule or a misrouted prefix would): the model keeps them."""
    if method == "PUT" and "/history/" in path:
        return 200, b"", {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'}
    return None


def test_a_bucket_answering_otherwise_than_the_model_is_judged_on_the_bucket(s3_endpoint):
    """The plan passes on the model, a replay on the server does not end as planned,
    and the machine runs sequentially there, finding what the sequential run finds.
    Fails with a planned.py that does not compare how a replay ended (the replays'
    HOLDS would stand)."""
    with proxy_to(s3_endpoint, Rules(answer=_drops_history)) as gateway, pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_S3", gateway)
        (sequential, _), (replayed, [run]) = _both_ways(lambda: target_from_spec(fresh_s3_url()), stop_on=EVERY)
    assert sequential.verdict("G4").status == Status.BREAKS
    _judged_alike(sequential, replayed)
    assert run.sequential and run.planned > 0 and "on the store: it raised GuaranteeViolation" in run.why, run


class _SeesTheBucket(PublishMachine):
    """A machine with a precondition that tells the bucket from the model: a rule only
    the bucket enables, and that raises nowhere. Only the enabled rules can show it."""

    ran: list[int] = []

    @precondition(lambda self: type(self.store.inner.fs).__name__ != "LocalS3")
    @rule()
    def only_on_the_bucket(self) -> None:
        type(self).ran.append(1)
        self.after_step()


def test_rules_the_bucket_enables_and_the_model_does_not_make_the_run_sequential(s3_endpoint):
    """The plan never draws the rule, the sequential run does; so the replays must not
    stand for the run. Fails with a planned.py that does not compare the enabled rules
    (the replays would be accepted, and the rule never run)."""
    sinks, ran = [], []
    for run_it in (sequentially, planned.run_machine):
        _SeesTheBucket.ran = []
        sink = RunSink()
        machine = seed(3)(_SeesTheBucket.bind(target_from_spec(fresh_s3_url()), sink=sink))
        with no_local_constants():  # as run_conformance runs the machine
            run_it(machine, settings=_settings(SMALL))
        sinks.append(sink)
        ran.append(len(_SeesTheBucket.ran))
    assert ran[0] > 0 and ran == [ran[0], ran[0]]
    one, other = ({k: v for k, v in vars(s).items() if k not in ("progress", "last_history")} for s in sinks)
    assert one == other
    assert planned.RUNS[-1].sequential and "enabled" in planned.RUNS[-1].why, planned.RUNS[-1]


class _Assumes(PublishMachine):
    """A rule whose ``assume`` fails for some arguments: the example ends there, invalid."""

    @rule(x=st.integers(0, 3))
    def assumes(self, x: int) -> None:
        assume(x != 0)
        self.after_step()


def test_an_example_ending_in_a_failed_assume_is_replayed_to_that_step(s3_endpoint):
    """Its replay runs the steps before, then that step's assume fails as planned: it
    matches, and the run's coverage is the sequential run's. Fails with a planned.py
    that takes a failed assume for a difference (the run goes sequential)."""
    sinks, runs = [], []
    for run_it in (sequentially, planned.run_machine):
        sink = RunSink()
        with no_local_constants():
            runs.append(run_it(seed(1)(_Assumes.bind(target_from_spec(fresh_s3_url()), sink=sink)),
                               settings=_settings(Profile(examples=6, steps=4))))
        sinks.append(sink)
    run = runs[1]
    one, other = ({k: v for k, v in vars(s).items() if k not in ("progress", "last_history")} for s in sinks)
    assert one == other and one["examples"] == run.planned
    assert not run.sequential and run.replayed == run.planned and run.ended.get("INVALID (assume)"), run
