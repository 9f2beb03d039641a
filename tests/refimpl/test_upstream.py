"""Stores written by the real upstream code (recsys-pipelines, Go): tests/data/upstream/,
copied from shared/upstream/fixtures. Each fixture's fixture.json says what a correct
checker concludes; these tests hold pubsafe to it, in place and copied under a root
whose path has a space and a non-ASCII character."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from pubsafe.models.checkers.upstream import go_blob_version, go_payload_version
from pubsafe.refimpl import Engine, ServingReader, open_store
from pubsafe.refimpl.dialects import RECSYS_PIPELINES, upstream_version
from pubsafe.refimpl.errors import CollectionRefused
from support import DATA, tree

FIXTURES = DATA / "upstream"
STORES = ["healthy-single-root", "healthy-split-roots", "root-with-space", "crash-debris", "republished-same-version",
          "untrimmed-names"]


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name / "fixture.json").read_text())


@pytest.fixture(params=["in place", "copied"])
def where(request, tmp_path):
    """The fixtures directory, or a copy under a root with a space and a non-ASCII character."""
    if request.param == "in place":
        return FIXTURES
    copy = tmp_path / "dé mo %41" / "fixtures"
    shutil.copytree(FIXTURES, copy)
    return copy


def open_fixture(where: Path, name: str):
    meta = fixture(name)
    base = where / name / "store"
    root_map = [f"{meta['original_root']}={base}"]
    if name == "healthy-split-roots":
        return open_store(base / "registry", create=False, blob_store=base / "objectstore", root_map=root_map)
    return open_store(base, create=False, root_map=root_map)


# -- the version rule -------------------------------------------------------------------


def _blob_files():
    for path in sorted(FIXTURES.rglob("*.json*")):
        parts = path.relative_to(FIXTURES).parts
        stem = path.name.split(".json")[0].lstrip(".")
        if len(stem) == 64 and "records" not in parts and "current" not in parts and path.stat().st_size:
            yield path


def test_the_version_rule_reproduces_every_fixture_blob_both_ways():
    blobs = list(_blob_files())
    assert len(blobs) == 51  # FORMAT.md: all 51 typed blob files, crash temps included
    for path in blobs:
        version = path.name.split(".json")[0].lstrip(".")
        data = path.read_bytes()
        assert upstream_version(data) == version == go_blob_version(data), path


def test_the_version_rule_reproduces_every_vector():
    vectors = json.loads((FIXTURES / "generic-vectors" / "version-vectors.json").read_text())
    assert len(vectors["generic"]) == 44 and len(vectors["typed"]) == 5
    for vector in vectors["generic"] + vectors["typed"]:
        blob = base64.b64decode(vector["blob_base64"])
        assert upstream_version(blob) == vector["upstream_version"] == go_blob_version(blob), vector["name"]
    for vector in vectors["generic"]:
        text = base64.b64decode(vector["input_utf8_base64"]).decode("utf-8", "surrogatepass")
        assert go_payload_version(text) == vector["upstream_version"], vector["name"]


def test_a_changed_blob_no_longer_matches_its_version():
    path = next(p for p in _blob_files() if "popularity" in str(p))
    data = path.read_bytes()
    changed = data.replace(b'"item_id": "', b'"item_id": "x', 1)
    assert changed != data and upstream_version(changed) != upstream_version(data)
    assert upstream_version(data.replace(b'"built_at": "2', b'"built_at": "1')) == upstream_version(data)


# -- audit, orphans, serving, gc on each fixture -------------------------------------------


@pytest.mark.parametrize("name", STORES)
def test_audit_concludes_what_the_fixture_says(where, name):
    store = open_fixture(where, name)
    engine = Engine(store)
    expected = fixture(name)["expected"]
    assert engine.dialect is RECSYS_PIPELINES
    findings = engine.audit()
    assert [f for f in findings if f.severity == "error"] == []
    assert sorted(o.key for o in engine.orphans()) == sorted(expected["orphans"])
    assert sorted(d.key for d in store.debris() if d.kind == "temp") == sorted(expected["temp_files"])
    notices = " ".join(f.message for f in findings)
    assert "keeps no manifest history" in notices
    if expected["orphans"]:
        assert f"{len(expected['orphans'])} orphan blob(s)" in notices
    if expected["temp_files"]:
        assert f"{len(expected['temp_files'])} temp file(s)" in notices
    assert ("same version, different bytes" in notices) == bool(expected.get("blob_rewritten"))


@pytest.mark.parametrize("name", STORES)
def test_the_reader_serves_every_current_artifact(where, name):
    store = open_fixture(where, name)
    doc = json.loads(store.get("current/acme/home/manifest.json"))
    tenant, surface = doc["tenant"], doc["surface"]
    reader = ServingReader(store)
    assert dict(reader.manifest(tenant, surface).current) == doc["current"]
    for type_, uri in doc["current"].items():
        served = reader.artifact(tenant, surface, type_)
        assert served["build"]["version"] == uri.rsplit("/", 1)[-1].removesuffix(".json")
        assert served["artifact_type"] == type_
    assert reader.errors == []


@pytest.mark.parametrize("name", STORES)
def test_gc_refuses_and_deletes_nothing(where, name):
    store = open_fixture(where, name)
    before = tree(where / name)
    with pytest.raises(CollectionRefused, match="does not honour gc's claims"):
        Engine(store).gc(0)
    assert tree(where / name) == before


def test_gc_and_orphans_refuse_an_object_store_root_seen_alone(where):
    alone = open_store(where / "healthy-split-roots" / "store" / "objectstore", create=False)
    before = tree(where / "healthy-split-roots")
    for call in (lambda: Engine(alone).orphans(), lambda: Engine(alone).gc(0)):
        with pytest.raises(CollectionRefused, match="holds blobs but no registry"):
            call()
    assert tree(where / "healthy-split-roots") == before


def test_without_the_root_map_a_copied_store_says_how_to_map_it(tmp_path):
    shutil.copytree(FIXTURES / "healthy-single-root", tmp_path / "copy")
    findings = Engine(open_store(tmp_path / "copy" / "store", create=False)).audit()
    assert findings and all("--root-map" in f.message for f in findings if f.severity == "error")


def test_file_uris_are_compared_as_raw_paths_never_decoded(tmp_path):
    """A root named a%41 stays a%41: a URI under "aA" is not under it."""
    shutil.copytree(FIXTURES / "healthy-single-root" / "store", tmp_path / "a%41")
    (tmp_path / "aA").mkdir()
    store = open_store(tmp_path / "a%41", create=False,
                       root_map=[f"file:///srv/recsys/healthy-single-root={tmp_path / 'a%41'}"])
    assert [f for f in Engine(store).audit() if f.severity == "error"] == []
    wrong = open_store(tmp_path / "a%41", create=False,
                       root_map=[f"file:///srv/recsys/healthy-single-root={tmp_path / 'aA'}"])
    assert any("outside the store root" in f.message for f in Engine(wrong).audit())


def test_untrimmed_names_are_served_when_asked_exactly(where):
    store = open_fixture(where, "untrimmed-names")
    reader = ServingReader(store)
    assert reader.artifact(" acme ", " home", "popularity")["items"]


def test_a_publish_on_an_upstream_store_carries_its_entries_validated_and_can_roll_back(tmp_path):
    shutil.copytree(FIXTURES / "healthy-single-root", tmp_path / "copy")
    meta = fixture("healthy-single-root")
    store = open_store(tmp_path / "copy" / "store", create=False,
                       root_map=[f"{meta['original_root']}={tmp_path / 'copy' / 'store'}"])
    engine = Engine(store)
    upstream_entries = dict(engine.current("acme", "home").current)
    first = engine.publish("acme", "home", {"popularity": {"items": [1, 2]}})
    carried = {t: u for t, u in engine.current("acme", "home").current.items() if t != "popularity"}
    assert carried == {t: u for t, u in upstream_entries.items() if t != "popularity"}
    engine.publish("acme", "home", {"popularity": {"items": [3]}})
    assert engine.rollback("acme", "home", to=first.manifest_version).swapped
    assert [f for f in engine.audit() if f.severity == "error"] == []


def test_a_publish_refuses_to_carry_an_upstream_entry_whose_blob_was_altered(tmp_path):
    shutil.copytree(FIXTURES / "healthy-single-root", tmp_path / "copy")
    meta = fixture("healthy-single-root")
    root = tmp_path / "copy" / "store"
    cooc = next((root / "acme" / "home" / "cooc").glob("*.json"))
    cooc.write_bytes(cooc.read_bytes().replace(b'"item_id": "', b'"item_id": "x', 1))
    store = open_store(root, create=False, root_map=[f"{meta['original_root']}={root}"])
    before = tree(root)
    with pytest.raises(Exception, match="names an unusable 'cooc' artifact.*does not hash"):
        Engine(store).publish("acme", "home", {"popularity": {"items": [1]}})
    assert tree(root) == before


def test_a_pubsafe_publish_never_rewrites_an_upstream_record(tmp_path):
    """A record another writer left at the key is "recorded", not a torn record to repair."""
    from pubsafe.refimpl import LocalStore
    from pubsafe.refimpl.canonical import canonicalize

    root = tmp_path / "pub"
    version = canonicalize({"x": 1})[1]
    upstream_record = json.dumps({"Key": {"Tenant": "acme", "Surface": "home", "Segment": "default", "Type": "model"},
                                  "Window": {"Start": "", "End": ""}, "Version": version, "URI": f"file:///x/{version}",
                                  "BuiltAt": "2026-01-01T00:00:00Z"}, indent=2).encode()
    record = root / "records" / "acme" / "home" / "model" / f"{version}.json"
    record.parent.mkdir(parents=True)
    record.write_bytes(upstream_record)
    assert Engine(LocalStore(root)).publish("acme", "home", {"model": {"x": 1}}).swapped
    assert record.read_bytes() == upstream_record
