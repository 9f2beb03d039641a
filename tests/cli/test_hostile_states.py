"""Operator commands on hostile store states and bad input: a clear refusal, exit code,
and nothing written, deleted or lost. Each case is a row of the README's bad-input
table (``HOSTILE`` below) or a test of its own."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path

import pytest

from pubsafe.cli import main
from pubsafe.refimpl import Engine, LocalStore
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.errors import InvalidInput, InvalidName, SweepInProgress
from pubsafe.refimpl.layout import blob_key, current_key, history_key, record_key
from support import REPO, tree

T, S = "acme", "home"
SLOT = ["--tenant", T, "--surface", S]


def claim(sweep: str = "dead", when: str = "2020-01-01T00:00:00Z") -> bytes:
    return json.dumps({"gc_tombstone": True, "sweep_id": sweep, "claimed_at": when}).encode()


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    """A local store with two manifests for acme/home and one orphan, all old."""
    root = tmp_path / "pub"
    engine = Engine(LocalStore(root), clock=lambda: 1_000_000.0)
    engine.publish(T, S, {"model": {"w": 1}, "items": [1]})
    engine.publish(T, S, {"model": {"w": 2}})
    orphan = root / blob_key(T, S, "model", canonicalize({"w": 3})[1])
    orphan.write_bytes(canonicalize({"w": 3})[0])
    os.utime(orphan, (1_000_000, 1_000_000))
    return root


def versions(root: Path) -> list[str]:
    return [e.manifest.version for e in Engine(LocalStore(root)).history(T, S)]


def row(row_id: str) -> str:
    """The message of a README bad-input row (``HOSTILE`` below)."""
    return next(message for name, _, _, message in HOSTILE if name == row_id)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- 1, 7, 10: GC deletes only provable orphans, and fails closed -----------------------


def test_a_claim_shaped_file_at_a_non_blob_record_key_never_makes_gc_delete_current(pub, capsys):
    fake = pub / "records" / "current" / T / S / "manifest.json"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(claim())
    for name in ("history", "records"):  # claims that would name a history entry or a record
        target = pub / "records" / name / T / S / "x.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(claim())
    code, out, _ = run(capsys, "audit", "--store", str(pub))
    assert code == 1 and row("claim at a key that is no blob's record key") in out
    before = tree(pub)
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "0s")
    assert code == 0, out
    left = row("claim at a key that is no blob's record key")
    assert f"left alone records/current/acme/home/manifest.json: {left}" in out
    assert (pub / current_key(T, S)).exists() and fake.exists()
    after = tree(pub)
    assert {k for k in before if k not in after} == {blob_key(T, S, "model", canonicalize({"w": 3})[1])}


def test_gc_leaves_a_slot_alone_when_its_manifest_does_not_parse(pub, capsys):
    (pub / current_key(T, S)).write_text('{"v": 1, "tenant": "acme"')  # torn
    before = tree(pub)
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "0s")
    assert code == 4 and row("gc with a manifest that does not parse") in out and "not a valid Manifest" in out
    assert tree(pub) == before  # the only orphan is in that slot: nothing to delete, so nothing written


def test_a_malformed_claim_is_reported_not_fatal_and_a_future_dated_one_is_finished(pub, capsys):
    version = Engine(LocalStore(pub)).current(T, S).current["model"].rsplit("/", 1)[-1][:-5]
    orphan = blob_key(T, S, "model", canonicalize({"w": 3})[1])
    malformed = pub / "records" / T / S / "items" / ("ab" * 32 + ".json")
    malformed.parent.mkdir(parents=True, exist_ok=True)
    malformed.write_bytes(b'{"gc_tombstone": true, "sweep_id": 7}')
    future = pub / ("records/" + orphan)
    future.write_bytes(claim(when="2999-01-01T00:00:00Z"))  # a clock-skewed sweep's claim
    code, out, _ = run(capsys, "audit", "--store", str(pub))
    assert row("malformed claim") in out and "finishes it once no sweep holds the lease" in out
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "1h")
    assert code == 0, out
    assert "finished 1" in out and f"left alone records/{T}/{S}/items/" in out
    assert malformed.exists() and not future.exists() and not (pub / orphan).exists()
    assert version  # the live blobs are untouched:
    assert Engine(LocalStore(pub)).audit() and not [f for f in Engine(LocalStore(pub)).audit()
                                                    if f.severity == "error" and f.guarantee in ("G1", "G2")]


def test_a_directory_at_a_record_path_gives_a_clear_error_not_a_false_collection_claim(pub, tmp_path, capsys):
    (tmp_path / "m.json").write_text('{"w": 9}')
    record = pub / record_key(T, S, "model", canonicalize({"w": 9})[1])
    record.mkdir(parents=True)
    code, _, err = run(capsys, "publish", "--store", str(pub), *SLOT, f"model={tmp_path / 'm.json'}")
    assert code == 1 and row("directory at a record path") in err and "garbage-collected" not in err


@pytest.mark.parametrize("grace", [math.nan, math.inf, -1.0, "1h"])
def test_gc_refuses_a_grace_that_is_not_a_finite_non_negative_number(pub, grace):
    before = tree(pub)
    with pytest.raises(InvalidInput, match="grace period"):
        Engine(LocalStore(pub)).gc(grace)
    assert tree(pub) == before


def test_a_second_sweep_refuses_while_the_first_holds_the_lease(pub, capsys):
    from pubsafe.faults import Crash, FaultyStore

    with pytest.raises(Crash):  # the first sweep dies holding its lease and a tombstone
        Engine(FaultyStore(LocalStore(pub), "crash@gc-delete")).gc(0)
    before = tree(pub)
    code, _, err = run(capsys, "gc", "--store", str(pub), "--grace", "0s", "--json")
    assert code == 1 and row("gc while another sweep runs") in err
    assert tree(pub) == before
    later = Engine(LocalStore(pub), clock=lambda: time.time() + 301)  # a host clock ahead takes nothing over
    with pytest.raises(SweepInProgress):
        later.gc(0)
    lease = pub / "gc" / "lease.json"
    os.utime(lease, (time.time() - 301, time.time() - 301))  # by the store's clock the lease has lapsed
    report = Engine(LocalStore(pub)).gc(0)
    assert report.finished_tombstones and not [f for f in later.audit() if f.severity == "error"]


# -- 3, 5, 6, 11: rollback and history under damaged history and current ---------------


def test_rollback_refuses_a_history_file_that_is_another_slots_manifest(pub, capsys):
    Engine(LocalStore(pub)).publish("beta", S, {"model": {"w": 5}})
    beta = Engine(LocalStore(pub)).current("beta", S)
    forged = pub / history_key(T, S, beta.version)
    forged.write_bytes((pub / history_key("beta", S, beta.version)).read_bytes())
    before = tree(pub)
    code, _, err = run(capsys, "rollback", "--store", str(pub), *SLOT, "--to", beta.version)
    assert code == 1 and row("rollback to another slot's history file") in err
    assert tree(pub) == before


def test_rollback_refuses_a_history_file_that_does_not_hash_to_its_name(pub, capsys):
    first, second = versions(pub)
    (pub / history_key(T, S, first)).write_bytes((pub / history_key(T, S, second)).read_bytes())
    before = tree(pub)
    code, _, err = run(capsys, "rollback", "--store", str(pub), *SLOT, "--to", first)
    assert code == 1 and "altered or misplaced" in err
    assert tree(pub) == before


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_rollback_to_restores_a_missing_or_corrupt_current(pub, capsys, damage):
    first, _ = versions(pub)
    current = pub / current_key(T, S)
    if damage == "missing":
        current.unlink()
    else:
        current.write_bytes(b"\x00\x00 garbage")
    code, out, _ = run(capsys, "audit", "--store", str(pub))
    assert code == 1 and ("no current manifest" in out if damage == "missing" else "does not parse" in out)
    code, out, _ = run(capsys, "history", "--store", str(pub), *SLOT)
    assert code == 0 and first in out
    code, _, err = run(capsys, "rollback", "--store", str(pub), *SLOT, "--steps", "1")
    assert code == 1
    assert (row("rollback --steps with a corrupt current") in err if damage == "corrupt"
            else "no current manifest" in err)
    code, out, err = run(capsys, "rollback", "--store", str(pub), *SLOT, "--to", first)
    assert code == 0, err
    assert Engine(LocalStore(pub)).current(T, S).version == first
    assert not [f for f in Engine(LocalStore(pub)).audit() if f.severity == "error"]


def test_publish_over_a_corrupt_current_refuses_with_the_way_back(pub, tmp_path, capsys):
    (pub / current_key(T, S)).write_text("{}")
    (tmp_path / "m.json").write_text('{"w": 9}')
    before = tree(pub)
    code, _, err = run(capsys, "publish", "--store", str(pub), *SLOT, f"model={tmp_path / 'm.json'}")
    assert code == 1 and row("publish over a corrupt current") in err and "rollback --to VERSION" in err
    assert tree(pub) == before


def test_a_directory_shaped_current_is_reported_by_audit(pub, capsys):
    current = pub / current_key(T, S)
    current.unlink()
    current.mkdir()
    (current / "junk.json").write_text("{}")
    code, out, _ = run(capsys, "audit", "--store", str(pub))
    assert code == 1 and "is not a current manifest file" in out


def test_a_loop_in_history_is_refused_by_rollback_steps_and_reported_by_audit(pub, capsys):
    first, second = versions(pub)
    entry = pub / history_key(T, S, first)
    doc = json.loads(entry.read_bytes())
    doc["previous"] = second  # first <- second <- first ...
    entry.write_text(json.dumps(doc))
    before = tree(pub)
    code, _, err = run(capsys, "rollback", "--store", str(pub), *SLOT, "--steps", "50")
    assert code == 1 and row("rollback --steps over a history loop") in err
    assert tree(pub) == before
    code, out, _ = run(capsys, "audit", "--store", str(pub))
    assert code == 1 and "previous links loop" in out


def test_a_stray_file_in_history_does_not_break_history(pub, capsys):
    (pub / "history" / T / S / "notes.json").write_text("not a manifest")
    code, out, _ = run(capsys, "history", "--store", str(pub), *SLOT)
    assert code == 0 and row("stray file in history") in out
    code, out, _ = run(capsys, "history", "--store", str(pub), *SLOT, "--json")
    assert code == 0
    entries = json.loads(out)
    assert [e["status"] for e in entries[:-1]] == ["replaced", "current"]
    assert entries[-1]["skipped"][0]["key"].endswith("notes.json")


def test_history_says_which_entries_were_never_confirmed_current(tmp_path, capsys):
    root = tmp_path / "pub"
    engine = Engine(LocalStore(root))
    first = engine.publish(T, S, {"model": 1}).manifest_version
    second = engine.publish(T, S, {"model": 2}).manifest_version
    engine.rollback(T, S, to=first)
    code, out, _ = run(capsys, "history", "--store", str(root), *SLOT)
    assert f"* {first}" in out and f"? {second}" in out and "lost a guarded race or was rolled back from" in out


# -- 4, 8: temp debris and links ----------------------------------------------------------


def test_a_failed_write_removes_its_temp_file(tmp_path):
    from pubsafe.refimpl.errors import StoreError
    from pubsafe.refimpl.osio import RealOS

    class FullDisk(RealOS):
        def write(self, fd: int, data: bytes) -> None:
            raise OSError(28, "No space left on device")

    store = LocalStore(tmp_path / "pub", os_ops=FullDisk())
    with pytest.raises(StoreError, match="no space left on the device"):
        Engine(store).publish(T, S, {"model": 1})
    assert not [p for p in (tmp_path / "pub").rglob(".tmp-*")]


def test_temp_debris_is_counted_by_audit_and_orphans_and_removed_by_gc(pub, capsys):
    temps = [pub / T / S / "model" / f".tmp-{'0' * 31}{i}" for i in range(3)]
    for temp in temps:
        temp.write_bytes(b"x" * 100)
        os.utime(temp, (1_000_000, 1_000_000))
    code, out, _ = run(capsys, "audit", "--store", str(pub))
    assert code == 0 and f"3 {row('temp files of killed writers')} (300 bytes)" in out
    assert "3 temp file(s)" in run(capsys, "orphans", "--store", str(pub))[1]
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "1h")
    assert code == 0 and "removed 3 temp file(s)" in out
    assert not any(t.exists() for t in temps)
    lock = pub / "current" / T / S / ".manifest.json.lock"
    assert lock.exists()  # lock files are not debris: removing one would let a second writer in


@pytest.mark.parametrize("linked", ["tenant", "type"])
def test_publishing_through_a_symlinked_directory_is_refused(tmp_path, capsys, linked):
    root, outside = tmp_path / "pub", tmp_path / "outside"
    outside.mkdir()
    link = root / T if linked == "tenant" else root / T / S / "model"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside, target_is_directory=True)
    (tmp_path / "m.json").write_text('{"w": 1}')
    code, _, err = run(capsys, "publish", "--store", str(root), *SLOT, f"model={tmp_path / 'm.json'}")
    assert code == 1 and row("link inside the store") in err
    assert list(outside.iterdir()) == []
    code, out, _ = run(capsys, "audit", "--store", str(root))
    assert code == 1 and "symbolic link inside the store" in out


def test_gc_never_deletes_through_a_symlinked_directory(pub, tmp_path, capsys):
    outside = tmp_path / "outside"
    victim = outside / T / S / "model" / ("cd" * 32 + ".json")
    victim.parent.mkdir(parents=True)
    victim.write_text("{}")
    os.utime(victim, (1_000_000, 1_000_000))
    (pub / "beta").symlink_to(outside / T, target_is_directory=True)
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "0s")
    assert code == 4 and "left alone beta: a symbolic link" in out  # left for a person: exit 4 (F6a)
    assert victim.exists()


# -- 12: publish never carries a broken or foreign entry forward -------------------------


@pytest.mark.parametrize("entry", ["foreign", "missing"])
def test_publish_refuses_to_carry_a_broken_entry_forward(tmp_path, capsys, entry):
    root = tmp_path / "pub"
    store = LocalStore(root)
    Engine(store).publish(T, S, {"model": {"w": 1}})
    other = Engine(store).publish("beta", S, {"items": [1]})
    doc = json.loads((root / current_key(T, S)).read_bytes())
    if entry == "foreign":
        doc["current"]["items"] = blob_key("beta", S, "items", other.artifacts["items"])
    else:
        doc["current"]["items"] = blob_key(T, S, "items", "ef" * 32)
    (root / current_key(T, S)).write_text(json.dumps(doc))  # another writer's manifest: no history entry
    (tmp_path / "m.json").write_text('{"w": 2}')
    before = tree(root)
    code, _, err = run(capsys, "publish", "--store", str(root), *SLOT, f"model={tmp_path / 'm.json'}")
    assert code == 1 and row("publish carrying a broken entry") in err and "writes nothing" in err
    assert tree(root) == before
    (tmp_path / "i.json").write_text("[2]")  # publishing the broken type too is the way forward
    code, _, err = run(capsys, "publish", "--store", str(root), *SLOT, f"model={tmp_path / 'm.json'}",
                       f"items={tmp_path / 'i.json'}")
    assert code == 0, err


# -- 9, 13, 15: input, store specs, error paths ------------------------------------------


def test_mixed_type_keys_are_refused_as_a_name_error(tmp_path):
    with pytest.raises(InvalidName, match="type must be a string"):
        Engine(LocalStore(tmp_path / "pub")).publish(T, S, {"model": 1, 2: 3})
    assert not (tmp_path / "pub").exists()


def test_a_deep_blob_is_refused_by_the_reader_clearly(tmp_path):
    from pubsafe.refimpl import ServingReader
    from pubsafe.refimpl.errors import IntegrityError

    store = LocalStore(tmp_path / "pub")
    Engine(store).publish(T, S, {"model": 1})
    deep = b"[" * 5000 + b"]" * 5000
    doc = json.loads(store.get(current_key(T, S)))
    key = blob_key(T, S, "model", hashlib.sha256(deep).hexdigest())
    store.put(key, deep)
    doc["current"]["model"] = key
    store.replace(current_key(T, S), json.dumps(doc).encode())
    with pytest.raises(IntegrityError, match="nested too deeply"):
        ServingReader(store).artifact(T, S, "model")


def test_every_error_path_under_json_prints_one_json_object(pub, capsys):
    for argv in (["publish", "--store", str(pub), *SLOT, "m=nope.json", "--json"],
                 ["rollback", "--store", str(pub), *SLOT, "--to", "0" * 64, "--json"],
                 ["audit", "--store", "nosuch://x", "--json"],
                 ["publish", "--store", str(pub), "--tenat", T, "--json"]):
        code = main(argv)
        out = capsys.readouterr().out
        document = json.loads(out)
        assert document["exit"] == code != 0 and document["error"] and document["message"]


def test_ctrl_c_exits_130_with_one_line(pub, monkeypatch, capsys, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Engine, "publish", interrupted)
    (tmp_path / "m.json").write_text("{}")
    code, out, err = run(capsys, "publish", "--store", str(pub), *SLOT, f"m={tmp_path / 'm.json'}")
    assert code == 130 and err.count("\n") == 1 and row("Ctrl-C") in err


# -- the README table ---------------------------------------------------------------------

#: (row id, argv after the command name and --store, exit code, message); "{pub}" and
#: "{tmp}" are replaced by the store and its parent directory
HOSTILE = [
    ("memory store on the CLI", ["audit", "--store", "memory://x"], 2, "each pubsafe command is a new process"),
    ("bare word store", ["publish", "--store", "pubstore", *SLOT, "m={tmp}/m.json"], 2,
     "'pubstore' is not a store: give an existing directory"),
    ("memory as a store word", ["publish", "--store", "memory", *SLOT, "m={tmp}/m.json"], 2,
     "memory stores exist only inside one process"),
    ("unknown URL scheme", ["audit", "--store", "nosuch://x"], 2, "cannot open fsspec URL"),
    ("store root under a file", ["audit", "--store", "{tmp}/m.json/pub"], 2, "is inside a file"),
    ("store path too long", ["audit", "--store", "{tmp}/" + "x" * 300], 2, "the path is too long"),
    ("duplicate JSON key", ["publish", "--store", "{pub}", *SLOT, "m={tmp}/dup.json"], 2, "has the key 'a' twice"),
    ("JSON nested 1,000 deep", ["publish", "--store", "{pub}", *SLOT, "m={tmp}/deep.json"], 2,
     "is nested deeper than 256 levels"),
    ("rollback to another slot's history file", [], 1, "holds a manifest of beta/home, not acme/home"),
    ("rollback --steps over a history loop", [], 1, "the history of acme/home loops"),
    ("publish over a corrupt current", [], 1, "a publish merges into current, so it refuses"),
    ("publish carrying a broken entry", [], 1, "would carry it forward, so it refuses"),
    ("gc with a manifest that does not parse", [], 4, "nothing deleted in acme/home"),
    ("gc while another sweep runs", [], 1, "holds the lease"),
    ("link inside the store", [], 1, "is a symbolic link inside the store"),
    ("directory at a record path", [], 1, "is a directory where an object belongs"),
    ("rollback --steps with a corrupt current", [], 1, "--steps walks back from the current manifest"),
    ("claim at a key that is no blob's record key", [], 0, "a GC tombstone at a key that is no blob's record key"),
    ("malformed claim", [], 0, "a malformed GC tombstone"),
    ("temp files of killed writers", [], 0, "temp file(s) of interrupted writes"),
    ("stray file in history", [], 0, "skipped history/acme/home/notes.json"),
    ("Ctrl-C", [], 130, "re-running the same command is safe"),
]


@pytest.mark.parametrize(("argv", "code", "message"), [row[1:] for row in HOSTILE if row[1]],
                         ids=[row[0] for row in HOSTILE if row[1]])
def test_input_rows_are_refused_clearly_and_nothing_is_written(pub, capsys, monkeypatch, argv, code, message):
    tmp = pub.parent
    (tmp / "m.json").write_text('{"w": 1}')
    (tmp / "dup.json").write_text('{"a": 1, "b": {"c": 2}, "a": 3}')
    (tmp / "deep.json").write_text("[" * 1000 + "]" * 1000)
    monkeypatch.chdir(tmp)
    argv = [a.replace("{pub}", str(pub)).replace("{tmp}", str(tmp)) for a in argv]
    before = {p: tree(p) for p in (pub, tmp / "memory", tmp / "pubstore")}
    got = main(argv)
    err = capsys.readouterr().err
    assert got == code, err
    assert message in err
    assert {p: tree(p) for p in before} == before and not (tmp / "memory").exists() and not (tmp / "pubstore").exists()


def test_readme_lists_every_hostile_row():
    text = (REPO / "README.md").read_text()
    for row_id, _argv, code, message in HOSTILE:
        line = next((line for line in text.splitlines() if line.startswith(f"| {row_id} |")), None)
        assert line is not None, f"README bad-input table lacks the row {row_id!r}"
        assert f"| {code} |" in line and message.replace("|", "\\|") in line, line


def test_the_documented_error_codes_are_the_ones_used():
    from pubsafe.exits import ERROR_CODES, _table

    assert set(ERROR_CODES) == {code for _, code, _ in _table()} | {"usage"}
