"""Races: two actors over one slot whose history holds two manifests, interleaved at
store-operation granularity (``RACES``): two publishers of the same type (R1; one also
publishes a second type, so that a lost update shows in the outcome), of different
types (R2), a publish and a rollback (R3), a publish adopting an orphan and a GC sweep
(R5), two sweeps on clocks an hour apart. ``Race.judge`` says what a run broke, from
outcomes. The shared vocabulary of every scenario (slot, grace, TTL, payloads, the
step clock) is defined here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pubsafe.faults import Crash, Event, FaultyStore, RunResult
from pubsafe.refimpl.errors import (
    CollectionInProgress,
    CollectionRefused,
    ObjectNotFound,
    PublishConflict,
    RetryableStoreError,
    RollbackRefused,
    SweepInProgress,
)
from pubsafe.refimpl.prefixed import PrefixedStore
from pubsafe.refimpl.split import SplitStore
from pubsafe.refimpl.store import Store

from ..checkers import GuaranteeViolation, Violation
from ..checkers.gc_race import attribute_to_gc
from ..checkers.listing import listing_fault
from ..checkers.manifest_last import (
    check_currents,
    mapping_keys,
)
from ..checkers.oracle import Oracle, blob_key, current_key, parse_manifest, payload_version
from ..checkers.races import RaceOp, lost_update, stale_swap
from ..checkers.reading import ListedContents
from ..failures import store_failed
from ..guarantees import Guarantee

T, S = "acme", "home"
GRACE = 60.0  #: the GC grace period of every scenario
TTL = 30.0  #: the serving reader's manifest TTL in every scenario

#: store -> an engine over it (the caller binds guarded mode and the clock)
EngineFor = Callable[..., Any]  #: (store, **options) -> an engine


def payload(seed: int, variant: int = 0) -> dict[str, Any]:
    """Distinct seeds give distinct documents; variants spell the same one differently."""
    if variant:
        return {"meta": {"b": [True, None], "a": 1.0}, "weights": [float(seed), seed + 0.5], "seed": seed}
    return {"seed": seed, "weights": [seed, seed + 0.5], "meta": {"a": 1, "b": [True, None]}}


class StepClock:
    """Engine and reader time: starts at wall time, then moves only when told.

    Wall time, because a store stamps modification times with its own clock, and a
    sweep compares those with this one.
    """

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def target_call(guarantee: Guarantee, what: str, run: Callable[[], Any]) -> Any:
    """Call the system under test outside the machine: an error it is not documented to
    raise is a counterexample (GuaranteeViolation), not a crash of the checker."""
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - whatever the target raises is judged
        if failure := store_failed(what, exc):
            raise failure from exc
        raise GuaranteeViolation(Violation(guarantee, f"{what} raised {type(exc).__name__}: {exc}")) from exc


# -- races ------------------------------------------------------------------------

#: How an actor may fail without that being a finding: documented refusals, and the
#: crashes and timeouts a fault plan injected (the operation is then indeterminate).
_ALLOWED_FAILURES = (PublishConflict, RollbackRefused, CollectionInProgress, SweepInProgress, Crash,
                     RetryableStoreError)


@dataclass
class Race:
    """A race prepared on a store: its two actors and what each does to the mapping."""

    scenario: RaceScenario
    store: Store
    engine: EngineFor
    actions: dict[str, Callable[[Any], Any]]  #: actor -> what it does with an engine
    before: dict[str, str]  #: the mapping current before the race
    effects: dict[str, tuple[str, dict[str, str]]]  #: actor -> ("publish" | "rollback", mapping)
    acked_payloads: dict[str, dict[str, Any]] = field(default_factory=dict)  #: actor -> {type: payload}
    #: actor -> extra arguments of its engine (a clock of its own, for sweeps on skewed hosts)
    engine_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the stores a judge reads current from, over the race's store (new-registry: one per registry)
    views: Callable[[Store], list[Store]] | None = None

    @property
    def actors(self) -> dict[str, Callable[[Store], Any]]:
        """For the scheduler: each actor runs its action with a fresh engine over its view of the store."""
        def actor(name: str, act: Callable[[Any], Any]) -> Callable[[Store], Any]:
            return lambda store: act(self.engine(store, **self.engine_options.get(name, {})))

        return {name: actor(name, act) for name, act in self.actions.items()}

    def judge(self, run: RunResult, *, guarded: bool) -> tuple[list[Violation], str | None]:
        """What the run broke, and (default mode) the documented race it showed, if any."""
        name = self.scenario.name
        found = []
        for actor, outcome in sorted(run.outcomes.items()):
            if isinstance(outcome.error, CollectionRefused) and not self.store.capabilities.create_only:
                continue  # gc refuses a store without create-only writes, as documented: it deletes nothing
            if isinstance(outcome.error, CollectionRefused) and self.views is not None:
                continue  # a sweep that finds its blob store shared stops: what it deleted before is judged below
            if outcome.error is not None and not isinstance(outcome.error, _ALLOWED_FAILURES):
                if failure := store_failed(f"{name} race, schedule {run.schedule!r}, actor {actor}", outcome.error):
                    raise failure
                found.append(Violation(Guarantee.G3, f"{name} race, schedule {run.schedule!r}: actor {actor} "
                                                     f"raised {outcome.error!r}"))
        if self.scenario.guarantee is Guarantee.R5 and self.views is not None:
            violations = []
            for view in self.views(self.store):
                violations += check_currents(ListedContents(view), view.root_uri, Oracle())
            return found + violations, None
        if self.scenario.guarantee is Guarantee.R5:
            contents = ListedContents(self.store)  # reads the current manifests and what they name, no more
            violations = check_currents(contents, self.store.root_uri, Oracle())
            for sweep in sorted(set(self.actions) - {"A"}):
                violations = attribute_to_gc(violations, run.trace, sweep)
            if contents.omitted and (fault := listing_fault("", contents.listed, [*contents.listed, *contents.omitted],
                                                            "; ".join(map(str, violations)))):
                violations = [fault]  # what the sweep saw of the store was not all of it
            return found + violations, None
        if found:
            return found, None
        explanation = self._lost_update(run)
        if explanation is None:
            return [], None
        text = f"{name} scenario, schedule {run.schedule!r}: {explanation}"
        if guarded:
            return [Violation(self.scenario.guarantee, f"guarded mode lost an update: {text}")], None
        return [], text

    def _lost_update(self, run: RunResult) -> str | None:
        spans: dict[str, list[int]] = {}
        for i, event in enumerate(run.trace):
            spans.setdefault(event.actor, [i, i])[1] = i
        ops = [
            RaceOp(actor, kind, mapping, run.outcomes[actor].error is None, *spans.get(actor, [0, 0]))
            for actor, (kind, mapping) in sorted(self.effects.items())
        ]
        key = current_key(T, S)
        final = mapping_keys(get_or_none(self.store, key), self.store.root_uri)
        outcome = lost_update(self.before, ops, final)
        if outcome is None:
            return None  # judged from outcomes only; the history explains, it does not decide
        how = stale_swap(run.trace, key)
        return outcome if how is None else f"{outcome}; {how}"


@dataclass(frozen=True)
class RaceScenario:
    name: str
    guarantee: Guarantee
    description: str
    second: str  #: what actor B does: publish, rollback or gc (actor A always publishes)
    #: two-sweeps only: sweep B's clock runs this far ahead of the store's, sweep C's as far behind
    skew: float = 0.0

    def history(self, trace: list[Event], offset: int = 0) -> list[Event]:
        """A run's trace with its actors named by role (``publish A``, ``gc B``) for reports."""
        roles = {"A": "publish A", "B": f"{self.second} B", "C": f"{self.second} C"}
        return [Event(roles[e.actor], e.op, e.key, e.phase, e.result, e.fault, offset + e.time) for e in trace]

    def prepare(
        self,
        store: Store,
        engine: EngineFor,
        clock: StepClock,
        seed: int = 0,
        acknowledge: Callable[[dict[str, Any]], None] = lambda artifacts: None,
    ) -> Race:
        """Two manifests in history (so a rollback has a target), then the actors.

        ``acknowledge`` is told of each setup publish as it returns.
        """
        base = 10 + 2 * seed
        if self.name == "new-registry":
            return self._prepare_new_registry(store, engine, clock, base)
        if self.name == "whole-store-sweep":
            return self._prepare_whole_store_sweep(store, engine, clock, base)
        if self.name == "whole-store-publish":
            return self._prepare_whole_store_publish(store, engine, clock, base)
        key = current_key(T, S)
        small = self.name == "two-sweeps"  # three actors: one setup publish of one type keeps it affordable
        for n in (base,) if small else (base, base + 1):
            artifacts = {"model": payload(n)} if small else {"model": payload(n), "items": payload(n + 50)}
            target_call(Guarantee.G3, f"a publish that sets up the {self.name} race",
                        lambda: engine(store).publish(T, S, artifacts))  # noqa: B023 - run at once
            acknowledge(artifacts)
            if n == base:
                first = parse_manifest(store.get(key)).version
                first_mapping = mapping_keys(store.get(key), store.root_uri)
        before = mapping_keys(store.get(key), store.root_uri) or {}
        mine = {"items" if self.name == "publish-rollback" else "model": payload(base + 100)}
        if self.name == "same-type":  # a second type makes a lost update visible in the outcome
            mine["items"] = payload(base + 150)
        if self.name in ("publish-gc", "two-sweeps"):
            try:  # the publish A is about to run crashed once: its blob is an orphan
                engine(FaultyStore(store, "crash@record-write")).publish(T, S, mine)
            except Crash:
                pass
            clock.advance(2 * GRACE)
        others = {"same-type": {"model": payload(base + 101)}, "cross-type": {"items": payload(base + 101)}}
        other = others.get(self.name)
        actions: dict[str, Callable[[Any], Any]] = {"A": lambda e: e.publish(T, S, mine)}
        effects = {"A": ("publish", blob_keys(mine))}
        acked = {"A": mine}
        if other is not None:
            actions["B"] = lambda e: e.publish(T, S, other)
            effects["B"] = ("publish", blob_keys(other))
            acked["B"] = other
        elif self.name == "publish-rollback":
            actions["B"] = lambda e: e.rollback(T, S, to=first)
            effects["B"] = ("rollback", first_mapping or {})
        else:
            actions["B"] = lambda e: e.gc(GRACE)
        options: dict[str, dict[str, Any]] = {}
        if self.name == "two-sweeps":  # a second sweep, the two on hosts whose clocks disagree
            actions["C"] = actions["B"]
            options = {"B": {"clock": lambda: clock() + self.skew}, "C": {"clock": lambda: clock() - self.skew}}
        return Race(self, store, engine, actions, before, effects, acked, options)


    def _prepare_new_registry(self, store: Store, engine: EngineFor, clock: StepClock, base: int) -> Race:
        """Registry ``reg-a`` publishes into the blob store ``objects`` and crashes once,
        leaving an orphan; then registry ``reg-b``'s first publish (A) adopts it while
        ``reg-a``'s sweep (B) collects it."""
        return self._across_stores(store, engine, clock, base, _sweeper, _sweeper, _newcomer)

    def _prepare_whole_store_sweep(self, store: Store, engine: EngineFor, clock: StepClock, base: int) -> Race:
        """``objects`` is a whole store of its own, and a crashed publish into it left an
        orphan; then registry ``reg-b``'s first publish into ``objects`` as its blob store
        (A) adopts that orphan while the whole-store sweep of ``objects`` (B) collects it."""
        return self._across_stores(store, engine, clock, base, _whole, _whole, _newcomer)

    def _prepare_whole_store_publish(self, store: Store, engine: EngineFor, clock: StepClock, base: int) -> Race:
        """Registry ``reg-a`` publishes into the blob store ``objects`` and crashes once,
        leaving an orphan; then a publish into ``objects`` as a whole store (A) adopts it
        while ``reg-a``'s sweep (B) collects it."""
        return self._across_stores(store, engine, clock, base, _sweeper, _sweeper, _whole)

    def _across_stores(self, store: Store, engine: EngineFor, clock: StepClock, base: int,
                       setup: Callable[[Store], Store], sweeper: Callable[[Store], Store],
                       publisher: Callable[[Store], Store]) -> Race:
        """A publish through ``setup``'s view, then one that crashes there and leaves the
        orphan that the publish A (through ``publisher``'s view) adopts while the sweep B
        (through ``sweeper``'s) collects it; judged by every view's current."""
        target_call(Guarantee.G3, f"the first publish of the {self.name} race",
                    lambda: engine(setup(store)).publish(T, S, {"model": payload(base)}))
        mine = {"model": payload(base + 100)}
        try:  # a crash while publishing what A is about to publish: its blob is an orphan
            engine(FaultyStore(setup(store), "crash@record-write")).publish(T, S, mine)
        except Crash:
            pass
        clock.advance(2 * GRACE)

        def two_views(store: Store, **options: Any) -> _TwoViews:
            return _TwoViews(store, lambda view: engine(view, **options), publisher, sweeper)

        return Race(self, store, two_views, {"A": lambda e: e.publish(T, S, mine), "B": lambda e: e.gc(GRACE)},
                    {}, {"A": ("publish", blob_keys(mine))}, {"A": mine},
                    views=lambda store: [sweeper(store), publisher(store)])


_OBJECTS, _SWEEPER, _NEWCOMER = "objects", "reg-a", "reg-b"


def _split(store: Store, registry: str) -> SplitStore:
    """One registry over the shared blob store, both under prefixes of the race's store."""
    return SplitStore(PrefixedStore(store, _OBJECTS), PrefixedStore(store, registry),
                      new_registry_id=lambda: f"id-of-{registry}")  # equal runs reach equal states


def _sweeper(store: Store) -> SplitStore:
    return _split(store, _SWEEPER)


def _newcomer(store: Store) -> SplitStore:
    return _split(store, _NEWCOMER)


def _whole(store: Store) -> Store:
    """The blob store taken as a whole store of its own (``--store OBJECTS``)."""
    return PrefixedStore(store, _OBJECTS)


class _TwoViews:
    """The engine of a race across stores: publishes go through one view of the race's
    store, sweeps through another (e.g. a new registry's and the first one's)."""

    def __init__(self, store: Store, engine: Callable[[Store], Any], publisher: Callable[[Store], Store],
                 sweeper: Callable[[Store], Store]) -> None:
        self.store, self.engine, self.publisher, self.sweeper = store, engine, publisher, sweeper

    def publish(self, *args: Any, **kwargs: Any) -> Any:
        return self.engine(self.publisher(self.store)).publish(*args, **kwargs)

    def gc(self, *args: Any, **kwargs: Any) -> Any:
        return self.engine(self.sweeper(self.store)).gc(*args, **kwargs)


def new_registry() -> RaceScenario:
    """A new registry's first publish into a blob store, adopting an orphan that
    another registry's sweep collects (R5 across registries: the binding before any
    blob is looked at, the sweep's announcement, the bindings read at every fence)."""
    return RaceScenario("new-registry", Guarantee.R5, "a new registry's first publish adopting an orphan that "
                        "another registry's sweep collects (R5)", "gc")


def whole_store_sweep() -> RaceScenario:
    """A registry's first publish into a blob store that is also a whole store, adopting
    that store's orphan while the whole-store sweep collects it (R5: the whole-store
    sweep announces itself and reads the bindings after announcing)."""
    return RaceScenario("whole-store-sweep", Guarantee.R5, "a registry's first publish into a whole store as its "
                        "blob store, adopting an orphan that the whole-store sweep collects (R5)", "gc")


def whole_store_publish() -> RaceScenario:
    """A publish into a registry's blob store taken as a whole store, adopting the
    registry's orphan while the registry's sweep collects it (R5: the sweep claims at
    both record keys a publish could use)."""
    return RaceScenario("whole-store-publish", Guarantee.R5, "a publish into a registry's blob store as a whole "
                        "store, adopting an orphan that the registry's sweep collects (R5)", "gc")


def two_sweeps(skew: float) -> RaceScenario:
    """Two sweeps on hosts whose clocks are ``skew`` ahead of and behind the store's, and a
    publish adopting the orphan they collect (R5 with the lease; for the enumeration, not
    the conformance catalogue: its engines need clocks of their own)."""
    return RaceScenario("two-sweeps", Guarantee.R5, f"two GC sweeps, clocks {2 * skew:g}s apart, and a publish "
                        "adopting their orphan (R5)", "gc", skew)


RACES = {
    scenario.name: scenario
    for scenario in (
        RaceScenario("same-type", Guarantee.R1, "two publishers of the same type (R1: last swap wins)", "publish"),
        RaceScenario("cross-type", Guarantee.R2, "two publishers of different types (R2: lost update)", "publish"),
        RaceScenario("publish-rollback", Guarantee.R3, "a publish racing a rollback (R3: rollback undone)",
                     "rollback"),
        RaceScenario("publish-gc", Guarantee.R5, "a publish adopting an orphan racing a GC sweep (R5)", "gc"),
    )
}


def blob_keys(artifacts: dict[str, Any]) -> dict[str, str]:
    """The blob key each artifact of the slot ``T/S`` is stored under."""
    return {t: blob_key(T, S, t, payload_version(p)) for t, p in artifacts.items()}


def get_or_none(store: Store, key: str) -> bytes | None:
    """The object's bytes, or None if there is none."""
    try:
        return store.get(key)
    except ObjectNotFound:
        return None
