"""Progress of long runs: a named phase, and a plain heartbeat where there is no terminal."""

from __future__ import annotations

import io
import time

from pubsafe.models import run_conformance, target_from_spec
from pubsafe.progress import RunProgress


def test_without_a_terminal_a_plain_line_names_the_phase_and_the_count():
    log = io.StringIO()  # not a TTY, as in CI
    with RunProgress("checking memory (seed 0)", stream=log, every=0.02) as progress:
        progress.phase("crash sweep")
        progress.advance(7)
        time.sleep(0.15)
    lines = log.getvalue().splitlines()
    assert lines and lines[-1].startswith("checking memory (seed 0): crash sweep, 7 steps, ")
    assert "\x1b" not in log.getvalue()  # no escape codes in a log
    time.sleep(0.05)
    assert log.getvalue().splitlines() == lines  # the heartbeat stops with the run


def test_a_short_run_prints_nothing_without_a_terminal():
    log = io.StringIO()
    with RunProgress("checking memory", stream=log, every=10.0) as progress:
        progress.advance(1)
    assert log.getvalue() == ""


def test_a_check_names_every_phase_in_order():
    seen: list[str] = []
    run_conformance(target_from_spec("memory"), "quick", phase=seen.append)
    assert seen == ["capability probes", "store contract", "serving scenarios", "name collisions", "crash sweep",
                    "race interleavings", "state machine"]
