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

Preconditions read only the machine, and argument strategies are Hypothesis's own
mapped by pure functions: ``models.conformance.planned`` replays examples on a remote
store several at once and relies on both (its docstring says why).
"""

from __future__ import annotations

from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from pubsafe.faults import Crash, Event, Interleaving
from pubsafe.faults.strategies import fault_plans, schedules
from pubsafe.refimpl.errors import CollectionRefused, IntegrityError, InvalidName, PubsafeError, RetryableStoreError
from pubsafe.refimpl.names import validate_name
from pubsafe.refimpl.phases import PUBLISH_PHASES

from ..checkers import GuaranteeViolation, Violation
from ..checkers.immutability import check_receipt_versions
from ..checkers.manifest_last import check_failed_publish, check_mapping
from ..checkers.oracle import (
    RECORDS,
    history_key,
    manifest_version,
)
from ..checkers.retry import retry_failed
from ..checkers.rollback import (
    check_history_link,
    check_refused_rollback,
    check_rollback,
    read_history_entry,
    unusable,
    walk_back,
)
from ..checkers.serving import check_served_payload, check_staleness
from ..exploration import GRACE, RACES, TTL, backend_cause, payload, untranslated
from ..guarantees import Guarantee
from ..target import Target
from .sink import RunSink
from .state import DAMAGE, FAULT_KINDS, SLOTS, VARIANTS, WIDE_TENANTS, MachineState, Payload
from .strategies import names, type_names, wide_payloads

__all__ = ["PublishMachine", "RunSink", "replay_program", "SLOTS"]

_seeds = st.integers(0, 3)
_payloads = st.one_of(_seeds, wide_payloads())  #: half familiar, half wide (weights: see .strategies)


class PublishMachine(MachineState):
    """Publishes, faulted publishes and retries (above the store and, where it can,
    below it), races, rollbacks, sweeps, reads and invalidations, against one target;
    G1–G5 and the races checked after every step."""

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
            receipt = self.call(Guarantee.G3, what,
                                lambda: self.engine(self.recorder("publish")).publish(*where, artifacts),
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
        where = self.slot(slot)
        artifacts = self.artifacts(types, values)
        before_bytes = self.current_bytes(where)
        before = self.mapping(where)
        complete = self.merged(where, before, artifacts)
        faulty = self.recorder("publish", plan)
        try:
            receipt = self.call(Guarantee.G3, f"publish with fault {plan}",
                                lambda: self.engine(faulty).publish(*where, artifacts), allowed=(RetryableStoreError,))
            failed = False
        except (Crash, RetryableStoreError):
            failed = True
        if failed:
            self.sink.crash_points += 1
            fault = str(faulty.fired[0])
            if violation := check_failed_publish(where, before_bytes, self.current_bytes(where), complete,
                                                 self.store.root_uri, fault):
                self.fail(violation)
            self.note_orphans(fault)
            try:
                receipt = self.engine(self.recorder("retry")).publish(*where, artifacts)
            except Exception as exc:  # noqa: BLE001 - any failure of the retry is the finding
                self.fail(retry_failed(fault, exc))
                assume(False)
        # a version computed otherwise is G1, not a retry's fault
        self.fail_all(check_receipt_versions(receipt, artifacts))
        if violation := check_mapping(where, self.mapping(where), complete, Guarantee.G3 if failed else Guarantee.G2):
            self.fail(violation)
        self.ack(where, artifacts)
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
            self.call(Guarantee.G3, f"publish to {where} (backend fault {fault} never fired)",
                      lambda: _reraise(failure))
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

    @rule(kind=st.sampled_from(list(RACES)), schedule=schedules("AB", max_steps=24), seed=st.integers(0, 3))
    def race(self, kind: str, schedule: str, seed: int) -> None:
        scenario = RACES[kind]
        race = self.call(Guarantee.G3, f"the setup of the {kind} race", lambda: scenario.prepare(
            self.store, self.engine, self.clock, seed,
            acknowledge=lambda artifacts: self.ack(("acme", "home"), artifacts)))
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
          steps=st.one_of(st.just(0),
                          st.one_of(st.integers(1, 3), st.integers(1, 3), st.sampled_from([9, 2**31, 10**30]))))
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
        where = self.slot(slot)
        if fake not in self.oracle.manifests.get(where, []):
            before = self.view.snapshot()
            try:
                self.call(Guarantee.G4, f"rollback of {where} to an unknown manifest",
                          lambda: self.engine().rollback(*where, to=fake), allowed=(PubsafeError, ValueError))
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
        where, later = self.slot(slot), None if then is None else self.slot(then)
        self.clock.advance(advance)
        self.note_current()
        if invalidate:
            self.reader.invalidate(*where)
        invalidated = invalidate or where in self.invalidated  # by this step, or by one since the last read
        got = self.call(Guarantee.G5, f"reading the manifest of {where}", lambda: self.reader.manifest(*where))
        self.invalidated.discard(where)
        self.sink.reads += 1
        served = None if got is None else manifest_version(got.tenant, got.surface, dict(got.current))
        if violation := check_staleness(self.current_log.get(where, []), self.clock(), TTL, served, invalidated):
            self.fail(violation)
        for type_ in sorted(got.current if got is not None else {}):
            try:
                value = self.reader.artifact(*where, type_)
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
            expected: dict[str, str] | None = {t: self.oracle.key_of(u, self.store.root_uri)
                                               for t, u in link.mapping.items()}
            why = unusable(link.mapping, slot, contents, self.store.root_uri, self.oracle)
        else:
            expected, why = None, target[0]
        what = f"rollback of {slot[0]}/{slot[1]} by {steps} step(s)"
        before = self.view.snapshot()
        refusal = self.refusal(Guarantee.G4, what,
                               lambda: self.engine(self.recorder("rollback")).rollback(*slot, steps=steps))
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
        self.call(Guarantee.G3, f"a publish to {slot}",
                  lambda: self.engine(self.recorder("publish")).publish(*slot, first))
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
