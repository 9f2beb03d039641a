"""The stored documents against an independent rendition of their schema in pydantic.

The engine's documents are hand-checked dataclasses (a publish process must not pay
for pydantic's import). The pydantic models below are the schema as it was written
before that change: what pubsafe writes must be byte-identical to what pydantic
writes, and no document pydantic refuses may load (the engine is as strict or
stricter: it also refuses a string where a number belongs, and a number as a time).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timezone
from typing import Annotated, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from pubsafe.refimpl import documents
from pubsafe.refimpl._serialise import dump_history_entry, dump_manifest, dump_record
from pubsafe.refimpl.errors import IntegrityError
from support import DATA

_Utc = Annotated[datetime, AfterValidator(lambda v: v if v.tzinfo is UTC else v.astimezone(UTC))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Manifest(_Strict):
    v: Literal[1] = 1
    tenant: str
    surface: str
    current: Annotated[dict[str, str], AfterValidator(lambda m: dict(sorted(m.items())))]
    updated_at: _Utc


class RegistryRecord(_Strict):
    v: Literal[1] = 1
    tenant: str
    surface: str
    type: str
    version: str
    uri: str
    size: int
    recorded_at: _Utc


class HistoryEntry(_Strict):
    manifest: Manifest
    previous: str | None = None


class GCTombstone(_Strict):
    gc_tombstone: Literal[True] = True
    sweep_id: str
    claimed_at: _Utc
    generation: int = 0


class GCLease(_Strict):
    gc_lease: Literal[True] = True
    owner: str
    generation: int
    lease_seconds: float
    renewed_at: _Utc
    released: bool = False


RENDITIONS = {documents.Manifest: Manifest, documents.RegistryRecord: RegistryRecord,
              documents.HistoryEntry: HistoryEntry, documents.GCTombstone: GCTombstone, documents.GCLease: GCLease}

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
zones = st.sampled_from([UTC, None]) | st.integers(-14 * 60, 14 * 60).map(
    lambda minutes: timezone(__import__("datetime").timedelta(minutes=minutes)))
times = st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(9998, 12, 30), timezones=zones).map(
    lambda t: t if t.tzinfo else t.replace(tzinfo=UTC))
manifests = st.builds(dict, tenant=text, surface=text, current=st.dictionaries(text, text, max_size=4),
                      updated_at=times)
fields = {
    documents.Manifest: manifests,
    documents.RegistryRecord: st.builds(dict, tenant=text, surface=text, type=text, version=text, uri=text,
                                        size=st.integers(0, 2**63), recorded_at=times),
    documents.HistoryEntry: st.builds(dict, manifest=manifests, previous=st.none() | text),
    documents.GCTombstone: st.builds(dict, sweep_id=text, claimed_at=times, generation=st.integers(0, 2**63)),
    documents.GCLease: st.builds(dict, owner=text, generation=st.integers(0, 2**63),
                                 lease_seconds=st.floats(1, 86400), renewed_at=times, released=st.booleans()),
}


def _as_json(values: dict) -> dict:
    """The field values as they would sit in a stored JSON document."""
    return json.loads(json.dumps(values, default=lambda t: t.isoformat()))


@pytest.mark.parametrize("model", list(RENDITIONS), ids=lambda m: m.__name__)
@given(data=st.data())
def test_every_document_is_written_as_pydantic_writes_it_and_reads_back_equal(model, data):
    values = data.draw(fields[model])
    ours = model(**{k: documents.Manifest(**v) if k == "manifest" else v for k, v in values.items()})
    written = documents.dump_document(ours)
    assert written == RENDITIONS[model](**values).model_dump_json().encode()
    assert documents.load_document(model, written, "k") == ours
    assert documents.load_document(model, json.dumps(_as_json(values)).encode(), "k") == ours


@given(manifests, st.none() | text)
def test_the_hot_path_serialisers_write_what_the_documents_do(values, previous):
    manifest = documents.Manifest(**values)
    checked = (manifest.tenant, manifest.surface, manifest.current, manifest.updated_at)  # current sorted
    assert manifest.document == dump_manifest(*checked) == documents.dump_document(manifest)
    entry = documents.HistoryEntry(manifest=manifest, previous=previous)
    assert dump_history_entry(manifest.document, previous) == documents.dump_document(entry)
    record = documents.RegistryRecord(tenant="t", surface=values["tenant"], type="m", version="ab" * 32,
                                      uri=values["surface"], size=7, recorded_at=values["updated_at"])
    assert dump_record("t", values["tenant"], "m", "ab" * 32, values["surface"], 7,
                       values["updated_at"]) == documents.dump_document(record)


_WRONG_VALUES = [None, True, 1, 1.5, "x", "2025-01-01T00:00:00Z", [], {}, {"a": 1}, {"a": "b"}, 2**70, "1"]


@pytest.mark.parametrize("model", list(RENDITIONS), ids=lambda m: m.__name__)
@given(data=st.data())
def test_a_document_pydantic_refuses_is_refused_with_the_key_named(model, data):
    """Hostile documents: a field dropped, added, or given a value of another type."""
    values = _as_json(data.draw(fields[model]))
    change = data.draw(st.sampled_from(["drop", "add", "retype"]))
    name = data.draw(st.sampled_from(sorted(values)))
    if change == "drop":
        del values[name]
    elif change == "add":
        values[data.draw(text.filter(lambda k: k not in values))] = data.draw(st.sampled_from(_WRONG_VALUES))
    else:
        values[name] = data.draw(st.sampled_from(_WRONG_VALUES))
    raw = json.dumps(values).encode()
    try:
        RENDITIONS[model].model_validate_json(raw)
    except ValidationError:
        with pytest.raises(IntegrityError, match=f"^records/x is not a valid {model.__name__}: "):
            documents.load_document(model, raw, "records/x")


@pytest.mark.parametrize("raw, why", [
    (b"", "not JSON"), (b"\xff\xfe", "not JSON"), (b"[]", "expected a JSON object, got list"),
    (b'{"v":1,"tenant":"t","surface":"s","current":{},"updated_at":"2025-01-01T00:00:00Z","x":1}',
     "unexpected field 'x'"),
    (b'{"v":2,"tenant":"t","surface":"s","current":{},"updated_at":"2025-01-01T00:00:00Z"}', "v: expected 1"),
    (b'{"v":1,"tenant":"t","surface":"s","current":{"m":5},"updated_at":"2025-01-01T00:00:00Z"}',
     "current: expected string keys and values"),
    (b'{"v":1,"tenant":"t","surface":"s","current":{},"updated_at":1700000000}', "updated_at: expected an ISO"),
    (b'{"v":1,"tenant":"t","surface":"s","current":{},"updated_at":"yesterday"}', "'yesterday' is not an ISO"),
    (b'{"v":1,"surface":"s","current":{},"updated_at":"2025-01-01T00:00:00Z"}', "missing field 'tenant'"),
    (b"[" * 100_000, "not JSON"),
])
def test_what_is_wrong_with_a_manifest_is_said(raw, why):
    with pytest.raises(IntegrityError, match="current/t/s/manifest.json is not a valid Manifest: .*" + why[:12]):
        documents.load_document(documents.Manifest, raw, "current/t/s/manifest.json")


def test_every_manifest_upstream_wrote_loads_and_is_written_back_byte_for_byte():
    found = sorted((DATA / "upstream").rglob("manifest.json"))
    assert found, "the upstream fixtures hold manifests"
    for path in found:
        raw = path.read_bytes()
        manifest = documents.load_document(documents.Manifest, raw, str(path))
        assert manifest == documents.load_document(documents.Manifest, manifest.document, str(path))
        assert json.loads(manifest.document) == json.loads(Manifest.model_validate_json(raw).model_dump_json())
