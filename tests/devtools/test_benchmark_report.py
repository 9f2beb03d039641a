"""pubsafe.devtools.benchmark_report: ratios, goals and verdicts rendered from a pytest-benchmark run."""

from __future__ import annotations

import json
import re

import pytest

from pubsafe.devtools.benchmark_report import TARGETS, main, render
from support import REPO


def _paired(group: str, ours: float, baseline: float) -> dict:
    return {"group": group, "stats": {"median": ours + baseline},
            "extra_info": {"paired": {"ours": ours, "baseline": baseline, "ratio": ours / baseline, "rounds": 10}}}


def _run(*benchmarks: dict) -> dict:
    return {"benchmarks": list(benchmarks), "machine_info": {"cpu": {"count": 2}, "python_version": "3.11"},
            "datetime": "2026-11-26T12:00:00"}


def test_a_ratio_within_its_goal_is_met_and_one_beyond_is_missed():
    markdown, results = render(_run(
        _paired("local-publish vs same durable writes", 1.1e-3, 1.0e-3),
        _paired("memory-publish vs dict+canonical+sha256", 5e-5, 1e-5),
    ))
    assert results["local-publish vs same durable writes"]["met"] is True
    assert results["memory-publish vs dict+canonical+sha256"] == {
        "value": 5.0, "goal": "<= 3.0", "met": False, "detail": "50 µs vs 10 µs, 10 alternating rounds"}
    assert "| memory publish / dict + canonical JSON + sha256 | 5.00 |" in markdown and "**missed**" in markdown


def test_throughput_is_compared_the_other_way_round_and_context_rows_have_no_verdict(monkeypatch):
    monkeypatch.setitem(TARGETS, "context: a figure to read the others by", ("a context figure", "<=", None))
    checker = {"group": "checker: state-machine steps/s vs trivial dict model", "stats": {"median": 1.0},
               "extra_info": {"steps_per_second": {"ours": 300.0, "baseline": 1000.0}}}
    _, results = render(_run(checker, _paired("context: a figure to read the others by", 2e-5, 1e-5)))
    assert results["checker: state-machine steps/s vs trivial dict model"]["met"] is True  # 0.3 >= 0.2
    assert "met" not in results["context: a figure to read the others by"]


def test_targets_not_run_are_listed_and_the_exit_code_reports_a_miss(tmp_path, monkeypatch):
    markdown, results = render(_run())
    assert markdown.count("not run") == len(TARGETS) and results == {}
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(_run(_paired("rollback: 10,000 manifests in history vs 1", 2.0, 1.0))))
    written = {}
    monkeypatch.setattr("pathlib.Path.write_text", lambda self, text: written.setdefault(self.name, text))
    assert main([str(run_file)]) == 1  # 2.0 > 1.2: missed
    assert "**missed**" in written["benchmarks.md"]


@pytest.mark.slow
def test_the_benchmark_suite_runs_once_through_with_timing_off():
    """`python3 tasks.py bench` must not rot between benchmark runs: one round of each."""
    import os
    import subprocess
    import sys

    root = REPO
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/benchmarks", "-q", "-p", "no:cacheprovider", "--benchmark-disable"],
        cwd=root, env={**os.environ, "PUBSAFE_BENCH": "1"}, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ran = int(re.search(r"(\d+) passed", done.stdout).group(1))
    assert ran >= len(TARGETS)  # every target has its benchmark
