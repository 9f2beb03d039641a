"""The checker's mirror of a store, kept current by re-reading only what changed.

Reading every object after every step is what made checks of remote stores slow
(one round trip per object per step). ``ObservedStore`` sits between the system under
test and the store and notes every key a write, replace or delete was *addressed to*
(whatever the call's outcome: a timed-out write may have landed). ``StoreView``
re-reads exactly those keys from the store itself, so the mirror holds the store's
bytes, never the engine's idea of them. What a store changes behind the calls (a
buggy backend rewriting a neighbour) is invisible to that, so ``verify`` reads the
whole store and names every key the mirror got wrong: the state machine calls it at
the end of every example.
"""

from __future__ import annotations

from typing import Any

from pubsafe.faults.delegate import DelegatingStore
from pubsafe.refimpl.store import Store

from ..checkers.reading import read_keys, read_store

__all__ = ["ObservedStore", "StoreView"]

_WRITES = frozenset({"put", "replace", "delete", "remove-debris"})


class ObservedStore(DelegatingStore):
    """Forwards everything; remembers which keys were addressed by a write."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner)
        self.touched: set[str] = set()

    def _call(self, op: str, key: str, run: Any, data: bytes | None = None) -> Any:
        if op in _WRITES:
            self.touched.add(key)
        return run()

    def close(self) -> None:
        self.inner.close()


class StoreView:
    """``contents``: every object of the store, as last read from the store."""

    def __init__(self, store: ObservedStore) -> None:
        self.store = store
        self.contents: dict[str, bytes] = read_store(store.inner)
        self.version = 0  #: grows whenever ``contents`` changes (a check of unchanged contents finds the same)
        self.listed: list[str] = list(self.contents)  #: the store's listing, as ``verify`` last read it
        self.omitted: set[str] = set()  #: keys that listing left out but a read by key found

    def refresh(self) -> dict[str, bytes]:
        """Re-read every key written since the last refresh; the up-to-date contents."""
        if not self.store.touched:  # most refreshes: a step asks again before anything was written
            return self.contents
        touched, self.store.touched = self.store.touched, set()
        for key, data in read_keys(self.store.inner, sorted(touched)).items():
            if self.contents.get(key) != data:
                self.version += 1
            if data is None:
                self.contents.pop(key, None)
            else:
                self.contents[key] = data
        return self.contents

    def snapshot(self) -> dict[str, bytes]:
        """A copy of the up-to-date contents (to compare before and after a step)."""
        return dict(self.refresh())

    def verify(self) -> list[str]:
        """Read the whole store; replace the mirror with it; every key the mirror had wrong.

        The whole store is what its listing names, plus every key of the mirror the
        listing left out but a read by key finds: ``omitted`` keeps those, and ``listed``
        the listing (a listing fault is judged by ``checkers.listing``, and must not pass
        for objects gone missing).
        """
        self.refresh()
        self.listed = self.store.inner.list("")
        actual = {k: v for k, v in read_keys(self.store.inner, self.listed).items() if v is not None}
        unlisted = [k for k in self.contents if k not in actual]
        self.omitted = set()
        for key, data in read_keys(self.store.inner, unlisted).items():
            if data is not None:
                actual[key] = data
                self.omitted.add(key)
        wrong = sorted(k for k in actual.keys() | self.contents.keys() if actual.get(k) != self.contents.get(k))
        self.contents = actual
        self.version += bool(wrong)
        return wrong
