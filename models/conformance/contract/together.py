"""Bytes and etag read together: readers ``get_object`` while a writer replaces and
another compares-and-swaps; a body paired with another write's etag costs the guarded
races (R1-R3)."""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable

from pubsafe.refimpl.errors import (
    Conflict,
    ObjectNotFound,
    PubsafeError,
    RetryableStoreError,
)
from pubsafe.refimpl.store import Store, StoredObject

from .base import R1, R2, R3, NotJudged, Skip, check
from .racing import RACE_TIMEOUT, is_torn_body

TOGETHER_READS = 400  #: get_object calls the race makes at least (its readers and its compare-and-swap writer)
TOGETHER_WRITES = 200  #: acknowledged writes the race makes at least
_TOGETHER_SECONDS = 60.0  #: the longest it runs when a slow store reaches neither count: then it judges what it saw
_UNANSWERED = 50  #: retryable write refusals the race goes on through, or as many as writes acknowledged, if more


@check(R1, R2, R3)
def get_object_reads_bytes_and_etag_together(store: Store) -> str | None:
    """get_object's etag is the etag of the very bytes it returned, while writers replace
    and compare-and-swap the key (checked where compare_and_swap is claimed: a stale etag
    read with newer bytes, or a newer etag with older bytes, lets a compare-and-swap
    replace what its writer never read, and guarded publishes and rollbacks lose updates)."""
    if not store.capabilities.compare_and_swap:
        raise Skip("the store does not claim compare-and-swap: no etag it returns is ever compared")
    key = "contract/together.json"
    race = _TogetherRace(store, key)
    race.run()
    stale = race.stale()  # judged first: what was seen before a write or read failed still shows
    if stale:
        who, wrote, tagged = stale[0]
        terms = store.wire_terms
        read = f" ({terms['read']})" if "read" in terms else ""
        cas = f" ({terms['compare_and_swap']})" if "compare_and_swap" in terms else ""
        return (f"{len(stale)} of {race.judged():,} reads racing {race.acknowledged:,} writes paired the bytes of one "
                f"write with the etag of another: {who}'s get_object{read} returned the bytes of write #{wrote} with "
                f"the etag that write #{' or #'.join(map(str, sorted(tagged)))} returned. A compare-and-swap{cas} "
                "against that etag succeeds on bytes its writer never read (are the bytes and the etag read with two "
                "requests?)")
    if race.failures:
        raise race.failures[0]
    if race.judged() == 0:
        raise NotJudged(f"none of {len(race.pairs):,} reads could be judged: get_object returned no etag that one of "
                        f"{len(race.writes):,} writes had returned (put_then_get_round_trips_bytes and "
                        "etags_follow_content say why); judge it once put, replace and get_object agree on etags")
    store.delete(key)
    return None


class _TogetherRace:
    """Two readers calling get_object while one writer replaces the key and another
    reads it and compares-and-swaps it.

    Every write's bytes are unique, so bytes name the write that wrote them; the etag
    each write returned names it too (the store's own etag, whatever its formula: a
    content hash, S3's MD5, a generation number). A read whose bytes are those of one
    acknowledged write and whose etag was returned by none but other writes is the
    failure; a read of bytes or an etag no acknowledged write accounts for (a write
    that timed out, a torn read on a store without atomic replace) is not judged.
    """

    def __init__(self, store: Store, key: str) -> None:
        self.store, self.key = store, key
        self.etags: dict[str, set[int]] = {}  #: etag -> the acknowledged writes that returned it
        self.writes: dict[bytes, int] = {}  #: bytes -> the acknowledged write that wrote them
        self.pairs: list[tuple[str, bytes, str]] = []  #: (who read, bytes, etag), judged once every write is known
        self.failures: list[BaseException] = []
        self.reads = self.acknowledged = self.unanswered = 0
        self._numbers = iter(range(1 << 62))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._write(lambda data: store.replace(key, data))

    def _write(self, write: Callable[[bytes], str]) -> None:
        with self._lock:
            number = next(self._numbers)
        data = f'{{"write": {number}}}'.encode()
        try:
            etag = write(data)
        except RetryableStoreError:
            # not acknowledged (S3 answers two conditional writes at once with a 409 to one):
            # its bytes and etag judge nothing; a store refusing most writes failed by itself
            with self._lock:
                self.unanswered += 1
                if self.unanswered <= max(_UNANSWERED, self.acknowledged):
                    return
            raise
        with self._lock:
            self.writes[data] = number
            self.etags.setdefault(etag, set()).add(number)
            self.acknowledged += 1

    def _read(self, who: str) -> StoredObject | None:
        try:
            obj = self.store.get_object(self.key)
        except ObjectNotFound:
            return None  # between the writes of a store without atomic replace: not this check's business
        except PubsafeError as exc:
            if is_torn_body(exc):
                return None  # a torn replace: the atomic-replace probe's business
            raise
        self.pairs.append((who, obj.data, obj.etag))
        self.reads += 1
        return obj

    def _reader(self, who: str) -> None:
        while not self._stop.is_set():
            self._read(who)

    def _replacer(self) -> None:
        while not self._stop.is_set():
            self._write(lambda data: self.store.replace(self.key, data))

    def _swapper(self) -> None:
        while not self._stop.is_set():
            obj = self._read("the compare-and-swap writer")
            if obj is None:
                continue
            try:
                self._write(functools.partial(self._swap, obj.etag))
            except Conflict:
                pass

    def _swap(self, etag: str, data: bytes) -> str:
        return self.store.replace(self.key, data, expect=etag)

    def _actor(self, work: Callable[[], None]) -> Callable[[], None]:
        def act() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - raised by the check, after the threads stopped
                self.failures.append(exc)
                self._stop.set()

        return act

    def run(self) -> None:
        work = [lambda: self._reader("reader 1"), lambda: self._reader("reader 2"), self._replacer, self._swapper]
        threads = [threading.Thread(target=self._actor(w), daemon=True) for w in work]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible, to open any window
        deadline = time.monotonic() + _TOGETHER_SECONDS
        try:
            for thread in threads:
                thread.start()
            while (not self._stop.is_set() and time.monotonic() < deadline
                   and (self.reads < TOGETHER_READS or self.acknowledged < TOGETHER_WRITES)):
                time.sleep(0.001)
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(RACE_TIMEOUT)
            sys.setswitchinterval(interval)

    def stale(self) -> list[tuple[str, int, set[int]]]:
        """(who, the write whose bytes were read, the writes that returned the etag read with them)."""
        return [(who, self.writes[data], self.etags[etag]) for who, data, etag in self.pairs
                if data in self.writes and etag in self.etags and self.writes[data] not in self.etags[etag]]

    def judged(self) -> int:
        return sum(1 for _, data, etag in self.pairs if data in self.writes and etag in self.etags)
