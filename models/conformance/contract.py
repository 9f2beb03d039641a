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
    UnsupportedOperation,
)
from pubsafe.refimpl.store import ABSENT, Store

from ..failures import NOT_JUDGED, is_store_failure
from ..guarantees import Guarantee

__all__ = ["Skip", "ContractCheck", "CONTRACT", "CHECKS_BY_NAME", "run_check", "WRITERS", "CREATE_RACES",
           "CAS_RACES", "REPLACE_SIZES"]

WRITERS = 16
CREATE_RACES = 64
CAS_RACES = 96
_ARMING_SPIN = 2000  #: loop turns the last writer waits, so the others are spinning when it fires
RACE_TIMEOUT = 120.0  #: seconds a racing write may take before the race is called off (a hung store)
REPLACE_SIZES = (16, 4096, 256 * 1024, 2**20, 8 * 2**20)
_FLIPS = 24  # replace pairs per size while a reader reads (fewer for the largest: each is a big write)


class Skip(Exception):
    """The check does not apply to this store (it does not claim the capability)."""


@dataclass(frozen=True)
class ContractCheck:
    name: str
    guarantees: tuple[Guarantee, ...]  #: what a store failing it cannot keep
    doc: str
    run: Callable[[Store], str | None]


CONTRACT: list[ContractCheck] = []


def _check(*guarantees: Guarantee) -> Callable[[Callable[[Store], str | None]], Callable[[Store], str | None]]:
    def register(fn: Callable[[Store], str | None]) -> Callable[[Store], str | None]:
        CONTRACT.append(ContractCheck(fn.__name__, guarantees, (fn.__doc__ or "").strip(), fn))
        return fn

    return register


def run_check(check: ContractCheck, store: Store) -> tuple[str, str]:
    """("passed" | "failed" | "skipped" | "unavailable", detail); an unexpected exception
    is a failure that names the contract it broke, unless the store failed by itself."""
    try:
        problem = check.run(store)
    except Skip as skip:
        return "skipped", str(skip)
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
    """A put on an existing key raises AlreadyExists and leaves the bytes alone."""
    store.put("contract/put/2.json", b"first")
    try:
        store.put("contract/put/2.json", b"second")
    except AlreadyExists:
        pass
    else:
        return "a second put on an existing key succeeded instead of raising AlreadyExists"
    data = store.get("contract/put/2.json")
    return None if data == b"first" else f"a refused put still changed the object to {data[:20]!r}"


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
    try:
        store.replace(key, b"stale", expect=e1)
        problems.append("replace with a stale etag (If-Match) succeeded: conditional writes are ignored")
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
        for call in (lambda: store.put(key, b"x"), lambda: store.get(key)):
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
    """With atomic_replace: a reader racing replaces sees whole documents only, at every size."""
    if not store.capabilities.atomic_replace:
        raise Skip("the store does not claim atomic replace")
    for size in REPLACE_SIZES:
        key = f"contract/atomic/{size}.json"
        old, new = b"[" + b"1" * (size - 2) + b"]", b"[" + b"2" * (size - 2) + b"]"
        store.replace(key, old)
        seen_bad: list[str] = []
        failures: list[PubsafeError] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set() and not seen_bad:
                try:
                    data = store.get(key)
                except PubsafeError as exc:
                    if is_store_failure(exc):
                        failures.append(exc)
                    else:
                        seen_bad.append(f"a read failed with {exc!r}")
                    return
                if data != old and data != new:
                    seen_bad.append(f"a read returned {len(data)} bytes that are neither document")

        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            for _ in range(_FLIPS if size <= 2**20 else _FLIPS // 4):
                if seen_bad or failures:
                    break
                store.replace(key, new)
                store.replace(key, old)
        finally:
            done.set()
            reader.join(30)
            sys.setswitchinterval(interval)
        if failures:
            raise failures[0]
        if seen_bad:
            return f"while a {size}-byte document was replaced over and over, {seen_bad[0]}"
        store.delete(key)
    return None


CHECKS_BY_NAME = {check.name: check for check in CONTRACT}
