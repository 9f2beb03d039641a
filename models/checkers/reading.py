"""How the checker reads a store: every object, or some keys, a few reads at a time.

On a remote store each read waits on the network (5 ms on loopback, 20-50 ms on a
real bucket), so reading a store of 100 objects one after another costs seconds per
check step. ``reads_in_flight(n)`` lets the reads of one ``read_store`` or
``read_keys`` call overlap, n at a time (the conformance run sets it from
``Target.parallel_runs``: 8 on remote stores, 1 elsewhere). The results are the same
either way, in the same order: only the waiting overlaps. ``ListedContents`` reads
nothing until a check looks an object up, for checks that look at a few objects of
many; ``GivenThenRead`` judges objects already read (current as a reader saw it) and
reads what they name; ``ReadOnMiss`` a store read whole through its listing, with any
key a check looks up that the listing left out read by key (and noted: a listing
fault must not pass for a missing object). Reads always go to the store itself,
never to a cache of the engine's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

from pubsafe.refimpl.errors import ObjectNotFound
from pubsafe.refimpl.store import Store

__all__ = ["read_store", "read_keys", "reads_in_flight", "in_flight", "ListedContents", "GivenThenRead", "ReadOnMiss"]

_IN_FLIGHT = ContextVar("pubsafe_reads_in_flight", default=1)


@contextlib.contextmanager
def reads_in_flight(width: int) -> Iterator[None]:
    """Within this block (and this thread), the checker's reads overlap ``width`` at a time."""
    token = _IN_FLIGHT.set(max(1, width))
    try:
        yield
    finally:
        _IN_FLIGHT.reset(token)


def in_flight() -> int:
    """How many of the checker's requests may overlap here (1 unless ``reads_in_flight`` says more)."""
    return _IN_FLIGHT.get()


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
        return dict(zip(keys, pool.map(read, keys), strict=True))


class _ReadWhenLookedUp(Mapping[str, bytes]):
    """A mapping of store objects whose ``_fetch(key)`` reads an object (None: absent)
    only when a check first looks it up."""

    def _fetch(self, key: str) -> bytes | None:
        raise NotImplementedError

    def __getitem__(self, key: str) -> bytes:
        data = self._fetch(key)
        if data is None:
            raise KeyError(key)
        return data

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._fetch(key) is not None


class ListedContents(_ReadWhenLookedUp):
    """The store's contents as a mapping that reads each object when first looked up.

    For a check that looks at a few objects (the current manifests and what they
    name) on a store holding many: one listing, then only those reads. A key listed
    but gone when read counts as absent. A key looked up is read by key whether it
    was listed or not, so a listing that leaves keys out cannot make an object look
    missing; ``omitted`` names the keys read that the listing left out (a listing
    fault, for ``checkers.listing`` to report).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.listed = store.list("")
        self._listed = frozenset(self.listed)
        self.read: dict[str, bytes | None] = {}
        self.omitted: set[str] = set()

    def _fetch(self, key: str) -> bytes | None:
        if key not in self.read:
            self.read[key] = data = read_keys(self.store, [key])[key]
            if data is not None and key not in self._listed:
                self.omitted.add(key)
        return self.read[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.listed)

    def __len__(self) -> int:
        return len(self.listed)


class GivenThenRead(_ReadWhenLookedUp):
    """Some objects as already read (say, current as a reader saw it at one moment),
    and any other key read from the store when a check first looks it up. Iterates
    over the given keys only, so a check of "every current" judges just those."""

    def __init__(self, store: Store, given: dict[str, bytes]) -> None:
        self.store, self.given = store, given
        self.read: dict[str, bytes | None] = {}

    def _fetch(self, key: str) -> bytes | None:
        if key in self.given:
            return self.given[key]
        if key not in self.read:
            self.read[key] = read_keys(self.store, [key])[key]
        return self.read[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)


class ReadOnMiss(GivenThenRead):
    """A store read whole through its listing (``read_store``); a key a check looks up
    that the listing left out is read by key, and if it is there it counts, and is
    noted in ``omitted`` (a listing fault, for ``checkers.listing`` to report)."""

    def __init__(self, store: Store, listed: dict[str, bytes]) -> None:
        super().__init__(store, listed)
        self.omitted: set[str] = set()

    def _fetch(self, key: str) -> bytes | None:
        data = super()._fetch(key)
        if data is not None and key not in self.given:
            self.omitted.add(key)
        return data
