"""The mutant catalogue: the default profile kills every mutant, naming the right guarantee."""

from __future__ import annotations

import pytest

from pubsafe.models import Status, run_conformance
from pubsafe.models.mutants import MUTANTS, mutant_target


def test_the_catalogue_is_big_enough_and_covers_every_guarantee():
    assert len(MUTANTS) >= 12
    assert {m.breaks for m in MUTANTS} >= {"G1", "G2", "G3", "G4", "G5", "R1", "R5"}


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_default_profile_kills_the_mutant(mutant):
    report = run_conformance(mutant_target(mutant), "default", stop_on={mutant.breaks})
    verdict = report.verdict(mutant.breaks)
    assert verdict.status == Status.BREAKS, f"{mutant.name} survived: {verdict}"
    assert verdict.counterexample.message
    assert not report.conforming
