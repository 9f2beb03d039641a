"""The publish engine: phase order, layout, rollback, history, orphans, audit, GC."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pubsafe.faults import Crash, FaultyStore
from pubsafe.faults.scheduler import Interleaving, explore_reduced
from pubsafe.models.exploration import RACES, StepClock
from pubsafe.refimpl import Engine, Manifest, MemoryStore
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.documents import dump_document
from pubsafe.refimpl.errors import (
    CollectionInProgress,
    CollectionRefused,
    IntegrityError,
    InvalidInput,
    InvalidName,
    InvalidPayload,
    RollbackRefused,
    SweepInProgress,
)
from pubsafe.refimpl.gc import LEASE_SECONDS
from pubsafe.refimpl.layout import blob_key, current_key, record_key
from support import DATA, snapshot

SCHEMA = json.loads((DATA / "manifest.v1.schema.json").read_text())
T, S = "acme", "home"


def test_publish_runs_the_four_phases_in_order(clock):
    recorder = FaultyStore(MemoryStore(clock=clock))
    Engine(recorder, clock=clock).publish(T, S, {"model": {"w": 1}, "items": [1]})
    phases = [(e.phase, e.op) for e in recorder.events]
    assert phases == [
        ("read-current", "get"),
        ("blob-write", "put"),  # items
        ("validate-read", "get"),
        ("blob-write", "put"),  # model
        ("validate-read", "get"),
        ("record-write", "put"),
        ("record-write", "put"),
        ("confirm-read", "stat"),
        ("confirm-read", "stat"),
        ("history-write", "put"),
        ("swap", "replace"),
    ]
    assert recorder.events[-1].key == current_key(T, S)


def test_store_holds_exactly_the_upstream_paths(store, clock):
    receipt = Engine(store, clock=clock).publish(T, S, {"model": {"w": 1}})
    v = receipt.artifacts["model"]
    assert store.list("") == sorted([
        f"acme/home/model/{v}.json",
        f"records/acme/home/model/{v}.json",
        "current/acme/home/manifest.json",
        f"history/acme/home/{receipt.manifest_version}.json",
    ])
    assert store.get(f"acme/home/model/{v}.json") == b'{"w":1}'
    assert v == canonicalize({"w": 1})[1]


def test_manifest_we_write_validates_under_the_upstream_schema(store, clock):
    Engine(store, clock=clock).publish(T, S, {"model": {"w": 1}})
    document = json.loads(store.get(current_key(T, S)))
    jsonschema.validate(document, SCHEMA)
    assert document["updated_at"].endswith("Z")
    assert set(document) == {"v", "tenant", "surface", "current", "updated_at"}


def test_an_upstream_manifest_loads():
    upstream = {
        "v": 1,
        "tenant": "acme",
        "surface": "home",
        "current": {"popularity": "s3://bucket/acme/home/popularity/abc.json"},
        "updated_at": "2025-06-01T12:00:00Z",
    }
    jsonschema.validate(upstream, SCHEMA)
    manifest = Manifest.from_json(upstream)
    assert manifest.current["popularity"].startswith("s3://")
    with pytest.raises(ValueError):
        Manifest.from_json({**upstream, "extra": 1})


def test_manifest_version_ignores_updated_at(clock):
    a = Manifest(tenant=T, surface=S, current={"m": "x"}, updated_at="2025-01-01T00:00:00Z")
    b = a.replace(updated_at=a.updated_at.replace(year=2030))
    c = a.replace(current={"m": "y"})
    assert a.version == b.version != c.version


def test_a_copy_with_a_new_mapping_does_not_keep_the_cached_version():
    a = Manifest(tenant=T, surface=S, current={"m": "x"}, updated_at="2025-01-01T00:00:00Z")
    first, written = a.version, a.document
    changed = a.replace(current={"m": "y"})
    assert changed.version != first and changed.document != written and b'"y"' in changed.document
    assert a.replace().version == first


def test_current_is_read_afresh_when_its_bytes_change(store, clock):
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"m": 1})
    other = Manifest(tenant=T, surface=S, current={"m": "elsewhere.json"}, updated_at="2025-01-01T00:00:00Z")
    store.replace(current_key(T, S), dump_document(other))
    assert engine.current(T, S).version == other.version
    store.replace(current_key(T, S), b"{not json")
    with pytest.raises(IntegrityError):
        engine.current(T, S)


def test_publish_merges_types_into_the_current_mapping(store, clock):
    engine = Engine(store, clock=clock)
    first = engine.publish(T, S, {"model": 1, "items": 2})
    second = engine.publish(T, S, {"model": 3})
    current = engine.current(T, S)
    assert current.current == {
        "model": blob_key(T, S, "model", second.artifacts["model"]),
        "items": blob_key(T, S, "items", first.artifacts["items"]),
    }
    assert second.previous_manifest_version == first.manifest_version


def test_republishing_the_same_payloads_writes_nothing(store, clock):
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": {"b": 1, "a": 2}})
    before = snapshot(store)
    again = engine.publish(T, S, {"model": {"a": 2.0, "b": 1}})
    assert again.written == [] and not again.swapped
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda e: e.publish("", S, {"m": 1}), InvalidName),
        (lambda e: e.publish(T, "a/b", {"m": 1}), InvalidName),
        (lambda e: e.publish(T, S, {"../m": 1}), InvalidName),
        (lambda e: e.publish("records", S, {"m": 1}), InvalidName),
        (lambda e: e.publish(T, S, {}), InvalidInput),
        (lambda e: e.publish(T, S, {"ok": 1, "bad": float("nan")}), InvalidPayload),
        (lambda e: e.rollback(T, S, to="f" * 64, steps=1), InvalidInput),
        (lambda e: e.rollback(T, S, to="not-a-version"), InvalidInput),
        (lambda e: e.rollback(T, S, steps=0), InvalidInput),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(store, clock, call, error):
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"m": 0})
    before = snapshot(store)
    with pytest.raises(error):
        call(engine)
    assert snapshot(store) == before


# -- crashes and retries -------------------------------------------------------

PUBLISH_OPS = 11  # two artifacts, as in test_publish_runs_the_four_phases_in_order


@pytest.mark.parametrize("kind", ["crash", "lost-ack"])
@pytest.mark.parametrize("index", range(1, PUBLISH_OPS))
def test_crash_anywhere_then_retry_converges(store, clock, kind, index):
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": 0, "items": 0})
    before = store.get(current_key(T, S))
    faulty = FaultyStore(store, f"{kind}@{index}")
    with pytest.raises(Crash):
        Engine(faulty, clock=clock).publish(T, S, {"model": 1, "items": 1})
    swapped = kind == "lost-ack" and index == PUBLISH_OPS - 1
    assert (store.get(current_key(T, S)) == before) is not swapped  # G2: manifest last
    assert not [f for f in Engine(store).audit() if f.guarantee in ("G1", "G2")]
    retry = Engine(store, clock=clock).publish(T, S, {"model": 1, "items": 1})
    assert retry.swapped is not swapped  # G3: a completed swap is recognised
    reference = Engine(MemoryStore(), clock=clock)
    reference.publish(T, S, {"model": 0, "items": 0})
    assert retry.manifest_version == reference.publish(T, S, {"model": 1, "items": 1}).manifest_version
    assert len(store.list("records/")) == 4  # one record per version, never duplicated


def test_torn_blob_from_a_crashed_run_is_repaired_on_retry(clock):
    store = MemoryStore(clock=clock)
    faulty = FaultyStore(store, "torn@blob-write")
    with pytest.raises(Crash):
        Engine(faulty, clock=clock).publish(T, S, {"model": {"w": list(range(50))}})
    key = faulty.events[-1].key
    assert store.get(key) != canonicalize({"w": list(range(50))})[0]  # the torn prefix
    receipt = Engine(store, clock=clock).publish(T, S, {"model": {"w": list(range(50))}})
    assert key in receipt.written
    assert Engine(store).audit() == []


def test_a_recorded_blob_is_never_overwritten(store, clock):
    engine = Engine(store, clock=clock)
    receipt = engine.publish(T, S, {"model": {"w": 1}})
    key = blob_key(T, S, "model", receipt.artifacts["model"])
    store.delete(key)
    store.put(key, b'{"w":2}')  # an operator's mistake
    with pytest.raises(IntegrityError, match="will not overwrite recorded data"):
        engine.publish(T, S, {"model": {"w": 1}})
    assert store.get(key) == b'{"w":2}'


# -- rollback and history ------------------------------------------------------


def test_rollback_writes_only_the_current_pointer(store, clock):
    engine = Engine(store, clock=clock)
    first = engine.publish(T, S, {"model": 1})
    clock.advance(10)
    engine.publish(T, S, {"model": 2})
    before = snapshot(store)
    receipt = engine.rollback(T, S, to=first.manifest_version)
    after = snapshot(store)
    assert receipt.swapped
    assert {k for k in after if after[k] != before.get(k)} == {current_key(T, S)}
    assert set(after) == set(before)
    assert engine.current(T, S).version == first.manifest_version


def test_rollback_by_steps_follows_the_publish_chain(store, clock):
    engine = Engine(store, clock=clock)
    versions = []
    for i in range(4):
        clock.advance(1)
        versions.append(engine.publish(T, S, {"model": i}).manifest_version)
    assert engine.rollback(T, S, steps=2).to_version == versions[1]
    assert engine.rollback(T, S, steps=1).to_version == versions[0]
    with pytest.raises(RollbackRefused, match="only 0 earlier"):
        engine.rollback(T, S, steps=1)
    assert [e.manifest.version for e in engine.history(T, S)] == versions


def test_rollback_to_an_unknown_version_is_refused_and_nothing_changes(store, clock):
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": 1})
    before = snapshot(store)
    with pytest.raises(RollbackRefused, match="not in the history"):
        engine.rollback(T, S, to="0" * 64)
    assert snapshot(store) == before


def test_rollback_to_a_target_whose_artifact_is_broken_is_refused(store, clock):
    engine = Engine(store, clock=clock)
    first = engine.publish(T, S, {"model": {"w": 1}})
    engine.publish(T, S, {"model": {"w": 2}})
    key = blob_key(T, S, "model", first.artifacts["model"])
    store.delete(key)
    store.put(key, b'{"w":666}')
    before = snapshot(store)
    with pytest.raises(RollbackRefused, match="does not hash"):
        engine.rollback(T, S, to=first.manifest_version)
    assert snapshot(store) == before


def test_rollback_cost_does_not_grow_with_history(clock):
    def ops_for_rollback(history_length: int) -> int:
        store = MemoryStore(clock=clock)
        engine = Engine(store, clock=clock)
        first = engine.publish(T, S, {"model": 0})
        for i in range(1, history_length):
            engine.publish(T, S, {"model": i})
        recorder = FaultyStore(store)
        Engine(recorder, clock=clock).rollback(T, S, to=first.manifest_version)
        return len(recorder.events)

    assert ops_for_rollback(2) == ops_for_rollback(60) == 5


def test_rollback_without_current_is_refused(store):
    with pytest.raises(RollbackRefused, match="no current manifest"):
        Engine(store).rollback(T, S, steps=1)
    assert store.list("") == []


# -- orphans, audit, gc --------------------------------------------------------


def crash_leaving_orphan(store, clock, payload) -> str:
    faulty = FaultyStore(store, "crash@record-write")
    with pytest.raises(Crash):
        Engine(faulty, clock=clock).publish(T, S, {"model": payload})
    return blob_key(T, S, "model", canonicalize(payload)[1])


def test_orphans_lists_unrecorded_unreferenced_blobs(store, clock):
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": 1})
    orphan = crash_leaving_orphan(store, clock, 2)
    assert [o.key for o in engine.orphans()] == [orphan]


def test_gc_deletes_old_orphans_and_keeps_young_ones_and_everything_recorded(clock):
    store = MemoryStore(clock=clock)
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": 1})
    old = crash_leaving_orphan(store, clock, 2)
    clock.advance(3600)
    young = crash_leaving_orphan(store, clock, 3)
    clock.advance(60)
    report = engine.gc(grace_seconds=600)
    assert report.deleted == [old] and report.kept_young == [young]
    assert not store.exists(old) and store.exists(young)
    assert store.list("records/") and not [k for k in store.list("records/") if b"gc_tombstone" in store.get(k)]
    assert [(f.guarantee, f.severity, f.key) for f in engine.audit()] == [("R4", "notice", young)]


def test_a_history_entry_spoiled_after_a_sweep_read_it_stops_the_next_sweep(clock):
    """Sweeps remember parsed history entries by their bytes: spoiled bytes are new bytes,
    read and refused again (the slot is blocked, its orphan kept), never the old parse."""
    store = MemoryStore(clock=clock)
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": 1})
    engine.publish(T, S, {"model": 2})
    orphan = crash_leaving_orphan(store, clock, 3)
    clock.advance(3600)
    assert engine.gc(grace_seconds=600, dry_run=True).planned.keys() == {orphan}  # parsed, and remembered
    entry = sorted(store.list(f"history/{T}/{S}/"))[0]
    store.replace(entry, store.get(entry)[:-7])
    report = engine.gc(grace_seconds=600)
    assert f"{T}/{S}" in report.blocked_slots and entry in report.blocked_slots[f"{T}/{S}"]
    assert report.deleted == [] and store.exists(orphan)


def test_each_sweep_takes_its_id_from_sweep_ids_into_its_lease_and_tombstones(clock):
    class Recording(MemoryStore):
        def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.written: list[bytes] = []

        def put(self, key, data):  # type: ignore[no-untyped-def]
            self.written.append(data)
            return super().put(key, data)

        def replace(self, key, data, **kwargs):  # type: ignore[no-untyped-def]
            self.written.append(data)
            return super().replace(key, data, **kwargs)

    store = Recording(clock=clock)
    ids = iter(["sweep-1", "sweep-2", "sweep-3"])
    engine = Engine(store, clock=clock, sweep_ids=lambda: next(ids))
    engine.publish(T, S, {"model": 1})
    old = crash_leaving_orphan(store, clock, 2)
    clock.advance(3600)
    assert engine.gc(grace_seconds=600).deleted == [old]
    marked = [data for data in store.written if b"sweep-" in data]
    assert marked and all(b'"sweep-1"' in data for data in marked)  # the lease and the tombstone
    assert b"gc_tombstone" in b"".join(marked) and b"gc_lease" in b"".join(marked)
    assert engine.gc(grace_seconds=600).deleted == []  # nothing to delete: nothing written, no id taken
    crash_leaving_orphan(store, clock, 3)
    clock.advance(3600)
    engine.gc(grace_seconds=600)
    assert any(b'"sweep-3"' in data for data in store.written)  # the next sweep, an id of its own


def test_a_sweep_that_finds_its_own_id_on_the_lease_deletes_nothing(clock):
    """Sweep ids that repeat (a caller's constant sweep_ids) would let a stalled sweep and
    the one taking its lease over each think the lease theirs: refused, before any deletion."""
    store = MemoryStore(clock=clock)
    Engine(store, clock=clock).publish(T, S, {"model": 1})
    orphan = crash_leaving_orphan(store, clock, 2)
    clock.advance(10)
    with pytest.raises(Crash):
        Engine(FaultyStore(store, "crash@gc-delete"), clock=clock, sweep_ids=lambda: "nightly").gc(grace_seconds=0)
    clock.advance(LEASE_SECONDS)
    before = snapshot(store)
    with pytest.raises(CollectionRefused, match="own id 'nightly'"):
        Engine(store, clock=clock, sweep_ids=lambda: "nightly").gc(grace_seconds=0)
    assert snapshot(store) == before
    Engine(store, clock=clock).gc(grace_seconds=0)  # a sweep with an id of its own takes over and finishes
    assert orphan not in store.list("") and orphan in before


def test_audit_finds_a_tampered_blob(store, clock):
    engine = Engine(store, clock=clock)
    receipt = engine.publish(T, S, {"model": {"w": 1}})
    key = blob_key(T, S, "model", receipt.artifacts["model"])
    store.delete(key)
    store.put(key, b'{"w":9}')
    findings = engine.audit()
    assert {f.guarantee for f in findings} == {"G1"}
    assert any(f.key == current_key(T, S) for f in findings)
    assert any(f.key == key for f in findings)


def test_audit_finds_a_truncated_manifest(store, clock):
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": 1})
    raw = store.get(current_key(T, S))
    store.replace(current_key(T, S), raw[: len(raw) // 2])
    findings = engine.audit()
    assert [(f.guarantee, f.key) for f in findings] == [("G2", current_key(T, S))]
    assert "does not parse" in findings[0].message


def test_audit_finds_a_manifest_naming_a_missing_or_foreign_blob(store, clock):
    engine = Engine(store, clock=clock)
    receipt = engine.publish(T, S, {"model": 1})
    store.delete(blob_key(T, S, "model", receipt.artifacts["model"]))
    manifest = engine.current(T, S).replace(current={"model": "other/home/model/" + "a" * 64 + ".json"})
    store.replace(current_key("x", "y"), dump_document(manifest))
    findings = engine.audit()
    messages = " ".join(f.message for f in findings)
    assert "does not exist" in messages and "points outside" in messages or "lives at" in messages
    assert {"G1", "G2"} <= {f.guarantee for f in findings}


def test_publish_backs_off_from_a_version_a_sweep_has_claimed(clock):
    store = MemoryStore(clock=clock)
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": 1})
    orphan = crash_leaving_orphan(store, clock, 2)
    claimed = FaultyStore(store, "crash@gc-delete")  # the sweep dies holding its tombstone
    clock.advance(10)
    with pytest.raises(Crash):
        Engine(claimed, clock=clock).gc(grace_seconds=0)
    before = store.get(current_key(T, S))
    with pytest.raises(CollectionInProgress):
        engine.publish(T, S, {"model": 2})
    assert store.get(current_key(T, S)) == before
    assert any(f.guarantee == "G3" for f in engine.audit())
    with pytest.raises(SweepInProgress, match="holds the lease"):
        engine.gc(grace_seconds=0)  # the crashed sweep's lease has not expired yet
    clock.advance(LEASE_SECONDS)
    report = engine.gc(grace_seconds=0)  # the next sweep takes the lease over and finishes the claim
    assert report.finished_tombstones == [record_key(T, S, "model", orphan.split("/")[-1][:-5])]
    assert engine.publish(T, S, {"model": 2}).swapped
    assert engine.audit() == []


def test_gc_never_deletes_a_blob_a_concurrent_publish_will_reference():
    """R5 for our GC: every class of interleavings of a sweep and a publish adopting an orphan."""
    scenario = RACES["publish-gc"]
    races = {}

    def run(prefix: str, policy):
        clock = StepClock()
        race = scenario.prepare(MemoryStore(clock=clock), lambda s: Engine(s, clock=clock), clock)
        result = Interleaving(race.store, race.actors).run(prefix, policy)
        races[result.schedule] = race
        return result

    runs = 0
    outcomes = set()
    for result in explore_reduced(run):
        runs += 1
        race = races.pop(result.schedule)
        error = result.outcomes["A"].error
        assert error is None or isinstance(error, CollectionInProgress), result.schedule
        assert result.outcomes["B"].error is None
        assert race.judge(result, guarded=False) == ([], None), result.schedule
        assert [f for f in Engine(race.store).audit() if f.guarantee in ("G1", "G2")] == []
        outcomes.add("published" if error is None else "backed off")
    assert runs > 30, runs
    assert outcomes == {"published", "backed off"}
