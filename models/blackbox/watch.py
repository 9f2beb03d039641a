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

Given record prefixes, it also reads every registry record that appears while it
watches, again and again: G3 says a record, once written, is never rewritten, and
two runs publishing the same version at once with a check-then-write (is the record
there? no: write it) both write it, the second over the first, within milliseconds.
Only a reader there in between sees two versions of the record (its
``first_seen`` is what it read first, for the at-rest check after the round).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pubsafe.refimpl.store import Store

from ..checkers import Violation
from ..checkers.manifest_last import check_currents
from ..checkers.oracle import Oracle
from ..checkers.reading import GivenThenRead, read_keys
from ..checkers.retry import whole_record
from ..guarantees import Guarantee

__all__ = ["CurrentWatcher", "Sighting", "describe_change"]


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
    than as a missing key ends the watch and is raised when the block ends.

    With ``records`` (key prefixes), every record under them that is not in
    ``known`` is read on each turn too: ``watcher.first_seen`` holds each as first
    read (seconds in, bytes), and ``watcher.record_sighting`` the first that changed
    after it was read whole (G3). ``pause`` is the wait between turns (0: none, for
    a race that lasts milliseconds)."""

    def __init__(self, store: Store, key: str, root_uri: str, oracle: Oracle, *, pause: float = 0.005,
                 records: Sequence[str] = (), known: Collection[str] = ()) -> None:
        self.store, self.key, self.root_uri, self.oracle, self.pause = store, key, root_uri, oracle, pause
        #: every this many reads, an unchanged current is judged again: what it names can
        #: change under it (a blob rewritten in place)
        self.rejudge_every = 10
        self.records, self.known = tuple(records), frozenset(known)
        self.sighting: Sighting | None = None
        self.record_sighting: Sighting | None = None
        self.first_seen: dict[str, tuple[float, bytes]] = {}
        self.reads = 0
        self.record_reads = 0
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
            while not self._stop.is_set():
                if self.sighting is None:
                    data = read_keys(self.store, [self.key])[self.key]
                    self.reads += 1
                    if data is not None and (data != last or self.reads % self.rejudge_every == 0):
                        self.versions += data != last
                        last = data
                        found = check_currents(GivenThenRead(self.store, {self.key: data}), self.root_uri,
                                               self.oracle)
                        if found:
                            self.sighting = Sighting(found[0], time.monotonic() - started, data)
                if self.records and self.record_sighting is None:
                    self._read_records(started)
                if self.pause:
                    self._stop.wait(self.pause)
                else:
                    time.sleep(0)  # let the harness's own thread run
        except Exception as exc:  # noqa: BLE001 - raised in the caller's thread when the block ends
            self._error = exc

    def _read_records(self, started: float) -> None:
        keys = [k for prefix in self.records for k in self.store.list(prefix) if k not in self.known]
        for key, data in read_keys(self.store, keys).items():
            self.record_reads += 1
            now = time.monotonic() - started
            first = self.first_seen.get(key)
            if data is None:
                continue
            if first is None:
                self.first_seen[key] = (now, data)
            elif data != first[1] and whole_record(first[1]):
                self.record_sighting = Sighting(Violation(Guarantee.G3, (
                    f"registry record {key} was rewritten while the round ran: between {first[0] * 1000:.0f} ms and "
                    f"{now * 1000:.0f} ms in, {describe_change(first[1], data)}"), key), now, data)
                return
            elif not whole_record(first[1]):
                self.first_seen[key] = (now, data)  # read mid-write on a store without atomic writes


def describe_change(old: bytes, new: bytes, context: int = 40) -> str:
    """Where two versions of a document differ, shown around the first difference."""
    a, b = old.decode("utf-8", "replace"), new.decode("utf-8", "replace")
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, at - context)

    def around(text: str) -> str:
        shown = " ".join(text[start:at + context].split())
        return repr(("..." if start else "") + shown + ("..." if at + context < len(text) else ""))

    return f"{around(a)} became {around(b)}"
