"""The planned replay's preconditions, without a server (models.conformance.planned, local_model).

The plan stands for the sequential run only when nothing but the seed decides which
examples Hypothesis draws and nothing but the choices and the status of each flows
back; each test here takes one of those away and the run must go sequential, saying
why. The stand-in must describe S3 as the probes and the contract check it (else a
conforming bucket's replays would differ from their plans, and cost a sequential run
on top), and must take hold of nothing but an ``S3Store`` inside pubsafe's wrappers.
The equivalence on a real S3 server is in tests/slow/test_planned_replay.py.
"""

from __future__ import annotations

import dataclasses
import random
import uuid

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis import target as aim
from hypothesis.stateful import invariant, rule

from pubsafe.faults import FaultyStore
from pubsafe.models import target_from_spec
from pubsafe.models.conformance.environment import no_local_constants
from pubsafe.models.conformance.local_model import LocalS3, stand_in
from pubsafe.models.conformance.planned import _plan, _Unplannable, run_machine
from pubsafe.models.conformance.probes import check_contract, probe_capabilities
from pubsafe.models.machine import PublishMachine, RunSink
from pubsafe.models.pytest_suite import StoreContractTests
from pubsafe.models.target import Target
from pubsafe.refimpl import MemoryStore
from pubsafe.refimpl.prefixed import PrefixedStore

s3_store = pytest.importorskip("pubsafe.refimpl.s3_store")
S3Store = s3_store.S3Store


def _model() -> S3Store:
    """An S3Store on the stand-in: no request leaves the process."""
    store = S3Store(f"s3://pubsafe/m-{uuid.uuid4().hex[:8]}")
    assert stand_in(store) is store and isinstance(store.fs, LocalS3)
    return store


class TestTheModelKeepsTheStoreContract(StoreContractTests):
    @pytest.fixture
    def store(self):
        return _model()


def test_the_model_honours_every_capability_s3_declares():
    """Conditional PUTs, atomic replace: what the probes find on a conforming bucket."""
    probes = probe_capabilities(_model, lambda store: None)
    honoured = {p.capability: p.honoured for p in probes}
    assert honoured == {"atomic_replace": True, "create_only": True, "compare_and_swap": True, "durable": None}
    assert all(c.status != "failed" for c in check_contract(_model, lambda store: None))


def test_the_model_pages_listings_as_s3_does():
    store = _model()
    for i in range(1001):
        store.put(f"k/{i:05}.json", b"{}")
    assert store.fs.objects and store.list("k/") == [f"k/{i:05}.json" for i in range(1001)]
    assert len(store.fs._list_objects_v2(Bucket="pubsafe", Prefix="")["Contents"]) == 1000


class _S3Subclass(S3Store):
    """May send requests of its own: not modelled."""


class _ForeignWrapper(FaultyStore):
    """A wrapper pubsafe did not write (its module is this test's): it may hold a network of its own."""


def test_stand_in_takes_hold_of_an_s3_store_inside_pubsafes_wrappers_only():
    inner = S3Store("s3://pubsafe/x")
    wrapped = FaultyStore(PrefixedStore(inner, "p"), "")
    assert stand_in(wrapped) is wrapped and isinstance(inner.fs, LocalS3)
    for other in (MemoryStore(), _S3Subclass("s3://pubsafe/x"), _ForeignWrapper(S3Store("s3://pubsafe/x"), "")):
        transport = getattr(other, "fs", None) or getattr(getattr(other, "inner", None), "fs", None)
        assert stand_in(other) is None
        assert (getattr(other, "fs", None) or getattr(getattr(other, "inner", None), "fs", None)) is transport


# -- when the plan cannot stand for the run, the run is sequential, and says why ------------


@pytest.fixture(autouse=True)
def _as_a_check_runs_the_machine():
    """Hypothesis draws no constants from the modules this process imported (run_conformance does the same)."""
    with no_local_constants() as controlled:
        assert controlled
        yield


def _settings(**changes):
    base = dict(max_examples=3, stateful_step_count=3, deadline=None, database=None, report_multiple_bugs=False,
                print_blob=False, phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
                suppress_health_check=list(HealthCheck))
    return settings(**(base | changes))


def _s3_target(**fields) -> Target:
    """A remote target on the stand-in: even its 'real' stores answer in memory."""
    return Target(name="s3://pubsafe/x", store_factory=_model, parallel_runs=8, **fields)


def _why(machine, **changes) -> str:
    with pytest.raises(_Unplannable) as refused:
        _plan(machine, _settings(**changes))
    return str(refused.value)


def test_a_memory_store_forced_wide_runs_sequentially_for_want_of_a_model():
    memory = target_from_spec("memory")
    memory.parallel_runs = 8
    run = run_machine(seed(0)(PublishMachine.bind(memory, sink=RunSink())), _settings())
    assert run.sequential and run.why == "no local model of this store's transport" and run.planned == 0


@pytest.mark.parametrize(("changes", "why"), [
    ({"database": "memory"}, "example database"),
    ({"deadline": 1000}, "a deadline"),
    ({"suppress_health_check": [HealthCheck.filter_too_much]}, "health check"),
])
def test_what_would_let_more_than_the_seed_decide_is_refused(changes, why):
    if changes.get("database") == "memory":
        from hypothesis.database import InMemoryExampleDatabase

        changes = {"database": InMemoryExampleDatabase()}
    assert why in _why(seed(0)(PublishMachine.bind(_s3_target(), sink=RunSink())), **changes)


def test_a_run_drawing_constants_from_imported_modules_is_refused(monkeypatch):
    """Which modules a process imported would then decide, besides the seed, what is drawn."""
    from hypothesis.internal.conjecture import providers

    machine = seed(0)(PublishMachine.bind(_s3_target(), sink=RunSink()))
    monkeypatch.setattr(providers, "_get_local_constants", lambda: "the constants of the imported modules")
    assert "draws constants from the modules" in _why(machine)


def test_an_unseeded_machine_is_refused():
    assert "not seeded" in _why(PublishMachine.bind(_s3_target(), sink=RunSink()))


def test_a_foreign_engine_or_reader_is_refused():
    """It may keep state across instances: examples at once need not do what they do one after another."""
    from pubsafe.refimpl import Engine

    def engine(store, *, guarded=False, clock):
        return Engine(store, guarded=guarded, clock=clock)

    assert "is not pubsafe's" in _why(seed(0)(PublishMachine.bind(_s3_target(engine_factory=engine), sink=RunSink())))


class _WithInvariant(PublishMachine):
    @invariant()
    def nothing(self) -> None:
        pass


class _DrawsInside(PublishMachine):
    @rule(data=st.data())
    def draws(self, data) -> None:
        data.draw(st.integers())
        self.after_step()


class _Targets(PublishMachine):
    @rule(x=st.integers(0, 3))
    def aims(self, x: int) -> None:
        if not getattr(self, "aimed", False):  # once an example: a label may be observed once
            aim(float(x))
            self.aimed = True
        self.after_step()


class _Random(PublishMachine):
    @rule()
    def rolls(self) -> None:
        self.rolled = random.random()  # seeded by Hypothesis for each example; a replay's is not
        self.after_step()


def test_what_the_plan_cannot_record_is_refused():
    def bound(cls):
        return seed(0)(cls.bind(_s3_target(), sink=RunSink()))

    assert "invariants" in _why(bound(_WithInvariant))
    assert "not plain data: DataObject" in _why(bound(_DrawsInside), stateful_step_count=20, max_examples=20)
    assert "target observations" in _why(bound(_Targets), stateful_step_count=20, max_examples=20)
    assert "global random" in _why(bound(_Random), stateful_step_count=20, max_examples=20)


def test_a_plan_on_the_model_records_every_example_and_sends_nothing():
    """Each example as Hypothesis ran it: steps with plain arguments, the enabled rules
    after the start and after each step that returned, and how it ended."""
    sent = []
    target = dataclasses.replace(_s3_target(), cleanup=lambda store: sent.append(type(store.fs).__name__))
    machine = seed(3)(PublishMachine.bind(target, sink=RunSink()))
    examples = _plan(machine, _settings(max_examples=6, stateful_step_count=5))
    assert len(examples) >= 6 and set(sent) == {"LocalS3"}
    for example in examples:
        assert example.status in ("VALID", "INVALID", "OVERRUN")
        assert len(example.steps) == len(example.enabled) - 1 + example.assumed
        assert example.status == "INVALID" or not example.assumed
        assert all(len(e) == len(PublishMachine.bind(target).setup_state().rules) for e in example.enabled)
    assert sum(len(e.steps) for e in examples) >= 6 * 5 // 2
