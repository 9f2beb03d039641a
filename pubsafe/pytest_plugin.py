"""pytest plugin (entry point ``pytest11``): options for the conformance mixin.

The suite itself is ``models.pytest_suite.ConformanceTests``; this module only adds
the command-line options it reads.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pubsafe", "pubsafe conformance suite")
    group.addoption("--pubsafe-profile", dest="pubsafe_profile", default="quick",
                    choices=["quick", "default", "thorough"], help="how hard the conformance suite looks")
    group.addoption("--pubsafe-seed", dest="pubsafe_seed", type=int, default=0,
                    help="Hypothesis seed of the conformance run (the same seed replays it)")
