"""remote_check's counts: requests sent apart from those the local model answers, and the switch back to a
sequential machine for a before/after."""

from __future__ import annotations

import pytest

from pubsafe.devtools.remote_check import PhaseCounts, counting_s3_requests, sequential_machine
from pubsafe.models import run_conformance, target_from_spec
from pubsafe.models.conformance import Profile, planned, run
from pubsafe.models.conformance.local_model import stand_in

S3Store = pytest.importorskip("pubsafe.refimpl.s3_store").S3Store


def test_requests_the_model_answers_are_counted_apart_from_those_sent():
    counts = PhaseCounts()
    with counting_s3_requests(counts):
        counts.enter("state machine")
        store = S3Store("s3://pubsafe/x")
        assert stand_in(store) is store
        store.put("a.json", b"{}")
        assert store.get("a.json") == b"{}"
    counts.close()
    assert counts.total == 0
    assert counts.table()["state machine"] == {"seconds": pytest.approx(counts.seconds["state machine"], abs=0.01),
                                               "requests": 0, "model_requests": 2}


def test_sequential_machine_runs_the_machine_as_hypothesis_does_and_is_undone():
    planned.RUNS.clear()
    with sequential_machine():
        report = run_conformance(target_from_spec("memory"), Profile(examples=2, steps=2), fixed=False)
    assert planned.RUNS == [] and report.verdict("G1").coverage["examples"] >= 2
    assert run.run_machine is planned.run_machine
