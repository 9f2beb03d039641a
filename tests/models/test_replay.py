"""A printed counterexample is a program: pasted into a fresh interpreter, it replays."""

from __future__ import annotations

import subprocess
import sys

from pubsafe.models import Status, run_conformance
from pubsafe.models.mutants import mutant_target


def test_a_printed_counterexample_replays_verbatim_in_a_fresh_interpreter(tmp_path):
    report = run_conformance(mutant_target("no-history"), "default", stop_on={"G4"})
    verdict = report.verdict("G4")
    assert verdict.status == Status.BREAKS
    program = "\n".join(verdict.counterexample.steps)
    assert program.startswith("from pubsafe.models.machine import PublishMachine")
    assert "state = PublishMachine()" in program and "Draw" not in program
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "GuaranteeViolation: G4:" in done.stderr
    assert verdict.counterexample.message.split(":")[0] in done.stderr


def test_the_same_program_on_the_reference_engine_passes(tmp_path):
    report = run_conformance(mutant_target("no-history"), "default", stop_on={"G4"})
    program = "\n".join(report.verdict("G4").counterexample.steps).replace(
        "from pubsafe.models.mutants import mutant_target", "from pubsafe.models.target import target_from_spec"
    ).replace("mutant_target('no-history')", "target_from_spec('memory')")
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
