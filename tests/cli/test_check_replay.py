"""A report's replay line and replay program work from a fresh shell, elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def project(tmp_path):
    """A user's project with its own store and engine factories, not installed."""
    root = tmp_path / "proj"
    (root / "adapters").mkdir(parents=True)
    (root / "adapters" / "__init__.py").write_text("")
    (root / "adapters" / "stores.py").write_text(
        "from pubsafe.models.mutants import OverwritingPutStore\n\n"
        "def broken():\n    return OverwritingPutStore()\n"
    )
    (root / "adapters" / "engines.py").write_text(
        "from pubsafe.models.mutants import NoHistoryEngine\n\n"
        "def forgetful(store, *, guarded=False, clock):\n"
        "    return NoHistoryEngine(store, guarded=guarded, clock=clock)\n"
    )
    return root


def _check(cwd, *argv):
    return subprocess.run([sys.executable, "-m", "pubsafe", "check", *argv, "--json"], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""})


def test_the_replay_line_names_the_import_path_and_replays_from_elsewhere(project, tmp_path):
    done = _check(project, "--store", "adapters.stores:broken", "--profile", "quick")
    assert done.returncode == 1, done.stderr
    verdict = next(v for v in json.loads(done.stdout)[0]["verdicts"] if v["guarantee"] == "G1")
    replay = verdict["counterexample"]["replay"]
    assert replay.startswith(f"PYTHONPATH={project} pubsafe check --store adapters.stores:broken")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = subprocess.run(["bash", "-c", replay.replace("pubsafe check", f"{sys.executable} -m pubsafe check")
                            + " --json"], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1, again.stderr
    assert any(v["status"] == "BREAKS" and v["guarantee"] == "G1" for v in json.loads(again.stdout)[0]["verdicts"])


@pytest.mark.slow  # whole conformance runs or a fresh interpreter: seconds; CI runs it
def test_the_replay_program_imports_the_users_engine_in_a_fresh_interpreter(project, tmp_path):
    done = _check(project, "--store", "memory", "--engine", "adapters.engines:forgetful", "--profile", "default")
    assert done.returncode == 1, done.stderr
    verdict = next(v for v in json.loads(done.stdout)[0]["verdicts"] if v["guarantee"] == "G4")
    program = "\n".join(verdict["counterexample"]["steps"])
    assert f"sys.path.insert(0, {str(project)!r})" in program
    replayed = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert "GuaranteeViolation: G4" in replayed.stderr
