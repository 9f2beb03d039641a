"""The enumeration of every race scenario's interleavings and crash points."""

from __future__ import annotations

from pubsafe.models.enumerate import crash_points, enumerate_race
from pubsafe.models.scenarios import RACES
from pubsafe.refimpl import Engine


def test_crash_points_cover_every_prefix_and_both_kinds():
    points = list(crash_points(["AAB", "ABA"]))
    assert ("AB", ("B", "crash@0")) in points and ("ABA", ("A", "lost-ack@1")) in points
    assert len(points) == 2 * len({"A", "AA", "AAB", "AB", "ABA"})


def test_enumeration_of_every_scenario_finds_no_violation():
    for scenario in RACES.values():
        counts = enumerate_race(scenario)
        assert counts.violations == []
        assert counts.interleavings >= 4 and counts.crash_points > 50


def _broken_points(counts) -> set[str]:  # type: ignore[no-untyped-def]
    """Which runs and crash points broke something (the text before the problem)."""
    return {line.split(": ", 1)[0] for line in counts.violations}


def test_judging_each_state_once_finds_what_judging_every_run_finds():
    """Crash points from equal states are run once; the same runs and crash points
    must break as when each is run, for the reference engine (none) and engines that break."""
    from pubsafe.models.mutants import SwapBeforeRecordEngine, SwapBeforeValidateEngine

    for engine in (Engine, SwapBeforeRecordEngine, SwapBeforeValidateEngine):
        once = enumerate_race(RACES["publish-gc"], engine=engine)
        every = enumerate_race(RACES["publish-gc"], engine=engine, dedupe=False)
        assert (once.interleavings, once.crash_points) == (every.interleavings, every.crash_points)
        assert _broken_points(once) == _broken_points(every) and len(once.violations) == len(every.violations)
        assert bool(once.violations) is (engine is not Engine)


def test_crash_points_from_equal_states_end_alike_in_a_full_enumeration():
    """The full enumeration runs 280 of its 48,616 crash points; 300 of those it skips
    are run anyway here, for the engine and for one that breaks, and must end alike."""
    from pubsafe.models.mutants import SwapBeforeRecordEngine

    for engine in (Engine, SwapBeforeRecordEngine):
        counts = enumerate_race(RACES["publish-rollback"], full=True, engine=engine, recheck=300)
        assert counts.rechecked == 300
        assert not [v for v in counts.violations if "state key is wrong" in v]
        if engine is Engine:
            assert (counts.interleavings, counts.crash_points) == (6435, 48616)
        assert counts.runs < counts.interleavings + counts.crash_points // 10
        assert bool(counts.violations) is (engine is not Engine)
