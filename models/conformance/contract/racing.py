"""The concurrency checks, probes with real threads: racing create-only puts and
compare-and-swaps (one winner each), and a reader racing replaces at every size (no torn
body). See the package docstring for the trial counts and what they miss."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from pubsafe.refimpl.errors import (
    AlreadyExists,
    Conflict,
    PubsafeError,
)
from pubsafe.refimpl.store import Store

from ...failures import is_store_failure
from .base import G1, G2, G3, R1, R2, R3, NotJudged, Skip, check

#: name parts an adapter may send down another path (encoded, quoted, normalised):
#: create-only must hold for them too
_ODD = ("", "caf\u00e9 ", "a%41+", "\u00fc\u4e2d ")
WRITERS = 16
CREATE_RACES = 64
CAS_RACES = 96
_ARMING_SPIN = 2000  #: loop turns the last writer waits, so the others are spinning when it fires
RACE_TIMEOUT = 120.0  #: seconds a racing write may take before the race is called off (a hung store)
REPLACE_SIZES = (16, 4096, 256 * 1024, 2**20, 8 * 2**20)


def _races(trials: int, prepare: Callable[[int], None], write: Callable[[int, int], Any],
           refusal: type[Exception]) -> list[list[int]]:
    """``trials`` races of ``WRITERS`` threads each calling ``write(trial, writer)``; for
    each trial, the writers that were not refused.

    The same threads run every trial (starting threads is what made a race rare: the
    first ones finished before the last had started). Per trial they meet at a barrier;
    the last to arrive arms the race and, a moment later, fires it, while the others
    spin on the flag, all runnable, the interpreter switching between them as often as
    it can; the flag drops them into ``write`` together. Until armed they wait yielding:
    sixteen pure spinners from the barrier on made a trial take 40x longer (130-280 ms)
    when another process shared the cores.
    """
    winners: list[list[int]] = [[] for _ in range(trials)]
    errors: list[BaseException] = []
    state = {"go": -1, "armed": -1, "ready": 0}
    counting = threading.Lock()
    start, finish = threading.Barrier(WRITERS + 1), threading.Barrier(WRITERS + 1)

    def writer(i: int) -> None:
        try:
            for trial in range(trials):
                start.wait(RACE_TIMEOUT)
                with counting:
                    state["ready"] += 1
                    last = state["ready"] == WRITERS
                if last:  # the last to arrive arms the race, lets the others start spinning, fires it
                    state["armed"] = trial
                    for _ in range(_ARMING_SPIN):
                        pass
                    state["go"] = trial
                else:
                    while state["armed"] != trial and not start.broken:
                        time.sleep(0)  # waiting cheaply: a pure spin here starves a busy machine
                    while state["go"] != trial and not start.broken:
                        pass
                try:
                    write(trial, i)
                    winners[trial].append(i)
                except refusal:
                    pass
                except BaseException as exc:  # noqa: BLE001 - reported by the caller
                    errors.append(exc)
                finish.wait(RACE_TIMEOUT)
        except threading.BrokenBarrierError:
            return  # the race was called off (a prepare failed, or a write hung)

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(WRITERS)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to open any window
    try:
        for t in threads:
            t.start()
        for trial in range(trials):
            prepare(trial)
            state["ready"] = 0
            start.wait(RACE_TIMEOUT)
            finish.wait(RACE_TIMEOUT)
    except threading.BrokenBarrierError:
        raise TimeoutError(f"a write racing on the store did not return within {RACE_TIMEOUT:.0f} s") from None
    finally:
        sys.setswitchinterval(interval)
        start.abort()  # never leave a writer waiting: a failed prepare must not hang the run
        finish.abort()
        for t in threads:
            t.join(RACE_TIMEOUT)
    if errors:
        raise errors[0]
    return winners


@check(G1, G3)
def create_only_has_one_winner(store: Store) -> str | None:
    """With create_only: of writers racing a put on one new key, exactly one wins."""
    if not store.capabilities.create_only:
        raise Skip("the store does not claim atomic create-only")
    keys = [f"contract/race/{_ODD[trial % len(_ODD)]}put-{trial}.json" for trial in range(CREATE_RACES)]
    results = _races(CREATE_RACES, lambda trial: None, lambda trial, i: store.put(keys[trial], f"writer-{i}".encode()),
                     AlreadyExists)
    for trial, winners in enumerate(results):
        if not winners:
            return (f"none of {WRITERS} writers racing a create-only put (If-None-Match: *) on one new key "
                    f"succeeded (trial {trial + 1} of {CREATE_RACES}): the store refused a create it should take")
        if len(winners) > 1:
            return (f"{len(winners)} of {WRITERS} writers racing a create-only put (If-None-Match: *) on one key "
                    f"all succeeded (trial {trial + 1} of {CREATE_RACES}): the check and the write are not atomic")
        if store.get(keys[trial]) != f"writer-{winners[0]}".encode():
            return f"the winner of a create-only race is not the writer whose bytes the key holds (trial {trial + 1})"
    return None


@check(R1, R2, R3)
def compare_and_swap_has_one_winner(store: Store) -> str | None:
    """With compare_and_swap: of writers racing one etag, exactly one wins."""
    if not store.capabilities.compare_and_swap:
        raise Skip("the store does not claim compare-and-swap")
    keys = [f"contract/race/cas-{trial}.json" for trial in range(CAS_RACES)]
    bases: dict[int, str] = {}

    def prepare(trial: int) -> None:
        bases[trial] = store.replace(keys[trial], b"base")

    results = _races(CAS_RACES, prepare, lambda trial, i: store.replace(keys[trial], f"w{i}".encode(),
                                                                        expect=bases[trial]), Conflict)
    for trial, winners in enumerate(results):
        if not winners:
            return (f"none of {WRITERS} writers racing a compare-and-swap (If-Match) on the current etag succeeded "
                    f"(trial {trial + 1} of {CAS_RACES}): the store refused the etag it had just returned (compared "
                    "against a stale or cached one?)")
        if len(winners) > 1:
            return (f"{len(winners)} of {WRITERS} writers racing a compare-and-swap (If-Match) on one etag all "
                    f"succeeded (trial {trial + 1} of {CAS_RACES}): the comparison and the write are not atomic")
    return None


@check(G2)
def replace_is_atomic_to_a_concurrent_reader(store: Store) -> str | None:
    """With atomic_replace: a reader racing replaces sees whole documents only, at every size,
    between documents of equal and of different lengths. A body that fails its own length
    or checksum check while replaces race, again in a second race and never once they
    stopped, is a torn replace too (a server that sends the bytes of one write with the
    length or checksum of another)."""
    if not store.capabilities.atomic_replace:
        raise Skip("the store does not claim atomic replace")
    for size in REPLACE_SIZES:
        key = f"contract/atomic/{size}.json"
        documents = _replace_documents(size)
        lengths = f"documents of {size:,} and {len(documents[-1]):,} bytes"
        store.replace(key, documents[0])
        writes = _WRITES if size <= 2**20 else _WRITES // 4
        race = _ReplaceRace(store, key, documents)
        race.run(writes)
        if race.torn is None and race.torn_body is not None:
            first = race.torn_body  # a body cut off once may be the network's doing: it must happen again
            race = _ReplaceRace(store, key, documents)
            race.run(writes)
            if race.torn is None and race.torn_body is None:
                raise NotJudged(f"while {lengths} replaced each other, a read's body failed its own integrity check "
                                f"({_exception_chain(first)}), but not again in a second race: a torn replace or a "
                                "fault of the network; run the check again (a torn replace shows again)")
        if race.torn is not None:
            return f"while {lengths} replaced each other over and over, {race.torn}"
        if race.torn_body is not None:
            quiet = [store.get(key) for _ in range(_QUIET_READS)]  # a failure here is the store's own: not judged
            if any(data != race.written for data in quiet):
                return f"after replaces of {lengths} ended, a read still returned a document that was not the last one"
            return (f"while {lengths} replaced each other, reads' bodies failed their own integrity check in two "
                    f"races ({_exception_chain(race.torn_body)}), and {_QUIET_READS} reads of the same key once the "
                    "writes had stopped returned the whole document: the store served the body of a replace in "
                    "progress (a torn replace, cut off or checksummed as another document)")
        if race.failure is not None:
            raise race.failure
        store.delete(key)
    return None


_WRITES = 48  #: replaces per size while a reader reads (a quarter of it for the largest: each is a big write)
_QUIET_READS = 3  #: reads with no writer running that must succeed before a failed racing read counts


class _ReplaceRace:
    """One reader calling get while the calling thread replaces the key with each document
    in turn; it stops at the first read that shows anything but a whole document."""

    def __init__(self, store: Store, key: str, documents: tuple[bytes, ...]) -> None:
        self.store, self.key, self.documents = store, key, documents
        self.torn: str | None = None  #: what a read showed that no whole document explains
        self.torn_body: BaseException | None = None  #: a read whose body failed its length or checksum check
        self.failure: PubsafeError | None = None  #: the store failed by itself
        self.written = documents[0]
        self._done = threading.Event()

    def _over(self) -> bool:
        return self.torn is not None or self.torn_body is not None or self.failure is not None

    def _read(self) -> None:
        while not self._done.is_set() and not self._over():
            try:
                data = self.store.get(self.key)
            except PubsafeError as exc:
                if is_torn_body(exc):
                    self.torn_body = exc
                elif is_store_failure(exc):
                    self.failure = exc
                else:
                    self.torn = f"a read failed with {exc!r}"
                return
            if data not in self.documents:
                self.torn = _neither(data, self.documents)

    def run(self, writes: int) -> None:
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        reader = threading.Thread(target=self._read, daemon=True)
        reader.start()
        try:
            for turn in range(writes):
                if self._over():
                    break
                self.written = self.documents[(turn + 1) % len(self.documents)]
                self.store.replace(self.key, self.written)
        finally:
            self._done.set()
            reader.join(30)
            sys.setswitchinterval(interval)


def _replace_documents(size: int) -> tuple[bytes, ...]:
    """Two documents of ``size`` bytes and one of another length, written in turn: a
    replace in place shows as a mix of two equal-length documents; a length or checksum
    taken from another write than the bytes (metadata written after the data) shows
    when the lengths differ."""
    other = size // 2 + 3
    return (b"[" + b"1" * (size - 2) + b"]", b"[" + b"2" * (size - 2) + b"]", b"[" + b"3" * (other - 2) + b"]")


def _neither(data: bytes, documents: tuple[bytes, ...]) -> str:
    kinds = sorted({chr(b) for b in data[1:-1]} & {"1", "2", "3"})
    cut = [n for n, document in enumerate(documents, 1) if len(data) < len(document) and document.startswith(data)]
    if cut and any(len(d) == len(data) for d in documents):
        return (f"a read returned the first {len(data):,} bytes of document {cut[0]}: cut to the length of another "
                "document (a length taken from another write than the bytes)")
    mixed = f", mixing the bytes of documents {' and '.join(kinds)}" if len(kinds) > 1 else ""
    return f"a read returned {len(data):,} bytes that are none of the documents{mixed}"


#: Exceptions of HTTP clients (botocore, aiohttp, urllib3, requests) whose meaning is a
#: response body that does not match its own headers: shorter than its Content-Length,
#: cut off mid-stream, or failing the checksum the server sent with it.
_TORN_BODY_ERRORS = frozenset({
    "IncompleteReadError", "IncompleteRead", "ResponseStreamingError", "ClientPayloadError", "ContentLengthError",
    "TransferEncodingError", "FlexibleChecksumError", "ChecksumMismatch", "ChecksumError", "ChunkedEncodingError",
})


def is_torn_body(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says a response body did not
    match its headers: how a server that tears a replace shows to its HTTP client."""
    return any(type(e).__name__ in _TORN_BODY_ERRORS for e in _causes(exc))


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _exception_chain(exc: BaseException) -> str:
    return " <- ".join(f"{type(e).__name__}: {e}" for e in _causes(exc))
