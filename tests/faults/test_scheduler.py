"""The deterministic scheduler: exact replay, exhaustive and reduced exploration."""

from __future__ import annotations

import json

import pytest
from hypothesis import find, given, settings

from pubsafe.faults.scheduler import Interleaving, explore, explore_reduced, independent
from pubsafe.faults.strategies import fault_plans, schedules
from pubsafe.refimpl import Engine, MemoryStore

T, S = "acme", "home"


def two_publishers(prefix: str, policy=None, payloads=({"model": 1}, {"model": 2})):
    store = MemoryStore()
    Engine(store).publish(T, S, {"model": 0})
    run = Interleaving(
        store,
        {"A": lambda s: Engine(s).publish(T, S, payloads[0]), "B": lambda s: Engine(s).publish(T, S, payloads[1])},
    ).run(prefix, policy)
    return run, store


@given(schedules("AB", max_steps=20))
def test_a_schedule_replays_exactly(schedule):
    (first, first_store), (second, second_store) = two_publishers(schedule), two_publishers(schedule)
    assert first.schedule == second.schedule
    assert first.trace == second.trace
    assert first_store.get("current/acme/home/manifest.json").split(b'"updated_at"')[0] == (
        second_store.get("current/acme/home/manifest.json").split(b'"updated_at"')[0]
    )


def test_the_followed_schedule_starts_with_the_given_one_and_skips_finished_actors():
    run, _ = two_publishers("ABBBBBBBBBBBBBBBBBA")
    assert run.schedule.startswith("ABBBBBBB")
    assert len(run.schedule) == len(run.trace) == 14


def test_full_exploration_counts_every_interleaving():
    def run(prefix):
        store = MemoryStore()
        return Interleaving(store, {
            "A": lambda s: [s.put("a", b""), s.put("b", b"")],
            "B": lambda s: [s.put("c", b""), s.put("d", b""), s.put("e", b"")],
        }).run(prefix)

    assert sorted(r.schedule for r in explore(run)) == sorted(
        {"".join(p) for p in __import__("itertools").permutations("AABBB")}
    )


def test_reduced_exploration_reaches_every_outcome_of_the_full_one():
    stores = {}

    def run(prefix, policy=None):
        result, store = two_publishers(prefix, policy, payloads)
        stores[result.schedule] = store  # a schedule replays exactly: same schedule, same store
        return result

    def outcome(result):
        store = stores[result.schedule]
        manifest = json.loads(store.get("current/acme/home/manifest.json"))
        return json.dumps(manifest["current"]), tuple(store.list(""))

    payloads = ({"model": 1}, {"items": 2})
    full = {outcome(r) for r in explore(run)}
    reduced_runs = list(explore_reduced(run))
    assert {outcome(r) for r in reduced_runs} == full
    assert len(full) == 4 and len(reduced_runs) == 4  # vs 3,432 interleavings in all


@pytest.mark.parametrize("width", [2, 3, 8])
def test_exploring_several_prefixes_at_once_explores_the_same_interleavings(width):
    """Remote stores run race interleavings in parallel threads: the explored set and
    the runs handed back as redundant must be exactly those of the sequential search."""
    import threading

    threads = set()
    meet = threading.Barrier(2, timeout=60)  # the first two runs of a parallel search wait for each other
    runs, waits, counting = [0], [0], threading.Lock()

    def run(prefix, policy=None):
        threads.add(threading.get_ident())
        with counting:  # the root runs alone; the batch after it has several (runs 2 and 3 among them)
            waiting = meeting[0] and 1 <= runs[0] <= 2
            runs[0] += 1
            waits[0] += waiting
        if waiting:
            meet.wait()  # each blocked run holds its thread: the pool cannot hand both to one thread
        return two_publishers(prefix, policy, ({"model": 1, "items": 3}, {"items": 2}))[0]

    meeting = [False]

    def explored(width):
        discarded = []
        kept = [r.schedule for r in explore_reduced(run, width=width, discard=lambda r: discarded.append(r.schedule))]
        return kept, discarded

    threads.clear()
    one_kept, one_discarded = explored(1)
    assert len(threads) == 1 and len(one_kept) >= 4 and one_discarded
    threads.clear()
    runs[0], meeting[0] = 0, True
    kept, discarded = explored(width)
    meeting[0] = False
    # it did run in parallel: two runs were in flight at once, or neither could have passed the barrier
    assert waits[0] == 2 and not meet.broken, (waits, len(threads))
    assert sorted(kept) == sorted(one_kept) and sorted(discarded) == sorted(one_discarded)
    assert kept == explored(width)[0]  # and in a fixed order


def test_independence_relation():
    assert independent(("get", "k"), ("get", "k"))
    assert not independent(("get", "k"), ("replace", "k"))
    assert independent(("put", "a"), ("put", "b"))
    assert not independent(("list", "records/"), ("put", "records/x"))
    assert independent(("list", "records/"), ("put", "current/x"))


def test_a_race_shrinks_to_the_minimal_schedule():
    """R1: B reads current, A publishes, B swaps over it: minimal schedule "B"."""

    def lost_update(schedule: str) -> bool:
        run, _ = two_publishers(schedule)
        a, b = (run.outcomes[x].result for x in "AB")
        swaps = [step.actor for step in run.trace if step.phase == "swap"]
        later = b if swaps[-1] == "B" else a
        earlier = a if later is b else b
        return later.previous_manifest_version != earlier.manifest_version

    assert find(schedules("AB"), lost_update, settings=settings(database=None, max_examples=500)) == "B"


@given(fault_plans())
def test_fault_plan_strategy_round_trips(plan):
    assert str(type(plan).parse(str(plan))) == str(plan)


def test_an_actor_using_a_worker_thread_gets_a_clear_error_and_the_others_finish():
    from concurrent.futures import ThreadPoolExecutor

    def threaded_publisher(store):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(Engine(store).publish, T, S, {"model": 1}).result()

    store = MemoryStore()
    run = Interleaving(store, {"A": threaded_publisher, "B": lambda s: Engine(s).publish(T, S, {"model": 2})}).run("AB")
    assert "thread of its own" in str(run.outcomes["A"].error)
    assert run.outcomes["B"].error is None and run.outcomes["B"].result.swapped


def test_actors_see_their_own_phase_labels():
    from pubsafe.refimpl.phases import phase

    def labelled(label):
        def actor(store):
            with phase(label):
                store.put(f"k/{label}", b"x")
                store.put(f"k/{label}2", b"x")

        return actor

    run = Interleaving(MemoryStore(), {"A": labelled("one"), "B": labelled("two")}).run("ABAB")
    assert [(step.actor, step.phase) for step in run.trace] == [("A", "one"), ("B", "two"), ("A", "one"), ("B", "two")]


def test_a_policy_can_stop_a_run_and_stopped_actors_touch_the_store_no_more():
    def writer(name):
        def actor(store):
            try:
                for i in range(3):
                    store.put(f"{name}/{i}", b"x")
            finally:
                store.put(f"{name}/cleaned-up", b"x")  # as a sweep releases its lease

        return actor

    store = MemoryStore()
    run = Interleaving(store, {"A": writer("a"), "B": writer("b")}).run(
        "AB", policy=lambda step, waiting: None if step == 3 else min(waiting))
    assert run.stopped and run.schedule == "ABA" and len(run.trace) == 3
    assert sorted(store._objects) == ["a/0", "a/1", "b/0"]
    assert all(outcome.error is not None for outcome in run.outcomes.values())
    finished = Interleaving(MemoryStore(), {"A": writer("a")}).run("")
    assert not finished.stopped and finished.outcomes["A"].error is None
