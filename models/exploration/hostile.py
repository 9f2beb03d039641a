"""Hostile stores and readers: slots whose names a careless store conflates
(``name_collisions``); a store holding more keys than a listing's first page
(``listing_pages``); a reader against stale, hostile and tampered manifests,
invalidation of one slot among many whose names collide, and blobs that change under
it after it loaded them (``serving_violations``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pubsafe.refimpl import Engine, MemoryStore
from pubsafe.refimpl.errors import (
    AlreadyExists,
    IntegrityError,
    PubsafeError,
)
from pubsafe.refimpl.store import Store

from ..checkers import GuaranteeViolation, Violation, check_store
from ..checkers.listing import listing_fault
from ..checkers.manifest_last import (
    as_keys,
    check_current_at,
    mapping_keys,
)
from ..checkers.oracle import Oracle, blob_key, canonical, current_key, parse_manifest, payload_version
from ..checkers.reading import ListedContents, in_flight
from ..checkers.serving import refused
from ..guarantees import Guarantee
from .races import TTL, EngineFor, StepClock, get_or_none, target_call

# -- names that a careless store or reader conflates --------------------------------

#: Slots whose names differ only in case, in Unicode normalisation, or by a prefix.
COLLIDING_SLOTS = [("acme", "home"), ("ACME", "home"), ("Acme", "home"), ("caf\u00e9", "home"),
                   ("cafe\u0301", "home"), ("acme", "home-2"), ("acme", "hom"), ("acme-2", "home"),
                   ("%61cme", "home"), ("a+b", "home"), ("a b", "home")]  # a key sent unquoted: %XX and + decoded


def name_collisions(make_store: Callable[[], Store], engine_for: Callable[[StepClock], EngineFor],
                    reader_factory: Callable[..., Any], cleanup: Callable[[Store], None] = lambda s: None
                    ) -> list[Violation]:
    """Publish a different payload to each of ``COLLIDING_SLOTS``: each must keep its own
    current manifest and blobs, and a reader must serve each its own. Then, on a store
    that kept its names apart, ``listing_pages`` (raised as a GuaranteeViolation: its
    steps are its own)."""
    found = _collisions(make_store, engine_for, reader_factory, cleanup)
    if not found and (fault := listing_pages(make_store, cleanup)) is not None:
        raise GuaranteeViolation(fault)
    return found


def _collisions(make_store: Callable[[], Store], engine_for: Callable[[StepClock], EngineFor],
                reader_factory: Callable[..., Any], cleanup: Callable[[Store], None]) -> list[Violation]:
    clock = StepClock()
    store = make_store()
    try:
        engine = engine_for(clock)
        oracle = Oracle()
        for n, slot in enumerate(COLLIDING_SLOTS):
            artifacts = {"model": {"slot": list(slot), "n": n}}
            refused = target_call(Guarantee.G3, f"a publish to {slot}", lambda: _refusal(
                lambda: engine(store).publish(*slot, artifacts)))  # noqa: B023 - run at once, in this iteration
            if refused is not None:  # justified only if the store gave this slot another's current
                key = current_key(*slot)
                data = get_or_none(store, key)
                broken = [] if data is None else check_current_at(key, data, ListedContents(store), store.root_uri,
                                                                  oracle)
                if broken:
                    return broken
                raise GuaranteeViolation(Violation(Guarantee.G3, f"a publish to {slot} raised {refused!r}"))
            oracle.ack_payload(*slot, "model", artifacts["model"])
        found = check_store(store, oracle)
        reader = target_call(Guarantee.G5, "the reader factory",
                             lambda: reader_factory(store, manifest_ttl=TTL, clock=clock))
        for slot in COLLIDING_SLOTS:
            got = target_call(Guarantee.G5, f"reading the manifest of {slot}",
                              lambda: reader.manifest(*slot))  # noqa: B023 - run at once, in this iteration
            want = mapping_keys(get_or_none(store, current_key(*slot)), store.root_uri)
            if got is None or as_keys(got.current, store.root_uri) != want:
                found.append(Violation(Guarantee.G5, f"the reader serves {slot[0]}/{slot[1]} a manifest that is not "
                                                     f"its current one ({None if got is None else dict(got.current)})"))
        return found
    finally:
        cleanup(store)


#: Keys ``listing_pages`` writes: one more than S3's (and GCS's) page of 1,000 keys.
LISTED_KEYS = 1001
#: Names its keys are spread over: case and Unicode-form twins, other scripts, spaces.
_LISTED_NAMES = ["acme", "ACME", "caf\u00e9", "cafe\u0301", "\u65e5\u672c", "\U0001f600", "a b", "100%", "x" * 100]


def listing_pages(make_store: Callable[[], Store], cleanup: Callable[[Store], None] = lambda s: None
                  ) -> Violation | None:
    """A store holding ``LISTED_KEYS`` small objects must list every one of them.

    No publish needs a listing, and the state machine's stores stay far below a page,
    so a listing that returns only its first page (1,000 keys on S3 and GCS, a page
    whose continuation is ignored) would pass every other check; gc relies on it
    (``checkers.listing``). Keys spread over wide names, numbered so that ``10`` sorts
    before ``9``; listed whole, under their common prefix, and under a partial name.
    Written eight at a time (more where ``models.reading.in_flight`` allows). A put the
    store refuses as already there (a store that folds names) is left out: the name
    checks judge that.
    """
    keys = [f"listing/{_LISTED_NAMES[n % len(_LISTED_NAMES)]}/{n}.json" for n in range(LISTED_KEYS)]
    store = make_store()
    try:
        written = [key for key in _put_all(store, keys) if key]
        for prefix in ("", "listing/", "listing/caf"):
            listed = target_call(Guarantee.G1, f"list({prefix!r}) of a store holding {len(written)} keys",
                                 lambda: store.list(prefix))  # noqa: B023 - run at once, in this iteration
            if (fault := listing_fault(prefix, listed, written)) is not None:
                return fault
        return None
    finally:
        cleanup(store)


def _put_all(store: Store, keys: list[str]) -> list[str | None]:
    """Each key put with a small document (None where it was already there)."""
    def put_new(key: str) -> str | None:
        try:
            store.put(key, b'{"listed":true}')
        except AlreadyExists:
            return None
        return key

    def put(key: str) -> str | None:
        return target_call(Guarantee.G1, f"a put of {key!r}", lambda: put_new(key))

    # Eight at a time at least: each put waits on a disk's fsync or a round trip, not on the CPU.
    with ThreadPoolExecutor(max_workers=max(8, in_flight()), thread_name_prefix="listing") as pool:
        return list(pool.map(put, keys))


def _refusal(run: Callable[[], Any]) -> IntegrityError | None:
    """An engine's integrity refusal, returned to be judged; anything else as raised."""
    try:
        run()
    except IntegrityError as exc:
        return exc
    return None


# -- serving ----------------------------------------------------------------------


def serving_violations(reader_factory: Callable[..., Any]) -> list[Violation]:
    """The sharpest G5 failures, found on every run in milliseconds: a cache that never
    expires, a reader that follows a manifest anywhere or skips the hash check, an
    invalidation that reaches another slot, a blob trusted once and never again checked."""
    return target_call(Guarantee.G5, "the reader", lambda: _staleness(reader_factory) + _hostile(reader_factory)
                       + _invalidation_across_slots(reader_factory) + _changed_under_reader(reader_factory))


#: Slots whose names a careless cache key conflates: case (also ``ß``/``SS`` and the
#: ``ﬁ`` ligature under case folding), Unicode form, prefixes, and names that run
#: together when tenant and surface are joined without a separator.
INVALIDATED_SLOTS = [*COLLIDING_SLOTS, ("acme", "feed"), ("beta", "home"), ("\u00df", "home"), ("SS", "home"),
                     ("\ufb01", "home"), ("fi", "home"), ("ab", "cd"), ("abc", "d"), ("\U0001f600", "home"),
                     ("x" * 128, "home")]


def _invalidation_across_slots(reader_factory: Callable[..., Any]) -> list[Violation]:
    """Every slot read (so cached), every slot published again; then, slot after slot,
    another slot read and this one invalidated: its next read must be current.

    An ``invalidate()`` that reaches a slot other than the one named (one whose name
    differs only in case or Unicode form, the slot read last) leaves the named one
    stale: nothing single-slot scenarios can see.
    """
    clock = StepClock()
    store = MemoryStore()
    engine = Engine(store, clock=clock)
    slots = INVALIDATED_SLOTS
    for slot in slots:
        engine.publish(*slot, {"model": {"slot": list(slot), "round": 1}})
    reader = reader_factory(store, manifest_ttl=TTL, clock=clock)
    for slot in slots:
        reader.manifest(*slot)
    for slot in slots:
        engine.publish(*slot, {"model": {"slot": list(slot), "round": 2}})
    for i, slot in enumerate(slots):
        other = slots[(i + 1) % len(slots)]
        reader.manifest(*other)  # so the slot read last is not the one invalidated
        reader.invalidate(*slot)
        got = reader.manifest(*slot)
        want = parse_manifest(store.get(current_key(*slot)))
        if got is None or (got.tenant, got.surface, dict(got.current)) != (*slot, want.current):
            served = "no manifest" if got is None else f"a manifest of {got.tenant!r}/{got.surface!r} ({_round(got)})"
            return [Violation(Guarantee.G5, f"after invalidate({slot[0]!r}, {slot[1]!r}) the reader serves {served}, "
                                            f"not its current one (round 2); {other[0]!r}/{other[1]!r} was read just "
                                            "before, and every slot was cached: the invalidation reached another slot")]
    return []


def _round(manifest: Any) -> str:
    """Which publish of ``_invalidation_across_slots`` a served manifest is from."""
    for n in (1, 2):
        model = blob_key(manifest.tenant, manifest.surface, "model",
                         payload_version({"slot": [manifest.tenant, manifest.surface], "round": n}))
        if dict(manifest.current).get("model", "").endswith(model):
            return f"round {n}" + (", from before the publish" if n == 1 else "")
    return "neither round"


#: What happens to a blob after a reader loaded it (``_changed_under_reader``).
_CHANGES = ("altered", "another blob's bytes", "truncated", "emptied", "deleted")


def _changed_under_reader(reader_factory: Callable[..., Any]) -> list[Violation]:
    """A blob a reader loaded and verified changes under it (a bucket edited by hand,
    a restore from the wrong backup); a day later the reader must refuse it, or serve
    the bytes it verified, never the changed ones. A reader that checks a blob's hash
    on its first load only ("blobs are immutable") serves whatever is there now."""
    for change in _CHANGES:
        clock = StepClock()
        store = MemoryStore()
        Engine(store, clock=clock).publish("acme", "home", {"model": {"seed": 1}, "items": {"seed": 2}})
        reader = reader_factory(store, manifest_ttl=TTL, clock=clock)
        reader.artifact("acme", "home", "model")  # loaded and verified
        key = blob_key("acme", "home", "model", payload_version({"seed": 1}))
        store.delete(key)
        if change != "deleted":
            bad = {"altered": b'{"seed":666}', "another blob's bytes": canonical({"seed": 2}),
                   "truncated": canonical({"seed": 1})[:5], "emptied": b""}[change]
            store.put(key, bad)
        clock.advance(86400.0)  # past any artifact TTL
        try:
            served = reader.artifact("acme", "home", "model")
        except (PubsafeError, ValueError):
            continue
        if payload_version(served) != payload_version({"seed": 1}):
            return [refused(f"served {key} {change} after it first loaded it (a day later, the bytes do not hash to "
                            "their version)", served)]
    return []


def _hostile(reader_factory: Callable[..., Any]) -> list[Violation]:
    """Manifests pointing into another tenant or another surface of the same tenant, and
    a tampered blob, must be refused."""
    clock = StepClock()
    store = MemoryStore()
    setup = Engine(store, clock=clock)
    for tenant, surface, seed in (("acme", "home", 1), ("beta", "home", 2), ("acme", "feed", 3)):
        setup.publish(tenant, surface, {"model": {"seed": seed}})
    acme_blob = blob_key("acme", "home", "model", payload_version({"seed": 1}))
    for tenant, surface in (("beta", "home"), ("acme", "feed")):
        evil = json.loads(store.get(current_key(tenant, surface)))
        evil["current"] = {"model": acme_blob}
        store.replace(current_key(tenant, surface), json.dumps(evil).encode())
    reader = reader_factory(store, manifest_ttl=TTL, clock=clock)
    found = []
    for tenant, surface in (("beta", "home"), ("acme", "feed")):
        try:
            served = reader.artifact(tenant, surface, "model")
            found.append(refused(f"followed {tenant}/{surface}'s manifest into acme/home's blob", served))
        except (PubsafeError, ValueError):
            pass
    store.delete(acme_blob)
    store.put(acme_blob, b'{"seed":666}')
    try:
        found.append(refused("served tampered bytes that do not hash to their version",
                             reader.artifact("acme", "home", "model")))
    except (PubsafeError, ValueError):
        pass
    return found


def _staleness(reader_factory: Callable[..., Any]) -> list[Violation]:
    """After the TTL the reader serves current; after invalidate() at once, also when
    the reader first looked before anything was published."""
    clock = StepClock()
    store = MemoryStore()
    engine = Engine(store, clock=clock)
    reader = reader_factory(store, manifest_ttl=TTL, clock=clock)

    def serves_current() -> bool:
        got = reader.manifest("acme", "home")
        return got is not None and dict(got.current) == parse_manifest(store.get(current_key("acme", "home"))).current

    found = []
    if reader.manifest("acme", "home") is not None:
        found.append(Violation(Guarantee.G5, "the reader serves a manifest before anything was published"))
    engine.publish("acme", "home", {"model": {"v": 1}})
    reader.invalidate("acme", "home")
    if not serves_current():
        found.append(Violation(Guarantee.G5, "after invalidate() the reader still serves no manifest (it cached "
                                             "the absence from before the first publish)"))
    engine.publish("acme", "home", {"model": {"v": 2}})
    clock.advance(TTL)
    if not serves_current():
        found.append(Violation(Guarantee.G5, f"{TTL}s after a publish the reader still serves the old manifest"))
    engine.publish("acme", "home", {"model": {"v": 3}})
    reader.invalidate("acme", "home")
    if not serves_current():
        found.append(Violation(Guarantee.G5, "after invalidate() the reader still serves the old manifest"))
    return found
