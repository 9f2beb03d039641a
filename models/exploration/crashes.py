"""Crashes: a two-type publish over an existing manifest, killed before and after
every store operation (and timed out after it), then retried by a fresh engine
(``crash_sweep``); and faults of the backend under a store adapter (``backend_point``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pubsafe.faults import Crash, Event, FaultyStore
from pubsafe.faults.backend import BackendFault, backend_seam
from pubsafe.refimpl.errors import (
    PubsafeError,
    RetryableStoreError,
)
from pubsafe.refimpl.store import Store

from ..checkers import GuaranteeViolation, Violation, check_store
from ..checkers.manifest_last import (
    check_failed_publish,
    check_mapping,
    mapping_keys,
)
from ..checkers.oracle import Oracle, current_key, history_key, parse_manifest
from ..checkers.reading import ListedContents
from ..checkers.retry import retry_failed
from ..checkers.rollback import read_history_entry
from ..guarantees import Guarantee
from .races import EngineFor, S, StepClock, T, blob_keys, get_or_none, payload, target_call

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
        target_call(Guarantee.G3, "a publish over an existing manifest",
                    lambda: engine(counter).publish(T, S, artifacts))
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
    complete = (mapping_keys(before, store.root_uri) or {}) | blob_keys(artifacts)
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
        if (v := check_failed_publish(slot, before, get_or_none(store, key), complete, store.root_uri, cause)):
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
    now = get_or_none(store, key)
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


def _crash_point(store: Store, engine: EngineFor, clock: StepClock, artifacts: dict[str, Any],
                 fault: str) -> CrashPoint:
    oracle = Oracle()
    slot = (T, S)
    before = store.get(current_key(*slot))
    complete = (mapping_keys(before, store.root_uri) or {}) | blob_keys(artifacts)
    faulty = FaultyStore(store, fault)
    try:
        target_call(Guarantee.G3, f"a publish with fault plan {fault!r}",
                    lambda: engine(faulty).publish(*slot, artifacts))
    except GuaranteeViolation as exc:
        if not isinstance(exc.__cause__, (Crash, RetryableStoreError)):
            raise
    except Crash:
        pass
    problems = []
    after = get_or_none(store, current_key(*slot))
    if (v := check_failed_publish(slot, before, after, complete, store.root_uri, fault)):
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
        if (v := check_mapping(slot, mapping_keys(get_or_none(store, current_key(*slot)), store.root_uri), complete,
                               Guarantee.G3)):
            problems.append(v)
    problems += check_store(store, oracle)
    return CrashPoint(fault, problems, list(faulty.events))
