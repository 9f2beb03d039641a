"""Exhaustive interleavings × crash points of the race scenarios, with counts.

    python -m pubsafe.models.exploration.enumerate [--scenario NAME] [--no-crashes] [--full [--max-states N]]

For each race of ``models.exploration`` it runs the reference engine over a memory
store: one interleaving of the two actors' store operations per class of equivalent
ones (``--full``: every interleaving), then every crash point: each distinct prefix
of those schedules, with the actor that moves last crashing before its operation or
right after it (lost ack). After each run a crashed actor is retried by a fresh
engine and the checkers judge the store. It prints how many interleavings and crash
points exist, how many ran, and how many runs broke a guarantee (expected: none).

Each state is checked once. The actors are deterministic (the clock stands still
during a run, and GC sweeps are numbered per run instead of taking random ids), so
what follows a point of a run depends only on the store's contents there and on what
each actor has been answered so far. Two crash points that crash the same actor, the
same way, from such an equal state run identically, and so do the checks of two runs
that end in one: each is run and judged once, and counted as
covering the others. ``--full`` searches state by state: what follows a state is
explored once, and counted for every other prefix that reaches the state.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pubsafe.faults import Crash, FaultyStore, Interleaving, RunResult, explore, explore_reduced
from pubsafe.faults.delegate import DelegatingStore
from pubsafe.faults.scheduler import Pending, Policy
from pubsafe.refimpl import Engine, MemoryStore
from pubsafe.refimpl.errors import CollectionRefused
from pubsafe.refimpl.gc import LEASE_SECONDS
from pubsafe.refimpl.store import Store, StoredObject

from ..checkers import check_store
from ..checkers.oracle import Oracle
from ..checkers.retry import retry_failed
from .races import Race, RaceScenario, StepClock

__all__ = ["Counts", "TooManyStates", "enumerate_race", "crash_points"]


class TooManyStates(Exception):
    """A full enumeration reached its limit of distinct states (each costs memory: ~4 KB)."""


@dataclass
class Counts:
    scenario: str
    interleavings: int = 0
    crash_points: int = 0
    runs: int = 0  #: runs made: interleavings (in full: runs until an explored state), then one per crash state
    checks: int = 0  #: distinct final states judged
    rechecked: int = 0  #: crash points run again although equal to one already run (``recheck``)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def crash_points(schedules: list[str]) -> Iterator[tuple[str, tuple[str, str]]]:
    """Each distinct prefix, crashing its last actor before or after that operation."""
    for prefix in sorted({s[:i] for s in schedules for i in range(1, len(s) + 1)}):
        for fault in _faults(prefix):
            yield prefix, fault


class _States:
    """Interns the states a run passes through: the store's contents and what each
    actor has been answered so far. ``after[i]``: the id of the state after step i.

    Kept small, for a full enumeration passes through millions: store contents and
    answer histories are interned separately (a history is its previous history's id
    and one answer), and the store is looked at again only after a write.
    """

    _WRITES = frozenset({"put", "replace", "delete", "remove-debris"})

    def __init__(self) -> None:
        self.stores: dict[frozenset[tuple[str, str]], int] = {}
        self.histories: dict[tuple[int, Any], int] = {}
        self.ids: dict[tuple[Any, ...], int] = {}

    def recorder(self, store: MemoryStore, after: list[int]) -> Callable[[str, Store], Store]:
        """A wrap for ``Interleaving``: each actor's operations are recorded into ``after``."""
        heard: dict[str, int] = {}  # actor -> the id of what it has been answered (0: nothing yet)
        contents = [self._contents(store)]

        def answered(actor: str, op: str, answer: Any) -> None:
            if op in self._WRITES:
                contents[0] = self._contents(store)
            heard[actor] = self.histories.setdefault((heard.get(actor, 0), answer), len(self.histories) + 1)
            after.append(self._state(contents[0], heard))

        after.append(self._state(contents[0], heard))  # step 0: before any operation
        return lambda actor, gated: _Recording(gated, actor, answered)

    def _contents(self, store: MemoryStore) -> int:
        return self.stores.setdefault(_snapshot(store), len(self.stores))

    def _state(self, contents: int, heard: dict[str, int]) -> int:
        return self.ids.setdefault((contents, *sorted(heard.items())), len(self.ids))


class _Recording(DelegatingStore):
    """An actor's store, telling ``answered`` what each of its operations returned."""

    def __init__(self, inner: Store, actor: str, answered: Callable[[str, str, Any], None]) -> None:
        super().__init__(inner)
        self.actor, self.answered = actor, answered

    def _call(self, op: str, key: str, run: Callable[[], Any], data: bytes | None = None) -> Any:
        try:
            value = run()
        except Exception as exc:
            self.answered(self.actor, op, ("raised", type(exc).__name__, str(exc)))
            raise
        self.answered(self.actor, op, _answer(value))
        return value


def _snapshot(store: MemoryStore) -> frozenset[tuple[str, str]]:
    """The store's contents: each key with its etag (a MemoryStore etag is the sha256 of the bytes)."""
    return frozenset((k, v[1]) for k, v in store._objects.items())


def _ending(race: Race, result: RunResult, problems: list[str]) -> tuple[Any, ...]:
    """How a run ended, as far as a verdict can tell: the store, the outcomes, the problems."""
    assert isinstance(race.store, MemoryStore)
    return (_snapshot(race.store),
            tuple((n, type(o.error).__name__) for n, o in sorted(result.outcomes.items())),
            sorted(p.replace(result.schedule, "<schedule>") for p in problems))


def _answer(value: Any) -> Any:
    """A hashable stand-in for what a store operation returned."""
    if isinstance(value, StoredObject):
        return ("object", value.etag)  # a MemoryStore etag is the sha256 of the bytes
    return tuple(value) if isinstance(value, list) else value


def _run(race: Race, prepared: MemoryStore, schedule: str, fault: tuple[str, str] | None = None,
         policy: Policy | None = None, states: _States | None = None, after: list[int] | None = None
         ) -> tuple[RunResult, Race, list[int]]:
    """Run the race from a copy of the prepared store (one setup, many runs); with
    ``states``, also the id of the state after each step (into ``after``, as it runs)."""
    # A sweep's id is written into its lease and tombstones: counted, not random, so that
    # equal runs reach equal states (and unique within the run, recovery included).
    sweep_ids = map("sweep-{}".format, itertools.count(1)).__next__
    store = prepared.copy()
    copy = dataclasses.replace(race, store=store,
                               engine=lambda store, **options: race.engine(store, sweep_ids=sweep_ids, **options))
    after = [] if after is None else after
    recorded = states.recorder(store, after) if states is not None else None

    def wrap(name: str, gated: Store) -> Store:
        if recorded is not None:
            return recorded(name, gated)
        return FaultyStore(gated, fault[1]) if fault is not None and fault[0] == name else gated

    return Interleaving(copy.store, copy.actors, wrap=wrap).run(schedule, policy), copy, after


def _check(race: Race, result: RunResult, clock: StepClock) -> list[str]:
    problems = [str(v) for v in race.judge(result, guarded=False)[0]]
    # Recovery comes later: once a crashed sweep's lease has lapsed by the store's clock,
    # which this clock is too (moved back afterwards: every run starts at the same time).
    clock.advance(LEASE_SECONDS + 1)
    try:
        for name, outcome in result.outcomes.items():
            if isinstance(outcome.error, Crash):
                try:
                    race.actions[name](race.engine(race.store))  # the same request, a fresh engine
                except CollectionRefused as exc:
                    if race.views is None:  # new-registry: a sweep that finds its blob store shared deletes nothing
                        problems.append(str(retry_failed(f"a crash of {name}", exc)))
                except Exception as exc:  # noqa: BLE001 - a failed recovery is a finding
                    problems.append(str(retry_failed(f"a crash of {name}", exc)))
    finally:
        clock.advance(-(LEASE_SECONDS + 1))
    return problems + [str(v) for v in check_store(race.store, Oracle())]


def enumerate_race(
    scenario: RaceScenario,
    *,
    crashes: bool = True,
    full: bool = False,
    progress: Callable[[int], None] = lambda n: None,
    engine: Callable[..., Engine] = Engine,
    dedupe: bool = True,
    stateful: bool = True,
    recheck: int = 0,
    max_states: int | None = None,
) -> Counts:
    """Run a race's interleavings (one per equivalence class unless ``full``) and crash points.

    ``dedupe=False`` runs and judges every interleaving, crash point and run, equal
    states or not; ``stateful=False`` (with ``full``) runs every interleaving but
    judges each state once; ``recheck=N`` also runs N crash points (and, in full,
    N interleavings) that were equal to one already run, and reports any that ends
    otherwise (the tests use all three). A full enumeration that would explore
    more than ``max_states`` distinct states stops with ``TooManyStates``. ``engine``
    is called as ``Engine`` is: ``engine(store, clock=..., sweep_ids=...)``.
    """
    counts = Counts(scenario.name)
    started = time.perf_counter()
    clock = StepClock()
    race = scenario.prepare(MemoryStore(clock=clock), lambda s, **options: engine(s, **{"clock": clock, **options}),
                            clock)
    assert isinstance(race.store, MemoryStore)
    enumeration = _Enumeration(race, race.store, clock, counts, progress)
    if full and dedupe and stateful:
        enumeration.every_state(crashes, recheck, max_states)
    else:
        enumeration.each_run(crashes, full, dedupe, recheck)
    counts.seconds = time.perf_counter() - started
    return counts


class _Node:
    """A state's future: every interleaving that goes on from it, explored once and
    shared by every prefix that reaches the state."""

    __slots__ = ("state", "children", "problems", "leaves", "nodes")

    def __init__(self, state: int, children: tuple[tuple[str, _Node], ...], problems: list[str]) -> None:
        self.state = state
        self.children = children  #: (actor, the state its move leads to), in choice order; () at a run's end
        self.problems = problems  #: at a run's end: what judging it found
        self.leaves: int = sum(child.leaves for _, child in children) if children else 1  #: interleavings from here
        self.nodes: int = sum(child.nodes + 1 for _, child in children)  #: distinct prefixes below


class _Enumeration:
    """One scenario's enumeration: runs from its prepared store, the states they pass
    through, the judging, and the counts."""

    def __init__(self, race: Race, prepared: MemoryStore, clock: StepClock, counts: Counts,
                 progress: Callable[[int], None]) -> None:
        self.race, self.prepared, self.clock = race, prepared, clock
        self.counts, self.progress = counts, progress
        self.states = _States()

    def _judge(self, race: Race, result: RunResult) -> list[str]:
        return _check(race, result, self.clock)

    def _crash(self, prefix: str, fault: tuple[str, str]) -> tuple[list[str], tuple[Any, ...]]:
        """Run one crash point; what judging it found, and how it ended."""
        result, copy, _ = _run(self.race, self.prepared, prefix, fault)
        problems = self._judge(copy, result)
        return problems, _ending(copy, result, problems)

    def each_run(self, crashes: bool, full: bool, dedupe: bool, recheck: int) -> None:
        """Explore run by run (one per equivalence class, or every one), then the crash points."""
        counts = self.counts
        finished: dict[str, tuple[Race, list[int]]] = {}  # each explored run, checked as it is (it replays exactly)

        def run(prefix: str, policy: Policy | None = None) -> RunResult:
            result, copy, after = _run(self.race, self.prepared, prefix, policy=policy, states=self.states)
            finished[result.schedule] = (copy, after)
            return result

        schedules: list[str] = []
        judged: dict[tuple[int, tuple[str, ...]], list[str]] = {}  # final state, outcomes -> its problems
        before: dict[str, int] = {}  # prefix -> the state before its last operation (the same in every run it begins)
        for result in explore(run) if full else explore_reduced(run):  # judged as found: a run's store is freed
            schedules.append(result.schedule)
            counts.interleavings += 1
            counts.runs += 1
            self.progress(1)
            copy, after = finished.pop(result.schedule)
            for i in range(1, len(result.schedule) + 1):
                before.setdefault(result.schedule[:i], after[i - 1])
            ending = (after[-1], tuple(type(o.error).__name__ for _, o in sorted(result.outcomes.items())))
            if ending not in judged or not dedupe:
                judged[ending] = self._judge(copy, result)
            counts.violations += [f"{result.schedule}: {p}" for p in judged[ending]]
        counts.checks = len(judged)
        if not crashes:
            return
        crashed: dict[tuple[int, str, str], tuple[list[str], tuple[Any, ...]]] = {}  # state, actor, fault -> found
        for prefix, fault in crash_points(schedules):
            counts.crash_points += 1
            self.progress(1)
            state = (before[prefix], *fault) if dedupe else (counts.crash_points, *fault)
            if state not in crashed:  # else run and judged from an equal state already
                crashed[state] = self._crash(prefix, fault)
                counts.runs += 1
            elif recheck > counts.rechecked:
                self._recheck_crash(prefix, fault, crashed[state][1])
            counts.violations += [f"{prefix} {fault[1]} on {fault[0]}: {p}" for p in crashed[state][0]]

    def _recheck_crash(self, prefix: str, fault: tuple[str, str], expected: tuple[Any, ...]) -> None:
        """Run a crash point skipped for an equal state's: it must end as that one did."""
        self.counts.rechecked += 1
        if self._crash(prefix, fault)[1] != expected:
            self.counts.violations.append(f"{prefix} {fault[1]} on {fault[0]}: ended otherwise than a crash "
                                          "point from an equal state (the enumeration's state key is wrong)")

    def every_state(self, crashes: bool, recheck: int, max_states: int | None = None) -> None:
        """Every interleaving, by depth-first search over states (stateful model checking).

        A run stops as soon as it reaches a state whose future is explored already:
        what follows is the same as there, so it is counted, not run again. Then each
        distinct crash point (a state, an actor, a fault) runs once. Every interleaving
        and crash point is still reported: the prefixes reaching a state that broke
        something are walked out of the explored graph.
        """
        counts = self.counts
        explored: dict[int, _Node] = {}
        first: dict[int, str] = {}  # state -> the first prefix that reached it

        def start(prefix: str) -> tuple[RunResult, Race, list[int]]:
            after: list[int] = []

            def policy(step: int, waiting: Pending) -> str | None:
                return None if after[step] in explored else min(waiting)

            counts.runs += 1
            return _run(self.race, self.prepared, prefix, policy=policy, states=self.states, after=after)

        def visit(prefix: str, result: RunResult, copy: Race, after: list[int]) -> _Node:
            state = after[len(prefix)]
            if (known := explored.get(state)) is not None:
                return known
            if max_states is not None and len(first) >= max_states:
                raise TooManyStates(f"{self.race.scenario.name}: stopped after {len(first):,} distinct states "
                                    f"({counts.runs:,} runs) without finishing")
            first[state] = prefix
            if len(prefix) == len(result.schedule):  # the run's end
                assert not result.stopped
                node = _Node(state, (), self._judge(copy, result))
                counts.checks += 1
                self.progress(1)
            else:
                moves = result.choices[len(prefix)]
                node = _Node(state, tuple(
                    (actor, visit(prefix + actor, result, copy, after) if actor == result.schedule[len(prefix)]
                     else visit(prefix + actor, *start(prefix + actor)))
                    for actor in moves), [])
            explored[state] = node
            return node

        root = visit("", *start(""))
        counts.interleavings = root.leaves
        crashed: dict[tuple[int, str, str], tuple[list[str], tuple[Any, ...]]] = {}
        if crashes:
            counts.crash_points = 2 * root.nodes
            for state, node in explored.items():
                for actor, _ in node.children:
                    prefix = first[state] + actor
                    for fault in _faults(prefix):
                        crashed[(state, *fault)] = self._crash(prefix, fault)
                        counts.runs += 1
                        self.progress(1)
        self._report(root, first, crashed)
        if recheck:
            self._recheck_states(root, first, crashed, recheck)

    def _report(self, root: _Node, first: dict[int, str],
                crashed: dict[tuple[int, str, str], tuple[list[str], tuple[Any, ...]]]) -> None:
        """Every interleaving and crash point that broke something, by its own prefix
        (a problem naming the schedule that was run names this one: it goes on alike)."""
        broken = {key[0] for key, (problems, _) in crashed.items() if problems}  # states with a crash that broke
        bad: dict[int, bool] = {}

        def breaks(node: _Node) -> bool:  # anything broken at or below this state?
            if node.state not in bad:
                bad[node.state] = bool(node.problems) or node.state in broken or any(
                    breaks(child) for _, child in node.children)
            return bad[node.state]

        runs, crashes = [], []
        for prefix, node in _walk(root, "", breaks):
            def retold(problem: str, state: int = node.state, prefix: str = prefix) -> str:
                return problem.replace(f"'{first[state]}", f"'{prefix}")

            runs += [f"{prefix}: {retold(p)}" for p in node.problems]
            for actor, _ in node.children if node.state in broken else ():
                for fault in _faults(prefix + actor):
                    crashes += [f"{prefix + actor} {fault[1]} on {fault[0]}: {retold(p)}"
                                for p in crashed[(node.state, *fault)][0]]
        self.counts.violations += runs + sorted(crashes)

    def _recheck_states(self, root: _Node, first: dict[int, str],
                        crashed: dict[tuple[int, str, str], tuple[list[str], tuple[Any, ...]]], recheck: int) -> None:
        """Prefixes that reached an explored state by another way, run anyway: each must
        end in the state its first-move path predicts, and its crash points as counted."""
        counts = self.counts
        for prefix, node in _walk(root, "", lambda node: True):
            if counts.rechecked >= recheck:
                return
            if first[node.state] == prefix or not node.children:
                continue
            end = node
            while end.children:
                end = end.children[0][1]
            after: list[int] = []
            _run(self.race, self.prepared, prefix, states=self.states, after=after)
            if after[-1] != end.state:
                counts.violations.append(f"{prefix}: went on otherwise than from an equal state "
                                         "(the enumeration's state key is wrong)")
            actor = node.children[counts.rechecked % len(node.children)][0]
            fault = list(_faults(prefix + actor))[counts.rechecked % 2]
            if crashed:
                self._recheck_crash(prefix + actor, fault, crashed[(node.state, *fault)][1])
            else:
                counts.rechecked += 1


def _faults(prefix: str) -> Iterator[tuple[str, str]]:
    """The two crash points at a prefix: its last actor crashing before, or after (lost ack), that operation."""
    actor = prefix[-1]
    for kind in ("crash", "lost-ack"):
        yield actor, f"{kind}@{prefix.count(actor) - 1}"


def _walk(node: _Node, prefix: str, wanted: Callable[[_Node], bool]) -> Iterator[tuple[str, _Node]]:
    """Each prefix below ``node`` (a tree again: the graph unshared), skipping unwanted states' futures."""
    if wanted(node):
        yield prefix, node
        for actor, child in node.children:
            yield from _walk(child, prefix + actor, wanted)


if __name__ == "__main__":
    from pubsafe.models.exploration.enumerate_cli import main

    sys.exit(main())
