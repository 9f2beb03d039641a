"""The serving reader: TTL, invalidate, hash refusal, URI confinement, last good manifest."""

from __future__ import annotations

import pytest

from pubsafe.refimpl import Engine, MemoryStore, ServingReader
from pubsafe.refimpl.documents import dump_document
from pubsafe.refimpl.errors import IntegrityError, InvalidKey
from pubsafe.refimpl.layout import blob_key, current_key

T, S = "acme", "home"


@pytest.fixture
def setup(clock):
    store = MemoryStore(clock=clock)
    engine = Engine(store, clock=clock)
    engine.publish(T, S, {"model": {"w": 1}})
    reader = ServingReader(store, manifest_ttl=30, artifact_ttl=300, clock=clock)
    return store, engine, reader


def test_reader_lags_by_at_most_its_ttl(setup, clock):
    store, engine, reader = setup
    assert reader.artifact(T, S, "model") == {"w": 1}
    engine.publish(T, S, {"model": {"w": 2}})
    clock.advance(29.9)
    assert reader.artifact(T, S, "model") == {"w": 1}  # stale, within the TTL
    clock.advance(0.1)
    assert reader.artifact(T, S, "model") == {"w": 2}


def test_invalidate_makes_the_reader_current(setup):
    store, engine, reader = setup
    reader.manifest(T, S)
    engine.publish(T, S, {"model": {"w": 2}})
    assert reader.artifact(T, S, "model") == {"w": 1}
    reader.invalidate(T, S)
    assert reader.artifact(T, S, "model") == {"w": 2}


def test_reader_refuses_bytes_that_do_not_hash_to_the_version(setup):
    store, engine, reader = setup
    key = blob_key(T, S, "model", engine.current(T, S).current["model"].split("/")[-1][:-5])
    store.delete(key)
    store.put(key, b'{"w":666}')
    with pytest.raises(IntegrityError, match="does not hash"):
        reader.artifact(T, S, "model")
    assert reader._artifacts == {}  # nothing bad was cached


@pytest.mark.parametrize(
    "uri",
    [
        "other/home/model/" + "a" * 64 + ".json",  # another tenant
        "acme/away/model/" + "a" * 64 + ".json",  # another surface
        "acme/home/model/../../../etc/" + "a" * 64 + ".json",
        "/etc/passwd",
        "file:///etc/" + "a" * 64 + ".json",
        "acme/home/model/not-a-version.json",
    ],
)
def test_reader_refuses_uris_outside_the_root_or_its_tenant_surface(setup, clock, uri):
    store, engine, reader = setup
    manifest = engine.current(T, S).replace(current={"model": uri})
    store.replace(current_key(T, S), dump_document(manifest))
    with pytest.raises(InvalidKey):
        reader.artifact(T, S, "model")


def test_reader_accepts_an_absolute_uri_inside_the_root(setup):
    store, engine, reader = setup
    manifest = engine.current(T, S)
    absolute = {"model": f"{store.root_uri}/{manifest.current['model']}"}
    store.replace(current_key(T, S), dump_document(manifest.replace(current=absolute)))
    assert reader.artifact(T, S, "model") == {"w": 1}


def test_corrupt_current_keeps_the_last_good_manifest_and_reports(setup, clock):
    store, engine, reader = setup
    good = reader.manifest(T, S)
    store.replace(current_key(T, S), b'{"v":1,"tenant":')
    clock.advance(31)
    assert reader.manifest(T, S) == good
    assert reader.artifact(T, S, "model") == {"w": 1}
    assert len(reader.errors) == 1 and "not a valid Manifest" in reader.errors[0].message
    store.delete(current_key(T, S))
    engine.publish(T, S, {"model": {"w": 3}})
    clock.advance(31)
    assert reader.artifact(T, S, "model") == {"w": 3}


def test_unknown_type_and_empty_surface(setup):
    store, engine, reader = setup
    with pytest.raises(KeyError):
        reader.artifact(T, S, "nope")
    assert reader.manifest(T, "empty") is None
