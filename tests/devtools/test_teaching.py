"""The teaching doc tells every broken example as a story, from a real run."""

from __future__ import annotations

from pubsafe.devtools.lessons import LESSONS, STORIES
from pubsafe.devtools.teaching import render_teaching
from pubsafe.models import run_conformance
from pubsafe.models.mutants import BENIGN, MUTANTS, mutant_target


def test_every_mutant_has_a_story_and_every_guarantee_it_breaks_a_lesson():
    assert set(STORIES) == {m.name for m in MUTANTS} and not {m.name for m in BENIGN} & set(STORIES)
    assert {m.breaks for m in MUTANTS} <= set(LESSONS)
    for did, seen, prevents in STORIES.values():
        assert all(len(part) > 30 and part.endswith(".") for part in (did, seen, prevents))


def test_a_story_shows_the_run_as_a_sequence_diagram_between_its_parts():
    mutant = next(m for m in MUTANTS if m.name == "gc-without-protection")
    report = run_conformance(mutant_target(mutant), "quick", stop_on={mutant.breaks})
    doc = render_teaching({mutant.name: (mutant, report)})
    section = doc[doc.index("### Broken: `gc-without-protection`"):]
    did, seen, prevents = STORIES[mutant.name]
    order = [section.index(f"**What it did.** {did}"), section.index("**What pubsafe saw.** "),
             section.index("```mermaid"), section.index(f"**In production.** {seen}"),
             section.index(f"**What prevents it.** {prevents}")]
    assert order == sorted(order)
    assert "participant a1 as gc B" in section and "delete acme/home/model/" in section
