"""Deterministic interleaving of concurrent actors at store-operation granularity.

Each actor (a publish, a rollback, a GC sweep, a reader: any callable taking a Store)
runs in its own greenlet (a coroutine with its own stack and context variables), and
only one of them ever moves: before every store operation an actor stops at a gate
and hands control back to the scheduler, which names who moves next. A schedule is
a string of actor letters, ``"AABAB"``: step *i* lets actor ``schedule[i]`` perform
its next operation. When the string runs out the remaining actors finish in letter
order. Letters naming an actor that has already finished are skipped. So a schedule
replays exactly, and nothing depends on timing. (Greenlets rather than threads: a
hand-over costs about a microsecond instead of two thread wake-ups, and the
exhaustive searches make millions of them. The price: there is no pre-emption, so an
actor that loops forever without touching the store stalls the run, where a thread
would have let the scheduler time out.)

``explore`` enumerates every distinct interleaving of a small scenario by
depth-first search over the choice points a run reveals (stateless model checking).
"""

from __future__ import annotations

import string
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import greenlet

from pubsafe.refimpl.phases import current_phase
from pubsafe.refimpl.store import Store

from .delegate import DelegatingStore
from .history import Event

__all__ = [
    "ActorOutcome",
    "Interleaving",
    "RunResult",
    "explore",
    "explore_reduced",
    "independent",
    "ACTOR_LETTERS",
]

ACTOR_LETTERS = string.ascii_uppercase


@dataclass
class ActorOutcome:
    result: Any = None
    error: BaseException | None = None


Pending = dict[str, tuple[str, str]]  #: actor -> (op, key) it is waiting to perform
Policy = Callable[[int, Pending], "str | None"]  #: who moves at a step; None stops the run there


@dataclass
class RunResult:
    schedule: str  #: the schedule actually followed, one letter per operation
    trace: list[Event]  #: the history: one event per operation, actors named by letter
    outcomes: dict[str, ActorOutcome]
    choices: list[str] = field(default_factory=list)  #: live actors at each step
    pending: list[Pending] = field(default_factory=list)  #: what each live actor waited for
    stopped: bool = False  #: the policy stopped the run before every actor finished


class _Actor:
    def __init__(self, name: str, fn: Callable[[Store], Any]) -> None:
        self.name = name
        self.fn = fn
        self.waiting: tuple[str, str, str | None] | None = None
        self.done = False
        self.outcome = ActorOutcome()


class _GatedStore(DelegatingStore):
    """An actor's view of the shared store: every operation waits for its turn."""

    def __init__(self, inner: Store, gate: Callable[[str, str], Event]) -> None:
        super().__init__(inner)
        self._gate = gate

    def _call(self, op: str, key: str, run: Callable[[], Any], data: bytes | None = None) -> Any:
        event = self._gate(op, key)
        try:
            return run()
        except BaseException as exc:
            event.result = type(exc).__name__  # a refused compare-and-swap, say
            raise


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

    def run(self, schedule: str = "", policy: Policy | None = None) -> RunResult:
        """Follow ``schedule``; past its end ask ``policy`` (default: first live actor).

        A policy answering None stops the run there (``stopped``): each live actor is
        unwound where it waits, and its store operations from then on do nothing.
        """
        unknown = set(schedule) - set(self.actors)
        if unknown:
            raise ValueError(f"schedule {schedule!r} names unknown actors {sorted(unknown)}")
        scheduler, home_thread = greenlet.getcurrent(), threading.get_ident()
        actors = {name: _Actor(name, fn) for name, fn in sorted(self.actors.items())}
        trace: list[Event] = []

        stopping = False

        def gate_for(actor: _Actor) -> Callable[[str, str], Event]:
            def gate(op: str, key: str) -> Event:
                if stopping:  # a stopped actor's clean-up (a finally releasing a lease) does nothing
                    raise greenlet.GreenletExit
                if threading.get_ident() != home_thread:
                    raise RuntimeError(
                        f"actor {actor.name} called the store from a thread of its own; the "
                        "interleaving scheduler orders one sequence of store operations per "
                        "actor, so run each concurrent part as an actor of its own"
                    )
                actor.waiting = (op, key, current_phase())
                scheduler.switch()  # back when the scheduler names this actor
                op_, key_, phase = actor.waiting
                event = Event(actor.name, op_, key_, phase, time=len(trace))
                trace.append(event)
                actor.waiting = None
                return event

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
                actor.done = True

        # Each actor runs up to its first store operation (or to its end).
        runners = {name: greenlet.greenlet(body) for name in actors}
        for name, actor in actors.items():
            runners[name].switch(actor)
        followed: list[str] = []
        choices: list[str] = []
        waits: list[Pending] = []
        pending = list(schedule)
        while live := [a for a in actors.values() if not a.done]:
            waiting = {a.name: a.waiting[:2] for a in live if a.waiting}
            chosen = None
            while pending and chosen is None:
                candidate = actors[pending.pop(0)]
                chosen = None if candidate.done else candidate
            if chosen is None:
                turn = policy(len(followed), waiting) if policy else live[0].name
                if turn is None:  # the policy stops the run: each live actor unwinds where it waits
                    stopping = True
                    for actor in live:
                        runners[actor.name].throw()
                    break
                chosen = actors[turn]
            choices.append("".join(a.name for a in live))
            waits.append(waiting)
            followed.append(chosen.name)
            runners[chosen.name].switch()  # one operation, then on to its next gate
        return RunResult("".join(followed), trace, {n: a.outcome for n, a in actors.items()}, choices, waits,
                         stopped=stopping)


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


_READS = frozenset({"get", "stat", "list", "debris"})


def independent(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Do two pending store operations commute (same result in either order)?"""
    (op_a, key_a), (op_b, key_b) = a, b
    if op_a in _READS and op_b in _READS:
        return True
    if op_a == "list":
        return not key_b.startswith(key_a)
    if op_b == "list":
        return not key_a.startswith(key_b)
    return key_a != key_b


def explore_reduced(
    run: Callable[[str, Policy], RunResult],
    *,
    width: int = 1,
    discard: Callable[[RunResult], None] = lambda result: None,
) -> Iterator[RunResult]:
    """One interleaving per class of equivalent ones (sleep-set reduction).

    Two schedules that differ only in the order of adjacent operations that commute
    (different keys, or both reads) reach the same state; this explores one of
    each, which is what makes exhaustive checks of real publishes affordable.
    ``run(prefix, policy)`` must build a fresh scenario and run it; a run found
    redundant is handed to ``discard`` (to tear its store down), never yielded.

    ``width`` > 1 runs that many pending prefixes at once, each in a thread of its own
    (for remote stores, where a run waits on the network): the branches of a prefix
    depend only on its own run, so the same interleavings are explored, in batches,
    and yielded in a fixed order.
    """
    # Each entry: a schedule prefix, and the sleep set at the node where its last
    # letter was chosen (actors whose moves there were already fully explored).
    stack: list[tuple[str, frozenset[str]]] = [("", frozenset())]
    pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="explore") if width > 1 else None
    try:
        while stack:
            batch = [stack.pop() for _ in range(min(width, len(stack)))]
            if pool is None:
                outcomes = [_explore_one(run, *batch[0])]
            else:
                outcomes = list(pool.map(lambda entry: _explore_one(run, *entry), batch))
            for _result, branches, _redundant in reversed(outcomes):
                stack.extend(reversed(branches))
            for result, _, redundant in outcomes:
                if redundant:
                    discard(result)
                else:
                    yield result
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def _explore_one(run: Callable[[str, Policy], RunResult], prefix: str, sleep_at_last: frozenset[str]
                 ) -> tuple[RunResult, list[tuple[str, frozenset[str]]], bool]:
    """Run ``prefix``, then first-awake choices; return the run, the sibling branches it
    left to explore, and whether it was redundant (every move covered by a sibling)."""
    sleep: set[str] = set()
    redundant = False
    branches: list[tuple[str, frozenset[str]]] = []
    followed_prefix = [prefix]

    def policy(step: int, waiting: Pending) -> str:
        nonlocal sleep, redundant
        awake = [a for a in sorted(waiting) if a not in sleep]
        if not awake:
            redundant = True  # every move here is covered by an explored sibling
            return sorted(waiting)[0]
        chosen = awake[0]
        explored = set(sleep) | {chosen}
        for other in awake[1:]:
            branches.append((followed_prefix[0] + other, frozenset(explored)))
            explored.add(other)
        followed_prefix[0] += chosen
        sleep = {s for s in sleep if independent(waiting[s], waiting[chosen])}
        return chosen

    def tracking(step: int, waiting: Pending) -> str:
        nonlocal sleep
        if step < len(prefix):
            choice = prefix[step]
            if step == len(prefix) - 1:
                sleep = {s for s in sleep_at_last if s in waiting and independent(waiting[s], waiting[choice])}
            return choice
        if redundant:
            return sorted(waiting)[0]
        return policy(step, waiting)

    result = run("", tracking)
    return result, branches, redundant
