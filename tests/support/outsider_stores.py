"""Outsider-written store adapters for `pubsafe check --store support.outsider_stores:NAME`.

An outside tester wrote them from the adapter guide alone, without reading pubsafe's
code; they are kept as written (tests/models/test_outsider_adapters.py judges them).

`MemStore` is a plain, correct, in-memory adapter written from the guide's contract
(one lock, every primitive one critical section, sha256 etags). Every other class is
a realistic bug on top of it; the factory functions at the bottom are what
`pubsafe check` is pointed at. Each docstring says what the bug is and which
guarantee it should cost.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time
import unicodedata
import uuid
import zlib
from urllib.parse import quote, unquote

from pubsafe.refimpl.errors import AlreadyExists, Conflict, ObjectNotFound, RetryableStoreError
from pubsafe.refimpl.store import ABSENT, ANY, Capabilities, ObjectInfo, Store, StoredObject, check_key

ALL = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=False)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MemStore(Store):
    """Correct baseline: a dict under one lock."""

    capabilities = ALL

    def __init__(self) -> None:
        self.root_uri = "outsider://" + uuid.uuid4().hex
        self._lock = threading.RLock()
        self._objs: dict[str, tuple[bytes, str, float]] = {}

    # hooks the bugs override -------------------------------------------------
    def _etag(self, key: str, data: bytes) -> str:
        return sha(data)

    def _skey(self, key: str) -> str:  # the backend's name for a key
        return key

    def _now(self) -> float:
        return time.time()

    def _store(self, key: str, data: bytes) -> str:
        etag = self._etag(key, data)
        self._objs[self._skey(key)] = (bytes(data), etag, self._now())
        return etag

    # the six primitives ------------------------------------------------------
    def get_object(self, key: str) -> StoredObject:
        check_key(key)
        with self._lock:
            try:
                data, etag, _ = self._objs[self._skey(key)]
            except KeyError:
                raise ObjectNotFound(key) from None
        return StoredObject(data, etag)

    def put(self, key: str, data: bytes) -> str:
        check_key(key)
        with self._lock:
            if self._skey(key) in self._objs:
                raise AlreadyExists(key)
            return self._store(key, data)

    def replace(self, key: str, data: bytes, *, expect=ANY) -> str:
        check_key(key)
        with self._lock:
            cur = self._objs.get(self._skey(key))
            if expect is ABSENT:
                if cur is not None:
                    raise Conflict(f"{key}: expected no object")
            elif expect is not ANY:
                if cur is None or cur[1] != expect:
                    raise Conflict(f"{key}: expected etag {expect}")
            return self._store(key, data)

    def list(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(k for k in self._objs if k.startswith(prefix))

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            if self._objs.pop(self._skey(key), None) is None:
                raise ObjectNotFound(key)

    def stat(self, key: str) -> ObjectInfo:
        check_key(key)
        with self._lock:
            try:
                data, etag, mtime = self._objs[self._skey(key)]
            except KeyError:
                raise ObjectNotFound(key) from None
        return ObjectInfo(key, etag, len(data), mtime)


# ----------------------------------------------------------------------------
# listings
# ----------------------------------------------------------------------------


class PagedListOffByOne(MemStore):
    """Backend pages listings 1,000 keys at a time; the adapter resumes at
    `start = last_index + 2` (marker handled as inclusive, then skipped one more):
    the first key of every page after the first is lost."""

    PAGE = 1000

    def list(self, prefix: str = "") -> list[str]:
        with self._lock:
            allk = sorted(k for k in self._objs if k.startswith(prefix))
        out: list[str] = []
        start = 0
        while start < len(allk):
            page = allk[start:start + self.PAGE]
            out.extend(page)
            start += len(page) + 1  # off by one
        return out


class PagedListSmallPages(PagedListOffByOne):
    """Same off-by-one, but the backend pages at 100 keys (e.g. an Azure/Swift
    deployment with maxresults=100): visible from 101 keys on."""

    PAGE = 100


class ListUrlEncoded(MemStore):
    """S3 ListObjectsV2 with EncodingType=url, but the adapter forgets to unquote
    keys: every key with a non-ASCII character, a space or '%' comes back
    percent-encoded (so it names a key that does not exist)."""

    def list(self, prefix: str = "") -> list[str]:
        return [quote(k, safe="/-_.~") for k in super().list(prefix)]


class ListDropsNonAscii(MemStore):
    """A listing decoder that silently skips keys it cannot decode as ASCII
    (e.g. `key.decode('ascii', errors=...)` then `continue` on error)."""

    def list(self, prefix: str = "") -> list[str]:
        return [k for k in super().list(prefix) if k.isascii()]


class ListSubstring(MemStore):
    """list(prefix) matches the prefix anywhere in the key (`prefix in key`, or a
    backend LIKE '%prefix%' query)."""

    def list(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(k for k in self._objs if prefix in k)


class DeleteLeavesListable(MemStore):
    """Soft delete: delete() marks the row deleted, get/stat honour the mark, but
    list() does not filter it (a backend with tombstones and a forgotten WHERE)."""

    def __init__(self) -> None:
        super().__init__()
        self._deleted: set[str] = set()

    def delete(self, key: str) -> None:
        super().delete(key)
        with self._lock:
            self._deleted.add(key)

    def _store(self, key: str, data: bytes) -> str:
        self._deleted.discard(key)
        return super()._store(key, data)

    def list(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(set(super().list(prefix)) | {k for k in self._deleted if k.startswith(prefix)})


# ----------------------------------------------------------------------------
# read consistency
# ----------------------------------------------------------------------------


class EventualOverwrite(MemStore):
    """Pre-2020-S3-style overwrite consistency: after a replace, the next 2 reads
    (get_object and stat) of that key still see the previous version."""

    LAG = 2

    def __init__(self) -> None:
        super().__init__()
        self._old: dict[str, list] = {}  # key -> [remaining stale reads, old tuple]

    def replace(self, key, data, *, expect=ANY):
        with self._lock:
            old = self._objs.get(key)
            etag = super().replace(key, data, expect=expect)
            if old is not None:
                self._old[key] = [self.LAG, old]
            return etag

    def _stale(self, key):
        with self._lock:
            ent = self._old.get(key)
            if ent and ent[0] > 0:
                ent[0] -= 1
                return ent[1]
        return None

    def get_object(self, key):
        old = self._stale(key)
        if old is not None:
            return StoredObject(old[0], old[1])
        return super().get_object(key)

    def stat(self, key):
        old = self._stale(key)
        if old is not None:
            return ObjectInfo(key, old[1], len(old[0]), old[2])
        return super().stat(key)


class StaleManifestCache(MemStore):
    """A read-through cache (0.5 s TTL) in front of the backend for small JSON
    documents under `current/`; replace() writes through to the backend but the
    invalidation only matches keys under the blob layout (`<t>/<s>/<type>/...`),
    so `current/.../manifest.json` keeps serving the cached copy until it expires."""

    TTL = 0.5

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[str, tuple[float, StoredObject]] = {}

    def get_object(self, key):
        if key.startswith("current/"):
            with self._lock:
                hit = self._cache.get(key)
                if hit and time.monotonic() - hit[0] < self.TTL:
                    return hit[1]
                obj = super().get_object(key)
                self._cache[key] = (time.monotonic(), obj)
                return obj
        return super().get_object(key)

    def replace(self, key, data, *, expect=ANY):
        with self._lock:
            etag = super().replace(key, data, expect=expect)
            if not key.startswith(("current/", "history/", "records/", "gc/")):
                self._cache.pop(key, None)
            return etag


class ReadAfterCreate404(MemStore):
    """Negative caching: a get/stat that found nothing is remembered for 0.2 s, and
    put() does not clear it (S3's old 'HEAD before PUT' read-after-write caveat)."""

    TTL = 0.2

    def __init__(self) -> None:
        super().__init__()
        self._neg: dict[str, float] = {}

    def _miss(self, key):
        with self._lock:
            t = self._neg.get(key)
            return t is not None and time.monotonic() - t < self.TTL

    def get_object(self, key):
        if self._miss(key):
            raise ObjectNotFound(key)
        try:
            return super().get_object(key)
        except ObjectNotFound:
            with self._lock:
                self._neg[key] = time.monotonic()
            raise

    def stat(self, key):
        if self._miss(key):
            raise ObjectNotFound(key)
        try:
            return super().stat(key)
        except ObjectNotFound:
            with self._lock:
                self._neg[key] = time.monotonic()
            raise


# ----------------------------------------------------------------------------
# conditional writes
# ----------------------------------------------------------------------------


class PutNonAtomicForEncodedKeys(MemStore):
    """Create-only put is one atomic conditional request, except for keys that
    need percent-encoding (non-ASCII, space, '%'): those go through a fallback path
    that does HEAD, then PUT, without the lock."""

    def put(self, key, data):
        check_key(key)
        if key.isascii() and " " not in key and "%" not in key:
            return super().put(key, data)
        with self._lock:
            exists = key in self._objs
        if exists:
            raise AlreadyExists(key)
        time.sleep(0.001)  # the round trip between HEAD and PUT
        with self._lock:
            return self._store(key, data)


class ReplaceIgnoresAbsent(MemStore):
    """replace(expect=ABSENT) falls through to an unconditional write: the adapter
    only maps etag expectations to If-Match and forgets If-None-Match."""

    def replace(self, key, data, *, expect=ANY):
        if expect is ABSENT:
            expect = ANY
        return super().replace(key, data, expect=expect)


class CasAgainstCachedEtag(MemStore):
    """To save a round trip, replace(expect=etag) compares against the etag this
    client last saw for the key (kept per thread, like a per-connection session),
    not the server's current one."""

    def __init__(self) -> None:
        super().__init__()
        self._seen = threading.local()

    def _cache(self) -> dict:
        if not hasattr(self._seen, "d"):
            self._seen.d = {}
        return self._seen.d

    def get_object(self, key):
        obj = super().get_object(key)
        self._cache()[key] = obj.etag
        return obj

    def replace(self, key, data, *, expect=ANY):
        check_key(key)
        if expect is ANY or expect is ABSENT:
            etag = super().replace(key, data, expect=expect)
        else:
            if self._cache().get(key) != expect:
                raise Conflict(f"{key}: expected etag {expect}")
            with self._lock:
                if key not in self._objs:
                    raise Conflict(key)
                etag = self._store(key, data)
        self._cache()[key] = etag
        return etag


class CasMissingKeyCreates(MemStore):
    """replace(expect=etag) on a key that does not exist creates it (the adapter
    maps the backend's 404 on a conditional PUT to 'go ahead')."""

    def replace(self, key, data, *, expect=ANY):
        with self._lock:
            if expect is not ANY and expect is not ABSENT and key not in self._objs:
                return self._store(key, data)
            return super().replace(key, data, expect=expect)


# ----------------------------------------------------------------------------
# etags
# ----------------------------------------------------------------------------


class EtagMtimeSize(MemStore):
    """Apache/nginx-style weak etag: '<mtime in whole seconds>-<size>'. Two writes
    of equal length within one second get the same etag."""

    def _etag(self, key, data):
        return f"{int(time.time()):x}-{len(data):x}"


class EtagSampledHash(MemStore):
    """'Fast' etag: crc32 of the first 64 bytes plus the length (hashing whole
    large objects was deemed too slow)."""

    def _etag(self, key, data):
        return f"{zlib.crc32(data[:64]):08x}-{len(data)}"


class EtagQuotedInStat(MemStore):
    """stat() returns the HTTP ETag header verbatim, quotes included; get_object,
    put and replace strip the quotes. Etags disagree between primitives."""

    def stat(self, key):
        info = super().stat(key)
        return ObjectInfo(info.key, f'"{info.etag}"', info.size, info.modified)


class EtagPerKeyCounterResets(MemStore):
    """Etag is a per-key generation number that restarts at 1 when a key is
    deleted and re-created (ABA on recreate)."""

    def __init__(self) -> None:
        super().__init__()
        self._gen: dict[str, int] = {}

    def _etag(self, key, data):
        self._gen[key] = self._gen.get(key, 0) + 1
        return str(self._gen[key])

    def delete(self, key):
        with self._lock:
            super().delete(key)
            self._gen.pop(key, None)


# ----------------------------------------------------------------------------
# keys
# ----------------------------------------------------------------------------


class PercentDecodingServer(MemStore):
    """The adapter builds request URLs without quoting keys, so the server
    percent-decodes them: 'a%41' and 'aA' are one object, and list() returns the
    decoded name."""

    def _skey(self, key):
        return unquote(key)

    def get_object(self, key):
        return super().get_object(key)


class PlusIsSpace(MemStore):
    """Form-style decoding on the server: '+' in a key is stored as ' '."""

    def _skey(self, key):
        return key.replace("+", " ")


class NfcOnWriteOnly(MemStore):
    """Keys are NFC-normalised on write (put/replace store under the NFC name) but
    read, stat'd and deleted under the name given (macOS-style mismatch)."""

    def put(self, key, data):
        return super().put(unicodedata.normalize("NFC", key), data)

    def replace(self, key, data, *, expect=ANY):
        return super().replace(unicodedata.normalize("NFC", key), data, expect=expect)


class StripsTrailingWhitespace(MemStore):
    """The backend trims trailing spaces of each path segment (like Windows/SMB):
    'acme ' and 'acme' are one object."""

    def _skey(self, key):
        return "/".join(seg.rstrip(" ") for seg in key.split("/"))


# ----------------------------------------------------------------------------
# values, time, concurrency
# ----------------------------------------------------------------------------


class TruncatesAt64K(MemStore):
    """A MySQL BLOB column (64 KiB) in non-strict mode: longer values are silently
    truncated; the etag is computed client-side over the full data."""

    LIMIT = 65535

    def _store(self, key, data):
        etag = self._etag(key, data)
        self._objs[self._skey(key)] = (bytes(data[:self.LIMIT]), etag, self._now())
        return etag


class TruncatesAt64KHonestEtag(TruncatesAt64K):
    """Same truncation, etag of what was stored."""

    def _store(self, key, data):
        return MemStore._store(self, key, bytes(data[:self.LIMIT]))


class MtimeLocalAsUtc(MemStore):
    """stat().modified parses the server's Last-Modified as a naive local time on a
    host at UTC-5: every object looks 5 hours older than it is."""

    def stat(self, key):
        info = super().stat(key)
        return ObjectInfo(info.key, info.etag, info.size, info.modified - 5 * 3600)


class MtimeInFuture(MemStore):
    """stat().modified is 5 hours in the future (the opposite sign)."""

    def stat(self, key):
        info = super().stat(key)
        return ObjectInfo(info.key, info.etag, info.size, info.modified + 5 * 3600)


class LosesWritesUnderLoad(MemStore):
    """A write-behind buffer with 2 slots: when more than 2 writes are in flight,
    the extra write is acknowledged but never applied."""

    def __init__(self) -> None:
        super().__init__()
        self._inflight = 0
        self._cnt = threading.Lock()

    def _write(self, fn):
        with self._cnt:
            self._inflight += 1
            n = self._inflight
        try:
            time.sleep(0.0005)
            return fn(n)
        finally:
            with self._cnt:
                self._inflight -= 1

    def put(self, key, data):
        def go(n):
            if n > 2:
                with self._lock:
                    if key in self._objs:
                        raise AlreadyExists(key)
                return self._etag(key, data)
            return MemStore.put(self, key, data)
        return self._write(go)

    def replace(self, key, data, *, expect=ANY):
        def go(n):
            if n > 2:
                return self._etag(key, data)
            return MemStore.replace(self, key, data, expect=expect)
        return self._write(go)


class ClaimsDurableButIsNot(MemStore):
    """Honest about nothing wrong in memory, but claims durable=True (a server that
    acks before fsync); pubsafe cannot probe it: should be reported as not probed."""

    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=True, durable=True)


# ----------------------------------------------------------------------------
# correct but unusual stores (must NOT break)
# ----------------------------------------------------------------------------


class SlowStore(MemStore):
    """Correct; every primitive takes 1-3 ms outside the lock (network latency)."""

    def _lat(self):
        time.sleep(random.uniform(0.001, 0.003))

    def get_object(self, key):
        self._lat()
        return super().get_object(key)

    def put(self, key, data):
        self._lat()
        return super().put(key, data)

    def replace(self, key, data, *, expect=ANY):
        self._lat()
        return super().replace(key, data, expect=expect)

    def list(self, prefix=""):
        self._lat()
        return super().list(prefix)

    def stat(self, key):
        self._lat()
        return super().stat(key)


class RandomEtags(MemStore):
    """Correct; etags are opaque random strings stored with the object (a new one
    on every write, even of identical bytes)."""

    def _etag(self, key, data):
        return uuid.uuid4().hex


class CounterEtags(MemStore):
    """Correct; etags are a store-wide write counter (never reused)."""

    _c = itertools.count(1)

    def _etag(self, key, data):
        return f"W/{next(self._c)}"


class QuotedMd5Etags(MemStore):
    """Correct; S3-style quoted md5 etags, the same everywhere."""

    def _etag(self, key, data):
        return '"' + hashlib.md5(data).hexdigest() + '"'


class PercentEncodedBackend(MemStore):
    """Correct; the backend holds keys percent-encoded, the adapter encodes on the
    way in and decodes listings on the way out."""

    def _skey(self, key):
        return quote(key, safe="")

    def list(self, prefix=""):
        with self._lock:
            keys = [unquote(k) for k in self._objs]
        return sorted(k for k in keys if k.startswith(prefix))


class ShuffledListing(MemStore):
    """Correct; list() order is arbitrary."""

    def list(self, prefix=""):
        keys = super().list(prefix)
        random.shuffle(keys)
        return keys


class TransientErrors(MemStore):
    """Correct; 1 in 40 requests fails with a retryable 503 before doing anything."""

    def __init__(self) -> None:
        super().__init__()
        self._rng = random.Random(7)

    def _maybe(self):
        with self._lock:
            fail = self._rng.random() < 1 / 40
        if fail:
            raise RetryableStoreError("503 SlowDown")

    def get_object(self, key):
        self._maybe()
        return super().get_object(key)

    def put(self, key, data):
        self._maybe()
        return super().put(key, data)

    def replace(self, key, data, *, expect=ANY):
        self._maybe()
        return super().replace(key, data, expect=expect)

    def stat(self, key):
        self._maybe()
        return super().stat(key)


class IntegerMtime(MemStore):
    """Correct; Last-Modified has one-second resolution (S3, HTTP dates)."""

    def _now(self):
        return float(int(time.time()))


class NoCapabilities(MemStore):
    """Correct and modest: claims nothing (an fsspec-like store)."""

    capabilities = Capabilities(atomic_replace=False, create_only=False, compare_and_swap=False, durable=False)


# factories: `pubsafe check --store outsider.stores:<name>` ------------------

def _factory(cls):
    def make():
        return cls()
    make.__name__ = cls.__name__
    make.__doc__ = cls.__doc__
    return make


baseline = _factory(MemStore)
paged_offbyone_1000 = _factory(PagedListOffByOne)
paged_offbyone_100 = _factory(PagedListSmallPages)
list_url_encoded = _factory(ListUrlEncoded)
list_drops_non_ascii = _factory(ListDropsNonAscii)
list_substring = _factory(ListSubstring)
delete_leaves_listable = _factory(DeleteLeavesListable)
eventual_overwrite = _factory(EventualOverwrite)
stale_manifest_cache = _factory(StaleManifestCache)
read_after_create_404 = _factory(ReadAfterCreate404)
put_nonatomic_encoded_keys = _factory(PutNonAtomicForEncodedKeys)
replace_ignores_absent = _factory(ReplaceIgnoresAbsent)
cas_cached_etag = _factory(CasAgainstCachedEtag)
cas_missing_creates = _factory(CasMissingKeyCreates)
etag_mtime_size = _factory(EtagMtimeSize)
etag_sampled_hash = _factory(EtagSampledHash)
etag_quoted_in_stat = _factory(EtagQuotedInStat)
etag_counter_resets = _factory(EtagPerKeyCounterResets)
percent_decoding_server = _factory(PercentDecodingServer)
plus_is_space = _factory(PlusIsSpace)
nfc_on_write_only = _factory(NfcOnWriteOnly)
strips_trailing_space = _factory(StripsTrailingWhitespace)
truncates_64k = _factory(TruncatesAt64K)
truncates_64k_honest_etag = _factory(TruncatesAt64KHonestEtag)
mtime_local_as_utc = _factory(MtimeLocalAsUtc)
mtime_in_future = _factory(MtimeInFuture)
loses_writes_under_load = _factory(LosesWritesUnderLoad)
ok_slow = _factory(SlowStore)
ok_random_etags = _factory(RandomEtags)
ok_counter_etags = _factory(CounterEtags)
ok_quoted_md5 = _factory(QuotedMd5Etags)
ok_percent_encoded_backend = _factory(PercentEncodedBackend)
ok_shuffled_listing = _factory(ShuffledListing)
ok_transient_errors = _factory(TransientErrors)
ok_integer_mtime = _factory(IntegerMtime)
ok_no_capabilities = _factory(NoCapabilities)


# shared instances, for in-process demos that run several CLI commands on one store
_SHARED: dict[str, Store] = {}


def _shared(cls):
    def make():
        return _SHARED.setdefault(cls.__name__, cls())
    return make


shared_percent_decoding_server = _shared(PercentDecodingServer)
shared_put_nonatomic_encoded_keys = _shared(PutNonAtomicForEncodedKeys)
shared_mtime_local_as_utc = _shared(MtimeLocalAsUtc)
shared_baseline = _shared(MemStore)


# ----------------------------------------------------------------------------
# second batch
# ----------------------------------------------------------------------------


class ReplaceDeleteThenCreate(MemStore):
    """A backend without overwrite (or Windows, where rename onto an existing file
    fails): replace(ANY) deletes the old object, then creates the new one; a reader
    in between sees the key missing (never a torn body)."""

    def replace(self, key, data, *, expect=ANY):
        if expect is not ANY:
            return super().replace(key, data, expect=expect)
        check_key(key)
        with self._lock:
            self._objs.pop(key, None)
        time.sleep(0.0002)
        with self._lock:
            return self._store(key, data)


class ListLagsNewKeys(MemStore):
    """Pre-2020 S3 list-after-write lag: a key created less than 0.3 s ago is not
    yet in listings (get/stat see it at once)."""

    LAG = 0.3

    def list(self, prefix=""):
        now = time.time()
        with self._lock:
            return sorted(k for k, (_, _, m) in self._objs.items()
                          if k.startswith(prefix) and now - m >= self.LAG)


class ReplaceReturnsSentEtag(MemStore):
    """replace(expect=etag) returns the If-Match etag it sent, not the response's
    new ETag (the adapter returns the wrong variable)."""

    def replace(self, key, data, *, expect=ANY):
        etag = super().replace(key, data, expect=expect)
        return expect if isinstance(expect, str) else etag


class StatCompressedSize(MemStore):
    """Objects are stored gzip-compressed (Content-Encoding: gzip); stat() reports
    the stored (compressed) size, get_object returns the decompressed bytes."""

    def stat(self, key):
        info = super().stat(key)
        data = self.get_object(key).data
        return ObjectInfo(info.key, info.etag, len(zlib.compress(data)), info.modified)


class ReplaceAnyNeedsExisting(MemStore):
    """replace(ANY) is an UPDATE only: on a missing key it raises ObjectNotFound
    (the first publish to a slot fails)."""

    def replace(self, key, data, *, expect=ANY):
        with self._lock:
            if expect is ANY and key not in self._objs:
                raise ObjectNotFound(key)
            return super().replace(key, data, expect=expect)


class GetMissingRaisesKeyErrorOnlyForRecords(MemStore):
    """Only under `records/`, a miss surfaces as a generic StoreError (the SDK
    raises NoSuchKey there via a different code path the adapter does not map)."""

    def get_object(self, key):
        try:
            return super().get_object(key)
        except ObjectNotFound:
            if key.startswith("records/"):
                from pubsafe.refimpl.errors import StoreError
                raise StoreError(f"NoSuchKey: {key}") from None
            raise


replace_delete_then_create = _factory(ReplaceDeleteThenCreate)
list_lags_new_keys = _factory(ListLagsNewKeys)
replace_returns_sent_etag = _factory(ReplaceReturnsSentEtag)
stat_compressed_size = _factory(StatCompressedSize)
replace_any_needs_existing = _factory(ReplaceAnyNeedsExisting)
records_miss_is_store_error = _factory(GetMissingRaisesKeyErrorOnlyForRecords)
