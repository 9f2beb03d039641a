"""AzureStore against Azurite, Microsoft's Azure Storage emulator, on loopback.

Azurite is an npm package: ``python3 tasks.py test`` installs it into ``.venv`` once
(``python -m pubsafe.devtools.azureserver install``); without Node.js and npm these
tests are skipped, saying so.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC

import pytest

from pubsafe.models.target import target_from_spec
from pubsafe.models.verdicts import Report
from pubsafe.refimpl import Engine, open_store
from pubsafe.refimpl.errors import (
    AlreadyExists,
    Conflict,
    InvalidName,
    ObjectNotFound,
    RetryableStoreError,
    StoreError,
)
from pubsafe.refimpl.store import ABSENT
from pubsafe.reports import markdown
from support.gc_roundtrip import gc_sweeps_only_the_orphan
from support.http_proxy import Rules, proxy_to

pytestmark = pytest.mark.slow

CONTAINER = "pubsafe-test"


@pytest.fixture(scope="session")
def azure_endpoint() -> Iterator[str]:
    """Azurite's blob service on loopback, for the whole session, with the test container."""
    pytest.importorskip("azure.storage.blob", reason="azure-storage-blob is not installed: pip install 'pubsafe[test]'")
    from pubsafe.devtools.azureserver import azurite_command, local_azure

    if azurite_command() is None:
        pytest.skip("Azurite is not installed (it needs Node.js and npm): python -m pubsafe.devtools.azureserver "
                    "install, or python3 tasks.py test, which runs it")
    with local_azure(CONTAINER) as endpoint:
        yield endpoint


def fresh_url() -> str:
    return f"az://{CONTAINER}/t-{uuid.uuid4().hex[:12]}"


def _sas_connection_string(endpoint: str) -> str:
    """A connection string with an account SAS: its signature does not cover the request's
    headers (a shared-key one does), so a proxy may drop If-Match and the request still
    authenticates, as behind a gateway that does not pass conditional headers on."""
    from datetime import datetime, timedelta

    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    from pubsafe.devtools.azureserver import _KEY, ACCOUNT

    sas = generate_account_sas(ACCOUNT, _KEY, ResourceTypes(service=True, container=True, object=True),
                               AccountSasPermissions(read=True, write=True, delete=True, list=True, create=True),
                               expiry=datetime.now(UTC) + timedelta(hours=1))
    return f"BlobEndpoint={endpoint}/{ACCOUNT};SharedAccessSignature={sas}"


def test_open_store_gives_azure_with_every_capability(azure_endpoint):
    from pubsafe.refimpl.azure_store import AzureStore

    store = open_store(fresh_url())
    assert isinstance(store, AzureStore)
    assert set(store.capabilities.names()) == {"atomic_replace", "create_only", "compare_and_swap", "durable"}
    assert store.root_uri.startswith(f"az://{CONTAINER}/t-")


def test_conditional_writes_are_enforced_by_the_server(azure_endpoint):
    store = open_store(fresh_url())
    store.put("a.json", b"1")
    with pytest.raises(AlreadyExists):  # 409 BlobAlreadyExists
        store.put("a.json", b"2")
    etag = store.get_object("a.json").etag
    assert store.stat("a.json").etag == etag
    store.replace("a.json", b"3", expect=etag)
    with pytest.raises(Conflict):  # 412 ConditionNotMet
        store.replace("a.json", b"4", expect=etag)
    with pytest.raises(Conflict):  # If-None-Match: * on an existing blob
        store.replace("a.json", b"5", expect=ABSENT)
    with pytest.raises(Conflict):  # If-Match on a blob that does not exist
        store.replace("b.json", b"6", expect=etag)
    assert store.get("a.json") == b"3" and not store.exists("b.json")
    with pytest.raises(ObjectNotFound):
        store.delete("b.json")


def test_a_name_azure_would_shorten_is_refused_before_anything_is_written(azure_endpoint):
    """Azure drops a trailing dot from a name's segments: 'acme.' would be tenant 'acme'."""
    from pubsafe.refimpl.errors import InvalidKey

    store = open_store(fresh_url())
    with pytest.raises(InvalidKey, match="trailing dot"):
        store.put("current/acme./home/manifest.json", b"{}")
    with pytest.raises(InvalidName, match="ends with '.'"):
        Engine(store).publish("acme.", "home", {"model": 1})
    assert store.list("") == []


@pytest.mark.parametrize("guarded", [False, True], ids=["default", "guarded"])
def test_pubsafe_check_says_conforming_on_azurite(azure_endpoint, guarded, tmp_path, capsys):
    from pubsafe.cli import main

    url = fresh_url()
    code = main(["check", "--store", url, "--profile", "quick", *(["--guarded"] if guarded else []),
                 "--report", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 0, out
    report = Report.model_validate(json.loads((tmp_path / "r" / "report.json").read_text()))
    assert report.conforming and report.leftovers == []
    assert all(p.honoured is True for p in report.probes if p.capability != "durable")
    expected = "HOLDS" if guarded else "DOCUMENTED"
    assert [report.verdict(g).status.value for g in ("R1", "R2", "R3")] == [expected] * 3
    assert open_store(url).list("") == []  # every pubsafe-check-* prefix it made is gone


def test_a_server_ignoring_conditional_headers_is_told_in_azure_terms(azure_endpoint, monkeypatch):
    """If-None-Match and If-Match never reach Azurite: both conditional capabilities are
    NOT HONOURED, said in Azure's words, and the report's headline follows. (Four racing
    trials instead of 64 and 96: the sequential sub-probes already catch it, and every
    request here crosses a proxy written in Python.)"""
    from pubsafe.models.conformance.contract import racing as contract
    from pubsafe.models.conformance.probes import _probe

    monkeypatch.setattr(contract, "CREATE_RACES", 4)
    monkeypatch.setattr(contract, "CAS_RACES", 4)
    rules = Rules(strip_headers=frozenset({"if-match", "if-none-match"}))
    with proxy_to(azure_endpoint, rules) as proxy:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", _sas_connection_string(proxy))
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
    assert "Azure Put Blob with If-None-Match: *" in create.evidence and "409 BlobAlreadyExists" in create.evidence
    assert "If-Match: <ETag>" in cas.evidence and "412 ConditionNotMet" in cas.evidence
    assert "put_never_overwrites:" in create.evidence and "stale etag" in cas.evidence
    report = Report(pubsafe_version="0", target=url, mode="default", profile="quick", seed=0, seconds=0,
                    probes=list(probes.values()), verdicts=[])
    assert not report.conforming
    assert any("claims create_only but does not honour it" in r for r in report.reasons())
    assert any("claims compare_and_swap but does not honour it" in r for r in report.reasons())
    page = markdown.render(report)  # what a reader of the report sees first
    assert "**NOT CONFORMING**" in page
    assert "claims create_only but does not honour it: asked as Azure Put Blob with If-None-Match: *" in page
    assert "--guarded would NOT protect" in report.guarded_note()
    assert target.leftovers == [] and open_store(url).list("") == []


def test_gc_deletes_a_crashed_publishs_orphan_and_nothing_live(azure_endpoint, capsys):
    gc_sweeps_only_the_orphan(fresh_url(), capsys)


def _answer(status: int, code: str, methods: tuple[str, ...]):  # type: ignore[no-untyped-def]
    body = f"<?xml version='1.0' encoding='utf-8'?><Error><Code>{code}</Code><Message>{code}</Message></Error>"

    def answer(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        return (status, body.encode(), {"x-ms-error-code": code}) if method in methods else None

    return answer


@pytest.mark.parametrize(("status", "code", "retryable"), [
    (503, "ServerBusy", True), (500, "OperationTimedOut", True), (429, "TooManyRequests", True),
    (403, "AuthorizationPermissionMismatch", False),
])
def test_server_errors_are_translated_at_the_boundary(azure_endpoint, monkeypatch, status, code, retryable):
    store = open_store(fresh_url())
    store.put("a.json", b"1")
    with proxy_to(azure_endpoint, Rules(answer=_answer(status, code, ("PUT", "GET")))) as proxy:
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", _sas_connection_string(proxy))
        behind = open_store(store.root_uri, retry_total=0)  # the client's own retries off: one answer each
        for call in (lambda: behind.put("b.json", b"2"), lambda: behind.get("a.json")):
            with pytest.raises(StoreError) as info:
                call()
            assert isinstance(info.value, RetryableStoreError) is retryable, info.value
            assert str(status) in str(info.value) and code in str(info.value)


def test_a_missing_container_is_a_clear_error_and_unavailable_to_check(azure_endpoint, capsys):
    from pubsafe.cli import main

    with pytest.raises(StoreError, match="container does not exist"):
        open_store("az://no-such-container/x").put("a.json", b"1")
    assert main(["check", "--store", "az://no-such-container/x", "--profile", "quick"]) == 3
    assert "container does not exist" in capsys.readouterr().err
