"""Shared fixtures and the Hypothesis profiles.

``ci`` (the default) is derandomized, so a CI run is the same run every time.
``explore`` draws many more examples at random: HYPOTHESIS_PROFILE=explore.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

sys.path.insert(0, str(Path(__file__).parent))  # the ``support`` helpers

from support import S3_BUCKET, StepClock  # noqa: E402


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture(params=["memory", "local"])
def store(request, tmp_path, clock):
    """A fresh store of each built-in durable kind."""
    from pubsafe.refimpl import LocalStore, MemoryStore

    if request.param == "memory":
        return MemoryStore(clock=clock)
    return LocalStore(tmp_path / "store")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback, for the whole session, with the test bucket."""
    pytest.importorskip("s3fs")
    from pubsafe.devtools.s3server import local_s3

    with local_s3(S3_BUCKET) as endpoint:
        yield endpoint


# Benchmarks run only when asked for (python3 tasks.py bench), never in the test run.
collect_ignore_glob = [] if os.environ.get("PUBSAFE_BENCH") else ["benchmarks/*"]
