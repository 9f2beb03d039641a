"""pytest plugin (entry point ``pytest11``): options for the conformance mixin.

The suites themselves are ``pubsafe.models.pytest_suite.ConformanceTests`` and
``StoreContractTests``; this module only adds the command-line options they read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pubsafe", "pubsafe conformance suite")
    group.addoption("--pubsafe-profile", dest="pubsafe_profile", default="default",
                    choices=["quick", "default", "thorough"],
                    help="how hard the conformance suite looks (default: default, as `pubsafe check`)")
    group.addoption("--pubsafe-seed", dest="pubsafe_seed", type=int, default=0,
                    help="Hypothesis seed of the conformance run (the same seed replays it)")
    group.addoption("--pubsafe-report", dest="pubsafe_report", metavar="DIR",
                    help="write report.json, report.md and report.html per conformance class under DIR")


@pytest.fixture
def pubsafe_write_report() -> Callable[..., list[Path]]:
    """Writes a conformance report as JSON, Markdown and HTML (used by ``--pubsafe-report``)."""
    from pubsafe.reports import write_reports

    return write_reports
