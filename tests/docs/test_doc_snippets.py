"""The Python blocks of docs/ run as their text says: the teaching doc's programs
replay the failure they show (the adapter guide's blocks are run by
tests/slow/test_adapter_package.py and tests/cli/test_store_specs.py)."""

from __future__ import annotations

import re

import pytest

from pubsafe.models.checkers import GuaranteeViolation
from support import REPO

TEACHING = (REPO / "docs" / "safety-model-by-example.md").read_text()
#: (mutant, guarantee it breaks, program) for each broken example that printed a program
PROGRAMS = []
for chapter in re.split(r"^## ", TEACHING, flags=re.M)[1:]:
    for section in chapter.split("### Broken: `")[1:]:
        if (block := re.search(r"```python\n(.*?)```", section, re.S)):
            PROGRAMS.append((section.split("`")[0], chapter[:2], block.group(1)))


def test_the_teaching_doc_has_programs_to_run():
    assert len(PROGRAMS) >= 2


@pytest.mark.parametrize(("mutant", "guarantee", "program"), PROGRAMS, ids=[m for m, _, _ in PROGRAMS])
def test_each_printed_program_replays_its_counterexample(mutant, guarantee, program):
    with pytest.raises(GuaranteeViolation) as caught:
        exec(compile(program, f"{mutant} program", "exec"), {"__name__": "teaching"})
    assert caught.value.violation.guarantee == guarantee


def test_a_program_against_the_reference_engine_does_not_fail():
    """The replay above can fail: the same steps on the correct engine raise nothing."""
    mutant, _, program = PROGRAMS[0]
    fixed = program.replace(f"mutant_target({mutant!r})", "target_from_spec('memory')").replace(
        "from pubsafe.models.mutants import mutant_target", "from pubsafe.models import target_from_spec")
    exec(compile(fixed, "fixed program", "exec"), {"__name__": "teaching"})


def test_the_adapter_guide_says_what_an_unclaimed_capability_leaves_open_as_the_report_does():
    """`durable=False` reads the same in the guide's table and the report's probe table."""
    from pubsafe.reports.diagnosis import UNCLAIMED

    guide = (REPO / "docs" / "writing-a-store-adapter.md").read_text()
    for capability, sentence in UNCLAIMED.items():
        row = next(line for line in guide.splitlines() if line.startswith(f"| `{capability}` |"))
        assert sentence in row, capability
    assert "G1 and G2 hold for as long as the store itself stays up" in guide


def test_a_conforming_report_of_a_store_that_claims_no_durability_says_what_that_leaves_open():
    from pubsafe.models import run_conformance
    from pubsafe.models.target import factory_target
    from pubsafe.refimpl import MemoryStore
    from pubsafe.refimpl.store import Capabilities
    from pubsafe.reports import html, markdown, summary
    from pubsafe.reports.diagnosis import UNCLAIMED

    class Volatile(MemoryStore):
        capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=False)

    report = run_conformance(factory_target("volatile", Volatile), "quick")
    assert report.conforming
    for text in (markdown.render(report), " ".join(summary.render(report).split()), html.render(report)):
        assert UNCLAIMED["durable"].replace("'", "&#x27;" if text.startswith("<!") else "'") in text


def test_each_broken_example_says_what_its_report_says_and_the_fix_is_its_own():
    """The teaching doc shows, for every mutant, the opening of its real report: the
    cause and the fix the diagnosis read from the counterexample, which must be the fix
    its own story teaches (docs/mutants.md's diagnosis column says the same)."""
    from pubsafe.reports.diagnosis import FIXES

    sections = TEACHING.split("### Broken: `")[1:]
    assert len(sections) >= 20
    for section in sections:
        name = section.split("`")[0]
        said = re.search(r"\*\*What to change\.\*\* (.+)", section)
        assert said, f"{name}: no diagnosis in the teaching doc"
        fix = next(f for f in FIXES.values() if f.change[:1].upper() + f.change[1:] == said.group(1))
        assert name in fix.stories, (name, fix.title)
    catalogue = (REPO / "docs" / "mutants.md").read_text()
    assert "NOT ITS STORY" not in catalogue and "the report's diagnosis" in catalogue
