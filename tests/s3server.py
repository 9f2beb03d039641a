"""The session-wide S3-compatible server for the S3 tests (see pubsafe.moto_server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

BUCKET = "pubsafe-test"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("s3fs")
    from pubsafe.moto_server import local_s3

    with local_s3(BUCKET) as endpoint:
        yield endpoint


def fresh_url() -> str:
    return f"s3://{BUCKET}/t-{uuid.uuid4().hex[:12]}"
