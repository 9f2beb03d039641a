"""The per-step checks read only what a step wrote; they must agree with reading the
whole store, and what a store changes behind the calls is caught at the end of the
example."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from pubsafe.models.checkers import GuaranteeViolation, check_contents
from pubsafe.models.checkers.oracle import read_store
from pubsafe.models.machine import PublishMachine
from pubsafe.models.mutants import mutant_target
from pubsafe.models.target import factory_target, target_from_spec
from pubsafe.refimpl import MemoryStore
from pubsafe.refimpl.layout import RECORDS

SETTINGS = settings(max_examples=25, stateful_step_count=12, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


class Paranoid(PublishMachine):
    """After every step, also the full check: the mirror must equal the store, and both
    checks must find the same violations."""

    steps_compared = 0

    def after_step(self) -> None:
        mirror = dict(self.view.refresh())
        whole = read_store(self.store.inner)
        assert mirror == whole, sorted(k for k in mirror.keys() | whole.keys() if mirror.get(k) != whole.get(k))
        assert check_contents(mirror, self.store.root_uri, self.oracle) == check_contents(
            whole, self.store.root_uri, self.oracle)
        type(self).steps_compared += 1
        super().after_step()


@pytest.mark.parametrize("spec", ["memory", "local"])
def test_incremental_and_full_checks_agree_on_every_step(spec):
    machine = Paranoid.bind(target_from_spec(spec))
    machine.steps_compared = 0
    run_state_machine_as_test(machine, settings=SETTINGS)
    assert machine.steps_compared > 100


#: a failure is all these tests need: shrinking it would only re-run the paranoid checks
NO_SHRINKING = [Phase.explicit, Phase.reuse, Phase.generate]


# a rollback needs a publish before it, and shares its draws with --steps and lost blobs: more examples
@pytest.mark.parametrize(("mutant", "examples"), [("non-canonical-hash", 25), ("swap-before-record", 25),
                                                  ("rollback-writes-artifacts", 100)])
def test_they_agree_on_broken_engines_and_stores_too(mutant, examples):
    machine = Paranoid.bind(mutant_target(mutant))
    with pytest.raises(GuaranteeViolation):
        run_state_machine_as_test(machine, settings=settings(SETTINGS, max_examples=examples, phases=NO_SHRINKING))
    assert machine.steps_compared > 0


class RewritesANeighbour(MemoryStore):
    """A backend bug no call reveals: recording a blob silently rewrites another blob."""

    def put(self, key: str, data: bytes) -> str:
        etag = super().put(key, data)
        if key.startswith(RECORDS):
            blobs = [k for k in self.list("") if not k.startswith(("records/", "current/", "history/", "gc/"))]
            others = [k for k in blobs if k.split("/")[-1] != key.split("/")[-1]]
            if others:
                self._objects[others[0]] = (b'{"rewritten": true}',) + self._objects[others[0]][1:]
        return etag


def test_a_change_behind_the_calls_is_caught_at_the_end_of_the_example():
    machine = PublishMachine.bind(factory_target("rewrites-a-neighbour", RewritesANeighbour))()
    machine.publish(slot=0, types=["model"], values=[1], variant=0)
    machine.publish(slot=0, types=["items"], values=[2], variant=0)  # rewrites the model blob: no step sees it
    with pytest.raises(GuaranteeViolation, match="G1|acknowledged blob"):
        machine.teardown()
