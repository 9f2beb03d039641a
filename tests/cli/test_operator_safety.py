"""GC and the operator commands on the states a hostile operator found (issue 23).

Each case: the expected refusal or success, the exit code ``--help`` documents, and a
byte-for-byte snapshot of every store involved before and after (nothing lost, and
nothing written by a refusal).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pubsafe.cli import main
from pubsafe.refimpl import Engine, LocalStore, ServingReader, open_store
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.errors import CollectionRefused, SweepInProgress
from pubsafe.refimpl.layout import blob_key, current_key
from pubsafe.refimpl.osio import RealOS
from support import DATA, tree

T, S = "acme", "home"
SLOT = ["--tenant", T, "--surface", S]
OLD = 1_000_000.0  # a time long past: what the fixtures' files are dated
STALE_TEMP = f".tmp-{'0' * 32}"  # the temp file of a write killed long ago


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def orphan_in(root: Path, tenant: str, payload: object) -> Path:
    """An unrecorded blob, as a crashed publish leaves it, dated long ago."""
    data, version = canonicalize(payload)
    path = root / blob_key(tenant, S, "model", version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


def used_both_ways(tmp_path: Path, capsys) -> tuple[Path, Path]:
    """(blobs, registry): a registry's blob store that someone also publishes into as a
    whole store (a model each, acme/home through the registry and beta/home into it)."""
    blobs, registry = tmp_path / "objects", tmp_path / "registry"
    (tmp_path / "a.json").write_text('{"w": 1}')
    (tmp_path / "b.json").write_text('{"w": 2}')
    assert run(capsys, "publish", "--store", str(registry), "--blob-store", str(blobs), *SLOT,
               f"model={tmp_path / 'a.json'}")[0] == 0
    assert run(capsys, "publish", "--store", str(blobs), "--tenant", "beta", "--surface", S,
               f"model={tmp_path / 'b.json'}")[0] == 0
    return blobs, registry


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    root = tmp_path / "pub"
    Engine(LocalStore(root)).publish(T, S, {"model": {"w": 1}, "items": [1]})
    return root


# -- whole-store knowledge --------------------------------------------------------------


def test_a_complete_store_given_as_the_blob_store_is_refused(tmp_path, pub, capsys):
    other = tmp_path / "other"
    Engine(LocalStore(other)).publish("beta", S, {"model": {"w": 7}})
    before = (tree(pub), tree(other))
    code, _, err = run(capsys, "gc", "--store", str(pub), "--blob-store", str(other), "--grace", "0s")
    assert code == 1 and "holds a registry of its own" in err
    assert (tree(pub), tree(other)) == before


def test_a_registrys_blob_store_that_also_holds_a_store_of_its_own_is_collected_by_neither(tmp_path, capsys):
    """A registry's blob store that someone also publishes into as a whole store: gc of
    it as a whole store once deleted the registry's live blob (its manifests are in the
    registry, which a whole-store sweep never reads) and exited 0. Both ways refuse now,
    orphans refuses to call the registry's blobs orphans, and audit says whose they may be."""
    blobs, registry = used_both_ways(tmp_path, capsys)
    before = (tree(blobs), tree(registry))
    for argv in (["gc", "--store", str(blobs), "--grace", "0s"], ["orphans", "--store", str(blobs)],
                 ["gc", "--store", str(registry), "--blob-store", str(blobs), "--grace", "0s"]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and "cannot be collected until the two are separated" in err, (argv, err)
        assert (tree(blobs), tree(registry)) == before, argv
    code, out, _ = run(capsys, "audit", "--store", str(blobs))
    assert "also the blob store of a registry" in out and "deletes those older" not in out
    code, out, _ = run(capsys, "audit", "--store", str(registry), "--blob-store", str(blobs))
    assert code == 0  # its blob is there; the whole store's blob is not its orphan to collect
    assert "also holds a store of its own" in out and "deletes those older" not in out, out


def _hide(binding: Path, how: str) -> None:
    """Put something other than a readable binding where ``binding`` was (outside tester, F10)."""
    saved = binding.read_bytes()
    if how == "gc/bound is a file":
        shutil.move(binding.parent, binding.parent.with_name("bound.saved"))
        binding.parent.write_bytes(saved)
        return
    binding.unlink()
    if how == "a directory":
        binding.mkdir()
    elif how == "a directory with a file in it":
        binding.mkdir()
        (binding / "x.json").write_bytes(saved)
    elif how == "a symbolic link":
        (binding.parent.parent / "elsewhere.json").write_bytes(saved)
        binding.symlink_to(binding.parent.parent / "elsewhere.json")
    elif how == "a named pipe":
        os.mkfifo(binding)
    else:
        (binding.parent / STALE_TEMP).write_bytes(saved)  # "renamed" to a temp file's name


HIDDEN = ["a directory", "a directory with a file in it", "a symbolic link", "gc/bound is a file", "a named pipe",
          "a temp file"]


@pytest.mark.parametrize("how", HIDDEN)
def test_gc_of_a_store_whose_binding_is_replaced_by_something_else_deletes_nothing(tmp_path, capsys, how):
    """A registry's blob store that is also a store of its own, its binding replaced by a
    directory (a restore tool, a stray mkdir -p), a link, a file named gc/bound...: gc of
    it as a whole store saw no binding and deleted the registry's live blob (exit 0, or
    4 for a link). A binding that cannot be read now refuses gc whole, and audit says so."""
    blobs, registry = used_both_ways(tmp_path, capsys)
    for blob in blobs.glob(f"{T}/{S}/model/*.json"):
        os.utime(blob, (OLD, OLD))
    [binding] = (blobs / "gc" / "bound").iterdir()
    _hide(binding, how)
    before = (tree(blobs), tree(registry))
    for argv in (["gc", "--store", str(blobs), "--grace", "0s"], ["gc", "--store", str(blobs), "--dry-run"],
                 ["orphans", "--store", str(blobs)]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and ("where only bindings belong" in err or how.endswith("in it")), (argv, err)
        assert "cannot be collected" in err or "gc deletes nothing" in err, (argv, err)
        assert (tree(blobs), tree(registry)) == before, argv
    code, out, _ = run(capsys, "audit", "--store", str(blobs))
    orphan_notes = [line for line in out.splitlines() if "no manifest of this store names" in line]
    assert orphan_notes and "refuses this store" in orphan_notes[0], out


@pytest.mark.parametrize("how", HIDDEN)
def test_gc_of_a_registry_whose_blob_store_hides_another_registrys_binding_deletes_nothing(tmp_path, capsys, how):
    """The same on the split side: a second registry's binding hidden, the first
    registry's gc took the blob store for its own and deleted the second's live blob."""
    blobs, first, second = tmp_path / "objects", tmp_path / "reg-1", tmp_path / "reg-2"
    (tmp_path / "a.json").write_text('{"w": 1}')
    (tmp_path / "b.json").write_text('{"w": 2}')
    assert run(capsys, "publish", "--store", str(first), "--blob-store", str(blobs), *SLOT,
               f"model={tmp_path / 'a.json'}")[0] == 0
    mine = {p.name for p in (blobs / "gc" / "bound").iterdir()}
    assert run(capsys, "publish", "--store", str(second), "--blob-store", str(blobs), "--tenant", "beta",
               "--surface", S, f"model={tmp_path / 'b.json'}")[0] == 0
    for blob in blobs.glob("*/*/model/*.json"):
        os.utime(blob, (OLD, OLD))
    [theirs] = [p for p in (blobs / "gc" / "bound").iterdir() if p.name not in mine]
    if how == "gc/bound is a file":
        pytest.skip("the first registry's binding goes with the folder: refused as never bound, tested elsewhere")
    _hide(theirs, how)
    before = (tree(blobs), tree(first), tree(second))
    for argv in (["gc", "--store", str(first), "--blob-store", str(blobs), "--grace", "0s"],
                 ["gc", "--store", str(first), "--blob-store", str(blobs), "--dry-run"]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and "where only bindings belong" in err, (argv, err)
        assert (tree(blobs), tree(first), tree(second)) == before, argv


OVERLAPS = {  # (--store, --blob-store), relative to a folder holding the store S
    "the same path": ("S", "S"), "a trailing slash": ("S", "S/"), "./": ("S", "./S"),
    "an absolute path": ("S", "{root}/S"), "a file URL": ("S", "file://{root}/S"), "a link to it": ("S", "Slink"),
    "its records": ("S", "S/records"), "its current": ("S", "S/current"), "its gc folder": ("S", "./S/gc"),
    "a tenant of its records": ("S", "S/records/acme"), "a new folder inside it": ("S", "./S/objects"),
    "the registry inside the blob store": ("./S/registry", "S"),
}


@pytest.mark.parametrize("case", OVERLAPS)
def test_a_blob_store_at_inside_or_around_its_registry_is_refused_before_anything_is_written(tmp_path, capsys, case,
                                                                                              monkeypatch):
    """--blob-store naming the registry's own records/ once made publish exit 0 with the
    record written over the artifact's bytes (stored nowhere); the store itself bound it
    to itself for good (outside tester, F11, F13)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.json").write_text('{"w": [1, 2]}')
    assert run(capsys, "publish", "--store", "./S", *SLOT, "model=m.json")[0] == 0  # S exists, with a store in it
    (tmp_path / "Slink").symlink_to(tmp_path / "S")
    registry, blobs = (spec.format(root=tmp_path) for spec in OVERLAPS[case])
    before = tree(tmp_path)
    for argv in (["publish", *SLOT, "model=m.json"], ["gc", "--grace", "0s"], ["audit"], ["current", *SLOT],
                 ["rollback", *SLOT, "--steps", "1"]):
        code, _, err = run(capsys, argv[0], "--store", registry, "--blob-store", blobs, *argv[1:])
        assert code == 2, (argv, err)
        assert tree(tmp_path) == before, argv
        if "does not exist" in err and argv[0] != "publish":
            continue  # a read-only command refuses a folder that is not there yet, before it compares roots
        assert "Nothing was written" in err, (argv, err)
        assert ("are the same place" in err) == (case in ("the same path", "a trailing slash", "./", "an absolute path",
                                                         "a file URL", "a link to it")), err


def test_a_store_a_publish_once_bound_to_itself_says_how_to_undo_it(tmp_path, capsys):
    store = tmp_path / "S"
    Engine(open_store(str(store))).publish(T, S, {"model": {"w": 1}})
    (store / "gc" / "bound").mkdir(parents=True)
    (store / "gc" / "bound" / "abc.json").write_text(json.dumps({"registry": LocalStore(str(store)).root_uri}))
    orphan_in(store, T, {"w": 2})
    before = tree(store)
    code, _, err = run(capsys, "gc", "--store", str(store), "--grace", "0s")
    assert code == 1 and "to itself" in err and "remove gc/bound/abc.json" in err, err
    assert tree(store) == before
    (store / "gc" / "bound" / "abc.json").unlink()  # as it says
    code, out, _ = run(capsys, "gc", "--store", str(store), "--grace", "0s")
    assert code == 0 and "deleted 1 orphan" in out


UNREADABLE_IDS = [b"{not json", b"", b"\xff\xfe", b"{}", b'{"registry_id": ""}', b'{"registry_id": 7}',
                  b'{"registry_id": "../../x"}', b'{"registry_id": "a/b"}', '{"registry_id": "r\u00e9g"}'.encode(),
                  b'{"registry_id": "' + b"f" * 200 + b'"}', b'["registry_id"]']


@pytest.mark.parametrize("raw", UNREADABLE_IDS, ids=range(len(UNREADABLE_IDS)))
def test_a_registry_whose_id_does_not_read_publishes_nothing_until_it_is_restored(tmp_path, capsys, raw):
    """A registry's gc/registry.json that does not read once made its publish skip the
    binding and go on: the blob store, also published into as a whole store, was then
    collected as a whole store and the registry's live blob deleted (exit 0). Now the
    publish is refused before anything is written, gc of the pair refuses too, and the
    message says how to restore the id (from the binding that names the registry)."""
    blobs, registry = tmp_path / "objects", tmp_path / "registry"
    (tmp_path / "a.json").write_text('{"w": 1}')
    (tmp_path / "b.json").write_text('{"w": 2}')
    (registry / "gc").mkdir(parents=True)
    (registry / "gc" / "registry.json").write_bytes(raw)  # before the first publish: never bound
    publish = ["publish", "--store", str(registry), "--blob-store", str(blobs), *SLOT, f"model={tmp_path / 'a.json'}"]
    before = tree(registry)
    code, _, err = run(capsys, *publish)
    assert code == 1 and "does not hold a registry id pubsafe can read" in err, err
    assert "remove the file and publish again" in err and "Nothing was written" in err
    assert tree(registry) == before and not blobs.exists()
    (registry / "gc" / "registry.json").unlink()  # what the message says to do
    assert run(capsys, *publish)[0] == 0
    rid = json.loads((registry / "gc" / "registry.json").read_text())["registry_id"]
    assert run(capsys, "publish", "--store", str(blobs), "--tenant", "beta", "--surface", S,
               f"model={tmp_path / 'b.json'}")[0] == 0
    (registry / "gc" / "registry.json").write_bytes(raw)  # after it was bound
    before = (tree(blobs), tree(registry))
    for argv in (publish, ["gc", "--store", str(registry), "--blob-store", str(blobs), "--grace", "0s"],
                 ["gc", "--store", str(blobs), "--grace", "0s"]):
        code, _, err = run(capsys, *argv)
        assert code == 1, (argv, err)
        assert (tree(blobs), tree(registry)) == before, argv
    assert "does not hold a registry id" in err or "cannot be collected" in err
    code, _, err = run(capsys, *publish)
    assert f'bound/{rid}.json' in err and 'write {"registry_id": "<that id>"} back' in err, err
    (registry / "gc" / "registry.json").write_text(json.dumps({"registry_id": rid}))  # restored as it says
    assert run(capsys, *publish)[0] == 0
    assert run(capsys, "audit", "--store", str(registry), "--blob-store", str(blobs))[0] == 0


def test_a_split_store_is_swept_only_when_no_other_registry_uses_its_blobs(tmp_path, capsys):
    blobs, first, second = tmp_path / "objects", tmp_path / "reg-1", tmp_path / "reg-2"
    code, _, err = run(capsys, "gc", "--store", str(first), "--blob-store", str(blobs), "--grace", "0s")
    assert code == 2 and "does not exist" in err  # read-only: no store yet
    (tmp_path / "m.json").write_text('{"w": 1}')
    for registry in (first,):
        assert run(capsys, "publish", "--store", str(registry), "--blob-store", str(blobs), *SLOT,
                   f"model={tmp_path / 'm.json'}")[0] == 0
    lost = orphan_in(blobs, T, {"w": 2})
    code, out, _ = run(capsys, "gc", "--store", str(first), "--blob-store", str(blobs), "--grace", "0s")
    assert code == 0 and "deleted 1 orphan" in out and not lost.exists()
    # a second registry publishes into the same blob store: its blobs are not the first's orphans
    (tmp_path / "n.json").write_text('{"w": 3}')
    assert run(capsys, "publish", "--store", str(second), "--blob-store", str(blobs), "--tenant", "beta",
               "--surface", S, f"model={tmp_path / 'n.json'}")[0] == 0
    orphan_in(blobs, T, {"w": 4})
    before = (tree(blobs), tree(first), tree(second))
    code, _, err = run(capsys, "gc", "--store", str(first), "--blob-store", str(blobs), "--grace", "0s")
    assert code == 1 and "is shared: 1 other registry" in err
    assert (tree(blobs), tree(first), tree(second)) == before
    code, out, _ = run(capsys, "audit", "--store", str(first), "--blob-store", str(blobs))
    assert code == 0 and "is shared with 1 other registry" in out and "deletes those older" not in out, out


def test_a_registry_never_bound_to_its_blob_store_is_refused(tmp_path, capsys):
    blobs, registry = tmp_path / "objects", tmp_path / "registry"
    Engine(open_store(str(registry), blob_store=str(blobs))).publish(T, S, {"model": 1})
    shutil.rmtree(blobs / "gc")  # as a store published before bindings existed
    orphan_in(blobs, T, {"w": 2})
    before = (tree(blobs), tree(registry))
    code, _, err = run(capsys, "gc", "--store", str(registry), "--blob-store", str(blobs), "--grace", "0s")
    assert code == 1 and "no pubsafe publish has bound" in err
    assert (tree(blobs), tree(registry)) == before


def test_a_copied_registry_gets_an_id_of_its_own_and_gc_refuses_the_shared_blob_store(tmp_path, capsys):
    """cp -a of a bound registry carried its id: the copy's publishes added no binding,
    and gc of the original deleted the copy's live blob (outside tester, F1)."""
    blobs, original, copy = tmp_path / "objects", tmp_path / "reg-a", tmp_path / "reg-b"
    Engine(open_store(str(original), blob_store=str(blobs))).publish(T, S, {"model": {"w": 1}})
    shutil.copytree(original, copy, symlinks=True)
    before = (tree(blobs), tree(original))
    code, _, err = run(capsys, "gc", "--store", str(copy), "--blob-store", str(blobs), "--grace", "0s")
    assert code == 1 and "is a copy of that one (or was moved)" in err  # before the copy publishes
    assert (tree(blobs), tree(original)) == before
    Engine(open_store(str(copy), blob_store=str(blobs))).publish("beta", S, {"model": {"w": 2}})
    live = blobs / Engine(open_store(str(copy), blob_store=str(blobs))).current("beta", S).current["model"]
    os.utime(live, (OLD, OLD))
    before = (tree(blobs), tree(original), tree(copy))
    for registry in (original, copy):
        code, _, err = run(capsys, "gc", "--store", str(registry), "--blob-store", str(blobs), "--grace", "0s")
        assert code == 1 and "is shared: 1 other registry" in err
    assert (tree(blobs), tree(original), tree(copy)) == before and live.exists()


def test_a_new_registry_binding_during_a_sweep_stops_it_and_its_publish_waits(tmp_path, capsys):
    """A new registry's first publish adopted orphans a running sweep of another
    registry then deleted (outside tester, F2: 8 of 9 trials). Either order is safe:
    a publish that binds after the sweep announced itself refuses before adopting; a
    binding made before stops the sweep at its next fence."""
    from pubsafe.refimpl.errors import CollectionInProgress
    from pubsafe.refimpl.gc import sweep

    blobs, first, second = tmp_path / "objects", tmp_path / "reg-a", tmp_path / "reg-b"
    Engine(open_store(str(first), blob_store=str(blobs))).publish(T, S, {"model": {"w": 1}})
    shared = [orphan_in(blobs, "beta", {"n": n}) for n in range(3)]  # what reg-b is about to publish
    store = open_store(str(first), blob_store=str(blobs))
    seen: list[str] = []

    class BindsMidSweep(type(store)):  # reg-b's first publish lands between two deletes of reg-a's sweep
        def delete(self, key: str) -> None:
            if key.startswith("beta/") and not seen:
                seen.append(key)
                with pytest.raises(CollectionInProgress, match="a gc sweep of another registry"):
                    Engine(open_store(str(second), blob_store=str(blobs))).publish("beta", S, {"model": {"n": 1}})
            super().delete(key)

    racing = BindsMidSweep(store.blobs, store.registry)
    with pytest.raises(CollectionRefused, match="another registry bound itself"):
        sweep(racing, 0, clock=time.time)
    assert len(seen) == 1 and sum(p.exists() for p in shared) == 2  # the one in flight went; then it stopped
    # once the sweep has ended, reg-b publishes, and gc of either registry refuses the shared blob store
    receipt = Engine(open_store(str(second), blob_store=str(blobs))).publish("beta", S, {"model": {"n": 1}})
    assert (blobs / blob_key("beta", S, "model", receipt.artifacts["model"])).exists()
    before = (tree(blobs), tree(first), tree(second))
    code, _, err = run(capsys, "gc", "--store", str(first), "--blob-store", str(blobs), "--grace", "0s")
    assert code == 1 and "is shared" in err and (tree(blobs), tree(first), tree(second)) == before


def test_a_crashed_sweeps_claims_in_the_blob_store_do_not_block_the_next_gc(tmp_path, capsys):
    """A registry's sweep claims an orphan in its blob store's records/ too (a publish
    into the blob store as a whole store records there). A sweep killed after claiming
    leaves a tombstone there: it is no registry of the blob store's own, audit says who
    finishes it, a whole-store publish of that version waits, and the next sweep
    finishes it; so does a stray claim there whose twin in the registry is gone."""
    from pubsafe.faults import Crash, FaultyStore
    from pubsafe.refimpl.gc import sweep
    from pubsafe.refimpl.split import SplitStore

    blobs, registry = tmp_path / "objects", tmp_path / "registry"
    Engine(open_store(str(registry), blob_store=str(blobs))).publish(T, S, {"model": {"w": 1}})
    claimed, stray = orphan_in(blobs, T, {"w": 2}), orphan_in(blobs, T, {"w": 3})
    pair = open_store(str(registry), blob_store=str(blobs))
    assert isinstance(pair, SplitStore)
    with pytest.raises(Crash):  # killed after its claims, before it re-read current
        sweep(SplitStore(pair.blobs, FaultyStore(pair.registry, "crash@gc-reprove")), 0, clock=time.time,
              lease_seconds=1)
    os.utime(registry / "gc" / "lease.json", (OLD, OLD))  # its lease lapsed long ago
    claim = Path("records") / claimed.relative_to(blobs)
    assert (blobs / claim).read_bytes() == (registry / claim).read_bytes()  # claimed at both record keys
    stray_claim = blobs / "records" / stray.relative_to(blobs)
    stray_claim.write_bytes((blobs / claim).read_bytes())  # as if its twin had been released
    (tmp_path / "w2.json").write_text('{"w": 2}')
    before = (tree(blobs), tree(registry))
    code, out, _ = run(capsys, "audit", "--store", str(blobs))
    assert code == 1 and "--blob-store this store` finishes it" in out
    code, _, err = run(capsys, "publish", "--store", str(blobs), *SLOT, f"model={tmp_path / 'w2.json'}")
    assert code == 1 and "is being garbage-collected" in err and "of the registry whose blob store" in err
    assert (tree(blobs), tree(registry)) == before
    code, out, err = run(capsys, "gc", "--store", str(registry), "--blob-store", str(blobs), "--grace", "0s")
    assert code == 0, err
    assert not claimed.exists() and not stray.exists()
    assert not [path for path in (blobs / "records").rglob("*") if path.is_file()]
    assert not (registry / claim).exists() and "deleted 1 orphan" in out
    assert run(capsys, "audit", "--store", str(registry), "--blob-store", str(blobs))[0] == 0
    assert run(capsys, "audit", "--store", str(blobs))[0] == 0


def test_a_blob_pubsafe_did_not_write_is_never_collected(tmp_path, capsys):
    """A new registry bound to recsys-pipelines' object store: gc deleted upstream's
    recorded, current blobs (upstream writes no binding; outside tester, F5)."""
    fixture = DATA / "upstream" / "healthy-split-roots"
    blobs = tmp_path / "objects"
    shutil.copytree(fixture / "store" / "objectstore", blobs)
    upstream = sorted(p for p in blobs.rglob("*.json") if p.is_file())
    registry = tmp_path / "reg"
    Engine(open_store(str(registry), blob_store=str(blobs))).publish("pubsafe-tenant", S, {"model": {"w": 1}})
    for path in blobs.rglob("*"):
        os.utime(path, (OLD, OLD))
    before = {p: p.read_bytes() for p in upstream}
    code, out, _ = run(capsys, "gc", "--store", str(registry), "--blob-store", str(blobs), "--grace", "0s",
                       "--dry-run")
    assert code == 0 and "do not hash to its version as pubsafe writes" in out
    code, out, _ = run(capsys, "gc", "--store", str(registry), "--blob-store", str(blobs), "--grace", "0s")
    assert "deleted 0 orphan" in out and "do not hash to its version as pubsafe writes" in out
    assert {p: p.read_bytes() for p in upstream} == before


def test_every_record_is_read_not_a_sample(tmp_path, capsys):
    """51 pubsafe records under a tenant that sorts first used to hide upstream's."""
    root = tmp_path / "store"
    shutil.copytree(DATA / "upstream" / "healthy-single-root" / "store", root)
    engine = Engine(LocalStore(root))
    for n in range(51):
        engine.publish("aaa", S, {"model": n})
    code, out, _ = run(capsys, "orphans", "--store", str(root))
    assert code == 0
    before = tree(root)
    code, _, err = run(capsys, "gc", "--store", str(root), "--grace", "0s")
    assert code == 1 and "was written by recsys-pipelines" in err
    assert tree(root) == before
    code, out, _ = run(capsys, "audit", "--store", str(root))
    assert "`pubsafe gc` deletes" not in out  # audit does not advise what gc refuses


@pytest.mark.parametrize("spec", ["local://{root}"])
def test_gc_refuses_a_store_without_create_only_writes(tmp_path, pub, capsys, spec):
    orphan_in(pub, T, {"w": 2})
    before = tree(pub)
    code, _, err = run(capsys, "gc", "--store", spec.format(root=pub), "--grace", "0s")
    assert code == 1 and "does not declare create-only writes" in err
    assert tree(pub) == before


def test_gc_refuses_a_directory_that_is_not_a_store(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    for name in (".bashrc.tmp-123", ".x.tmp-4567", "notes.txt"):
        (home / name).write_text("keep me")
        os.utime(home / name, (OLD, OLD))
    before = tree(home)
    code, _, err = run(capsys, "gc", "--store", str(home), "--grace", "0s")
    assert code == 1 and "is not a pubsafe store" in err
    assert tree(home) == before


def test_gc_on_an_empty_store_does_nothing_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, _ = run(capsys, "gc", "--store", str(tmp_path / "empty"), "--grace", "0s")
    assert code == 0 and "no lease taken" in out and tree(tmp_path / "empty") == {}


# -- publish never carries a foreign or broken entry forward -------------------------------


@pytest.mark.parametrize("damage", ["another slot's manifest", "altered blob", "deleted blob"])
def test_publish_refuses_to_carry_what_current_should_not_name(tmp_path, pub, capsys, damage):
    store = LocalStore(pub)
    beta = Engine(store).publish("beta", S, {"model": {"w": 5}})
    items = pub / Engine(store).current(T, S).current["items"]
    if damage == "another slot's manifest":
        (pub / current_key(T, S)).write_bytes((pub / current_key("beta", S)).read_bytes())
    elif damage == "altered blob":
        items.write_bytes(b"[2]")
    else:
        items.unlink()
    (tmp_path / "m.json").write_text('{"w": 9}')
    before = tree(pub)
    code, _, err = run(capsys, "publish", "--store", str(pub), *SLOT, f"model={tmp_path / 'm.json'}")
    assert code == 1 and "writes nothing" in err and "pubsafe audit" in err
    if damage == "another slot's manifest":
        assert "holds the manifest of 'beta'/'home', not of 'acme'/'home'" in err
    else:
        assert "'items'" in err
    assert tree(pub) == before
    assert beta.artifacts


# -- the sweep makes progress under faults ---------------------------------------------------


class _Faulty(RealOS):
    """The OS under a local store, refusing some calls with an errno."""

    def __init__(self, *, write_errno: int | None = None, unlink_refused: str | None = None) -> None:
        self.write_errno, self.unlink_refused = write_errno, unlink_refused
        self.freed = False

    def write(self, fd: int, data: bytes) -> None:
        if self.write_errno is not None and not self.freed:
            raise OSError(self.write_errno, os.strerror(self.write_errno))
        super().write(fd, data)

    def unlink(self, path: str) -> None:
        if self.unlink_refused is not None and path.endswith(self.unlink_refused) and "/records/" not in path:
            raise PermissionError(errno.EPERM, "Operation not permitted", path)
        super().unlink(path)
        if path.endswith(STALE_TEMP):
            self.freed = True  # the old temp file removed makes room, on this small disk


def test_a_full_disk_first_loses_its_temp_files_then_the_sweep_runs(pub):
    orphan = orphan_in(pub, T, {"w": 2})
    temp = pub / T / S / "model" / STALE_TEMP
    temp.write_bytes(b"x" * 4096)
    os.utime(temp, (OLD, OLD))
    report = Engine(LocalStore(pub, os_ops=_Faulty(write_errno=errno.ENOSPC))).gc(0)
    assert report.removed_debris == [str(temp.relative_to(pub))] and not temp.exists()
    assert report.deleted == [str(orphan.relative_to(pub))] and not report.partial


def test_a_disk_that_stays_full_is_refused_with_what_to_do(pub):
    orphan_in(pub, T, {"w": 2})
    before = tree(pub)
    with pytest.raises(CollectionRefused, match="the store is full .* free a little space"):
        Engine(LocalStore(pub, os_ops=_Faulty(write_errno=errno.ENOSPC))).gc(0)
    assert tree(pub) == before


def test_an_orphan_that_cannot_be_deleted_is_reported_and_blocks_nothing(tmp_path, pub, capsys):
    stuck = orphan_in(pub, T, {"w": 2})
    other = orphan_in(pub, T, {"w": 3})
    store = LocalStore(pub, os_ops=_Faulty(unlink_refused=stuck.name))
    report = Engine(store).gc(0)
    assert report.deleted == [str(other.relative_to(pub))] and not other.exists()
    assert list(report.failed) == [str(stuck.relative_to(pub))] and "Operation not permitted" in str(report.failed)
    assert report.partial and stuck.exists()
    assert not (pub / ("records/" + str(stuck.relative_to(pub)))).exists()  # its claim was withdrawn
    again = Engine(store).gc(0)  # the next sweep reports it again, and is not stopped by it
    assert list(again.failed) == list(report.failed) and again.deleted == []
    (tmp_path / "m.json").write_text('{"w": 2}')  # and its version can be published
    assert run(capsys, "publish", "--store", str(pub), *SLOT, f"model={tmp_path / 'm.json'}")[0] == 0


def test_a_stray_file_in_one_tenants_history_stops_only_that_tenant(tmp_path, pub, capsys):
    Engine(LocalStore(pub)).publish("beta", S, {"model": {"w": 5}})
    (pub / "history" / T / S / "notes.txt").write_text("not a manifest")
    kept = orphan_in(pub, T, {"w": 2})
    gone = orphan_in(pub, "beta", {"w": 3})
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "0s")
    assert code == 4 and f"nothing deleted in {T}/{S}" in out and "deleted 1 orphan" in out
    assert kept.exists() and not gone.exists()


def test_a_uri_with_a_doubled_slash_keeps_its_blob_alive_and_is_served(pub, capsys):
    doc = json.loads((pub / current_key(T, S)).read_bytes())
    model = doc["current"]["model"]
    doc["current"]["model"] = f"file://{pub}//{model}"  # as an upstream writer might spell it
    (pub / current_key(T, S)).write_text(json.dumps(doc))
    (pub / ("records/" + model)).unlink()  # and its record lost
    os.utime(pub / model, (OLD, OLD))
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "0s")
    assert code == 0 and (pub / model).exists()
    assert ServingReader(LocalStore(pub)).artifact(T, S, "model") == {"w": 1}


# -- the lease ----------------------------------------------------------------------------


def _lease(pub: Path, seconds: float, age: float) -> Path:
    lease = pub / "gc" / "lease.json"
    lease.parent.mkdir(exist_ok=True)
    lease.write_text(json.dumps({"gc_lease": True, "owner": "elsewhere", "generation": 7, "lease_seconds": seconds,
                                 "renewed_at": "2099-01-01T00:00:00Z", "released": False}))
    os.utime(lease, (time.time() - age, time.time() - age))
    return lease


def test_a_lease_claiming_to_last_for_ever_lapses_after_a_day_and_audit_says_so(pub, capsys):
    orphan = orphan_in(pub, T, {"w": 2})
    _lease(pub, 1e12, age=60)
    before = tree(pub)
    code, out, _ = run(capsys, "audit", "--store", str(pub))
    assert "holds the lease (86400s" in out
    code, _, err = run(capsys, "gc", "--store", str(pub), "--grace", "0s")
    assert code == 1 and "holds the lease" in err and "run gc again in 86340s" in err
    assert tree(pub) == before
    _lease(pub, 1e12, age=86400 + 60)
    code, out, _ = run(capsys, "audit", "--store", str(pub))
    assert "lapsed 60s ago" in out and "the next gc takes it over" in out
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "0s")
    assert code == 0 and "lease generation 8" in out and not orphan.exists()


@pytest.mark.parametrize(("lease", "message"), [("0.5s", "between 1s and 24h"),
                                                ("99999999999999999999d", "longer than a century"),
                                                ("2d", "between 1s and 24h"), ("soon", "cannot read --lease")])
def test_a_lease_out_of_range_is_refused_before_anything_is_read(pub, capsys, lease, message):
    before = tree(pub)
    code, _, err = run(capsys, "gc", "--store", str(pub), "--lease", lease)
    assert code == 2 and message in err and "Traceback" not in err
    assert tree(pub) == before


def test_a_sweep_that_cannot_renew_in_time_stops_and_says_why(pub):
    from pubsafe.refimpl.gc import sweep

    orphan = orphan_in(pub, T, {"w": 2})
    ticks = iter(range(0, 10_000, 5))  # every look at the monotonic clock: five seconds later
    with pytest.raises(CollectionRefused, match="could not prove its lease within half of --lease"):
        sweep(LocalStore(pub), 0, clock=time.time, lease_seconds=6, monotonic=lambda: float(next(ticks)))
    assert orphan.exists()


def test_a_host_clock_an_hour_ahead_does_not_take_a_live_lease(pub):
    orphan_in(pub, T, {"w": 2})
    _lease(pub, 300, age=10)
    with pytest.raises(SweepInProgress):
        Engine(LocalStore(pub), clock=lambda: time.time() + 3600).gc(0)


# -- dry run and plan -----------------------------------------------------------------------


def test_dry_run_prints_the_proof_and_writes_nothing_and_the_plan_is_json(tmp_path, pub, capsys):
    orphan = orphan_in(pub, T, {"w": 2})
    before = tree(pub)
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "1h", "--dry-run")
    key = str(orphan.relative_to(pub))
    assert code == 0 and f"would delete {key}: unrecorded (no records/{key})" in out and "dry run" in out
    assert tree(pub) == before
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--plan", str(tmp_path / "plan.json"))
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert code == 0 and plan["dry_run"] is True and list(plan["planned"]) == [key]
    assert tree(pub) == before
    code, _, err = run(capsys, "gc", "--store", str(pub), "--plan", str(tmp_path))
    assert code == 2 and "is a directory" in err


# -- bad input and hostile files ------------------------------------------------------------


def _cli(*argv: str, stdin: bytes | None = None, env: dict | None = None,
         close_stdin: bool = False) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pubsafe", *argv], input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None and not close_stdin else None,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=60,
                          **({"preexec_fn": lambda: os.close(0)} if close_stdin else {}))


def test_publish_from_a_closed_stdin_is_a_clear_error(pub):
    before = tree(pub)
    done = _cli("publish", "--store", str(pub), *SLOT, "model=-", close_stdin=True)
    assert done.returncode == 2 and b"standard input is closed" in done.stderr and b"Traceback" not in done.stderr
    assert tree(pub) == before


def test_publish_reads_stdin_as_utf8_whatever_the_locale(pub):
    done = _cli("publish", "--store", str(pub), *SLOT, "model=-", stdin='{"k": "café ☕"}'.encode(),
                env={"PYTHONIOENCODING": "latin-1", "LC_ALL": "C"})
    assert done.returncode == 0, done.stderr
    data, version = canonicalize({"k": "café ☕"})
    assert (pub / blob_key(T, S, "model", version)).read_bytes() == data


@pytest.mark.parametrize(("files", "message"), [
    ({"a": "-", "b": "-"}, "both read stdin ('-'), which can be read once"),
    ({"model": '{"n": ' + "9" * 5000 + "}"}, "holds a number too long to read exactly"),
    ({"model": '{"\\ud800": 1}'}, "an object key holds a lone surrogate"),
])
def test_inputs_that_used_to_be_unclear_get_a_clear_error(tmp_path, pub, files, message):
    argv = []
    for type_, text in files.items():
        if text == "-":
            argv.append(f"{type_}=-")
        else:
            (tmp_path / f"{type_}.json").write_text(text)
            argv.append(f"{type_}={tmp_path / f'{type_}.json'}")
    before = tree(pub)
    done = _cli("publish", "--store", str(pub), *SLOT, *argv, stdin=b"{}")
    assert done.returncode == 2 and message.encode() in done.stderr and b"Traceback" not in done.stderr
    assert tree(pub) == before


def test_a_lock_file_that_is_a_link_is_never_followed(tmp_path, pub, capsys):
    outside = tmp_path / "outside" / "target"
    lock = pub / "current" / T / S / ".manifest.json.lock"
    lock.unlink()
    lock.symlink_to(outside)
    (tmp_path / "m.json").write_text('{"w": 9}')
    code, _, err = run(capsys, "publish", "--store", str(pub), *SLOT, f"model={tmp_path / 'm.json'}")
    assert code == 1 and "lock file .manifest.json.lock is a symbolic link" in err
    assert not outside.exists() and not outside.parent.exists()


def test_demo_refuses_a_directory_that_is_not_empty(pub, capsys):
    before = tree(pub)
    code, _, err = run(capsys, "demo", "--dir", str(pub))
    assert code == 2 and "is not empty" in err
    assert tree(pub) == before


@pytest.mark.parametrize("command", [["check", "--store", "memory", "--profile", "quick"], ["merge", "x.json"]])
def test_a_report_directory_that_is_a_file_is_refused_before_the_run(tmp_path, capsys, command):
    (tmp_path / "taken").write_text("mine")
    code, _, err = run(capsys, *command, "--report", str(tmp_path / "taken"))
    assert code == 2 and "is a file, and the reports go into a directory" in err
    assert (tmp_path / "taken").read_text() == "mine"
