"""One store spec everywhere: forms, adapter factories, validation up front, teardown.

Each refusal is an exit-2 usage error that names the fix, and nothing is written;
each run removes and closes every store it made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pubsafe.cli import main
from pubsafe.models import target_from_spec
from pubsafe.models.conformance import Profile, run_conformance
from pubsafe.models.pytest_suite import StoreContractTests
from pubsafe.models.target import factory_target
from pubsafe.refimpl import MemoryStore, open_store
from pubsafe.refimpl.errors import InvalidInput
from pubsafe.refimpl.prefixed import PrefixedStore
from support import REPO, tree

ADAPTERS = '''
import contextlib
from pubsafe.refimpl import MemoryStore
from pubsafe.refimpl.store import Capabilities

OPENED, CLOSED = [], []

class Counted(MemoryStore):
    def __init__(self):
        super().__init__()
        OPENED.append(self)
    def close(self):
        CLOSED.append(self)

def counted():
    return Counted()

@contextlib.contextmanager
def managed():
    store = Counted()
    yield store
    CLOSED.append("exit")

class NoCAS(MemoryStore):
    capabilities = Capabilities(atomic_replace=True, create_only=True, compare_and_swap=False, durable=True)

def no_cas():
    return NoCAS()

class KeyErrorStore(MemoryStore):
    def get_object(self, key):
        raise KeyError(key)

def key_error():
    return KeyErrorStore()

PROBED = []

class ProbeCounted(MemoryStore):
    def get_object(self, key):
        if key.startswith("pubsafe-probe/"):
            PROBED.append(("get_object", key))
        return super().get_object(key)
    def stat(self, key):
        if key.startswith("pubsafe-probe/"):
            PROBED.append(("stat", key))
        return super().stat(key)

def probe_counted():
    return ProbeCounted()

MADE = []

def good_then_key_error():
    MADE.append(1)
    return ProbeCounted() if len(MADE) <= 2 else KeyErrorStore()

def not_a_store():
    return {"objects": {}}

def needs_argument(path):
    return MemoryStore()

def raises():
    raise RuntimeError("database password missing")

class CloseFails(MemoryStore):
    def close(self):
        raise OSError("connection already reset")

def close_fails():
    return CloseFails()
'''


@pytest.fixture
def adapters(tmp_path, monkeypatch):
    """A module of test adapters in the current directory, importable as ``python -m`` would."""
    (tmp_path / "my_adapters.py").write_text(ADAPTERS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_adapters", None)
    yield tmp_path
    sys.modules.pop("my_adapters", None)


@pytest.mark.parametrize(("spec", "message"), [
    ("sqlitestore", "'sqlitestore' is not a store"),
    ("nosuch:factory", "cannot import 'nosuch'"),
    ("nope://bucket/x", "Protocol not known: nope"),
    ("my_adapters:not_a_store", "gave a dict, not a pubsafe Store"),
    ("my_adapters:needs_argument", "must be callable with no arguments"),
    ("my_adapters:raises", "raised RuntimeError: database password missing"),
    ("my_adapters:key_error", "get_object() of a missing key raised KeyError; a Store must raise"),
    ("my_adapters:missing", "'my_adapters' has no attribute 'missing'"),
])
@pytest.mark.parametrize("command", ["check", "publish", "audit"])
def test_bad_specs_are_usage_errors_that_write_nothing(adapters, capsys, command, spec, message):
    (adapters / "m.json").write_text('{"w": 1}')
    before = sorted(p.name for p in adapters.iterdir())
    argv = {"check": ["--profile", "quick"], "publish": ["--tenant", "t", "--surface", "s", "m=m.json"],
            "audit": []}[command]
    assert main([command, "--store", spec, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert sorted(p.name for p in adapters.iterdir()) == before  # no directory named after the spec


def test_the_refusal_lists_every_form(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--store", "pub"]) == 2
    err = capsys.readouterr().err
    for form in ("existing directory", "./new-store", "s3://", "package.module:factory", "write ./pub"):
        assert form in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_factory_from_the_current_directory_serves_every_command(adapters, capsys):
    """publish and audit through a factory store: one store for the process (a
    MemoryStore here), so both commands run in one interpreter via the API."""
    store = open_store("my_adapters:counted")
    assert type(store).__name__ == "Counted"
    assert main(["check", "--store", "my_adapters:counted", "--profile", "quick"]) == 0


def test_guarded_check_on_a_store_without_compare_and_swap_is_one_usage_error(adapters, capsys):
    assert main(["check", "--store", "my_adapters:no_cas", "--guarded", "--profile", "quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "guarded mode needs compare-and-swap" in err, err


def test_a_store_class_is_asked_for_a_missing_key_once_not_for_every_store(adapters):
    import my_adapters

    target = target_from_spec("my_adapters:probe_counted")
    stores = [target.store_factory() for _ in range(5)]
    assert len({id(store) for store in stores}) == 5
    assert sorted(my_adapters.PROBED) == [("get_object", "pubsafe-probe/missing.json"),
                                          ("stat", "pubsafe-probe/missing.json")]


def test_a_factory_that_turns_to_another_store_class_is_checked_again(adapters):
    import my_adapters

    target = target_from_spec("my_adapters:good_then_key_error")
    with pytest.raises(InvalidInput, match=r"get_object\(\) of a missing key raised KeyError"):
        for _ in range(3):
            target.store_factory()
    assert len(my_adapters.MADE) == 3


def test_every_store_a_run_makes_is_closed(adapters):
    import my_adapters

    report = run_conformance(target_from_spec("my_adapters:counted"), Profile(examples=3, steps=4))
    assert report.conforming
    assert len(my_adapters.OPENED) > 10
    assert len(my_adapters.CLOSED) == len(my_adapters.OPENED)


def test_a_context_manager_factory_is_exited_for_every_store(adapters):
    import my_adapters

    run_conformance(target_from_spec("my_adapters:managed"), Profile(examples=3, steps=4))
    assert my_adapters.CLOSED.count("exit") == len(my_adapters.OPENED) > 10


def test_a_failing_close_is_reported_and_costs_no_verdict(adapters, capsys):
    assert main(["check", "--store", "my_adapters:close_fails", "--profile", "quick", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)[0]
    [line] = report["leftovers"]
    assert line.startswith("CloseFails.close() failed for ") and "OSError: connection already reset" in line
    assert int(line.split(" failed for ")[1].split()[0]) > 10  # every store the run made was attempted
    assert line in captured.err
    assert {v["status"] for v in report["verdicts"]} <= {"HOLDS", "DOCUMENTED"}


@pytest.mark.slow
def test_check_local_leaves_no_temporary_store_and_no_hypothesis_directory(tmp_path):
    scratch, work, home = tmp_path / "tmp", tmp_path / "work", tmp_path / "home"
    for d in (scratch, work, home):
        d.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "HOME": str(home), "PUBSAFE_STORE": ""}
    env.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    env.pop("XDG_CACHE_HOME", None)
    done = subprocess.run([sys.executable, "-m", "pubsafe", "check", "--store", "local", "--profile", "quick"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(scratch.iterdir()) == []
    assert list(work.iterdir()) == []  # Hypothesis' caches went under ~/.cache/pubsafe instead
    assert (home / ".cache" / "pubsafe" / "hypothesis").is_dir()


@pytest.mark.slow
def test_check_on_a_store_path_never_touches_what_it_holds(tmp_path, capsys):
    store = tmp_path / "pub"
    (tmp_path / "m.json").write_text('{"w": 1}')
    assert main(["publish", "--store", str(store), "--tenant", "t", "--surface", "s", f"m={tmp_path / 'm.json'}"]) == 0
    before = tree(store)
    assert main(["check", "--store", str(store), "--profile", "quick"]) == 0
    assert tree(store) == before
    assert sorted(p.name for p in store.iterdir()) == sorted({Path(k).parts[0] for k in before})


@pytest.mark.slow
def test_keep_leaves_the_stores_for_inspection(tmp_path, capsys):
    store = tmp_path / "pub"
    assert main(["check", "--store", str(store), "--profile", "quick", "--keep"]) == 0
    kept = [p.name for p in store.iterdir()]
    assert kept and all(name.startswith("pubsafe-check-") for name in kept)


def test_factory_target_tears_down_even_when_removal_fails():
    class Stubborn(MemoryStore):
        def close(self) -> None:
            self.closed = True

    def refuse(store):  # type: ignore[no-untyped-def]
        raise PermissionError("bucket policy forbids DeleteObject")

    target = factory_target("stubborn", Stubborn, remove=refuse)  # made, checked and torn down once already
    stores = [target.store_factory() for _ in range(3)]
    for store in stores:
        store.put("written/by-the-run.json", b"{}")  # the first, empty store left nothing: no leftover
        target.cleanup(store)
    assert all(store.closed for store in stores)
    assert len(target.leftovers) == 1
    assert target.leftovers[0].startswith("could not remove 3 stores, e.g. memory://")
    assert target.leftovers[0].endswith(": PermissionError: bucket policy forbids DeleteObject; still there: "
                                        "written/by-the-run.json")


def test_prefixed_views_share_nothing_but_the_backend():
    backend = MemoryStore()
    backend.put("keep/me", b"live")
    a, b = PrefixedStore(backend, "pubsafe-check-a"), PrefixedStore(backend, "pubsafe-check-b")
    a.put("k", b"1")
    b.put("k", b"2")
    assert (a.get("k"), b.get("k"), a.list(""), b.list("")) == (b"1", b"2", ["k"], ["k"])
    assert backend.list("") == ["keep/me", "pubsafe-check-a/k", "pubsafe-check-b/k"]
    with pytest.raises(InvalidInput):
        PrefixedStore(backend, "../escape")


class TestPrefixedStoreContract(StoreContractTests):
    @pytest.fixture
    def store(self):  # type: ignore[no-untyped-def]
        backend = MemoryStore()
        backend.put("outside/the/prefix", b"x")
        return PrefixedStore(backend, "pubsafe-check-contract")


def test_the_store_spec_forms_are_documented_for_adapter_authors():
    guide = (REPO / "docs" / "writing-a-store-adapter.md").read_text()
    for needle in ("pubsafe.stores", "module:factory", "Capabilities(", "ObjectNotFound", "StoreContractTests",
                   "ConformanceTests", "close()", "root_uri"):
        assert needle in guide, needle
    adapter = REPO / "tests" / "data" / "sqlite_adapter"
    for example in (adapter / "pubsafe_sqlite" / "__init__.py", adapter / "pyproject.toml"):
        assert example.read_text() in guide, f"the guide's copy of {example.name} is out of date"
