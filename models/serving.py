"""Deterministic checks of a serving reader (G5), independent of the state machine.

The state machine checks staleness as it goes; these scenarios make sure the
sharpest G5 failures (a cache that never expires, a reader that follows a manifest
anywhere or skips the hash check) are found on every run, in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pubsafe.refimpl import Engine, MemoryStore
from pubsafe.refimpl.errors import PubsafeError
from pubsafe.refimpl.layout import blob_key, current_key

from .checks import Violation

__all__ = ["hostile_serving_violations", "staleness_violations"]

ReaderFactory = Callable[..., Any]
TTL = 30.0


def hostile_serving_violations(reader_factory: ReaderFactory, clock: Callable[[], float]) -> list[Violation]:
    """A manifest pointing into another tenant, and a tampered blob, must be refused."""
    store = MemoryStore()
    setup = Engine(store, clock=clock)
    mine = setup.publish("acme", "home", {"model": {"seed": 1}})
    setup.publish("beta", "home", {"model": {"seed": 2}})
    acme_blob = blob_key("acme", "home", "model", mine.artifacts["model"])
    evil = setup.current("beta", "home").model_copy(update={"current": {"model": acme_blob}})
    store.replace(current_key("beta", "home"), evil.model_dump_json().encode())
    reader = reader_factory(store, manifest_ttl=TTL, clock=clock)
    found = []
    try:
        reader.artifact("beta", "home", "model")
        found.append(Violation("G5", "the reader followed beta/home's manifest into acme's blob"))
    except (PubsafeError, ValueError):
        pass
    store.delete(acme_blob)
    store.put(acme_blob, b'{"seed":666}')
    try:
        served = reader.artifact("acme", "home", "model")
        found.append(Violation("G5", f"the reader served tampered bytes {served!r} that do not hash to their version"))
    except (PubsafeError, ValueError):
        pass
    return found


def staleness_violations(reader_factory: ReaderFactory) -> list[Violation]:
    """After the TTL the reader serves current; after invalidate() at once."""
    now = [1_000.0]
    clock = lambda: now[0]  # noqa: E731
    store = MemoryStore()
    engine = Engine(store, clock=clock)
    engine.publish("acme", "home", {"model": {"v": 1}})
    reader = reader_factory(store, manifest_ttl=TTL, clock=clock)
    reader.manifest("acme", "home")
    second = engine.publish("acme", "home", {"model": {"v": 2}})
    now[0] += TTL
    found = []
    got = reader.manifest("acme", "home")
    if got is None or got.version != second.manifest_version:
        found.append(Violation("G5", f"{TTL}s after a publish the reader still serves the old manifest"))
    third = engine.publish("acme", "home", {"model": {"v": 3}})
    reader.invalidate("acme", "home")
    got = reader.manifest("acme", "home")
    if got is None or got.version != third.manifest_version:
        found.append(Violation("G5", "after invalidate() the reader still serves the old manifest"))
    return found
