"""A reader watching current while publishers run: G2 at every moment it can see.

G2 says *whenever* current exists it parses and names valid, recorded blobs. A check
of the store after a round sees current only at rest: a publisher that rewrites
current in place (truncate, then write) or swaps before its blobs are in passes it
unless a kill happens to land inside that window. Serving reads current while
publishes run, so the watcher does too: it reads current over and over, one read at a
time, and judges every new version it sees (and an unchanged one every tenth read)
with the same checker (``check_currents``), reading what that version names from the
store itself. A correct publisher (atomic replace, blobs and records before the swap)
never shows it anything wrong: blobs never change (or, under upstream's dialect, are
replaced whole with bytes still valid for their version), and nothing deletes them
while publishes run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from pubsafe.refimpl.store import Store

from .checkers import Violation
from .checkers.manifest_last import check_currents
from .oracle import Oracle
from .reading import GivenThenRead, read_keys

__all__ = ["CurrentWatcher", "Sighting"]


@dataclass(frozen=True)
class Sighting:
    """What the reader saw wrong, and when (seconds after it started watching)."""

    violation: Violation
    seconds: float
    data: bytes


class CurrentWatcher:
    """``with CurrentWatcher(store, key, root_uri, oracle) as watcher:`` reads ``key``
    in a thread until the block ends; then ``watcher.sighting`` is the first violation
    it saw (or None), ``watcher.reads`` how often it read current and
    ``watcher.versions`` how many distinct versions it judged. A read that fails other
    than as a missing key ends the watch and is raised when the block ends."""

    def __init__(self, store: Store, key: str, root_uri: str, oracle: Oracle, *, pause: float = 0.005) -> None:
        self.store, self.key, self.root_uri, self.oracle, self.pause = store, key, root_uri, oracle, pause
        #: every this many reads, an unchanged current is judged again: what it names can
        #: change under it (a blob rewritten in place)
        self.rejudge_every = 10
        self.sighting: Sighting | None = None
        self.reads = 0
        self.versions = 0
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pubsafe-current-watcher", daemon=True)

    def __enter__(self) -> CurrentWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error

    def _watch(self) -> None:
        started, last = time.monotonic(), None
        try:
            while not self._stop.is_set() and self.sighting is None:
                data = read_keys(self.store, [self.key])[self.key]
                self.reads += 1
                if data is not None and (data != last or self.reads % self.rejudge_every == 0):
                    self.versions += data != last
                    last = data
                    found = check_currents(GivenThenRead(self.store, {self.key: data}), self.root_uri, self.oracle)
                    if found:
                        self.sighting = Sighting(found[0], time.monotonic() - started, data)
                self._stop.wait(self.pause)
        except Exception as exc:  # noqa: BLE001 - raised in the caller's thread when the block ends
            self._error = exc
