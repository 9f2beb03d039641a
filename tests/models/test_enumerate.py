"""The enumeration of every race scenario's interleavings and crash points."""

from __future__ import annotations

import pytest

from pubsafe.models.exploration import RACES
from pubsafe.models.exploration.enumerate import crash_points, enumerate_race
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


def test_prefixes_reaching_an_explored_state_go_on_alike_in_a_full_enumeration():
    """The full enumeration runs a few hundred of its 11,440 interleavings and 87,512 crash
    points; 300 prefixes it counted without running are run here anyway, to their end and
    with a crash point each, for the engine and for one that breaks, and must end alike."""
    from pubsafe.models.mutants import SwapBeforeRecordEngine

    for engine in (Engine, SwapBeforeRecordEngine):
        counts = enumerate_race(RACES["publish-rollback"], full=True, engine=engine, recheck=300)
        assert counts.rechecked == 300
        assert not [v for v in counts.violations if "state key is wrong" in v]
        if engine is Engine:
            assert (counts.interleavings, counts.crash_points) == (11440, 87512)
        assert counts.runs < 1000
        assert bool(counts.violations) is (engine is not Engine)


class _FailsAfterRollingBack(Engine):
    """Rolls back, then raises: every run breaks G3, in a finding that quotes its schedule."""

    def rollback(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().rollback(*args, **kwargs)
        raise RuntimeError("rolled back, then failed")


@pytest.mark.slow
def test_exploring_state_by_state_finds_what_running_every_interleaving_finds():
    """The stateful search counts what follows an explored state instead of running it;
    the same interleavings, crash points and findings (each naming its own schedule)
    must come out as when every interleaving is run, for the engine and two mutants."""
    from pubsafe.models.mutants import SwapBeforeRecordEngine

    for engine in (Engine, SwapBeforeRecordEngine, _FailsAfterRollingBack):
        by_state = enumerate_race(RACES["publish-rollback"], full=True, engine=engine)
        every = enumerate_race(RACES["publish-rollback"], full=True, engine=engine, stateful=False)
        assert (by_state.interleavings, by_state.crash_points) == (every.interleavings, every.crash_points)
        assert _broken_points(by_state) == _broken_points(every)
        assert len(by_state.violations) == len(every.violations) and by_state.runs < every.runs // 10
        assert bool(by_state.violations) is (engine is not Engine)
    quoting = [line for line in by_state.violations if "schedule '" in line]
    assert len(quoting) > 11440  # every interleaving, and crash points
    for line in quoting:  # each quotes its own schedule, not the one run from an equal state
        point, problem = line.split(": ", 1)
        if " on " in point:  # a crash point: the crashed operation itself may not have happened
            assert f"schedule '{point.split()[0][:-1]}" in problem, line
        else:
            assert f"schedule '{point}'" in problem, line


def test_the_command_runs_what_it_is_asked(capsys):
    from pubsafe.models.exploration.enumerate_cli import main

    assert main(["--scenario", "cross-type", "--no-crashes"]) == 0
    out = capsys.readouterr().out
    assert "cross-type" in out and "same-type" not in out and "not run" not in out
    assert main(["--full", "--no-crashes"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert sorted(rows) == sorted(RACES)
    assert rows["same-type"][1] == "167960" and rows["publish-rollback"][1] == "11440"
    assert rows["publish-gc"][1] == "44359877"


def test_a_full_enumeration_too_large_stops_at_its_limit_and_says_so(capsys):
    import pytest

    from pubsafe.models.exploration.enumerate import TooManyStates
    from pubsafe.models.exploration.enumerate_cli import _progress, main

    with pytest.raises(TooManyStates, match="publish-gc: stopped after 400 distinct states"):
        enumerate_race(RACES["publish-gc"], full=True, crashes=False, max_states=400)
    assert enumerate_race(RACES["publish-gc"], full=True, crashes=False).interleavings == 44359877
    assert enumerate_race(RACES["same-type"], full=True, crashes=False, max_states=500).interleavings == 167960
    assert main(["--full", "--scenario", "publish-gc", "--scenario", "cross-type", "--max-states", "400"]) == 2
    out = capsys.readouterr().out
    assert "stopped after 400 distinct states" in out and "raise --max-states" in out and "48620" in out
    with pytest.raises(SystemExit) as refused:
        main(["--full", "--max-states", "0"])
    assert refused.value.code == 2 and "--max-states must be at least 1" in capsys.readouterr().err
    tick = _progress("publish-gc", every=0)
    tick(3)
    assert "publish-gc: 3 runs judged" in capsys.readouterr().err


def test_a_full_enumeration_with_a_gc_sweep_shares_states_and_recovers_crashed_sweeps_alike():
    """A sweep's id is in the bytes it writes: counted per run (not random), equal runs
    reach equal states, so publish-gc (44 million interleavings) is searched in a few
    thousand runs. 300 prefixes reaching an explored state by another way, and their crash
    points (a crashed sweep recovered by a fresh one), end alike;
    a GC that deletes without a claim breaks R5 in full as in the reduced enumeration."""
    from pubsafe.models.mutants import UnprotectedGCEngine

    counts = enumerate_race(RACES["publish-gc"], full=True, recheck=300, max_states=50_000)  # it needs < 5,000
    assert (counts.interleavings, counts.crash_points, counts.violations) == (44359877, 369457112, [])
    assert counts.rechecked == 300 and counts.runs < 5000
    broken = enumerate_race(RACES["publish-gc"], full=True, engine=UnprotectedGCEngine, recheck=300)
    reduced = enumerate_race(RACES["publish-gc"], engine=UnprotectedGCEngine)
    assert not [v for v in broken.violations if "state key is wrong" in v]
    assert any("R5: the sweep deleted" in v for v in broken.violations)
    assert any("R5: the sweep deleted" in v for v in reduced.violations)
