"""The enumeration of every race scenario's interleavings and crash points."""

from __future__ import annotations

from pubsafe.models.enumerate import crash_points, enumerate_race
from pubsafe.models.scenarios import RACES


def test_crash_points_cover_every_prefix_and_both_kinds():
    points = list(crash_points(["AAB", "ABA"]))
    assert ("AB", ("B", "crash@0")) in points and ("ABA", ("A", "lost-ack@1")) in points
    assert len(points) == 2 * len({"A", "AA", "AAB", "AB", "ABA"})


def test_enumeration_of_every_scenario_finds_no_violation():
    for scenario in RACES.values():
        counts = enumerate_race(scenario)
        assert counts.violations == []
        assert counts.interleavings >= 4 and counts.crash_points > 50
