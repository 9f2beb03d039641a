"""The stateful model: a Hypothesis machine that publishes, crashes, races, rolls
back, sweeps and serves, and checks every guarantee after every step.

Interleavings are steps the machine controls (a drawn schedule string run by the
deterministic scheduler), never free threads, so a failure shrinks to the smallest
program and schedule and replays exactly. A violation is raised as
``GuaranteeViolation`` tagged with its guarantee ID; guarantees listed in ``skip``
(already found broken) are not checked, so a second run can hunt for the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pubsafe.faults import Crash, FaultyStore, Interleaving
from pubsafe.faults.strategies import fault_plans, schedules
from pubsafe.refimpl import Engine
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.errors import (
    CollectionInProgress,
    ObjectNotFound,
    PublishConflict,
    PubsafeError,
    RetryableStoreError,
    RollbackRefused,
)
from pubsafe.refimpl.layout import blob_key, current_key
from pubsafe.refimpl.records import Manifest

from .checks import GuaranteeViolation, Oracle, Violation, check_store, current_mapping, half_updated
from .serving import hostile_serving_violations
from .target import Target
from .verdicts import TimelineEvent

__all__ = ["RunSink", "machine_for", "payload", "stale_swap", "RACE_GUARANTEE", "SLOTS", "TYPES", "TTL", "GRACE"]

SLOTS = [("acme", "home"), ("acme", "feed"), ("beta", "home")]
TYPES = ["model", "items"]
TTL = 30.0
GRACE = 60.0


def payload(seed: int, variant: int = 0) -> dict[str, Any]:
    """Distinct seeds give distinct documents; variants spell the same one differently."""
    if variant:
        return {"meta": {"b": [True, None], "a": 1.0}, "weights": [float(seed), seed + 0.5], "seed": seed}
    return {"seed": seed, "weights": [seed, seed + 0.5], "meta": {"a": 1, "b": [True, None]}}


@dataclass
class RunSink:
    """What a run learns besides pass/fail: coverage, witnesses, the last timeline."""

    examples: int = 0
    steps: int = 0
    interleavings: int = 0
    crash_points: int = 0
    reads: int = 0
    witnesses: dict[str, tuple[str, list[TimelineEvent]]] = field(default_factory=dict)
    last_timeline: list[TimelineEvent] = field(default_factory=list)
    progress: Callable[[int], None] = lambda n: None

    def witness(self, guarantee: str, text: str, timeline: list[TimelineEvent]) -> None:
        self.witnesses.setdefault(guarantee, (text, list(timeline)))


class StepClock:
    """Engine and reader time: starts at wall time, then moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


RACE_GUARANTEE = {"same-type": "R1", "cross-type": "R2", "publish-rollback": "R3", "publish-gc": "R5"}


def stale_swap(run: Any, key: str) -> str | None:
    """Describe a swap built on a current that the other actor replaced meanwhile.

    Engine-agnostic: it reads only the trace (each actor's last read of ``key``
    before its last successful replace of it), so it judges any engine on the layout.
    """
    if any(outcome.error for outcome in run.outcomes.values()):
        return None
    last_read: dict[str, int] = {}
    final: dict[str, tuple[int, int]] = {}  # actor -> (its last swap, its last read before)
    for i, step in enumerate(run.trace):
        if step.key == key and step.op == "get":
            last_read[step.actor] = i
        elif step.key == key and step.op == "replace" and step.ok:
            final[step.actor] = (i, last_read.get(step.actor, -1))
    if len(final) < 2:
        return None
    (late_actor, (late_swap, late_read)), (_, (early_swap, _)) = sorted(final.items(), key=lambda kv: -kv[1][0])
    if late_read < early_swap < late_swap:
        return (
            f"schedule {run.schedule!r}: actor {late_actor} read current at step {late_read}, the other "
            f"actor swapped at step {early_swap}, and {late_actor} swapped over it at step {late_swap}"
        )
    return None


def machine_for(target: Target, *, skip: frozenset[str] = frozenset(), sink: RunSink | None = None) -> type:
    """A RuleBasedStateMachine class bound to ``target``."""
    the_sink = sink if sink is not None else RunSink()
    probe = target.store_factory()
    atomic = probe.capabilities.atomic_replace
    target.cleanup(probe)
    # A crash inside a write can only tear it on a store that does not claim atomicity.
    kinds = ("crash", "lost-ack", "error", "error-after") + (() if atomic else ("torn",))

    class PublishMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.clock = StepClock()
            self.store = target.store_factory()
            self.oracle = Oracle()
            self.timeline: list[TimelineEvent] = []
            self.reader = target.reader_factory(self.store, manifest_ttl=TTL, clock=self.clock)
            self.current_since: dict[tuple[str, str], list[tuple[float, str | None]]] = {}
            self.mappings: dict[str, dict[str, str]] = {}
            the_sink.examples += 1
            the_sink.last_timeline = self.timeline

        # -- helpers ---------------------------------------------------------------

        def engine(self, store=None):  # type: ignore[no-untyped-def]
            return target.engine_factory(store if store is not None else self.store, guarded=target.guarded, clock=self.clock)

        def _recorded(self, plan: str = "") -> FaultyStore:
            return FaultyStore(self.store, plan)

        def _log(self, actor: str, faulty: FaultyStore) -> None:
            for event in faulty.events:
                mark = ""
                if event.fault:
                    mark = "crash" if event.fault.split("@")[0] in ("crash", "lost-ack", "torn") else "fault"
                self.timeline.append(TimelineEvent(actor=actor, op=event.op, key=event.key, phase=event.phase, mark=mark))

        def fail(self, guarantee: str, message: str) -> None:
            if guarantee in skip:
                return
            self.timeline.append(TimelineEvent(actor="checker", op="violation", key=guarantee, mark="violation"))
            raise GuaranteeViolation(Violation(guarantee, message))

        def _ack(self, tenant: str, surface: str, artifacts: dict[str, Any]) -> None:
            for type_, doc in artifacts.items():
                data, version = canonicalize(doc)
                self.oracle.ack_blob(blob_key(tenant, surface, type_, version), data)
            manifest = self._current_manifest(tenant, surface)
            if manifest is not None:
                self.oracle.ack_manifest(tenant, surface, manifest.version)
                self.mappings[manifest.version] = dict(manifest.current)

        def _current_manifest(self, tenant: str, surface: str) -> Manifest | None:
            try:
                return Manifest.model_validate_json(self.store.get(current_key(tenant, surface)))
            except ObjectNotFound:
                return None

        def _keys_of(self, mapping: dict[str, str] | None) -> dict[str, str]:
            root = self.store.root_uri.rstrip("/") + "/"
            return {t: uri.removeprefix(root) for t, uri in (mapping or {}).items()}

        def _expect_mapping(self, tenant: str, surface: str, before: dict[str, str], artifacts: dict[str, Any], guarantee: str) -> None:
            expected = dict(before)
            for type_, doc in artifacts.items():
                expected[type_] = blob_key(tenant, surface, type_, canonicalize(doc)[1])
            got = self._keys_of(current_mapping(self.store, tenant, surface))
            if got != expected:
                self.fail(guarantee, f"{tenant}/{surface}: current is {got}, expected the merged mapping {expected}")

        def _snapshot(self) -> dict[str, bytes]:
            return {key: self.store.get(key) for key in self.store.list("")}

        def _note_current(self) -> None:
            for slot in SLOTS:
                manifest = None
                try:
                    manifest = self._current_manifest(*slot)
                except (ValueError, PubsafeError):
                    pass
                version = manifest.version if manifest else None
                seen = self.current_since.setdefault(slot, [])
                if not seen or seen[-1][1] != version:
                    seen.append((self.clock(), version))

        def _step(self) -> None:
            the_sink.steps += 1
            the_sink.progress(1)
            self._note_current()

        # -- rules -------------------------------------------------------------------

        @rule(slot=st.sampled_from(SLOTS), types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True),
              seed=st.integers(0, 3), variant=st.integers(0, 1))
        def publish(self, slot, types, seed, variant):  # type: ignore[no-untyped-def]
            artifacts = {t: payload(seed + i, variant) for i, t in enumerate(types)}
            before = self._keys_of(current_mapping(self.store, *slot))
            recorder = self._recorded()
            try:
                receipt = self.engine(recorder).publish(*slot, artifacts)
            finally:
                self._log("publish", recorder)
            for type_, doc in artifacts.items():
                version = getattr(receipt, "artifacts", {}).get(type_)
                if version is not None and version != canonicalize(doc)[1]:
                    self.fail("G1", f"{type_} got version {version[:12]}…, not the sha256 of its canonical form")
            self._expect_mapping(*slot, before, artifacts, "G2")
            self._ack(*slot, artifacts)
            self._step()

        @rule(slot=st.sampled_from(SLOTS), types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True),
              seed=st.integers(0, 3), plan=fault_plans(kinds))
        def publish_with_fault_then_retry(self, slot, types, seed, plan):  # type: ignore[no-untyped-def]
            artifacts = {t: payload(seed + i) for i, t in enumerate(types)}
            before_bytes = self._raw_current(*slot)
            before = self._keys_of(current_mapping(self.store, *slot))
            faulty = self._recorded(str(plan))
            try:
                self.engine(faulty).publish(*slot, artifacts)
                failed = False
            except (Crash, RetryableStoreError):
                failed = True
            finally:
                self._log("publish", faulty)
            if failed:
                the_sink.crash_points += 1
                fault = faulty.fired[0]
                self._check_failed_publish(slot, before_bytes, before, artifacts, str(fault))
                self._note_orphans(str(fault))
                retry = self._recorded()
                try:
                    self.engine(retry).publish(*slot, artifacts)
                except PubsafeError as exc:
                    self.fail("G3", f"retry after {fault} failed: {exc}")
                finally:
                    self._log("retry", retry)
                self._expect_mapping(*slot, before, artifacts, "G3")
            else:
                self._expect_mapping(*slot, before, artifacts, "G2")
            self._ack(*slot, artifacts)
            self._step()

        def _check_failed_publish(self, slot, before_bytes, before, artifacts, fault: str) -> None:  # type: ignore[no-untyped-def]
            complete = dict(before)
            for type_, doc in artifacts.items():
                complete[type_] = blob_key(*slot, type_, canonicalize(doc)[1])
            violation = half_updated(self.store, *slot, before_bytes, complete)
            if violation is not None:
                self.fail("G2", f"after {fault}: {violation.message}")

        def _raw_current(self, tenant: str, surface: str) -> bytes | None:
            try:
                return self.store.get(current_key(tenant, surface))
            except ObjectNotFound:
                return None

        def _note_orphans(self, cause: str) -> None:
            orphans = Engine(self.store).orphans()
            if orphans:
                the_sink.witness("R4", f"after {cause}: {len(orphans)} orphan(s), e.g. {orphans[0].key}", self.timeline)

        @rule(kind=st.sampled_from(["same-type", "cross-type", "publish-rollback", "publish-gc"]),
              schedule=schedules("AB", max_steps=24), seed=st.integers(0, 3))
        def race(self, kind, schedule, seed):  # type: ignore[no-untyped-def]
            tenant, surface = slot = SLOTS[0]
            base = 10 + 2 * seed
            # A known starting point: two manifests in history, so a rollback has a target.
            for n in (base, base + 1):
                self.engine().publish(tenant, surface, {"model": payload(n), "items": payload(n + 50)})
                self._ack(tenant, surface, {"model": payload(n), "items": payload(n + 50)})
            target_version = self.oracle.manifests[slot][-2]
            a_artifacts = {"model": payload(base + 100)}
            if kind == "publish-gc":
                orphaned = FaultyStore(self.store, "crash@record-write")
                try:
                    self.engine(orphaned).publish(tenant, surface, a_artifacts)
                except Crash:
                    pass
                self.clock.advance(2 * GRACE)
            b_action: Callable[[Any], Any] = {
                "same-type": lambda s: self.engine(s).publish(tenant, surface, {"model": payload(base + 101)}),
                "cross-type": lambda s: self.engine(s).publish(tenant, surface, {"items": payload(base + 101)}),
                "publish-rollback": lambda s: self.engine(s).rollback(tenant, surface, to=target_version),
                "publish-gc": lambda s: self.engine(s).gc(GRACE),
            }[kind]
            if kind == "publish-rollback":
                a_artifacts = {"items": payload(base + 102)}
            run = Interleaving(
                self.store, {"A": lambda s: self.engine(s).publish(tenant, surface, a_artifacts), "B": b_action}
            ).run(schedule)
            the_sink.interleavings += 1
            for step in run.trace:
                self.timeline.append(TimelineEvent(actor=step.actor, op=step.op, key=step.key, phase=step.phase))
            allowed = (PublishConflict, RollbackRefused, CollectionInProgress)
            for name, outcome in run.outcomes.items():
                if outcome.error is not None and not isinstance(outcome.error, allowed):
                    self.fail("G3", f"{kind} race, schedule {run.schedule!r}: actor {name} raised {outcome.error!r}")
            if run.outcomes["A"].error is None:
                self._ack(tenant, surface, a_artifacts)
            if kind in ("same-type", "cross-type") and run.outcomes["B"].error is None:
                self._ack(tenant, surface, {"model" if kind == "same-type" else "items": payload(base + 101)})
            if kind == "publish-gc":
                for v in check_store(self.store, self.oracle, skip=frozenset({"G1", "G3"})):
                    self.fail("R5", f"schedule {run.schedule!r}: {v.message}")
            else:
                self._detect_race(kind, run, current_key(tenant, surface))
            self._step()

        def _detect_race(self, kind: str, run, key: str) -> None:  # type: ignore[no-untyped-def]
            text = stale_swap(run, key)
            if text is None:
                return
            guarantee = RACE_GUARANTEE[kind]
            if target.guarded:
                self.fail(guarantee, f"guarded mode let a stale swap through: {text}")
            the_sink.witness(guarantee, text, self.timeline)

        @precondition(lambda self: any(len(v) >= 1 for v in self.oracle.manifests.values()))
        @rule(data=st.data())
        def rollback(self, data):  # type: ignore[no-untyped-def]
            slot = data.draw(st.sampled_from(sorted(s for s, v in self.oracle.manifests.items() if v)))
            version = data.draw(st.sampled_from(self.oracle.manifests[slot]))
            before = self._snapshot()
            recorder = self._recorded()
            try:
                self.engine(recorder).rollback(*slot, to=version)
            except PubsafeError as exc:
                self.fail("G4", f"rollback of {slot} to acknowledged manifest {version[:12]}… refused: {exc}")
            finally:
                self._log("rollback", recorder)
            after = self._snapshot()
            changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
            if not changed <= {current_key(*slot)}:
                self.fail("G4", f"rollback wrote more than the current pointer: {sorted(changed)}")
            got = self._keys_of(current_mapping(self.store, *slot))
            if got != self._keys_of(self.mappings[version]):
                self.fail("G4", f"rollback to {version[:12]}… restored {got}, not {self.mappings[version]}")
            self._step()

        @rule(slot=st.sampled_from(SLOTS), fake=st.binary(min_size=32, max_size=32).map(bytes.hex))
        def rollback_to_unknown(self, slot, fake):  # type: ignore[no-untyped-def]
            if fake in self.oracle.manifests.get(slot, []):
                return
            before = self._snapshot()
            try:
                self.engine().rollback(*slot, to=fake)
                self.fail("G4", f"rollback to unknown manifest {fake[:12]}… was accepted")
            except (PubsafeError, ValueError):
                pass
            if self._snapshot() != before:
                self.fail("G4", "a refused rollback changed the store")
            self._step()

        @rule(advance=st.sampled_from([0.0, 1.0, TTL / 2, TTL]))
        def sweep(self, advance):  # type: ignore[no-untyped-def]
            self.clock.advance(advance)
            recorder = self._recorded()
            try:
                self.engine(recorder).gc(GRACE)
            finally:
                self._log("gc", recorder)
            self._step()

        @rule(slot=st.sampled_from(SLOTS), advance=st.sampled_from([0.0, 10.0, TTL - 1, TTL, TTL + 5]),
              invalidate=st.booleans())
        def serve(self, slot, advance, invalidate):  # type: ignore[no-untyped-def]
            self.clock.advance(advance)
            self._note_current()
            if invalidate:
                self.reader.invalidate(*slot)
            got = self.reader.manifest(*slot)
            the_sink.reads += 1
            got_version = got.version if got is not None else None
            history = self.current_since.get(slot, [])
            now = self.clock()
            allowed = {v for t, v in history if t > now - TTL}
            earlier = [v for t, v in history if t <= now - TTL]
            if earlier:
                allowed.add(earlier[-1])
            truth = history[-1][1] if history else None
            if invalidate and got_version != truth:
                self.fail("G5", f"after invalidate() the reader serves {got_version}, current is {truth}")
            if got_version not in allowed | {truth}:
                self.fail("G5", f"reader serves {got_version}, which was not current within the last {TTL}s")
            for type_ in sorted(got.current if got is not None else {}):
                try:
                    value = self.reader.artifact(*slot, type_)
                except PubsafeError as exc:
                    self.fail("G5", f"reader could not serve {type_}: {exc}")
                else:
                    uri = got.current[type_]
                    if canonicalize(value)[1] != uri.rsplit("/", 1)[-1].removesuffix(".json"):
                        self.fail("G5", f"reader served {type_} bytes that do not hash to {uri}")
            self._step()

        @rule()
        def serve_hostile_manifests(self):  # type: ignore[no-untyped-def]
            for violation in hostile_serving_violations(target.reader_factory, self.clock):
                self.fail(violation.guarantee, violation.message)
            self._step()

        @invariant()
        def guarantees_hold(self):  # type: ignore[no-untyped-def]
            for violation in check_store(self.store, self.oracle, skip=skip):
                self.fail(violation.guarantee, violation.message)

        def teardown(self) -> None:
            target.cleanup(self.store)

    PublishMachine.__name__ = PublishMachine.__qualname__ = "PublishMachine"
    return PublishMachine
