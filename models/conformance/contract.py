"""The Store contract, as checks any store can be put through.

Each check takes a store (fresh and empty; checks use keys of their own, so they may
share one) and returns None when the store behaves as ``refimpl.store`` says, or a
sentence saying what it did instead; ``Skip`` when the check does not apply (a
capability the store does not claim). ``pubsafe check`` runs them all and reports
each; ``pubsafe.models.pytest_suite.StoreContractTests`` runs them as pytest tests.

The concurrency checks are probes with real threads, released together and switching
as often as the interpreter allows: ``CREATE_RACES`` trials of ``WRITERS`` writers
racing a create-only put, as many racing one compare-and-swap, and a reader racing
replaces at sizes from 16 bytes to 8 MiB. Measured on the mutant catalogue's
in-memory check-then-write stores (a window of a few bytecodes, the hardest case;
``python -m pubsafe.devtools.probe_rates``), one trial of 16 writers catches a racy
compare-and-swap 13-18% of the time and a racy create-only put 27-34%: 96 and 64
trials miss them with probability about 10^-6 and 10^-9. A store behind a network has a
window of a round trip. The report states how many trials ran.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pubsafe.refimpl.errors import (
    AlreadyExists,
    Conflict,
    InvalidKey,
    ObjectNotFound,
    PubsafeError,
    RetryableStoreError,
    UnsupportedOperation,
)
from pubsafe.refimpl.store import ABSENT, Store, StoredObject

from ..failures import NOT_JUDGED, is_store_failure
from ..guarantees import Guarantee

__all__ = ["Skip", "NotJudged", "ContractCheck", "CONTRACT", "CHECKS_BY_NAME", "run_check", "WRITERS", "CREATE_RACES",
           "CAS_RACES", "REPLACE_SIZES", "TOGETHER_READS", "TOGETHER_WRITES", "is_torn_body"]

WRITERS = 16
CREATE_RACES = 64
CAS_RACES = 96
_ARMING_SPIN = 2000  #: loop turns the last writer waits, so the others are spinning when it fires
RACE_TIMEOUT = 120.0  #: seconds a racing write may take before the race is called off (a hung store)
REPLACE_SIZES = (16, 4096, 256 * 1024, 2**20, 8 * 2**20)
#: a conditional write past 8 MiB, where clients switch to uploads of several requests
#: (boto3's and google-cloud-storage's threshold): a precondition must hold there too
LARGE = 8 * 2**20 + 4096


class Skip(Exception):
    """The check does not apply to this store (it does not claim the capability)."""


class NotJudged(Exception):
    """The check ran but saw nothing it could judge either way (it says why)."""


@dataclass(frozen=True)
class ContractCheck:
    name: str
    guarantees: tuple[Guarantee, ...]  #: what a store failing it cannot keep
    doc: str
    run: Callable[[Store], str | None]


CONTRACT: list[ContractCheck] = []


def _check(*guarantees: Guarantee) -> Callable[[Callable[[Store], str | None]], Callable[[Store], str | None]]:
    def register(fn: Callable[[Store], str | None]) -> Callable[[Store], str | None]:
        CONTRACT.append(ContractCheck(fn.__name__, guarantees, " ".join((fn.__doc__ or "").split()), fn))
        return fn

    return register


def run_check(check: ContractCheck, store: Store) -> tuple[str, str]:
    """("passed" | "failed" | "skipped" | "unavailable", detail); an unexpected exception
    is a failure that names the contract it broke, unless the store failed by itself."""
    try:
        problem = check.run(store)
    except Skip as skip:
        return "skipped", str(skip)
    except NotJudged as why:
        return "unavailable", f"not judged: {why}"
    except PubsafeError as exc:
        if is_store_failure(exc):
            return "unavailable", f"{NOT_JUDGED} ({type(exc).__name__}: {exc})"
        return "failed", f"raised {type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a store raising outside the contract is the finding
        return "failed", (f"raised {type(exc).__name__}: {exc}; a Store must raise the exceptions of "
                          "pubsafe.refimpl.errors (ObjectNotFound for a missing key, AlreadyExists, Conflict...)")
    return ("passed", "") if problem is None else ("failed", problem)


# -- sequential semantics --------------------------------------------------------------

G1, G2, G3, G5, R1, R2, R3, R4, R5 = (Guarantee.G1, Guarantee.G2, Guarantee.G3, Guarantee.G5, Guarantee.R1,
                                      Guarantee.R2, Guarantee.R3, Guarantee.R4, Guarantee.R5)


@_check(G2)
def missing_key_raises_object_not_found(store: Store) -> str | None:
    """get, get_object and stat of a missing key raise ObjectNotFound."""
    for call in (store.get, store.get_object, store.stat):
        try:
            call("contract/missing.json")
        except ObjectNotFound:
            continue
        return f"{call.__name__} of a missing key returned instead of raising ObjectNotFound"
    return None if store.exists("contract/missing.json") is False else "exists() says a missing key exists"


@_check(G1)
def put_then_get_round_trips_bytes(store: Store) -> str | None:
    """Bytes put are the bytes read, with the etag put returned."""
    payload = bytes(range(256)) * 3
    etag = store.put("contract/put/1.json", payload)
    obj = store.get_object("contract/put/1.json")
    if obj.data != payload:
        return f"put {len(payload)} bytes, read {len(obj.data)} different ones"
    if obj.etag != etag:
        return f"put returned etag {etag!r}, get_object {obj.etag!r}"
    return None


@_check(G1, G3)
def put_never_overwrites(store: Store) -> str | None:
    """A put on an existing key raises AlreadyExists and leaves the bytes alone, small or large."""
    store.put("contract/put/2.json", b"first")
    for second in (b"second", b"L" * LARGE):
        try:
            store.put("contract/put/2.json", second)
        except AlreadyExists:
            pass
        else:
            return (f"a second put ({len(second):,} bytes) on an existing key succeeded instead of raising "
                    "AlreadyExists")
        data = store.get("contract/put/2.json")
        if data != b"first":
            return f"a refused put ({len(second):,} bytes) still changed the object to {data[:20]!r}"
    return None


@_check(G2)
def replace_writes_the_whole_document(store: Store) -> str | None:
    """replace creates, then replaces the whole document (a shorter one leaves no tail)."""
    store.replace("contract/replace.json", b"a much longer first document")
    store.replace("contract/replace.json", b"short")
    data = store.get("contract/replace.json")
    return None if data == b"short" else f"after replacing with b'short' the key holds {data!r}"


@_check(R1, R2, R3)
def etags_follow_content(store: Store) -> str | None:
    """Different content, different etag; get_object and stat agree on it."""
    e1 = store.replace("contract/etag.json", b"one")
    e2 = store.replace("contract/etag.json", b"two")
    if e1 == e2:
        return "two different documents got the same etag"
    if store.get_object("contract/etag.json").etag != e2 or store.stat("contract/etag.json").etag != e2:
        return "replace, get_object and stat disagree on the etag"
    return None


@_check(R1, R2, R3)
def compare_and_swap_semantics(store: Store) -> str | None:
    """With compare_and_swap: expect=ABSENT and expect=etag are honoured; without, refused."""
    key = "contract/cas.json"
    if not store.capabilities.compare_and_swap:
        try:
            store.replace(key, b"x", expect=ABSENT)
        except UnsupportedOperation:
            return None if not store.exists(key) else "a refused conditional replace still wrote"
        return "a store without compare_and_swap accepted a conditional replace"
    e1 = store.replace(key, b"one", expect=ABSENT)
    problems = []
    try:
        store.replace(key, b"again", expect=ABSENT)
        problems.append("replace(expect=ABSENT) (If-None-Match: *) overwrote an existing object")
    except Conflict:
        pass
    e2 = store.replace(key, b"two", expect=e1)
    for stale in (b"stale", b"L" * LARGE):
        try:
            store.replace(key, stale, expect=e1)
            problems.append(f"replace of {len(stale):,} bytes with a stale etag (If-Match) succeeded: conditional "
                            "writes are ignored")
        except Conflict:
            pass
    if store.get(key) != b"two" or store.get_object(key).etag != e2:
        problems.append("a refused compare-and-swap still changed the object")
    try:
        store.replace("contract/cas-absent.json", b"x", expect=e2)
        problems.append("replace expecting an etag created an object that did not exist")
    except Conflict:
        pass
    return "; ".join(problems) or None


@_check(R4, R5)
def list_is_a_prefix_match(store: Store) -> str | None:
    """list(prefix) is every key starting with prefix (a plain string prefix), each once, in any order."""
    keys = ["contract/ls/a/1.json", "contract/ls/a/2.json", "contract/ls/ab/3.json", "contract/ls/z.json"]
    for key in keys:
        store.put(key, b"{}")
    for prefix, want in (("contract/ls/a/", keys[:2]), ("contract/ls/a", keys[:3]), ("contract/ls/", keys),
                         ("contract/ls/nothing/", [])):
        got = store.list(prefix)
        if sorted(got) != want:
            return f"list({prefix!r}) returned {sorted(got)}, not {want}"
    return None


@_check(R4, R5)
def stat_reports_size_and_time(store: Store) -> str | None:
    """stat gives the size and a modification time; a key prefix is not an object."""
    store.put("contract/stat/one.json", b"12345")
    info = store.stat("contract/stat/one.json")
    if info.size != 5 or not info.modified > 0:
        return f"stat of a 5-byte object said size {info.size}, modified {info.modified}"
    try:
        store.stat("contract/stat")
    except ObjectNotFound:
        return None
    return "stat of a key prefix (a 'directory') returned an object"


@_check(R5)
def delete_removes_and_refuses_missing(store: Store) -> str | None:
    """delete removes the object; deleting a missing key raises ObjectNotFound."""
    store.put("contract/del/x.json", b"1")
    store.delete("contract/del/x.json")
    if store.exists("contract/del/x.json") or store.list("contract/del/"):
        return "a deleted object is still there"
    try:
        store.delete("contract/del/x.json")
    except ObjectNotFound:
        return None
    return "deleting a missing key did not raise ObjectNotFound (GC relies on knowing)"


@_check(G5)
def keys_that_escape_the_root_are_refused(store: Store) -> str | None:
    """Keys that could escape the store root or alias another key raise InvalidKey."""
    for key in ("", "/abs.json", "../up.json", "contract/../b.json", "contract//b.json", "contract\\b.json", "./a.json"):
        for call in (lambda k=key: store.put(k, b"x"), lambda k=key: store.get(k)):
            try:
                call()
            except InvalidKey:
                continue
            except Exception as exc:  # noqa: BLE001
                return f"key {key!r} raised {type(exc).__name__} instead of InvalidKey"
            return f"key {key!r} was accepted"
    return None


# -- concurrency -----------------------------------------------------------------------


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


@_check(G1, G3)
def create_only_has_one_winner(store: Store) -> str | None:
    """With create_only: of writers racing a put on one new key, exactly one wins."""
    if not store.capabilities.create_only:
        raise Skip("the store does not claim atomic create-only")
    keys = [f"contract/race/put-{trial}.json" for trial in range(CREATE_RACES)]
    results = _races(CREATE_RACES, lambda trial: None, lambda trial, i: store.put(keys[trial], f"writer-{i}".encode()),
                     AlreadyExists)
    for trial, winners in enumerate(results):
        if len(winners) != 1:
            return (f"{len(winners)} of {WRITERS} writers racing a create-only put (If-None-Match: *) on one key "
                    f"all succeeded (trial {trial + 1} of {CREATE_RACES}): the check and the write are not atomic")
        if store.get(keys[trial]) != f"writer-{winners[0]}".encode():
            return f"the winner of a create-only race is not the writer whose bytes the key holds (trial {trial + 1})"
    return None


@_check(R1, R2, R3)
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
        if len(winners) != 1:
            return (f"{len(winners)} of {WRITERS} writers racing a compare-and-swap (If-Match) on one etag all "
                    f"succeeded (trial {trial + 1} of {CAS_RACES}): the comparison and the write are not atomic")
    return None


@_check(G2)
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


# -- bytes and etag read together --------------------------------------------------------

TOGETHER_READS = 400  #: get_object calls the race makes at least (its readers and its compare-and-swap writer)
TOGETHER_WRITES = 200  #: acknowledged writes the race makes at least
_TOGETHER_SECONDS = 60.0  #: the longest it runs when a slow store reaches neither count: then it judges what it saw
_UNANSWERED = 50  #: retryable write refusals the race goes on through, or as many as writes acknowledged, if more


@_check(R1, R2, R3)
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


CHECKS_BY_NAME = {check.name: check for check in CONTRACT}
