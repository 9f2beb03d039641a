"""The scenario catalogue: every fixed scenario the checker runs, defined once.

- **Races** (``RACES``): two actors over one slot whose history holds two manifests,
  interleaved at store-operation granularity: two publishers of the same type (R1;
  one also publishes a second type, so that a lost update shows in the outcome), of
  different types (R2), a publish and a rollback (R3), a publish adopting an orphan
  and a GC sweep (R5). ``Race.judge`` says what a run broke, from outcomes.
- **Crash sweep** (``crash_sweep``): a two-type publish over an existing manifest,
  killed before and after every store operation (and timed out after it), then
  retried by a fresh engine.
- **Serving** (``serving_violations``): a reader against stale, hostile and tampered
  manifests, invalidation of one slot among many whose names collide (case, Unicode
  form, prefixes), and blobs that change under it after it loaded them.
- **Names and listings** (``name_collisions``, ``listing_pages``): slots whose names a
  careless store conflates; a store holding more keys than a listing's first page.

Used by the conformance run, the state machine (races with drawn schedules), the
enumeration command and the tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pubsafe.faults import Crash, Event, FaultyStore, RunResult
from pubsafe.faults.backend import BackendFault, backend_seam
from pubsafe.refimpl import Engine, MemoryStore
from pubsafe.refimpl.errors import (
    AlreadyExists,
    CollectionInProgress,
    CollectionRefused,
    IntegrityError,
    ObjectNotFound,
    PubsafeError,
    PublishConflict,
    RetryableStoreError,
    RollbackRefused,
    SweepInProgress,
)
from pubsafe.refimpl.store import Store

from .checkers import GuaranteeViolation, Violation, check_store
from .checkers.gc_race import attribute_to_gc
from .checkers.listing import listing_fault
from .checkers.manifest_last import as_keys, check_current_at, check_currents, check_failed_publish, check_mapping, mapping_keys
from .checkers.races import RaceOp, lost_update, stale_swap
from .checkers.retry import retry_failed
from .checkers.rollback import read_history_entry
from .checkers.serving import refused
from .failures import store_failed
from .guarantees import Guarantee
from .oracle import Oracle, blob_key, canonical, current_key, history_key, parse_manifest, payload_version
from .reading import ListedContents, in_flight

__all__ = [
    "T",
    "S",
    "GRACE",
    "TTL",
    "payload",
    "StepClock",
    "EngineFor",
    "RaceScenario",
    "Race",
    "RACES",
    "two_sweeps",
    "CrashPoint",
    "crash_sweep",
    "serving_violations",
    "name_collisions",
    "listing_pages",
    "LISTED_KEYS",
    "INVALIDATED_SLOTS",
]

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
            if outcome.error is not None and not isinstance(outcome.error, _ALLOWED_FAILURES):
                if failure := store_failed(f"{name} race, schedule {run.schedule!r}, actor {actor}", outcome.error):
                    raise failure
                found.append(Violation(Guarantee.G3, f"{name} race, schedule {run.schedule!r}: actor {actor} "
                                                     f"raised {outcome.error!r}"))
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
        final = mapping_keys(_get(self.store, key), self.store.root_uri)
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
        key = current_key(T, S)
        small = self.name == "two-sweeps"  # three actors: one setup publish of one type keeps it affordable
        for n in (base,) if small else (base, base + 1):
            artifacts = {"model": payload(n)} if small else {"model": payload(n), "items": payload(n + 50)}
            target_call(Guarantee.G3, f"a publish that sets up the {self.name} race",
                        lambda: engine(store).publish(T, S, artifacts))
            acknowledge(artifacts)
            if n == base:
                first, first_mapping = parse_manifest(store.get(key)).version, mapping_keys(store.get(key), store.root_uri)
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
        other = {"same-type": {"model": payload(base + 101)}, "cross-type": {"items": payload(base + 101)}}.get(self.name)
        actions: dict[str, Callable[[Any], Any]] = {"A": lambda e: e.publish(T, S, mine)}
        effects = {"A": ("publish", _keys(mine))}
        acked = {"A": mine}
        if other is not None:
            actions["B"] = lambda e: e.publish(T, S, other)
            effects["B"] = ("publish", _keys(other))
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


def _keys(artifacts: dict[str, Any]) -> dict[str, str]:
    return {t: blob_key(T, S, t, payload_version(p)) for t, p in artifacts.items()}


def _get(store: Store, key: str) -> bytes | None:
    try:
        return store.get(key)
    except ObjectNotFound:
        return None


# -- the crash sweep --------------------------------------------------------------

#: before the operation; after it landed (lost ack); after it landed, reported as a timeout
CRASH_KINDS = ("crash", "lost-ack", "error-after")


@dataclass
class CrashPoint:
    """One crash of the sweep: the fault, what it broke, and the operations it saw."""

    fault: str
    violations: list[Violation]
    history: list[Event]


def crash_sweep(
    make_store: Callable[[], Store],
    engine_for: Callable[[StepClock], EngineFor],
    cleanup: Callable[[Store], None] = lambda store: None,
    kinds: tuple[str, ...] = CRASH_KINDS,
    width: int = 1,
) -> Iterator[CrashPoint]:
    """A two-type publish over an existing manifest, faulted at every store operation.

    Each operation is crashed before it, crashed after it landed (lost ack), and
    answered with a timeout after it landed (error-after), then the publish is retried.
    On a store whose backend pubsafe can reach (``faults.backend``: a local directory,
    S3), a one-type publish over it then has each of its backend calls fail in turn
    (``BackendSeam.sweep``), so that the store's own mapping of backend errors runs
    (``backend_point``).
    Every crash point has a store of its own; ``width`` > 1 runs that many at once (a
    remote store's runs wait on the network), yielded in the same order.
    """
    artifacts = {"model": payload(5), "items": payload(6)}

    def fresh() -> tuple[Store, EngineFor, StepClock]:
        clock = StepClock()
        store = make_store()
        engine = engine_for(clock)
        try:
            target_call(Guarantee.G3, "the publish before the crash sweep",
                        lambda: engine(store).publish(T, S, {"model": payload(1), "items": payload(2)}))
        except BaseException:
            cleanup(store)
            raise
        return store, engine, clock

    store, engine, _ = fresh()
    counter = FaultyStore(store)
    try:
        target_call(Guarantee.G3, "a publish over an existing manifest", lambda: engine(counter).publish(T, S, artifacts))
    finally:
        cleanup(store)
    faults: list[str | BackendFault] = [f"{kind}@{index}" for index in range(len(counter.events)) for kind in kinds]
    faults += _backend_faults(fresh, cleanup)

    def point(fault: str | BackendFault) -> CrashPoint:
        store, engine, clock = fresh()
        try:
            if isinstance(fault, BackendFault):
                return backend_point(store, engine, clock, BACKEND_ARTIFACTS, fault)
            return _crash_point(store, engine, clock, artifacts, fault)
        finally:
            cleanup(store)

    if width == 1:
        yield from map(point, faults)
        return
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="crash") as pool:
        yield from pool.map(point, faults)


#: What the backend sweep publishes over the crash sweep's two-type manifest: one type,
#: so the other is carried forward (read and hashed again: more of the store's calls).
BACKEND_ARTIFACTS = {"model": payload(7)}


def _backend_faults(fresh: Callable[[], tuple[Store, EngineFor, StepClock]], cleanup: Callable[[Store], None]
                    ) -> list[BackendFault]:
    """The backend calls of a publish of ``BACKEND_ARTIFACTS``, each to be failed once;
    none on a store whose backend pubsafe cannot reach."""
    store, engine, _ = fresh()
    try:
        seam = backend_seam(store)
        if seam is None:
            return []
        with seam.injecting(None) as recording:
            target_call(Guarantee.G3, "a publish over an existing manifest",
                        lambda: engine(FaultyStore(store)).publish(T, S, BACKEND_ARTIFACTS))
        return seam.sweep(recording.calls)
    finally:
        cleanup(store)


def backend_point(store: Store, engine: EngineFor, clock: StepClock, artifacts: dict[str, Any],
                  fault: BackendFault) -> CrashPoint:
    """A publish over an existing manifest while the store's backend fails once, as
    ``fault`` says; then a retry if it failed.

    The store must turn the backend's error into one of pubsafe's that says what
    happened: the publish then fails (current as it was, or complete if the call that
    failed had landed) and the retry converges; or it succeeds, and then everything it
    acknowledges is there, its history entry included (G4: a store that reads a full
    disk as "already exists" skips it). An error that is not pubsafe's is a backend
    error the store let through (G3, as any undocumented error of a publish).
    """
    oracle = Oracle()
    slot = (T, S)
    key = current_key(*slot)
    before = store.get(key)
    complete = (mapping_keys(before, store.root_uri) or {}) | _keys(artifacts)
    seam = backend_seam(store)
    assert seam is not None
    recorder = FaultyStore(store)
    in_flight: list[Event] = []
    failure: BaseException | None = None
    with seam.injecting(fault, on_fire=lambda: in_flight.append(recorder.events[-1])) as shot:
        try:
            engine(recorder).publish(*slot, artifacts)
        except Exception as exc:  # noqa: BLE001 - judged below, with what the backend said
            failure = exc
    cause = backend_cause(shot, in_flight)
    problems = []
    if failure is not None and not shot.fired:
        target_call(Guarantee.G3, f"a publish (backend fault {fault} never fired)", lambda: _raise(failure))
    if failure is not None and not isinstance(failure, PubsafeError):
        problems.append(untranslated(cause, failure))
    if failure is not None:
        if (v := check_failed_publish(slot, before, _get(store, key), complete, store.root_uri, cause)):
            problems.append(v)
        problems += check_store(store, oracle)
        clock.advance(1.0)
        try:
            engine(store).publish(*slot, artifacts)
        except Exception as exc:  # noqa: BLE001 - any failure of the retry is the finding
            problems.append(retry_failed(cause, exc))
            return CrashPoint(f"backend {fault}", problems, list(recorder.events))
    for type_, value in artifacts.items():
        oracle.ack_payload(*slot, type_, value)
    now = _get(store, key)
    if (v := check_mapping(slot, mapping_keys(now, store.root_uri), complete,
                           Guarantee.G3 if failure is not None else Guarantee.G2)):
        problems.append(Violation(v.guarantee, f"after {cause}: {v.message}", v.key))
    if now is not None and (version := _version(now)) is not None:
        if isinstance(entry := read_history_entry(ListedContents(store), slot, version), str):
            problems.append(Violation(Guarantee.G4, f"after {cause}: {entry}, though the publish returned with it "
                                                    "current: no rollback can name it", history_key(*slot, version)))
    problems += check_store(store, oracle)
    return CrashPoint(f"backend {fault}", problems, list(recorder.events))


def backend_cause(shot: Any, in_flight: list[Event]) -> str:
    """What the backend was asked and said, and what the store made of it."""
    answer = "nothing"
    if in_flight:
        event = in_flight[0]
        answer = f"{event.op} {event.key} raised {event.result}" if event.result else f"{event.op} {event.key} returned"
    return f"{shot}, and the store's {answer}"


def untranslated(cause: str, failure: BaseException) -> Violation:
    """A publish raised an error that is not pubsafe's: the store let a backend error through."""
    return Violation(Guarantee.G3, f"after {cause}: the publish raised {type(failure).__name__}: {failure}, not one "
                                   "of pubsafe's errors (the store let its backend's error through untranslated)")


def _version(manifest: bytes) -> str | None:
    try:
        return parse_manifest(manifest).version
    except ValueError:
        return None


def _raise(exc: BaseException) -> Any:
    raise exc


def _crash_point(store: Store, engine: EngineFor, clock: StepClock, artifacts: dict[str, Any], fault: str) -> CrashPoint:
    oracle = Oracle()
    slot = (T, S)
    before = store.get(current_key(*slot))
    complete = (mapping_keys(before, store.root_uri) or {}) | _keys(artifacts)
    faulty = FaultyStore(store, fault)
    try:
        target_call(Guarantee.G3, f"a publish with fault plan {fault!r}", lambda: engine(faulty).publish(*slot, artifacts))
    except GuaranteeViolation as exc:
        if not isinstance(exc.__cause__, (Crash, RetryableStoreError)):
            raise
    except Crash:
        pass
    problems = []
    if (v := check_failed_publish(slot, before, _get(store, current_key(*slot)), complete, store.root_uri, fault)):
        problems.append(v)
    problems += check_store(store, oracle)  # also notes records as first seen
    clock.advance(1.0)  # the retry comes later
    try:
        engine(store).publish(*slot, artifacts)
    except Exception as exc:  # noqa: BLE001 - any failure of the retry is the finding
        problems.append(retry_failed(fault, exc))
    else:
        for type_, value in artifacts.items():
            oracle.ack_payload(*slot, type_, value)
        if (v := check_mapping(slot, mapping_keys(_get(store, current_key(*slot)), store.root_uri), complete,
                               Guarantee.G3)):
            problems.append(v)
    problems += check_store(store, oracle)
    return CrashPoint(fault, problems, list(faulty.events))


# -- names that a careless store or reader conflates --------------------------------

#: Slots whose names differ only in case, in Unicode normalisation, or by a prefix.
COLLIDING_SLOTS = [("acme", "home"), ("ACME", "home"), ("Acme", "home"), ("caf\u00e9", "home"),
                   ("cafe\u0301", "home"), ("acme", "home-2"), ("acme", "hom"), ("acme-2", "home")]


def name_collisions(make_store: Callable[[], Store], engine_for: Callable[[StepClock], EngineFor],
                    reader_factory: Callable[..., Any], cleanup: Callable[[Store], None] = lambda s: None
                    ) -> list[Violation]:
    """Publish a different payload to each of ``COLLIDING_SLOTS``: each must keep its own
    current manifest and blobs, and a reader must serve each its own. Then, on a store
    that kept its names apart, ``listing_pages`` (raised as a GuaranteeViolation: its
    steps are its own)."""
    found = _collisions(make_store, engine_for, reader_factory, cleanup)
    if not found and (fault := listing_pages(make_store, cleanup)) is not None:
        raise GuaranteeViolation(fault)
    return found


def _collisions(make_store: Callable[[], Store], engine_for: Callable[[StepClock], EngineFor],
                reader_factory: Callable[..., Any], cleanup: Callable[[Store], None]) -> list[Violation]:
    clock = StepClock()
    store = make_store()
    try:
        engine = engine_for(clock)
        oracle = Oracle()
        for n, slot in enumerate(COLLIDING_SLOTS):
            artifacts = {"model": {"slot": list(slot), "n": n}}
            refused = target_call(Guarantee.G3, f"a publish to {slot}", lambda: _refusal(
                lambda: engine(store).publish(*slot, artifacts)))
            if refused is not None:  # justified only if the store gave this slot another's current
                key = current_key(*slot)
                data = _get(store, key)
                broken = [] if data is None else check_current_at(key, data, ListedContents(store), store.root_uri,
                                                                  oracle)
                if broken:
                    return broken
                raise GuaranteeViolation(Violation(Guarantee.G3, f"a publish to {slot} raised {refused!r}"))
            oracle.ack_payload(*slot, "model", artifacts["model"])
        found = check_store(store, oracle)
        reader = target_call(Guarantee.G5, "the reader factory",
                             lambda: reader_factory(store, manifest_ttl=TTL, clock=clock))
        for slot in COLLIDING_SLOTS:
            got = target_call(Guarantee.G5, f"reading the manifest of {slot}", lambda: reader.manifest(*slot))
            want = mapping_keys(_get(store, current_key(*slot)), store.root_uri)
            if got is None or as_keys(got.current, store.root_uri) != want:
                found.append(Violation(Guarantee.G5, f"the reader serves {slot[0]}/{slot[1]} a manifest that is not its "
                                                     f"current one ({None if got is None else dict(got.current)})"))
        return found
    finally:
        cleanup(store)


#: Keys ``listing_pages`` writes: one more than S3's (and GCS's) page of 1,000 keys.
LISTED_KEYS = 1001
#: Names its keys are spread over: case and Unicode-form twins, other scripts, spaces.
_LISTED_NAMES = ["acme", "ACME", "caf\u00e9", "cafe\u0301", "\u65e5\u672c", "\U0001f600", "a b", "100%", "x" * 100]


def listing_pages(make_store: Callable[[], Store], cleanup: Callable[[Store], None] = lambda s: None
                  ) -> Violation | None:
    """A store holding ``LISTED_KEYS`` small objects must list every one of them.

    No publish needs a listing, and the state machine's stores stay far below a page,
    so a listing that returns only its first page (1,000 keys on S3 and GCS, a page
    whose continuation is ignored) would pass every other check; gc relies on it
    (``checkers.listing``). Keys spread over wide names, numbered so that ``10`` sorts
    before ``9``; listed whole, under their common prefix, and under a partial name.
    Written eight at a time (more where ``models.reading.in_flight`` allows). A put the
    store refuses as already there (a store that folds names) is left out: the name
    checks judge that.
    """
    keys = [f"listing/{_LISTED_NAMES[n % len(_LISTED_NAMES)]}/{n}.json" for n in range(LISTED_KEYS)]
    store = make_store()
    try:
        written = [key for key in _put_all(store, keys) if key]
        for prefix in ("", "listing/", "listing/caf"):
            listed = target_call(Guarantee.G1, f"list({prefix!r}) of a store holding {len(written)} keys",
                                 lambda: store.list(prefix))
            if (fault := listing_fault(prefix, listed, written)) is not None:
                return fault
        return None
    finally:
        cleanup(store)


def _put_all(store: Store, keys: list[str]) -> list[str | None]:
    """Each key put with a small document (None where it was already there)."""
    def put_new(key: str) -> str | None:
        try:
            store.put(key, b'{"listed":true}')
        except AlreadyExists:
            return None
        return key

    def put(key: str) -> str | None:
        return target_call(Guarantee.G1, f"a put of {key!r}", lambda: put_new(key))

    # Eight at a time at least: each put waits on a disk's fsync or a round trip, not on the CPU.
    with ThreadPoolExecutor(max_workers=max(8, in_flight()), thread_name_prefix="listing") as pool:
        return list(pool.map(put, keys))


def _refusal(run: Callable[[], Any]) -> IntegrityError | None:
    """An engine's integrity refusal, returned to be judged; anything else as raised."""
    try:
        run()
    except IntegrityError as exc:
        return exc
    return None


# -- serving ----------------------------------------------------------------------


def serving_violations(reader_factory: Callable[..., Any]) -> list[Violation]:
    """The sharpest G5 failures, found on every run in milliseconds: a cache that never
    expires, a reader that follows a manifest anywhere or skips the hash check, an
    invalidation that reaches another slot, a blob trusted once and never again checked."""
    return target_call(Guarantee.G5, "the reader", lambda: _staleness(reader_factory) + _hostile(reader_factory)
                       + _invalidation_across_slots(reader_factory) + _changed_under_reader(reader_factory))


#: Slots whose names a careless cache key conflates: case (also ``ß``/``SS`` and the
#: ``ﬁ`` ligature under case folding), Unicode form, prefixes, and names that run
#: together when tenant and surface are joined without a separator.
INVALIDATED_SLOTS = [*COLLIDING_SLOTS, ("acme", "feed"), ("beta", "home"), ("\u00df", "home"), ("SS", "home"),
                     ("\ufb01", "home"), ("fi", "home"), ("ab", "cd"), ("abc", "d"), ("\U0001f600", "home"),
                     ("x" * 128, "home")]


def _invalidation_across_slots(reader_factory: Callable[..., Any]) -> list[Violation]:
    """Every slot read (so cached), every slot published again; then, slot after slot,
    another slot read and this one invalidated: its next read must be current.

    An ``invalidate()`` that reaches a slot other than the one named (one whose name
    differs only in case or Unicode form, the slot read last) leaves the named one
    stale: nothing single-slot scenarios can see.
    """
    clock = StepClock()
    store = MemoryStore()
    engine = Engine(store, clock=clock)
    slots = INVALIDATED_SLOTS
    for slot in slots:
        engine.publish(*slot, {"model": {"slot": list(slot), "round": 1}})
    reader = reader_factory(store, manifest_ttl=TTL, clock=clock)
    for slot in slots:
        reader.manifest(*slot)
    for slot in slots:
        engine.publish(*slot, {"model": {"slot": list(slot), "round": 2}})
    for i, slot in enumerate(slots):
        other = slots[(i + 1) % len(slots)]
        reader.manifest(*other)  # so the slot read last is not the one invalidated
        reader.invalidate(*slot)
        got = reader.manifest(*slot)
        want = parse_manifest(store.get(current_key(*slot)))
        if got is None or (got.tenant, got.surface, dict(got.current)) != (*slot, want.current):
            served = "no manifest" if got is None else f"a manifest of {got.tenant!r}/{got.surface!r} ({_round(got)})"
            return [Violation(Guarantee.G5, f"after invalidate({slot[0]!r}, {slot[1]!r}) the reader serves {served}, "
                                            f"not its current one (round 2); {other[0]!r}/{other[1]!r} was read just "
                                            "before, and every slot was cached: the invalidation reached another slot")]
    return []


def _round(manifest: Any) -> str:
    """Which publish of ``_invalidation_across_slots`` a served manifest is from."""
    for n in (1, 2):
        model = blob_key(manifest.tenant, manifest.surface, "model",
                         payload_version({"slot": [manifest.tenant, manifest.surface], "round": n}))
        if dict(manifest.current).get("model", "").endswith(model):
            return f"round {n}" + (", from before the publish" if n == 1 else "")
    return "neither round"


#: What happens to a blob after a reader loaded it (``_changed_under_reader``).
_CHANGES = ("altered", "another blob's bytes", "truncated", "emptied", "deleted")


def _changed_under_reader(reader_factory: Callable[..., Any]) -> list[Violation]:
    """A blob a reader loaded and verified changes under it (a bucket edited by hand,
    a restore from the wrong backup); a day later the reader must refuse it, or serve
    the bytes it verified, never the changed ones. A reader that checks a blob's hash
    on its first load only ("blobs are immutable") serves whatever is there now."""
    for change in _CHANGES:
        clock = StepClock()
        store = MemoryStore()
        Engine(store, clock=clock).publish("acme", "home", {"model": {"seed": 1}, "items": {"seed": 2}})
        reader = reader_factory(store, manifest_ttl=TTL, clock=clock)
        reader.artifact("acme", "home", "model")  # loaded and verified
        key = blob_key("acme", "home", "model", payload_version({"seed": 1}))
        store.delete(key)
        if change != "deleted":
            bad = {"altered": b'{"seed":666}', "another blob's bytes": canonical({"seed": 2}),
                   "truncated": canonical({"seed": 1})[:5], "emptied": b""}[change]
            store.put(key, bad)
        clock.advance(86400.0)  # past any artifact TTL
        try:
            served = reader.artifact("acme", "home", "model")
        except (PubsafeError, ValueError):
            continue
        if payload_version(served) != payload_version({"seed": 1}):
            return [refused(f"served {key} {change} after it first loaded it (a day later, the bytes do not hash to "
                            "their version)", served)]
    return []


def _hostile(reader_factory: Callable[..., Any]) -> list[Violation]:
    """Manifests pointing into another tenant or another surface of the same tenant, and
    a tampered blob, must be refused."""
    clock = StepClock()
    store = MemoryStore()
    setup = Engine(store, clock=clock)
    for tenant, surface, seed in (("acme", "home", 1), ("beta", "home", 2), ("acme", "feed", 3)):
        setup.publish(tenant, surface, {"model": {"seed": seed}})
    acme_blob = blob_key("acme", "home", "model", payload_version({"seed": 1}))
    for tenant, surface in (("beta", "home"), ("acme", "feed")):
        evil = json.loads(store.get(current_key(tenant, surface)))
        evil["current"] = {"model": acme_blob}
        store.replace(current_key(tenant, surface), json.dumps(evil).encode())
    reader = reader_factory(store, manifest_ttl=TTL, clock=clock)
    found = []
    for tenant, surface in (("beta", "home"), ("acme", "feed")):
        try:
            served = reader.artifact(tenant, surface, "model")
            found.append(refused(f"followed {tenant}/{surface}'s manifest into acme/home's blob", served))
        except (PubsafeError, ValueError):
            pass
    store.delete(acme_blob)
    store.put(acme_blob, b'{"seed":666}')
    try:
        found.append(refused("served tampered bytes that do not hash to their version",
                             reader.artifact("acme", "home", "model")))
    except (PubsafeError, ValueError):
        pass
    return found


def _staleness(reader_factory: Callable[..., Any]) -> list[Violation]:
    """After the TTL the reader serves current; after invalidate() at once, also when
    the reader first looked before anything was published."""
    clock = StepClock()
    store = MemoryStore()
    engine = Engine(store, clock=clock)
    reader = reader_factory(store, manifest_ttl=TTL, clock=clock)

    def serves_current() -> bool:
        got = reader.manifest("acme", "home")
        return got is not None and dict(got.current) == parse_manifest(store.get(current_key("acme", "home"))).current

    found = []
    if reader.manifest("acme", "home") is not None:
        found.append(Violation(Guarantee.G5, "the reader serves a manifest before anything was published"))
    engine.publish("acme", "home", {"model": {"v": 1}})
    reader.invalidate("acme", "home")
    if not serves_current():
        found.append(Violation(Guarantee.G5, "after invalidate() the reader still serves no manifest (it cached "
                                             "the absence from before the first publish)"))
    engine.publish("acme", "home", {"model": {"v": 2}})
    clock.advance(TTL)
    if not serves_current():
        found.append(Violation(Guarantee.G5, f"{TTL}s after a publish the reader still serves the old manifest"))
    engine.publish("acme", "home", {"model": {"v": 3}})
    reader.invalidate("acme", "home")
    if not serves_current():
        found.append(Violation(Guarantee.G5, "after invalidate() the reader still serves the old manifest"))
    return found
