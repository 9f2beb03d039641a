"""Deterministic interleaving of concurrent actors at store-operation granularity.

Each actor (a publish, a rollback, a GC sweep, a reader: any callable taking a Store)
runs in its own thread, but only one of them ever moves: before every store
operation an actor stops at a gate and waits for the scheduler to name it. A
schedule is a string of actor letters, ``"AABAB"``: step *i* lets actor
``schedule[i]`` perform its next operation. When the string runs out the remaining
actors finish in letter order. Letters naming an actor that has already finished
are skipped. So a schedule replays exactly, and nothing depends on thread timing.

``explore`` enumerates every distinct interleaving of a small scenario by
depth-first search over the choice points a run reveals (stateless model checking).
"""

from __future__ import annotations

import string
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from refimpl.phases import current_phase
from refimpl.store import ANY, Expect, ObjectInfo, Store, StoredObject

__all__ = ["ActorOutcome", "Interleaving", "RunResult", "TraceStep", "explore", "ACTOR_LETTERS"]

ACTOR_LETTERS = string.ascii_uppercase
_TIMEOUT = 60.0  # a gate never legitimately waits this long: fail loudly, never hang


@dataclass(frozen=True)
class TraceStep:
    actor: str
    op: str
    key: str
    phase: str | None


@dataclass
class ActorOutcome:
    result: Any = None
    error: BaseException | None = None


@dataclass
class RunResult:
    schedule: str  #: the schedule actually followed, one letter per operation
    trace: list[TraceStep]
    outcomes: dict[str, ActorOutcome]
    choices: list[str] = field(default_factory=list)  #: live actors at each step


class _Actor:
    def __init__(self, name: str, fn: Callable[[Store], Any]) -> None:
        self.name = name
        self.fn = fn
        self.waiting: tuple[str, str, str | None] | None = None
        self.granted = False
        self.done = False
        self.outcome = ActorOutcome()


class _GatedStore(Store):
    """An actor's view of the shared store: every operation waits for its turn."""

    def __init__(self, inner: Store, gate: Callable[[str, str], None]) -> None:
        self.inner = inner
        self._gate = gate

    @property
    def capabilities(self):  # type: ignore[override]
        return self.inner.capabilities

    @property
    def root_uri(self) -> str:  # type: ignore[override]
        return self.inner.root_uri

    def get_object(self, key: str) -> StoredObject:
        self._gate("get", key)
        return self.inner.get_object(key)

    def put(self, key: str, data: bytes) -> str:
        self._gate("put", key)
        return self.inner.put(key, data)

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        self._gate("replace", key)
        return self.inner.replace(key, data, expect=expect)

    def list(self, prefix: str = "") -> list[str]:
        self._gate("list", prefix)
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self._gate("delete", key)
        self.inner.delete(key)

    def stat(self, key: str) -> ObjectInfo:
        self._gate("stat", key)
        return self.inner.stat(key)


class Interleaving:
    """Run actors over one store, interleaved exactly as a schedule says.

    ``actors`` maps a letter to a callable receiving that actor's gated Store. The
    ``wrap`` hook lets a caller put more wrappers (fault injection) between an
    actor and its gate.
    """

    def __init__(
        self,
        store: Store,
        actors: Mapping[str, Callable[[Store], Any]],
        *,
        wrap: Callable[[str, Store], Store] | None = None,
    ) -> None:
        bad = [name for name in actors if len(name) != 1 or name not in ACTOR_LETTERS]
        if bad:
            raise ValueError(f"actor names must be single capital letters, got {bad}")
        self.store = store
        self.actors = dict(actors)
        self.wrap = wrap

    def run(self, schedule: str = "") -> RunResult:
        unknown = set(schedule) - set(self.actors)
        if unknown:
            raise ValueError(f"schedule {schedule!r} names unknown actors {sorted(unknown)}")
        cond = threading.Condition()
        actors = {name: _Actor(name, fn) for name, fn in sorted(self.actors.items())}
        trace: list[TraceStep] = []

        def gate_for(actor: _Actor) -> Callable[[str, str], None]:
            def gate(op: str, key: str) -> None:
                with cond:
                    actor.waiting = (op, key, current_phase())
                    cond.notify_all()
                    if not cond.wait_for(lambda: actor.granted, _TIMEOUT):
                        raise RuntimeError(f"actor {actor.name} was never scheduled")
                    actor.granted = False
                    trace.append(TraceStep(actor.name, *actor.waiting))
                    actor.waiting = None
                    cond.notify_all()

            return gate

        def body(actor: _Actor) -> None:
            store: Store = _GatedStore(self.store, gate_for(actor))
            if self.wrap is not None:
                store = self.wrap(actor.name, store)
            try:
                actor.outcome.result = actor.fn(store)
            except BaseException as exc:  # a Crash is a BaseException on purpose
                actor.outcome.error = exc
            finally:
                with cond:
                    actor.done = True
                    cond.notify_all()

        threads = [threading.Thread(target=body, args=(a,), daemon=True) for a in actors.values()]
        for thread in threads:
            thread.start()
        followed: list[str] = []
        choices: list[str] = []
        pending = list(schedule)
        with cond:
            while True:
                if not cond.wait_for(lambda: all(a.done or a.waiting for a in actors.values()), _TIMEOUT):
                    raise RuntimeError("an actor neither finished nor reached a store operation")
                live = [a for a in actors.values() if not a.done]
                if not live:
                    break
                chosen = None
                while pending and chosen is None:
                    candidate = actors[pending.pop(0)]
                    chosen = None if candidate.done else candidate
                if chosen is None:
                    chosen = live[0]
                choices.append("".join(a.name for a in live))
                followed.append(chosen.name)
                chosen.granted = True
                cond.notify_all()
                cond.wait_for(lambda: not chosen.granted, _TIMEOUT)
        for thread in threads:
            thread.join(_TIMEOUT)
        return RunResult("".join(followed), trace, {n: a.outcome for n, a in actors.items()}, choices)


def explore(run: Callable[[str], RunResult], *, limit: int | None = None) -> Iterator[RunResult]:
    """Every distinct interleaving, by depth-first search over revealed choices.

    ``run(prefix)`` must build a fresh scenario and run it with that schedule
    prefix. Each yielded result is one complete, distinct interleaving.
    """
    stack = [""]
    seen = 0
    while stack:
        prefix = stack.pop()
        result = run(prefix)
        seen += 1
        yield result
        if limit is not None and seen >= limit:
            return
        for i in range(len(result.schedule) - 1, len(prefix) - 1, -1):
            for alternative in reversed(result.choices[i]):
                if alternative != result.schedule[i]:
                    stack.append(result.schedule[:i] + alternative)
