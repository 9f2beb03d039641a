"""`pubsafe gc` end to end on a store a test server holds (the cloud stores' emulators).

gc takes its lease create-only and then by compare-and-swap, claims each orphan with a
create-only tombstone, and judges ages by the modification times the store reports; a
store adapter that gets any of these wrong shows here as a wrong deletion or none.
"""

from __future__ import annotations

import json

import pytest

from pubsafe.cli import main
from pubsafe.faults import Crash, FaultyStore
from pubsafe.refimpl import Engine, open_store
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.layout import blob_key

__all__ = ["gc_sweeps_only_the_orphan"]

T, S = "acme", "home"


def _crash_leaving_orphan(url: str, payload: object) -> str:
    """A publish that crashed after writing its blob, before recording it (R4)."""
    with pytest.raises(Crash):
        Engine(FaultyStore(open_store(url), "crash@record-write")).publish(T, S, {"model": payload})
    return blob_key(T, S, "model", canonicalize(payload)[1])


def _gc(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> dict[str, object]:
    code = main(["gc", "--store", url, "--json", *args])
    out = capsys.readouterr().out
    assert code == 0, out
    report: dict[str, object] = json.loads(out)
    return report


def gc_sweeps_only_the_orphan(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Two publishes (one in history), one crashed publish's orphan: a dry run and a sweep
    with a grace of an hour keep it (it is seconds old by the store's clock), a dry run with
    no grace plans it, a sweep (taking the released lease over by compare-and-swap) deletes
    it and nothing else, and the store audits clean."""
    engine = Engine(open_store(url))
    engine.publish(T, S, {"model": {"w": [1, 2]}})
    engine.publish(T, S, {"model": {"w": [3]}})
    orphan = _crash_leaving_orphan(url, {"w": ["orphan"]})
    store = open_store(url)
    live = {key: store.get(key) for key in store.list("") if key != orphan}
    assert orphan in store.list("")

    young = _gc(capsys, url, "--grace", "1h", "--dry-run")
    assert young["planned"] == {}
    young = _gc(capsys, url, "--grace", "1h")
    assert young["deleted"] == [] and young["kept_young"] == [orphan]
    assert young["generation"] == 1  # the lease, taken create-only
    assert store.exists(orphan)

    planned = _gc(capsys, url, "--grace", "0s", "--dry-run")
    assert list(planned["planned"]) == [orphan]  # type: ignore[call-overload]
    assert store.exists(orphan)

    swept = _gc(capsys, url, "--grace", "0s")
    assert swept["deleted"] == [orphan] and swept["failed"] == {} and swept["blocked_slots"] == {}
    assert swept["generation"] == 2  # the released lease, taken over by compare-and-swap
    assert not store.exists(orphan)
    assert {key: store.get(key) for key in live} == live  # every live object, byte for byte
    assert not [key for key in store.list("records/") if b"gc_tombstone" in store.get(key)]

    again = _gc(capsys, url, "--grace", "0s")
    assert again["deleted"] == [] and again["planned"] == {}
    assert Engine(store).audit() == []
    assert Engine(store).current(T, S).current == engine.current(T, S).current
