"""An adapter package outside pubsafe, installed into a fresh venv as the guide says
(pubsafe from the wheel the README builds, then ``pip install .`` in the adapter's
folder): its scheme works in check, publish and audit, and the guide's pytest example
runs green under ``-W error``, in default and guarded mode."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from support import REPO

pytestmark = pytest.mark.slow

ADAPTER = REPO / "tests" / "data" / "sqlite_adapter"
GUIDE = (REPO / "docs" / "writing-a-store-adapter.md").read_text()
README = (REPO / "README.md").read_text()


def _dependencies_without_pubsafe(into: Path) -> Path:
    """This interpreter's third-party packages (pydantic, hypothesis...), linked one by
    one into ``into`` without pubsafe's own install: a fresh venv that lists ``into`` in
    a .pth file has pubsafe's dependencies and no pubsafe, as after installing them from
    PyPI (no network needed)."""
    into.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.suffix == ".pth" or entry.name.startswith(("pubsafe", "__editable__", "_pubsafe")):
            continue
        (into / entry.name).symlink_to(entry)
    return into


def _pip(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``pip ARGS`` in the fresh venv (this interpreter's pip, pointed at it)."""
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _command(text: str, starts: str) -> list[str]:
    """The words of the first line of a doc's code block that starts with ``starts``."""
    line = next(line for line in text.splitlines() if line.startswith(starts))
    return line.split("#")[0].split()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """pubsafe's wheel, built as the README says (into a directory of the test's own)."""
    words = _command(README, "python -m pip wheel")
    assert words[:5] == ["python", "-m", "pip", "wheel", "--no-deps"] and words[-1] == "."
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, *words[1:5], "-w", str(out), "."], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [built] = out.glob("pubsafe-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh venv with pubsafe's dependencies and nothing of pubsafe, into which the
    guide's two lines install pubsafe's wheel and then the adapter from its folder."""
    scratch = tmp_path_factory.mktemp("fresh")
    root = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next((root / "lib").glob("python3*/site-packages"))
    (site / "dependencies.pth").write_text(str(_dependencies_without_pubsafe(scratch / "deps")) + "\n")
    adapter = shutil.copytree(ADAPTER, scratch / "pubsafe-sqlite")
    assert _command(GUIDE, "pip install /path/to/pubsafe")[:2] == ["pip", "install"]
    assert _command(GUIDE, "pip install .") == ["pip", "install", "."]
    first = _pip(root, "install", str(wheel), cwd=scratch)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    second = _pip(root, "install", ".", cwd=adapter)  # the adapter's dependency on pubsafe is met
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    return root


def test_the_adapter_alone_does_not_install_without_pubsafe(tmp_path, wheel):
    """Why the guide installs pubsafe first: it is on no index, so `pip install .` in the
    adapter's folder of a venv without pubsafe finds nothing to satisfy it."""
    root = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next((root / "lib").glob("python3*/site-packages"))
    (site / "dependencies.pth").write_text(str(_dependencies_without_pubsafe(tmp_path / "deps")) + "\n")
    adapter = shutil.copytree(ADAPTER, tmp_path / "pubsafe-sqlite")
    done = _pip(root, "install", ".", cwd=adapter)
    assert done.returncode != 0 and "pubsafe" in done.stdout + done.stderr


def run(venv: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PUBSAFE_STORE")}
    return subprocess.run([str(venv / "bin" / argv[0]), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_pubsafe_is_the_installed_wheel_not_the_checkout(venv, tmp_path):
    done = run(venv, "python", "-c", "import pubsafe, pubsafe_sqlite; print(pubsafe.__file__)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(venv)), done.stdout


def test_the_registered_scheme_works_in_check_publish_and_audit(venv, tmp_path):
    url = f"sqlite://{tmp_path / 'pub.db'}"
    (tmp_path / "model.json").write_text('{"weights": [1, 2, 3]}')
    published = run(venv, "pubsafe", "publish", "--store", url, "--tenant", "acme", "--surface", "home",
                    "model=model.json", cwd=tmp_path)
    assert published.returncode == 0, published.stderr

    checked = run(venv, "pubsafe", "check", "--store", url, "--profile", "quick", "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert '"conforming": true' in checked.stdout and '"status": "BREAKS"' not in checked.stdout

    audited = run(venv, "pubsafe", "audit", "--store", url, cwd=tmp_path)
    assert audited.returncode == 0 and "audit clean" in audited.stdout, audited.stdout + audited.stderr
    keys = run(venv, "python", "-c", f"from pubsafe_sqlite import open_url; print(open_url({url!r}).list(''))",
               cwd=tmp_path)
    # The check worked under its own prefixes and removed them: the publish is all there is.
    assert "pubsafe-check" not in keys.stdout
    assert keys.stdout.count("acme/home") == 4, keys.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "pub.db"]


def test_a_typo_in_the_scheme_names_the_installed_ones(venv, tmp_path):
    done = run(venv, "pubsafe", "audit", "--store", "sqlit:///x.db", cwd=tmp_path)
    assert done.returncode == 2
    assert "sqlite://" in done.stderr


def test_the_guides_pytest_example_is_green_under_warnings_as_errors(venv, tmp_path):
    guide = (REPO / "docs" / "writing-a-store-adapter.md").read_text()
    example = next(block for block in re.findall(r"```python\n(.*?)```", guide, re.S) if "ConformanceTests" in block)
    (tmp_path / "test_sqlite_adapter.py").write_text(example)
    done = run(venv, "python", "-W", "error", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pubsafe-profile",
               "quick", "--pubsafe-report", "reports", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"\b3[0-9] passed\b", done.stdout), done.stdout[-500:]
    assert (tmp_path / "reports" / "TestSQLiteConformance" / "report.html").is_file()
    guarded = (tmp_path / "reports" / "TestSQLiteGuarded" / "report.json").read_text()
    assert '"mode": "guarded"' in guarded
