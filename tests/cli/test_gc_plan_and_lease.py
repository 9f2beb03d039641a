"""GC's plan file and its lease on the states an outside tester found (issue 23, F3 and F4).

Each case: the exit code ``--help`` documents, a message that names what was wrong
and what to do, and a snapshot of every entry of every store involved (bytes, modes
and times; links and special files included) before and after.
"""

from __future__ import annotations

import errno
import os
import re
import time
from pathlib import Path

import pytest

from pubsafe.cli import main
from pubsafe.faults.backend import backend_seam
from pubsafe.refimpl import Engine, LocalStore, open_store
from pubsafe.refimpl.canonical import canonicalize
from pubsafe.refimpl.errors import CollectionRefused, StoreError
from pubsafe.refimpl.layout import GC_LEASE, blob_key, current_key
from pubsafe.refimpl.osio import RealOS
from pubsafe.refimpl.store import ANY, Expect
from support import entries

T, S = "acme", "home"
OLD = 1_000_000.0


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def orphan_in(root: Path, payload: object) -> Path:
    data, version = canonicalize(payload)
    path = root / blob_key(T, S, "model", version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    root = tmp_path / "pub"
    Engine(LocalStore(root)).publish(T, S, {"model": {"w": 1}})
    orphan_in(root, {"w": 2})
    return root


@pytest.fixture
def split(tmp_path: Path) -> tuple[Path, Path]:
    registry, blobs = tmp_path / "registry", tmp_path / "objects"
    Engine(open_store(str(registry), blob_store=str(blobs))).publish(T, S, {"model": {"w": 1}})
    orphan_in(blobs, {"w": 2})
    return registry, blobs


def _live_blob(root: Path) -> Path:
    return next((root / T / S / "model").glob("*.json"))


# -- F3: the plan file ----------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [True, False])
@pytest.mark.parametrize("target", ["live blob", "current manifest", "new file in the store", "store root itself"])
def test_a_plan_is_never_written_into_the_store(pub, capsys, target, dry_run):
    path = {"live blob": _live_blob(pub), "current manifest": pub / current_key(T, S),
            "new file in the store": pub / "records" / "plan.json", "store root itself": pub}[target]
    before = entries(pub)
    code, _, err = run(capsys, "gc", "--store", str(pub), "--plan", str(path), *(["--dry-run"] * dry_run))
    assert code == 2 and "Traceback" not in err
    if target == "store root itself":
        assert "is a directory" in err
    else:
        assert "is inside the store" in err and "give a path outside" in err
    assert entries(pub) == before


@pytest.mark.parametrize("half", ["registry", "blob store"])
def test_a_plan_is_never_written_into_either_half_of_a_split_store(split, capsys, half):
    registry, blobs = split
    path = registry / current_key(T, S) if half == "registry" else _live_blob(blobs)
    before = entries(registry), entries(blobs)
    code, _, err = run(capsys, "gc", "--store", str(registry), "--blob-store", str(blobs), "--plan", str(path))
    assert code == 2 and "is inside the store" in err and str(registry if half == "registry" else blobs) in err
    assert (entries(registry), entries(blobs)) == before


@pytest.mark.parametrize("spelling", ["symlinked directory", "dot-dot", "symlinked store root", "file:// store"])
def test_a_plan_path_that_leads_into_the_store_another_way_is_refused(tmp_path, pub, capsys, spelling):
    store_arg = str(pub)
    if spelling == "symlinked directory":
        (tmp_path / "reports").symlink_to(pub / "current" / T / S, target_is_directory=True)
        path = tmp_path / "reports" / "manifest.json"
    elif spelling == "dot-dot":
        path = Path(f"{tmp_path}/elsewhere/../pub/current/{T}/{S}/manifest.json")
        (tmp_path / "elsewhere").mkdir()
    elif spelling == "symlinked store root":
        (tmp_path / "alias").symlink_to(pub, target_is_directory=True)
        store_arg, path = str(tmp_path / "alias"), pub / "gc-plan.json"
    else:
        store_arg, path = pub.as_uri(), pub / "records" / "gc-plan.json"
    before = entries(pub)
    code, _, err = run(capsys, "gc", "--store", store_arg, "--plan", str(path), "--dry-run")
    assert code == 2 and "is inside the store" in err
    assert entries(pub) == before


@pytest.mark.parametrize("existing", ["file", "dangling link"])
def test_a_plan_never_replaces_an_existing_file(tmp_path, pub, capsys, existing):
    path = tmp_path / "plan.json"
    if existing == "file":
        path.write_text("yesterday's plan, or anything else")
    else:
        path.symlink_to(tmp_path / "nowhere" / "x.json")
    before = entries(tmp_path)
    code, _, err = run(capsys, "gc", "--store", str(pub), "--plan", str(path))
    assert code == 2 and "already exists" in err and "a plan is written to a new file" in err
    assert entries(tmp_path) == before


def test_a_plan_goes_to_a_new_file_outside_the_store(tmp_path, pub, capsys):
    before = entries(pub)
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--plan", str(tmp_path / "plan.json"))
    assert code == 0 and f"plan written to {tmp_path / 'plan.json'}" in out
    assert entries(pub) == before and (tmp_path / "plan.json").read_text().startswith("{")


@pytest.mark.parametrize("given", ["store root", "directory inside the store", "directory outside"])
def test_a_plan_directory_gets_a_suggestion_outside_the_store(tmp_path, pub, capsys, monkeypatch, given):
    monkeypatch.chdir(pub)  # so that ./gc-plan.json would be inside the store too
    directory = {"store root": ".", "directory inside the store": str(pub / "current"),
                 "directory outside": str(tmp_path)}[given]
    before = entries(pub)
    code, _, err = run(capsys, "gc", "--store", str(pub), "--plan", directory)
    assert code == 2 and "is a directory" in err
    suggested = re.search(r"e\.g\. (\S+)$", err.strip()).group(1)
    resolved = Path(os.path.realpath(suggested))
    assert not resolved.is_relative_to(pub.resolve()) and not resolved.exists()
    if given == "directory outside":
        assert resolved == tmp_path.resolve() / "gc-plan.json"
    assert entries(pub) == before


# -- F4: the lease on a full disk -----------------------------------------------------------


class SmallDisk(RealOS):
    """A disk with ``pages`` free pages: each file written takes one, and removing a
    file's last link gives it back (as the one-page tmpfs of the outside test did)."""

    def __init__(self, pages: int) -> None:
        self.pages, self.owned = pages, set()

    def write(self, fd: int, data: bytes) -> None:
        if self.pages <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super().write(fd, data)
        self.pages -= 1
        self.owned.add(os.fstat(fd).st_ino)

    def unlink(self, path: str) -> None:
        st = os.lstat(path)
        super().unlink(path)
        if st.st_nlink == 1 and st.st_ino in self.owned:
            self.owned.discard(st.st_ino)
            self.pages += 1


def test_a_disk_with_room_for_the_lease_only_leaves_no_lease_behind(pub, capsys):
    """The one free page takes the lease; the probe's write fails. gc said "nothing
    written" (exit 1) yet kept the lease, and the next gc was refused for 5 minutes."""
    before = entries(pub)
    with pytest.raises(CollectionRefused, match="the store is full .* free a little space"):
        Engine(LocalStore(pub, os_ops=SmallDisk(pages=1))).gc(0)
    after = entries(pub)
    assert after.pop("gc")[0] == "dir" and not os.listdir(pub / "gc")  # an empty directory, where the lease was
    assert after == before  # nothing else written: no lease left either
    code, out, _ = run(capsys, "gc", "--store", str(pub), "--grace", "0s")  # space freed: gc runs at once
    assert code == 0 and "deleted 1 orphan" in out


def test_a_disk_that_frees_up_between_tries_gets_its_sweep(pub):
    """The probe's write fails once: the lease is withdrawn, so the second try, after
    temp files are removed, takes it again (it used to find its own lease and refuse)."""
    store = LocalStore(pub)
    seam = backend_seam(store)
    with seam.injecting(seam.fault("no-space", "gc-probe", "write")) as shot:
        report = Engine(store).gc(0)
    assert shot.fired and len(report.deleted) == 1 and not report.partial
    assert GC_LEASE not in store.list("gc/") or b'"released":true' in store.get(GC_LEASE)


def test_a_full_disk_at_the_end_of_a_sweep_deletes_the_lease_instead_of_releasing_it(pub):
    """Releasing is a write (released: true); on a full disk the lease is deleted instead."""
    store = LocalStore(pub)
    seam = backend_seam(store)
    with seam.injecting(seam.fault("no-space", "gc-lease", "write", 2)) as shot:  # 1: taking it, 2: releasing it
        report = Engine(store).gc(0)
    assert shot.fired and len(report.deleted) == 1 and not report.partial
    assert not (pub / GC_LEASE).exists()


def test_a_lease_that_cannot_be_handed_back_is_reported_with_when_it_lapses(pub, capsys):
    store = LocalStore(pub)
    seam = backend_seam(store)
    with seam.injecting(seam.fault("io-error", "gc-lease", "write", 2)) as shot:
        report = Engine(store).gc(0, lease_seconds=120)
    assert shot.fired and len(report.deleted) == 1
    assert report.partial and GC_LEASE in report.left_alone  # exit 4, not 0: something is left
    why = report.left_alone[GC_LEASE]
    assert "could not be handed back" in why and re.search(r"lapses in about 1[12]\ds", why)
    assert b'"released":false' in (pub / GC_LEASE).read_bytes()
    orphan_in(pub, {"w": 3})
    code, _, err = run(capsys, "gc", "--store", str(pub), "--grace", "0s")
    assert code == 1 and "holds the lease" in err


class _FailsMidSweep(LocalStore):
    """A store whose listing fails once the sweep holds its lease, and whose lease
    cannot be written back."""

    armed = False

    def debris(self):  # type: ignore[override]
        if self.armed:
            raise StoreError("listing the store: input/output error")
        return super().debris()

    def put(self, key: str, data: bytes) -> str:
        etag = super().put(key, data)
        if key == GC_LEASE:
            self.armed = True
        return etag

    def replace(self, key: str, data: bytes, *, expect: str | Expect = ANY) -> str:
        if key == GC_LEASE and b'"released":true' in data:
            raise StoreError("replacing gc/lease.json: input/output error")
        return super().replace(key, data, expect=expect)


def test_a_sweep_that_fails_and_cannot_hand_its_lease_back_says_so(pub):
    store = _FailsMidSweep(pub)
    with pytest.raises(StoreError) as failure:
        Engine(store).gc(0)
    message = str(failure.value)
    assert "listing the store" in message and "is left held and lapses in about" in message
    assert not isinstance(failure.value, CollectionRefused)  # exit 3, not 1 ("nothing was written")
    assert (pub / GC_LEASE).exists()
    assert time.time() - (pub / GC_LEASE).stat().st_mtime < 300


class _SmallDiskKeepingTheLease(SmallDisk):
    def unlink(self, path: str) -> None:
        if path.endswith(GC_LEASE):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        super().unlink(path)


def test_a_lease_that_cannot_be_withdrawn_after_a_failed_probe_is_named_with_when_it_lapses(pub):
    with pytest.raises(StoreError) as failure:
        Engine(LocalStore(pub, os_ops=_SmallDiskKeepingTheLease(pages=1))).gc(0, lease_seconds=60)
    message = str(failure.value)
    assert not isinstance(failure.value, CollectionRefused)  # exit 3: the lease was written, and stays
    assert "no space left" in message and re.search(r"is left held and lapses in about [56]\ds", message)
    assert (pub / GC_LEASE).exists()
