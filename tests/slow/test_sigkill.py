"""Real process death: a publish in a child process SIGKILLed at every phase boundary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from pubsafe.refimpl import Engine, LocalStore
from pubsafe.refimpl.layout import current_key
from pubsafe.refimpl.phases import PUBLISH_PHASES

T, S = "acme", "home"
NEW = {"model": {"w": [3, 4]}, "items": [7, 8, 9]}
BOUNDARIES = [f"{kind}@{label}" for label in PUBLISH_PHASES for kind in ("pause", "pause-after")]


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_sigkill_at_a_phase_boundary_then_recover(tmp_path, boundary):
    root = tmp_path / "store"
    first = Engine(LocalStore(root)).publish(T, S, {"model": {"w": [1, 2]}})
    before = (root / current_key(T, S)).read_bytes()

    child = subprocess.Popen(
        [sys.executable, "-m", "pubsafe.faults.killpoint", str(root), T, S, json.dumps(NEW), boundary],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline().strip()
    assert line.startswith("PAUSED "), line
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL

    engine = Engine(LocalStore(root))  # recovery: a fresh engine over what survived
    assert [f for f in engine.audit() if f.guarantee in ("G1", "G2")] == []
    current = engine.current(T, S)
    swapped = boundary == "pause-after@swap"
    if swapped:
        assert current.version != first.manifest_version
    else:
        assert (root / current_key(T, S)).read_bytes() == before  # byte-identical
        assert current.version == first.manifest_version

    retry = engine.publish(T, S, NEW)
    assert retry.swapped is not swapped
    assert engine.audit() == []
    assert len(engine.store.list("records/")) == 3
