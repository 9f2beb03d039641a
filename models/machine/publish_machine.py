"""The stateful model: a Hypothesis machine that publishes, crashes, races, rolls
back, sweeps and serves, and checks the guarantees after every step.

Besides faults above the store API (``FaultyStore``), on a store whose backend it
can reach it fails backend calls below it (``faults.backend``), so the store's own
error mapping is judged; it damages blobs only history names before rolling back to
them; it rolls back by ``--steps`` and walks the history links itself; it invalidates
slots of other names than the one it reads next; and at the end of each example it
judges the store's listing against what it read by key (``checkers.listing``).

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
from pubsafe.faults.backend import backend_seam
from pubsafe.faults.strategies import fault_plans, schedules
from pubsafe.refimpl.errors import CollectionRefused, IntegrityError, InvalidName, PubsafeError, RetryableStoreError
from pubsafe.refimpl.names import validate_name
from pubsafe.refimpl.phases import PUBLISH_PHASES

from ..checkers import GuaranteeViolation, Violation, check_contents
from ..checkers.immutability import check_receipt_versions
from ..checkers.listing import LISTING_FAULT, listing_fault
from ..checkers.manifest_last import check_current_at, check_failed_publish, check_mapping, mapping_keys
from ..checkers.oracle import (
    RECORDS,
    Oracle,
    blob_key,
    canonical,
    current_key,
    history_key,
    manifest_version,
    parse_manifest,
    payload_version,
)
from ..checkers.orphans import orphans
from ..checkers.reading import read_keys
from ..checkers.retry import retry_failed
from ..checkers.rollback import (
    check_history_link,
    check_refused_rollback,
    check_rollback,
    read_history_entry,
    unusable,
    walk_back,
)
from ..checkers.serving import CurrentLog, check_served_payload, check_staleness
from ..exploration import GRACE, RACES, TTL, StepClock, backend_cause, payload, untranslated
from ..failures import store_failed
from ..guarantees import Guarantee
from ..target import Target
from .observed import ObservedStore, StoreView
from .strategies import names, type_names, wide_payloads

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
#: Tenants of the slots ``rollback_to_a_lost_blob`` makes: wide, and cheap to draw
WIDE_TENANTS = ["acme", "caf\u00e9", "cafe\u0301", "ACME", "\u65e5\u672c", "\U0001f600smile", "a b", "100%", "x" * 128]
#: What happens to a blob only history names, before a rollback to it (``rollback_to_a_lost_blob``)
DAMAGE = {"deleted": "deleted", "altered": "replaced by other bytes", "truncated": "cut to half its length",
          "emptied": "emptied", "unrecorded": "left without its registry record"}


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
    """Publishes, faulted publishes and retries (above the store and, where it can,
    below it), races, rollbacks, sweeps, reads and invalidations, against one target;
    G1–G5 and the races checked after every step."""

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
        reachable = backend_seam(probe) is not None
        target.cleanup(probe)
        attributes = {"target": target, "skip": frozenset(skip), "sink": sink or RunSink(), "atomic": atomic,
                      "__qualname__": "PublishMachine", "__module__": cls.__module__}
        if not reachable:  # no backend to fail: not a rule at all (a rule never enabled still costs draws)
            attributes["publish_with_backend_fault"] = None
        return type("PublishMachine", (cls,), attributes)

    def __init__(self) -> None:
        super().__init__()
        self.clock = StepClock()
        self.store = ObservedStore(self.target.store_factory())
        self.view = StoreView(self.store)  # the checker's mirror: re-reads what each step wrote
        self.oracle = Oracle()
        self.history: list[Event] = []
        self.reader = self.target.reader_factory(self.store, manifest_ttl=TTL, clock=self.clock)
        self.seam = backend_seam(self.store.inner)  #: where backend errors can be injected, if anywhere
        self.current_log: dict[tuple[str, str], CurrentLog] = {}
        self.invalidated: set[tuple[str, str]] = set()  #: slots invalidated since the reader last read them
        self.slots = list(SLOTS)
        self.isolated = 0  #: slots made by rules that need one of their own (never in ``slots``)
        self.checked: tuple[int, int] | None = None  #: (mirror version, oracle changes) the invariant last held at
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
        violation = self.listing_behind(violation)
        self.history.append(Event("checker", "violation", str(violation.guarantee), result="violation",
                                  time=len(self.history)))
        raise GuaranteeViolation(violation)

    def fail_all(self, violations: list[Violation]) -> None:
        for violation in violations:
            self.fail(violation)

    def listing_behind(self, violation: Violation) -> Violation:
        """The listing fault behind ``violation``, if the store's listing leaves out keys
        that exist (whatever worked from a listing, a sweep or a history walk, saw part
        of the store, and the report must name the cause, not what it caused); else
        ``violation`` itself. Run only on the way to a failure: one listing."""
        if LISTING_FAULT in violation.message or Guarantee.G1 in self.skip:
            return violation
        try:
            return self.listing_check("", consequence=str(violation)) or violation
        except PubsafeError:
            return violation

    def listing_check(self, prefix: str, consequence: str = "") -> Violation | None:
        """The store's ``list(prefix)`` against the keys the mirror holds there, each
        left out of the listing read again by key (the mirror may be stale, not the listing)."""
        listed = self.store.inner.list(prefix)
        seen = set(listed)
        missing = [k for k in self.view.refresh() if k.startswith(prefix) and k not in seen]
        found = [k for k, data in read_keys(self.store.inner, missing).items() if data is not None]
        return listing_fault(prefix, listed, [*seen, *found], consequence)

    def call(self, guarantee: Guarantee, what: str, run: Callable[[], Any], *, allowed: tuple[type, ...] = ()) -> Any:
        """Call the system under test; an error it is not documented to raise is a counterexample."""
        try:
            return run()
        except (*allowed, GuaranteeViolation):  # a check inside ``run`` (an acknowledgement) found one itself
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
        return {t: payload(v, variant) if isinstance(v, int) else v for t, v in zip(types, values, strict=False)}

    def current_bytes(self, slot: tuple[str, str]) -> bytes | None:
        return self.view.refresh().get(current_key(*slot))

    def mapping(self, slot: tuple[str, str]) -> dict[str, str] | None:
        return mapping_keys(self.current_bytes(slot), self.store.root_uri)

    def merged(self, slot: tuple[str, str], before: dict[str, str] | None, artifacts: dict[str, Any]) -> dict[str, str]:
        return (before or {}) | {t: blob_key(*slot, t, payload_version(p)) for t, p in artifacts.items()}

    def ack(self, slot: tuple[str, str], artifacts: dict[str, Any]) -> None:
        """Note a publish as acknowledged: its payloads, and the manifest now current,
        whose history entry must be there (else no rollback can name it: G4)."""
        for type_, value in artifacts.items():
            self.oracle.ack_payload(*slot, type_, value)
        data = self.current_bytes(slot)
        if data is not None:
            manifest = parse_manifest(data)
            new = manifest.version not in self.oracle.mappings
            self.oracle.ack_manifest(*slot, manifest.version, mapping_keys(data, self.store.root_uri) or {})
            if new and isinstance(entry := read_history_entry(self.view.refresh(), slot, manifest.version), str):
                self.fail(Violation(Guarantee.G4, f"{entry}, though a publish to {slot[0]}/{slot[1]} returned with it "
                                                  "current: no rollback can name it", history_key(*slot, manifest.version)))

    def current_version(self, slot: tuple[str, str]) -> str | None:
        """The version of the slot's current manifest; None if absent or unreadable."""
        data = self.current_bytes(slot)
        try:
            return None if data is None else parse_manifest(data).version
        except ValueError:
            return None

    def history_keys(self, slot: tuple[str, str]) -> set[str]:
        prefix = f"history/{slot[0]}/{slot[1]}/"
        return {k for k in self.view.refresh() if k.startswith(prefix)}

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
        contents = self.view.refresh()
        state = (self.view.version, self.oracle.changes)
        if state != self.checked:  # else the same contents and acknowledgements as the last check: no news
            self.fail_all(check_contents(contents, self.store.root_uri, self.oracle, skip=self.skip))
            self.checked = state

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
        before_version = self.current_version(where)
        entries_before = self.history_keys(where)
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
        after_version = self.current_version(where)
        if after_version not in (None, before_version) and history_key(*where, after_version) not in entries_before:
            if violation := check_history_link(self.view.refresh(), where, after_version, before_version):
                self.fail(violation)  # a first swap of this manifest: its entry names what it replaced
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
            receipt = self.call(Guarantee.G3, f"publish with fault {plan}",
                                lambda: self.engine(faulty).publish(*slot, artifacts), allowed=(RetryableStoreError,))
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
                receipt = self.engine(self.recorder("retry")).publish(*slot, artifacts)
            except Exception as exc:  # noqa: BLE001 - any failure of the retry is the finding
                self.fail(retry_failed(fault, exc))
                assume(False)
        self.fail_all(check_receipt_versions(receipt, artifacts))  # a version computed otherwise is G1, not a retry's fault
        if violation := check_mapping(slot, self.mapping(slot), complete, Guarantee.G3 if failed else Guarantee.G2):
            self.fail(violation)
        self.ack(slot, artifacts)
        self.after_step()

    @precondition(lambda self: self.seam is not None)
    @rule(slot=st.integers(0, 7), types=st.lists(type_names(), min_size=1, max_size=2, unique=True),
          values=st.lists(_payloads, min_size=2, max_size=2), kind=st.integers(0, 15),
          phase=st.sampled_from(PUBLISH_PHASES), call=st.integers(0, 15), nth=st.integers(1, 6))
    def publish_with_backend_fault(self, slot: int, types: list[str], values: list[Payload], kind: int, phase: str,
                                   call: int, nth: int) -> None:
        """A publish during which the store's backend fails one call (``faults.backend``:
        an errno, an S3 error code), then a retry. The store must translate it into an
        error that means what happened: the publish then fails leaving current as it
        was (or complete, if the call landed), and the retry converges; or it succeeds
        with everything it acknowledges in place (its blobs, records and history entry)."""
        assert self.seam is not None
        where = self.slot(slot)
        artifacts = self.artifacts(types, values)
        before_bytes, before = self.current_bytes(where), self.mapping(where)
        complete = self.merged(where, before, artifacts)
        recorder = self.recorder("publish")
        fault = self.seam.fault(kind, phase, call, nth)
        in_flight: list[Event] = []
        failure: BaseException | None = None
        receipt = None
        with self.seam.injecting(fault, on_fire=lambda: in_flight.append(recorder.events[-1])) as shot:
            try:
                receipt = self.engine(recorder).publish(*where, artifacts)
            except Exception as exc:  # noqa: BLE001 - judged below, with what the backend said
                failure = exc
        cause = f"backend fault {fault}: {backend_cause(shot, in_flight)}"
        if failure is not None and not shot.fired:
            self.call(Guarantee.G3, f"publish to {where} (backend fault {fault} never fired)", lambda: _reraise(failure))
        if failure is not None and not isinstance(failure, PubsafeError):
            self.fail(untranslated(cause, failure))
        if failure is not None:
            self.sink.crash_points += 1
            if violation := check_failed_publish(where, before_bytes, self.current_bytes(where), complete,
                                                 self.store.root_uri, cause):
                self.fail(violation)
            self.note_orphans(cause)
            try:
                receipt = self.engine(self.recorder("retry")).publish(*where, artifacts)
            except Exception as exc:  # noqa: BLE001 - any failure of the retry is the finding
                self.fail(retry_failed(cause, exc))
                assume(False)
        self.fail_all(check_receipt_versions(receipt, artifacts))
        if violation := check_mapping(where, self.mapping(where), complete, Guarantee.G3 if failure else Guarantee.G2):
            self.fail(Violation(violation.guarantee, f"after {cause}: {violation.message}", violation.key))
        try:
            self.ack(where, artifacts)
        except GuaranteeViolation as exc:
            v = exc.violation
            raise GuaranteeViolation(Violation(v.guarantee, f"after {cause}: {v.message}", v.key)) from None
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
        if scenario.guarantee is Guarantee.R5:  # its setup crashed a publish: the orphan it left is R4, observed
            self.note_orphans(f"the crashed publish that sets up the {kind} race")
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
    @rule(index=st.integers(0, 2), pick=st.integers(0, 7),
          steps=st.one_of(st.just(0), st.one_of(st.integers(1, 3), st.integers(1, 3), st.sampled_from([9, 2**31, 10**30]))))
    def rollback(self, index: int, pick: int, steps: int = 0) -> None:
        """Roll a slot back as an operator does: ``--to`` an acknowledged manifest
        (``steps=0``), or ``--steps N`` (``rollback_steps``)."""
        slots = sorted(s for s, versions in self.oracle.manifests.items() if versions)
        slot = slots[index % len(slots)]
        if steps:
            self.rollback_steps(slot, steps)
            return
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
          invalidate=st.booleans(), then=st.one_of(st.none(), st.integers(0, 7)))
    def serve(self, slot: int, advance: float, invalidate: bool, then: int | None = None) -> None:
        """Read a slot's manifest and artifacts (after invalidating it, if ``invalidate``),
        then invalidate the slot ``then``: the next read of *that* slot must be current,
        whatever other slots (other tenants, surfaces, names that differ only in case or
        Unicode form) were read or invalidated meanwhile."""
        slot, later = self.slot(slot), None if then is None else self.slot(then)
        self.clock.advance(advance)
        self.note_current()
        if invalidate:
            self.reader.invalidate(*slot)
        invalidated = invalidate or slot in self.invalidated  # by this step, or by one since the last read
        got = self.call(Guarantee.G5, f"reading the manifest of {slot}", lambda: self.reader.manifest(*slot))
        self.invalidated.discard(slot)
        self.sink.reads += 1
        served = None if got is None else manifest_version(got.tenant, got.surface, dict(got.current))
        if violation := check_staleness(self.current_log.get(slot, []), self.clock(), TTL, served, invalidated):
            self.fail(violation)
        for type_ in sorted(got.current if got is not None else {}):
            try:
                value = self.reader.artifact(*slot, type_)
            except PubsafeError as exc:
                self.fail(Violation(Guarantee.G5, f"reader could not serve {type_}: {exc}"))
            else:
                if violation := check_served_payload(type_, value, got.current[type_]):
                    self.fail(violation)
        if later is not None:
            self.call(Guarantee.G5, f"invalidate({later[0]!r}, {later[1]!r})", lambda: self.reader.invalidate(*later))
            self.invalidated.add(later)
        self.after_step()

    def rollback_steps(self, slot: tuple[str, str], steps: int) -> None:
        """``rollback(steps=N)``: exactly the manifest N links back along the history
        entries' ``previous`` links (walked by the checker itself), and it must be
        usable; else refused, with nothing written."""
        contents = self.view.refresh()
        before_version = self.current_version(slot)
        target = walk_back(contents, slot, before_version, steps)
        if isinstance(target, str):
            link = read_history_entry(contents, slot, target)
            assert not isinstance(link, str)  # the walk read it
            expected: dict[str, str] | None = {t: self.oracle.key_of(u, self.store.root_uri) for t, u in link.mapping.items()}
            why = unusable(link.mapping, slot, contents, self.store.root_uri, self.oracle)
        else:
            expected, why = None, target[0]
        what = f"rollback of {slot[0]}/{slot[1]} by {steps} step(s)"
        before = self.view.snapshot()
        refusal = self.refusal(Guarantee.G4, what, lambda: self.engine(self.recorder("rollback")).rollback(*slot, steps=steps))
        after = self.view.snapshot()
        start = str(before_version)[:12]
        if why is not None:
            self.fail_all(check_refused_rollback(f"{steps} step(s) back from {start}", refusal is None, before, after,
                                                 f"{why}: it had to be refused"))
        elif refusal is not None:
            self.fail(Violation(Guarantee.G4, f"{what} was refused ({refusal}), but {steps} link(s) back from current "
                                              f"{start}… along the history is {target[:12]}…, which is usable"))
        else:
            assert expected is not None and isinstance(target, str)
            for v in check_rollback(slot, target, before, after, self.mapping(slot), expected):
                self.fail(Violation(v.guarantee, f"{what}, from current {start}… ({steps} link(s) back along the "
                                                 f"history is {target[:12]}…): {v.message}", v.key))
            self.sink.rollbacks += 1
        self.after_step()

    @precondition(lambda self: self.isolated < 1)  # it adds a slot of its own: the store stays small
    @rule(tenant=st.sampled_from(WIDE_TENANTS), damage=st.sampled_from(list(DAMAGE)), by_steps=st.booleans(),
          value=_seeds)
    def rollback_to_a_lost_blob(self, tenant: str, damage: str, by_steps: bool, value: Payload) -> None:
        """A blob that only history names (its manifest left current) is deleted,
        altered or unrecorded; a rollback to that manifest (by version or by one step)
        must be refused and write nothing (G4): current would name a blob that is not
        there, or not what its version says."""
        self.isolated += 1
        slot = (tenant, f"history-only-blob-{self.isolated}")  # never one of ``slots``: nothing else goes there
        first = {"model": payload(value) if isinstance(value, int) else value}
        second = {"model": {"replaced": first["model"]}}
        self.call(Guarantee.G3, f"a publish to {slot}", lambda: self.engine(self.recorder("publish")).publish(*slot, first))
        old, blob = self.current_version(slot), (self.mapping(slot) or {}).get("model")
        self.call(Guarantee.G3, f"a second publish to {slot}",
                  lambda: self.engine(self.recorder("publish")).publish(*slot, second))
        self.oracle.ack_payload(*slot, "model", second["model"])  # the first blob is not the store's to keep now
        if old is None or blob is None or not {blob, RECORDS + blob} <= self.view.refresh().keys():
            self.after_step()  # no first manifest, or no blob or record where it says: other checks judge that
            return
        self.damage(blob, damage)
        what = f"rollback of {slot[0]}/{slot[1]} " + ("by 1 step" if by_steps else f"to {str(old)[:12]}…")
        before = self.view.snapshot()
        go = (lambda: self.engine(self.recorder("rollback")).rollback(*slot, steps=1)) if by_steps else (
            lambda: self.engine(self.recorder("rollback")).rollback(*slot, to=old))
        refusal = self.refusal(Guarantee.G4, what, go)
        now = self.current_version(slot)
        outcome = "current now names it" if now == old else f"current is {str(now)[:12]}…, the manifest it had"
        self.fail_all(check_refused_rollback(str(old), refusal is None, before, self.view.snapshot(),
                                             f"its model blob {blob} was {DAMAGE[damage]} after it left current (only "
                                             f"history named it), so it had to be refused ({what}); {outcome}"))
        self.after_step()

    def damage(self, blob: str, how: str) -> None:
        """What an operator, a lifecycle rule or bit rot does to a blob behind pubsafe's back."""
        if how == "deleted":
            self.store.delete(blob)
        elif how == "unrecorded":
            self.store.delete(RECORDS + blob)
        else:
            data = self.store.get(blob)
            bad = {"altered": canonical({"not": "what its version says"}), "truncated": data[: len(data) // 2],
                   "emptied": b""}[how]
            self.store.replace(blob, bad)
        self.oracle.acked_blobs.pop(blob, None)
        self.oracle.first_seen_blobs.pop(blob, None)
        self.oracle.changes += 1

    def refusal(self, guarantee: Guarantee, what: str, run: Callable[[], Any]) -> BaseException | None:
        """Run an operation that may be refused: the refusal (a pubsafe error or ValueError),
        or None if it went through; a store failing by itself proves nothing (StoreFailed)."""
        try:
            self.call(guarantee, what, run, allowed=(PubsafeError, ValueError))
        except (PubsafeError, ValueError) as exc:
            if failure := store_failed(what, exc):
                raise failure from exc
            return exc
        return None

    def listed_prefixes(self) -> list[str]:
        """Prefixes whose listing the end of an example checks besides the whole store's:
        what ``pubsafe history`` and dialect detection list, and a name cut short (a
        prefix is a plain string, not a path segment) of the slot added last (often a
        drawn, wide name)."""
        tenant, surface = self.slots[-1]
        return [f"history/{tenant}/{surface}/", "records/", tenant[: max(1, len(tenant) // 2)]]

    def teardown(self) -> None:
        """The full, independent check: the whole store read again. A key that changed
        without a write addressed to it is invisible to the per-step checks; so is a
        listing that leaves keys out (judged here, whole and under ``listed_prefixes``)."""
        try:
            wrong = self.view.verify()
            if self.view.omitted and (fault := listing_fault("", self.view.listed, self.view.contents)):
                self.fail(fault)  # before what it would pass for: objects that look gone
            for prefix in self.listed_prefixes():
                if fault := self.listing_check(prefix):
                    self.fail(fault)
            if wrong:
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


def _reraise(exc: BaseException) -> Any:
    raise exc
