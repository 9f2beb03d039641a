"""S3Store against a live S3-compatible server (moto) on loopback."""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qs, urlsplit

import pytest

from pubsafe.faults import Crash, FaultyStore, InjectedError
from pubsafe.models import Status, run_conformance, target_from_spec
from pubsafe.models.conformance import Profile
from pubsafe.models.conformance.probes import check_contract, probe_capabilities
from pubsafe.models.pytest_suite import StoreContractTests
from pubsafe.refimpl import Engine, open_store
from pubsafe.refimpl.errors import AlreadyExists, Conflict, StoreError
from pubsafe.refimpl.layout import current_key
from pubsafe.refimpl.s3_store import S3Store
from support import fresh_s3_url as fresh_url
from support.http_proxy import Rules, proxy_to

pytestmark = pytest.mark.slow


class TestS3Store(StoreContractTests):
    # every check, the racing ones included: the test server serves one request at a
    # time, so moto's conditional PUT is atomic as AWS S3's is (pubsafe.devtools.s3server)

    @pytest.fixture
    def store(self, s3_endpoint):  # noqa: F811
        return open_store(fresh_url())


def test_open_store_gives_s3_with_every_capability(s3_endpoint):  # noqa: F811
    store = open_store(fresh_url())
    assert isinstance(store, S3Store)
    assert set(store.capabilities.names()) == {"atomic_replace", "create_only", "compare_and_swap", "durable"}


def test_conditional_writes_are_enforced_by_the_server(s3_endpoint):  # noqa: F811
    store = open_store(fresh_url())
    store.put("a.json", b"1")
    with pytest.raises(AlreadyExists):
        store.put("a.json", b"2")
    etag = store.get_object("a.json").etag
    store.replace("a.json", b"3", expect=etag)
    with pytest.raises(Conflict):
        store.replace("a.json", b"4", expect=etag)
    assert store.get("a.json") == b"3"


def test_guarded_lost_ack_on_the_swap_converges_without_a_false_conflict(s3_endpoint):  # noqa: F811
    store = open_store(fresh_url())
    Engine(store, guarded=True).publish("acme", "home", {"model": 1})
    with pytest.raises(Crash):
        Engine(FaultyStore(store, "lost-ack@swap"), guarded=True).publish("acme", "home", {"model": 2})
    retry = Engine(store, guarded=True).publish("acme", "home", {"model": 2})
    assert not retry.swapped and retry.attempts == 1
    assert Engine(store).audit() == []


def test_guarded_error_after_the_swap_is_recognised_in_the_same_call(s3_endpoint):  # noqa: F811
    store = open_store(fresh_url())
    engine = Engine(store, guarded=True)
    engine.publish("acme", "home", {"model": 1})
    # the swap lands but its response is lost; the engine's retry gets a 412 and re-reads
    flaky = FaultyStore(store, "error-after@swap")
    with pytest.raises(InjectedError):
        Engine(flaky, guarded=True).publish("acme", "home", {"model": 2})
    assert b"model" in store.get(current_key("acme", "home"))
    assert Engine(store, guarded=True).publish("acme", "home", {"model": 2}).swapped is False


def test_missing_bucket_is_a_clear_error(s3_endpoint):  # noqa: F811
    with pytest.raises(StoreError, match="bucket does not exist"):
        open_store("s3://no-such-bucket-pubsafe/x").put("a.json", b"1")


@pytest.mark.parametrize("guarded", [False, True], ids=["default", "guarded"])
def test_conformance_on_s3(s3_endpoint, guarded):  # noqa: F811
    # A small profile: every request is an HTTP round trip to the server.
    url = fresh_url()
    report = run_conformance(target_from_spec(url, guarded=guarded), Profile(examples=6, steps=8))
    assert open_store(url).list("") == []  # every pubsafe-check-* prefix it made is gone
    assert report.conforming, [(v.guarantee, v.status, v.counterexample) for v in report.verdicts if not v.as_expected]
    assert report.leftovers == []
    expected = Status.HOLDS if guarded else Status.DOCUMENTED
    assert [report.verdict(g).status for g in ("R1", "R2", "R3")] == [expected] * 3


def _prefix_is_empty(url: str) -> list[str]:
    return open_store(url).list("")


def test_conformance_removes_every_prefix_it_created(s3_endpoint):  # noqa: F811
    url = fresh_url()
    open_store(url).put("live/keep.json", b"{}")  # what the bucket held before: never touched
    target = target_from_spec(url)
    probes = probe_capabilities(target.store_factory, target.cleanup)
    contract = check_contract(target.store_factory, target.cleanup)
    assert all(p.honoured is not False for p in probes) and all(c.status != "failed" for c in contract)
    assert target.leftovers == []
    assert _prefix_is_empty(url) == ["live/keep.json"]


def _s3_error(status: int, code: str, message: str) -> tuple[int, bytes, dict[str, str]]:
    body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error>").encode()
    return status, body, {"Content-Type": "application/xml"}


def _refuses_batch_deletes(refused: list[str]) -> Rules:
    """A server that answers DeleteObjects (POST ?delete) with 501 NotImplemented, as
    some S3-compatible servers do; everything else passes through."""
    def answer(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        if method == "POST" and "delete" in parse_qs(urlsplit(path).query, keep_blank_values=True):
            refused.append(path)
            return _s3_error(501, "NotImplemented", "DeleteObjects is not implemented")
        return None

    return Rules(answer=answer)


@contextlib.contextmanager
def _through(rules: Rules, endpoint: str, monkeypatch):  # type: ignore[no-untyped-def]
    """S3 requests go through a proxy applying ``rules`` (``support.http_proxy``) to
    ``endpoint`` inside the block; afterwards, to the server itself again (to look at
    the bucket as it is)."""
    with proxy_to(endpoint, rules) as proxy:
        try:
            monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy)
            yield
        finally:
            monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)


def test_a_server_without_batch_deletes_costs_no_report_and_leaves_nothing(s3_endpoint, monkeypatch):  # noqa: F811
    refused: list[str] = []
    with _through(_refuses_batch_deletes(refused), s3_endpoint, monkeypatch):
        url = fresh_url()
        target = target_from_spec(url)
        probes = probe_capabilities(target.store_factory, target.cleanup)
        contract = check_contract(target.store_factory, target.cleanup)
    assert refused  # the batch path was tried and refused...
    assert all(p.honoured is not False for p in probes) and all(c.status != "failed" for c in contract)
    assert target.leftovers == []  # ...and single deletes removed everything
    assert _prefix_is_empty(url) == []


#: A server that ignores conditional writes, as some S3-compatible ones do: the
#: If-None-Match and If-Match headers never reach moto.
_IGNORES_CONDITIONS = frozenset({"if-none-match", "if-match"})


def test_a_server_ignoring_conditional_writes_is_told_in_s3_terms(s3_endpoint, monkeypatch):  # noqa: F811
    """The probe evidence says what the server did in its protocol's words, lists every
    failed sub-probe, and the report's headline and guarded note follow from it."""
    from pubsafe.models.verdicts import Report

    with _through(Rules(strip_headers=_IGNORES_CONDITIONS), s3_endpoint, monkeypatch):
        url = fresh_url()
        target = target_from_spec(url)
        probes = {p.capability: p for p in probe_capabilities(target.store_factory, target.cleanup)}
    create, cas = probes["create_only"], probes["compare_and_swap"]
    assert create.honoured is False and cas.honoured is False
    assert "If-None-Match: *" in create.evidence and "412 Precondition Failed" in create.evidence
    assert "If-Match: <etag>" in cas.evidence and "412 Precondition Failed" in cas.evidence
    assert "put_never_overwrites:" in create.evidence  # each failed sub-probe is named
    assert "compare_and_swap_semantics:" in cas.evidence and "stale etag" in cas.evidence
    assert probes["atomic_replace"].honoured is True  # a plain PUT is still atomic
    report = Report(pubsafe_version="0", target=url, mode="default", profile="quick", seed=0, seconds=0,
                    probes=list(probes.values()), verdicts=[])
    assert not report.conforming
    assert any("claims compare_and_swap but does not honour it" in r for r in report.reasons())
    assert "--guarded would NOT protect" in report.guarded_note()
    assert _prefix_is_empty(url) == []


def _read_only(method: str, path: str) -> tuple[int, bytes, dict[str, str]] | None:
    """Credentials that may read but not write: every PUT, POST and DELETE gets 403."""
    return _s3_error(403, "AccessDenied", "Access Denied") if method in ("PUT", "POST", "DELETE") else None


def test_a_store_that_refuses_every_write_is_unavailable_not_judged(s3_endpoint, monkeypatch, tmp_path, capsys):  # noqa: F811
    """Judged, a bucket we may not write to would show as guarantees that break; it is
    a store we cannot check (exit 3), and no report is written."""
    from pubsafe.cli import main

    with _through(Rules(answer=_read_only), s3_endpoint, monkeypatch):
        code = main(["check", "--store", fresh_url(), "--profile", "quick", "--report", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "cannot be checked" in err and "Access Denied" in err and "Nothing was judged" in err
    assert not (tmp_path / "r").exists()
