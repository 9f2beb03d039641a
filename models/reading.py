"""How the checker reads a store: every object, or some keys, a few reads at a time.

On a remote store each read waits on the network (5 ms on loopback, 20-50 ms on a
real bucket), so reading a store of 100 objects one after another costs seconds per
check step. ``reads_in_flight(n)`` lets the reads of one ``read_store`` or
``read_keys`` call overlap, n at a time (the conformance run sets it from
``Target.parallel_runs``: 8 on remote stores, 1 elsewhere). The results are the same
either way, in the same order: only the waiting overlaps. Reads always go to the
store itself, never to a cache of the engine's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

from pubsafe.refimpl.errors import ObjectNotFound
from pubsafe.refimpl.store import Store

__all__ = ["read_store", "read_keys", "reads_in_flight"]

_IN_FLIGHT = ContextVar("pubsafe_reads_in_flight", default=1)


@contextlib.contextmanager
def reads_in_flight(width: int) -> Iterator[None]:
    """Within this block (and this thread), the checker's reads overlap ``width`` at a time."""
    token = _IN_FLIGHT.set(max(1, width))
    try:
        yield
    finally:
        _IN_FLIGHT.reset(token)


def read_store(store: Store) -> dict[str, bytes]:
    """Every object of the store, read once (a key deleted between list and get is skipped)."""
    return {key: data for key, data in read_keys(store, store.list("")).items() if data is not None}


def read_keys(store: Store, keys: Iterable[str]) -> dict[str, bytes | None]:
    """Each key's bytes as the store holds them now, or None for an absent key."""
    keys = list(keys)

    def read(key: str) -> bytes | None:
        try:
            return store.get(key)
        except ObjectNotFound:
            return None

    width = min(_IN_FLIGHT.get(), len(keys))
    if width <= 1:
        return {key: read(key) for key in keys}
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="read") as pool:
        return dict(zip(keys, pool.map(read, keys)))
