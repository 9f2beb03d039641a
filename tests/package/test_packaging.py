"""What a user installing pubsafe gets: version, typing marker, licence, a platform story,
and an sdist that carries its own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pubsafe
from pubsafe.cli import main
from support import REPO


def test_version_is_the_installed_distributions(capsys):
    from importlib.metadata import version

    assert pubsafe.__version__ == version("pubsafe")
    try:
        main(["--version"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert capsys.readouterr().out.strip() == f"pubsafe {pubsafe.__version__}"


def test_typed_marker_and_licence_ship():
    assert (Path(pubsafe.__file__).parent / "py.typed").is_file()
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()


def test_without_fcntl_the_package_imports_and_a_local_store_is_refused_clearly(tmp_path):
    """Windows has no fcntl: everything imports, S3/fsspec/memory stores work, and a
    local store is a usage error that says what to use instead; nothing is created."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['fcntl'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")]),
           "PUBSAFE_STORE": ""}
    probe = ("import pubsafe.refimpl, pubsafe.models, pubsafe.faults, pubsafe.reports\n"
             "from pubsafe.refimpl import Engine, MemoryStore\n"
             "print(Engine(MemoryStore()).publish('t', 's', {'m': 1}).swapped)")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
    done = subprocess.run([sys.executable, "-m", "pubsafe", "audit", "--store", str(tmp_path / "pub")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "a local store needs POSIX file locks" in done.stderr and "s3://" in done.stderr
    assert not (tmp_path / "pub").exists()


def test_the_sdist_carries_the_tests_and_their_data(tmp_path):
    done = subprocess.run([sys.executable, "-c", "from setuptools import build_meta as b; "
                           f"print(b.build_sdist({str(tmp_path)!r}))"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    with tarfile.open(tmp_path / done.stdout.strip().splitlines()[-1]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in ("LICENSE", "tests/conftest.py", "tests/support/__init__.py", "tests/support/publishers/_common.py",
                   "tests/data/upstream", "tests/data/sqlite_adapter/pyproject.toml", "tasks.py",
                   "reports/report.schema.json", "pubsafe/py.typed", "docs/writing-a-store-adapter.md"):
        assert any(name == needed or name.startswith(needed + "/") for name in names), needed
