"""The stateful model: a Hypothesis machine that publishes, crashes, races, rolls
back, sweeps and serves, and checks the guarantees after every step.

``PublishMachine`` is declared here, at module level, and bound to a target with
``PublishMachine.bind(target)``. Every rule argument is plain data (names, numbers,
schedule strings, fault plans as strings) and every rule ends with the guarantee
checks, so the program Hypothesis prints for a failure is Python a person can paste
into a test and run (``replay_program`` adds the two lines that bind the target).

Interleavings are steps the machine controls (a drawn schedule string run by the
deterministic scheduler), never free threads, so a failure shrinks to the smallest
program and schedule and replays exactly. A violation is raised as
``GuaranteeViolation``; guarantees listed in ``skip`` (already found broken) are not
checked, so a second run can hunt for the next one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from pubsafe.faults import Crash, Event, FaultyStore, Interleaving
from pubsafe.faults.strategies import fault_plans, schedules
from pubsafe.refimpl.errors import CollectionRefused, IntegrityError, InvalidName, PubsafeError, RetryableStoreError
from pubsafe.refimpl.names import validate_name

from .checkers import GuaranteeViolation, Violation, check_contents
from .checkers.immutability import check_receipt_versions
from .checkers.manifest_last import check_current_at, check_failed_publish, check_mapping, mapping_keys
from .checkers.orphans import orphans
from .checkers.retry import retry_failed
from .checkers.rollback import check_refused_rollback, check_rollback
from .checkers.serving import CurrentLog, check_served_payload, check_staleness
from .guarantees import Guarantee
from .observed import ObservedStore, StoreView
from .oracle import Oracle, blob_key, current_key, manifest_version, parse_manifest, payload_version
from .failures import store_failed
from .scenarios import GRACE, RACES, TTL, StepClock, payload
from .strategies import names, type_names, wide_payloads
from .target import Target

__all__ = ["PublishMachine", "RunSink", "replay_program", "SLOTS"]

#: The slots every example starts with; ``add_slot`` adds drawn ones. Rules name a slot
#: by its index (modulo the number of slots), so a printed program stays plain data.
SLOTS = [("acme", "home"), ("acme", "feed"), ("beta", "home"), ("caf\u00e9", "home")]
#: How ``add_variant_slot`` derives a new name from an existing one: the pairs that a
#: store folding case or Unicode normalisation, or a careless prefix match, conflates.
VARIANTS = {
    "upper": str.upper,
    "title": str.title,
    "nfd": lambda name: unicodedata.normalize("NFD", name),
    "longer": lambda name: name + "-2",
    "shorter": lambda name: name[:-1] or name + "x",
}
#: A payload is a seed of the familiar payload or a drawn document (always an object).
Payload = int | dict[str, Any]
_seeds = st.integers(0, 3)
_payloads = st.one_of(_seeds, _seeds, _seeds, _seeds, _seeds, wide_payloads())
FAULT_KINDS = ("crash", "lost-ack", "error", "error-after", "torn")


@dataclass
class RunSink:
    """What a run learns besides pass/fail: coverage, witnesses, the last history."""

    examples: int = 0
    steps: int = 0
    interleavings: int = 0
    crash_points: int = 0
    reads: int = 0
    rollbacks: int = 0
    sweeps: int = 0
    #: sweeps the reference GC refused because the store does not declare create-only writes
    #: (a documented refusal: a GC that deletes nothing cannot race a publish)
    sweeps_refused: int = 0
    serving_scenarios: int = 0  #: the fixed serving scenarios (staleness, hostile manifests), run once each
    #: interleavings run per race guarantee (R1-R3, R5), fixed scenarios and machine together
    raced: dict[Guarantee, int] = field(default_factory=dict)
    witnesses: dict[Guarantee, tuple[str, list[Event]]] = field(default_factory=dict)
    last_history: list[Event] = field(default_factory=list)
    progress: Callable[[int], None] = lambda n: None

    def interleaving(self, guarantee: Guarantee) -> None:
        """One interleaving of a race scenario for ``guarantee`` was run."""
        self.interleavings += 1
        self.raced[guarantee] = self.raced.get(guarantee, 0) + 1

    def evidence(self, guarantee: Guarantee) -> dict[str, int]:
        """What exercised ``guarantee`` in this run: only the counts of the scenarios and
        steps that check it (a row of the report, not one global line)."""
        machine = {"examples": self.examples, "steps": self.steps}
        races = {"interleavings": self.raced.get(guarantee, 0)}
        if guarantee in (Guarantee.G1, Guarantee.G2, Guarantee.G3):
            return machine | {"crash_points": self.crash_points, "interleavings": self.interleavings}
        if guarantee is Guarantee.G4:
            return machine | {"rollbacks": self.rollbacks, "interleavings": self.raced.get(Guarantee.R3, 0)}
        if guarantee is Guarantee.G5:
            return machine | {"serving_scenarios": self.serving_scenarios, "serving_reads": self.reads}
        if guarantee is Guarantee.R4:
            return machine | {"crash_points": self.crash_points}
        if guarantee is Guarantee.R5:
            refused = {"sweeps_refused": self.sweeps_refused} if self.sweeps_refused else {}
            return machine | races | {"sweeps": self.sweeps} | refused
        return machine | races

    def witness(self, guarantee: Guarantee, text: str, history: list[Event]) -> None:
        self.witnesses.setdefault(guarantee, (text, list(history)))


class PublishMachine(RuleBasedStateMachine):
    """Publishes, faulted publishes and retries, races, rollbacks, sweeps and reads,
    against one target; G1–G5 and the races checked after every step."""

    target: ClassVar[Target]
    skip: ClassVar[frozenset[Guarantee]] = frozenset()
    sink: ClassVar[RunSink] = RunSink()
    atomic: ClassVar[bool] = True  #: does the store claim atomic replace (so no torn writes)?

    @classmethod
    def bind(
        cls, target: Target, *, skip: frozenset[Guarantee] = frozenset(), sink: RunSink | None = None
    ) -> type[PublishMachine]:
        """This machine, checking ``target``. The subclass keeps the name, so a printed
        program reads ``state = PublishMachine()``."""
        probe = target.store_factory()
        atomic = probe.capabilities.atomic_replace
        target.cleanup(probe)
        attributes = {"target": target, "skip": frozenset(skip), "sink": sink or RunSink(), "atomic": atomic,
                      "__qualname__": "PublishMachine", "__module__": cls.__module__}
        return type("PublishMachine", (cls,), attributes)

    def __init__(self) -> None:
        super().__init__()
        self.clock = StepClock()
        self.store = ObservedStore(self.target.store_factory())
        self.view = StoreView(self.store)  # the checker's mirror: re-reads what each step wrote
        self.oracle = Oracle()
        self.history: list[Event] = []
        self.reader = self.target.reader_factory(self.store, manifest_ttl=TTL, clock=self.clock)
        self.current_log: dict[tuple[str, str], CurrentLog] = {}
        self.slots = list(SLOTS)
        self.sink.examples += 1
        self.sink.last_history = self.history

    # -- helpers -------------------------------------------------------------------

    def engine(self, store: Any = None) -> Any:
        return self.target.engine_factory(store if store is not None else self.store,
                                          guarded=self.target.guarded, clock=self.clock)

    def recorder(self, actor: str, plan: str = "") -> FaultyStore:
        return FaultyStore(self.store, plan, actor=actor, events=self.history)

    def fail(self, violation: Violation) -> None:
        if violation.guarantee in self.skip:
            return
        self.history.append(Event("checker", "violation", str(violation.guarantee), result="violation",
                                  time=len(self.history)))
        raise GuaranteeViolation(violation)

    def fail_all(self, violations: list[Violation]) -> None:
        for violation in violations:
            self.fail(violation)

    def call(self, guarantee: Guarantee, what: str, run: Callable[[], Any], *, allowed: tuple[type, ...] = ()) -> Any:
        """Call the system under test; an error it is not documented to raise is a counterexample."""
        try:
            return run()
        except allowed:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the engine raises is judged, not propagated
            if failure := store_failed(what, exc):
                raise failure from exc
            self.fail(Violation(guarantee, f"{what} raised {type(exc).__name__}: {exc}"))
            assume(False)  # that guarantee is already known broken: this example cannot go on

    def slot(self, index: int) -> tuple[str, str]:
        return self.slots[index % len(self.slots)]

    @staticmethod
    def artifacts(types: list[str], values: list[Payload], variant: int = 0) -> dict[str, Any]:
        return {t: payload(v, variant) if isinstance(v, int) else v for t, v in zip(types, values)}

    def current_bytes(self, slot: tuple[str, str]) -> bytes | None:
        return self.view.refresh().get(current_key(*slot))

    def mapping(self, slot: tuple[str, str]) -> dict[str, str] | None:
        return mapping_keys(self.current_bytes(slot), self.store.root_uri)

    def merged(self, slot: tuple[str, str], before: dict[str, str] | None, artifacts: dict[str, Any]) -> dict[str, str]:
        return (before or {}) | {t: blob_key(*slot, t, payload_version(p)) for t, p in artifacts.items()}

    def ack(self, slot: tuple[str, str], artifacts: dict[str, Any]) -> None:
        for type_, value in artifacts.items():
            self.oracle.ack_payload(*slot, type_, value)
        data = self.current_bytes(slot)
        if data is not None:
            manifest = parse_manifest(data)
            self.oracle.ack_manifest(*slot, manifest.version, mapping_keys(data, self.store.root_uri) or {})

    def current_at(self, slot: tuple[str, str]) -> list[Violation]:
        """G2 for what the store returns at the slot's current key, read by key (a listing
        of a store that folds two keys into one shows only one of them)."""
        key = current_key(*slot)
        try:
            data = self.store.inner.get(key)
        except PubsafeError:
            return []
        return check_current_at(key, data, self.view.refresh(), self.store.root_uri, self.oracle)

    def note_current(self) -> None:
        """Log, per slot, when current changed to which manifest (the serving checks' truth)."""
        for slot in self.slots:
            try:
                data = self.current_bytes(slot)
                version = parse_manifest(data).version if data is not None else None
            except ValueError:
                version = None
            log = self.current_log.setdefault(slot, [])
            if not log or log[-1][1] != version:
                log.append((self.clock(), version))

    def after_step(self) -> None:
        """The invariant, called by every rule so that a pasted program checks it too."""
        self.sink.steps += 1
        self.sink.progress(1)
        self.note_current()
        self.fail_all(check_contents(self.view.refresh(), self.store.root_uri, self.oracle, skip=self.skip))

    # -- rules ---------------------------------------------------------------------

    @rule(tenant=names(), surface=names())
    def add_slot(self, tenant: str, surface: str) -> None:
        if (tenant, surface) not in self.slots:
            self.slots.append((tenant, surface))
        self.after_step()

    @rule(base=st.integers(0, 7), change=st.sampled_from(sorted(VARIANTS)), of=st.sampled_from(["tenant", "surface"]))
    def add_variant_slot(self, base: int, change: str, of: str) -> None:
        tenant, surface = self.slot(base)
        if of == "tenant":
            tenant = VARIANTS[change](tenant)
        else:
            surface = VARIANTS[change](surface)
        if (tenant, surface) not in self.slots and _valid_slot(tenant, surface):
            self.slots.append((tenant, surface))
        self.after_step()

    @rule(slot=st.integers(0, 7), types=st.lists(type_names(), min_size=1, max_size=2, unique=True),
          values=st.lists(_payloads, min_size=2, max_size=2), variant=st.integers(0, 1))
    def publish(self, slot: int, types: list[str], values: list[Payload], variant: int) -> None:
        where = self.slot(slot)
        artifacts = self.artifacts(types, values, variant)
        before = self.mapping(where)
        what = f"publish of {sorted(artifacts)} to {where}"
        try:
            receipt = self.call(Guarantee.G3, what, lambda: self.engine(self.recorder("publish")).publish(*where, artifacts),
                                allowed=(IntegrityError,))
        except IntegrityError as exc:  # refused: over a current the store broke (G2), or for no reason (G3)
            self.fail_all(self.current_at(where))
            self.fail(Violation(Guarantee.G3, f"{what} raised IntegrityError: {exc}"))
            raise AssertionError("unreachable") from exc
        self.fail_all(check_receipt_versions(receipt, artifacts))
        if violation := check_mapping(where, self.mapping(where), self.merged(where, before, artifacts)):
            self.fail(violation)
        self.ack(where, artifacts)
        self.after_step()

    @rule(slot=st.integers(0, 7), types=st.lists(type_names(), min_size=1, max_size=2, unique=True),
          values=st.lists(_payloads, min_size=2, max_size=2), plan=fault_plans(FAULT_KINDS).map(str))
    def publish_with_fault_then_retry(self, slot: int, types: list[str], values: list[Payload], plan: str) -> None:
        if self.atomic:  # a store that claims atomic writes cannot tear one: the process just dies
            plan = plan.replace("torn@", "crash@")
        slot = self.slot(slot)
        artifacts = self.artifacts(types, values)
        before_bytes = self.current_bytes(slot)
        before = self.mapping(slot)
        complete = self.merged(slot, before, artifacts)
        faulty = self.recorder("publish", plan)
        try:
            self.call(Guarantee.G3, f"publish with fault {plan}", lambda: self.engine(faulty).publish(*slot, artifacts),
                      allowed=(RetryableStoreError,))
            failed = False
        except (Crash, RetryableStoreError):
            failed = True
        if failed:
            self.sink.crash_points += 1
            fault = str(faulty.fired[0])
            if violation := check_failed_publish(slot, before_bytes, self.current_bytes(slot), complete,
                                                 self.store.root_uri, fault):
                self.fail(violation)
            self.note_orphans(fault)
            try:
                self.engine(self.recorder("retry")).publish(*slot, artifacts)
            except Exception as exc:  # noqa: BLE001 - any failure of the retry is the finding
                self.fail(retry_failed(fault, exc))
                assume(False)
        if violation := check_mapping(slot, self.mapping(slot), complete, Guarantee.G3 if failed else Guarantee.G2):
            self.fail(violation)
        self.ack(slot, artifacts)
        self.after_step()

    def note_orphans(self, cause: str) -> None:
        found = orphans(self.view.refresh(), self.store.root_uri)
        if found:
            self.sink.witness(Guarantee.R4, f"after {cause}: {len(found)} orphan(s), e.g. {found[0]}", self.history)

    @rule(kind=st.sampled_from(list(RACES)), schedule=schedules("AB", max_steps=24), seed=st.integers(0, 3))
    def race(self, kind: str, schedule: str, seed: int) -> None:
        scenario = RACES[kind]
        race = self.call(Guarantee.G3, f"the setup of the {kind} race", lambda: scenario.prepare(
            self.store, self.engine, self.clock, seed, acknowledge=lambda artifacts: self.ack(("acme", "home"), artifacts)))
        run = Interleaving(self.store, race.actors).run(schedule)
        self.sink.interleaving(scenario.guarantee)
        self.history += scenario.history(run.trace, offset=len(self.history))
        for actor, artifacts in race.acked_payloads.items():
            if run.outcomes[actor].error is None:
                self.ack(("acme", "home"), artifacts)
        violations, witness = race.judge(run, guarded=self.target.guarded)
        self.fail_all(violations)
        if witness is not None:
            self.sink.witness(scenario.guarantee, witness, self.history)
        self.after_step()

    @precondition(lambda self: any(self.oracle.manifests.values()))
    @rule(index=st.integers(0, 2), pick=st.integers(0, 7))
    def rollback(self, index: int, pick: int) -> None:
        slots = sorted(s for s, versions in self.oracle.manifests.items() if versions)
        slot = slots[index % len(slots)]
        versions = self.oracle.manifests[slot]
        version = versions[pick % len(versions)]
        before = self.view.snapshot()
        self.call(Guarantee.G4, f"rollback of {slot} to acknowledged manifest {version[:12]}…",
                  lambda: self.engine(self.recorder("rollback")).rollback(*slot, to=version))
        self.fail_all(check_rollback(slot, version, before, self.view.snapshot(), self.mapping(slot),
                                     self.oracle.mappings[version]))
        self.sink.rollbacks += 1
        self.after_step()

    @rule(slot=st.integers(0, 7), fake=st.binary(min_size=32, max_size=32).map(bytes.hex))
    def rollback_to_unknown(self, slot: int, fake: str) -> None:
        slot = self.slot(slot)
        if fake not in self.oracle.manifests.get(slot, []):
            before = self.view.snapshot()
            try:
                self.call(Guarantee.G4, f"rollback of {slot} to an unknown manifest",
                          lambda: self.engine().rollback(*slot, to=fake), allowed=(PubsafeError, ValueError))
                accepted = True
            except (PubsafeError, ValueError):
                accepted = False
            self.fail_all(check_refused_rollback(fake, accepted, before, self.view.snapshot()))
        self.after_step()

    @rule(advance=st.sampled_from([0.0, 1.0, TTL / 2, TTL]))
    def sweep(self, advance: float) -> None:
        self.clock.advance(advance)
        try:
            self.call(Guarantee.G3, "a gc sweep", lambda: self.engine(self.recorder("gc")).gc(GRACE),
                      allowed=(CollectionRefused,))
            self.sink.sweeps += 1
        except CollectionRefused as exc:
            if self.store.capabilities.create_only:  # refused where it is documented to run
                self.fail(Violation(Guarantee.G3, f"a gc sweep raised CollectionRefused: {exc}"))
            self.sink.sweeps_refused += 1
        self.after_step()

    @rule(slot=st.integers(0, 7), advance=st.sampled_from([0.0, 10.0, TTL - 1, TTL, TTL + 5]),
          invalidate=st.booleans())
    def serve(self, slot: int, advance: float, invalidate: bool) -> None:
        slot = self.slot(slot)
        self.clock.advance(advance)
        self.note_current()
        if invalidate:
            self.reader.invalidate(*slot)
        got = self.call(Guarantee.G5, f"reading the manifest of {slot}", lambda: self.reader.manifest(*slot))
        self.sink.reads += 1
        served = None if got is None else manifest_version(got.tenant, got.surface, dict(got.current))
        if violation := check_staleness(self.current_log.get(slot, []), self.clock(), TTL, served, invalidate):
            self.fail(violation)
        for type_ in sorted(got.current if got is not None else {}):
            try:
                value = self.reader.artifact(*slot, type_)
            except PubsafeError as exc:
                self.fail(Violation(Guarantee.G5, f"reader could not serve {type_}: {exc}"))
            else:
                if violation := check_served_payload(type_, value, got.current[type_]):
                    self.fail(violation)
        self.after_step()

    def teardown(self) -> None:
        """The full, independent check: the whole store read again. A key that changed
        without a write addressed to it is invisible to the per-step checks."""
        try:
            if self.view.verify():
                self.fail_all(check_contents(self.view.contents, self.store.root_uri, self.oracle, skip=self.skip))
        finally:
            self.target.cleanup(self.store.inner)


def _valid_slot(tenant: str, surface: str) -> bool:
    try:
        validate_name("tenant", tenant)
        validate_name("surface", surface)
    except InvalidName:
        return False
    return True


def replay_program(target: Target, steps: list[str]) -> list[str]:
    """A printed counterexample as a program that runs in a fresh interpreter."""
    if target.rebuild is None:
        bind = ["# bind the machine to your own Target here:", "PublishMachine = PublishMachine.bind(my_target)"]
        imports = []
    else:
        bind = [f"PublishMachine = PublishMachine.bind({target.rebuild})"]
        factory = target.rebuild.split("(", 1)[0]
        module = "mutants" if factory == "mutant_target" else "target"
        imports = [f"from pubsafe.models.{module} import {factory}"]
    paths = [f"sys.path.insert(0, {path!r})" for path in target.import_paths]
    head = ["import sys", *paths] if paths else []
    return [*head, "from pubsafe.models.machine import PublishMachine", *imports, *bind, *steps]
