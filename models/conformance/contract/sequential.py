"""The sequential semantics every store must have: missing keys, round trips, create-only,
whole replaces, etags, compare-and-swap, prefix listings, stat, delete, escaping keys."""

from __future__ import annotations

import time

from pubsafe.refimpl.errors import (
    AlreadyExists,
    Conflict,
    InvalidKey,
    ObjectNotFound,
    PubsafeError,
    RetryableStoreError,
    UnsupportedOperation,
)
from pubsafe.refimpl.store import ABSENT, Store

from .base import G1, G2, G3, G5, R1, R2, R3, R4, R5, check

#: how far a new object's modification time may be from this host's clock (a skewed
#: clock, a slow request); a time read in the wrong zone is off by 30 minutes at least
_CLOCK_SLACK = 20 * 60

#: a conditional write past 8 MiB, where clients switch to uploads of several requests
#: (boto3's and google-cloud-storage's threshold): a precondition must hold there too
LARGE = 8 * 2**20 + 4096


#: A missing key at every place of the layout (an adapter may map errors by path).
_MISSING = ("contract/missing.json", f"records/contract/missing/model/{'0' * 64}.json",
            "current/contract/missing/manifest.json", f"history/contract/missing/{'0' * 64}.json",
            "gc/contract-missing.json", f"contract/missing/model/{'0' * 64}.json")


@check(G2)
def missing_key_raises_object_not_found(store: Store) -> str | None:
    """get, get_object and stat of a missing key raise ObjectNotFound, wherever in the layout."""
    for key in _MISSING:
        for call in (store.get, store.get_object, store.stat):
            try:
                call(key)
            except ObjectNotFound:
                continue
            except RetryableStoreError:
                raise  # the store failed by itself: not judged
            except PubsafeError as exc:
                return (f"{call.__name__}({key!r}) of a missing key raised {type(exc).__name__} ({exc}) instead of "
                        "ObjectNotFound: the engine takes it for the store failing, not for an absent object")
            return f"{call.__name__}({key!r}) of a missing key returned instead of raising ObjectNotFound"
        if store.exists(key) is not False:
            return f"exists({key!r}) says a missing key exists"
    return None


@check(G1)
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


@check(G1, G3)
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


@check(G2)
def replace_writes_the_whole_document(store: Store) -> str | None:
    """replace creates, then replaces the whole document (a shorter one leaves no tail)."""
    store.replace("contract/replace.json", b"a much longer first document")
    store.replace("contract/replace.json", b"short")
    data = store.get("contract/replace.json")
    return None if data == b"short" else f"after replacing with b'short' the key holds {data!r}"


@check(R1, R2, R3)
def etags_follow_content(store: Store) -> str | None:
    """Different content, different etag; get_object and stat agree on it."""
    e1 = store.replace("contract/etag.json", b"one")
    e2 = store.replace("contract/etag.json", b"two")
    if e1 == e2:
        return "two different documents got the same etag"
    late = [store.replace("contract/etag-late.json", b"{" + b"x" * 300 + end) for end in (b"1}", b"2}")]
    if late[0] == late[1]:  # equal length, differing only at the end: an etag of a sample or of the size
        return "two documents of equal length that differ only in their last bytes got the same etag"
    if store.get_object("contract/etag.json").etag != e2 or store.stat("contract/etag.json").etag != e2:
        return "replace, get_object and stat disagree on the etag"
    return None


@check(R1, R2, R3)
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
    try:
        e2 = store.replace(key, b"two", expect=e1)
    except Conflict:  # after an overwrite by the ABSENT write above, e1 is stale: that is the finding
        problems.append("replace expecting the etag the store had just returned was refused")
        return "; ".join(problems)
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


@check(R4, R5)
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


@check(R4, R5)
def stat_reports_size_and_time(store: Store) -> str | None:
    """stat gives the size and a modification time; a key prefix is not an object."""
    before = time.time()
    store.put("contract/stat/one.json", b"12345")
    info = store.stat("contract/stat/one.json")
    if info.size != 5 or not info.modified > 0:
        return f"stat of a 5-byte object said size {info.size}, modified {info.modified}"
    off = info.modified - before
    if abs(off) > _CLOCK_SLACK and abs(info.modified - time.time()) > _CLOCK_SLACK:
        return (f"stat of an object just written says it was modified {abs(off) / 3600:.1f} hours "
                f"{'before' if off < 0 else 'after'} it was (by this host's clock): a Last-Modified read as local "
                "time, or a clock that far off; gc judges an orphan's age (--grace) by this time")
    try:
        store.stat("contract/stat")
    except ObjectNotFound:
        return None
    return "stat of a key prefix (a 'directory') returned an object"


@check(R5)
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


@check(G5)
def keys_that_escape_the_root_are_refused(store: Store) -> str | None:
    """Keys that could escape the store root or alias another key raise InvalidKey."""
    for key in ("", "/abs.json", "../up.json", "contract/../b.json", "contract//b.json", "contract\\b.json",
                "./a.json"):
        for call in (lambda k=key: store.put(k, b"x"), lambda k=key: store.get(k)):
            try:
                call()
            except InvalidKey:
                continue
            except Exception as exc:  # noqa: BLE001
                return f"key {key!r} raised {type(exc).__name__} instead of InvalidKey"
            return f"key {key!r} was accepted"
    return None
