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
