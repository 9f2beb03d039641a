"""Links and special files (named pipes) inside a local store (issue 23, F6a-F6c).

A link or a named pipe is nothing pubsafe wrote and nothing it may read, follow or
remove. Every command finishes (a read of a named pipe used to wait for a writer
for ever: publish, current and rollback hung), names the entry and says it is not a
regular file and what to do; gc collects the rest and exits 4 (a person must look).
Each command runs as a real process under a timeout, so a regression fails instead
of hanging the suite; every entry of the store is snapshotted before and after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pubsafe.refimpl import Engine, LocalStore
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.errors import UnsafeStoreState
from pubsafe.refimpl.layout import GC_LEASE, blob_key, current_key, history_key, record_key
from support import entries

T, S = "acme", "home"
SLOT = ["--tenant", T, "--surface", S]
OLD = 1_000_000.0


def pubsafe(*argv: str) -> tuple[int, str]:
    """Run the CLI as a process; a hang fails the test after 30 s instead of blocking it."""
    done = subprocess.run([sys.executable, "-m", "pubsafe", *argv], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=30)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout + done.stderr


def orphan_in(root: Path, tenant: str, payload: object) -> Path:
    data, version = canonicalize(payload)
    path = root / blob_key(tenant, S, "model", version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    """Two manifests for acme/home, one for beta/home, an old orphan of beta's."""
    root = tmp_path / "pub"
    engine = Engine(LocalStore(root))
    engine.publish(T, S, {"model": {"w": 1}})
    engine.publish(T, S, {"model": {"w": 2}})
    engine.publish("beta", S, {"model": {"w": 1}})
    orphan_in(root, "beta", {"w": 3})
    (tmp_path / "m.json").write_text('{"w": 9}')
    return root


def _without(snapshot: dict, *keys: Path, root: Path) -> dict:
    """The snapshot less ``keys`` and gc's own lease (a sweep that deletes takes and releases one)."""
    return {k: v for k, v in snapshot.items()
            if k not in {str(p.relative_to(root)) for p in keys} and k != "gc" and not k.startswith("gc/")}


# -- F6a: gc leaves links for a person, and says so with exit 4 -----------------------------


def test_gc_that_leaves_a_link_for_a_person_exits_4_and_collects_the_rest(tmp_path, pub):
    outside = tmp_path / "outside"
    orphan_in(outside, T, {"w": 4})  # behind the link: never reached
    (pub / T / S / "evil").symlink_to(outside / T / S, target_is_directory=True)
    orphan = pub / blob_key("beta", S, "model", canonicalize({"w": 3})[1])
    before, outside_before = entries(pub), entries(outside)
    code, out = pubsafe("gc", "--store", str(pub), "--grace", "0s")
    assert code == 4, out
    assert f"left alone {T}/{S}/evil: a symbolic link inside the store" in out and "remove it by hand" in out
    assert "gc finished in part (exit 4)" in out and "deleted 1 orphan" in out
    after = entries(pub)
    assert _without(after, root=pub) == _without(before, orphan, root=pub) and entries(outside) == outside_before
    code, out = pubsafe("gc", "--store", str(pub), "--grace", "0s")  # nothing left to delete: still exit 4
    assert code == 4 and "no lease taken" in out and "remove it by hand" in out
    assert entries(pub) == after


def test_a_dry_run_lists_the_link_and_exits_0(pub):
    (pub / T / S / "evil").symlink_to("/", target_is_directory=True)
    before = entries(pub)
    code, out = pubsafe("gc", "--store", str(pub), "--grace", "0s", "--dry-run")
    assert code == 0 and f"left alone {T}/{S}/evil: a symbolic link" in out
    assert entries(pub) == before


# -- F6b, F6c: named pipes --------------------------------------------------------------------


def _fifo(pub: Path, key: str) -> Path:
    path = pub / key
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    return path


NOT_REGULAR = "is a named pipe (FIFO), not a regular file"


@pytest.mark.parametrize(("command", "expected"), [
    (["publish", *SLOT, "model=M"], 1),
    (["current", *SLOT], 1),
    (["rollback", *SLOT, "--steps", "1"], 1),
    (["rollback", *SLOT, "--to", "FIRST"], 1),
    (["history", *SLOT], 1),
    (["audit"], 1),
    (["gc", "--grace", "0s"], 4),
])
def test_a_named_pipe_at_current_never_blocks_a_command(tmp_path, pub, command, expected):
    first = Engine(LocalStore(pub)).history(T, S)[0].manifest.version
    fifo = _fifo(pub, current_key(T, S))
    argv = [a.replace("model=M", f"model={tmp_path / 'm.json'}").replace("FIRST", first) for a in command]
    before = entries(pub)
    code, out = pubsafe(argv[0], "--store", str(pub), *argv[1:])
    assert code == expected, out
    assert str(fifo.relative_to(pub)) in out and "a named pipe (FIFO), not a regular file" in out
    if command[0] == "gc":  # beta's orphan is collected; nothing of acme/home is touched
        assert f"nothing deleted in {T}/{S}" in out and "deleted 1 orphan" in out
        orphan = pub / blob_key("beta", S, "model", canonicalize({"w": 3})[1])
        assert _without(entries(pub), root=pub) == _without(before, orphan, root=pub)
    else:
        assert entries(pub) == before
    if command[0] in ("publish", "current", "rollback", "history"):
        assert "remove it by hand" in out


def test_a_named_pipe_at_the_gc_lease_is_named_by_gc_and_audit(tmp_path, pub):
    fifo = _fifo(pub, GC_LEASE)
    before = entries(pub)
    code, out = pubsafe("gc", "--store", str(pub), "--grace", "0s")
    assert code == 1 and f"{GC_LEASE} {NOT_REGULAR}" in out and "keep taking and releasing" not in out
    assert entries(pub) == before
    code, out = pubsafe("audit", "--store", str(pub))
    assert code == 1 and f"{GC_LEASE}: a named pipe (FIFO), not a regular file" in out
    code, out = pubsafe("current", "--store", str(pub), *SLOT)  # the rest of the store works as ever
    assert code == 0
    assert fifo.exists()


@pytest.mark.parametrize("where", ["record", "history", "blob", "temp file"])
def test_a_named_pipe_anywhere_is_reported_by_audit_and_gc(pub, where):
    key = {"record": record_key(T, S, "model", "ab" * 32), "history": history_key(T, S, "cd" * 32),
           "blob": blob_key(T, S, "model", "ef" * 32), "temp file": f"{T}/{S}/model/.tmp-{'0' * 32}"}[where]
    _fifo(pub, key)
    before = entries(pub)
    code, out = pubsafe("audit", "--store", str(pub))
    assert code == 1 and f"{key}: a named pipe (FIFO), not a regular file" in out
    assert entries(pub) == before
    code, out = pubsafe("gc", "--store", str(pub), "--grace", "0s")
    assert code == 4 and key in out and "named pipe" in out and "deleted 1 orphan" in out
    assert (pub / key).exists()


@pytest.mark.timeout(30)
def test_a_socket_at_current_and_a_pipe_at_a_lock_file_are_refused_not_waited_on(pub, monkeypatch):
    store = LocalStore(pub)
    current = pub / current_key("beta", S)
    current.unlink()
    monkeypatch.chdir(current.parent)  # a socket's path is limited to ~100 bytes: bind it by a short name
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(current.name)
        with pytest.raises(UnsafeStoreState, match=f"{current_key('beta', S)} is a socket, not a regular file"):
            Engine(store).current("beta", S)
        lock = pub / "current" / T / S / ".manifest.json.lock"
        lock.unlink()
        os.mkfifo(lock)
        before = (pub / current_key(T, S)).read_bytes()
        with pytest.raises(UnsafeStoreState, match="lock file .manifest.json.lock is a named pipe"):
            Engine(store).publish(T, S, {"model": {"w": 9}})
        assert (pub / current_key(T, S)).read_bytes() == before
        found = {(f.key, f.message.split(";")[0]) for f in Engine(store).audit() if f.severity == "error"}
        assert (current_key("beta", S), "a socket, not a regular file") in found
        assert (f"current/{T}/{S}/.manifest.json.lock", "a named pipe (FIFO), not a regular file") in found
