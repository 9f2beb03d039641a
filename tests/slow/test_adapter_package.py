"""An adapter package outside pubsafe, installed by entry point into a fresh venv next
to a non-editable pubsafe: its scheme works in check, publish and audit, and the
guide's pytest example runs green under ``-W error``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from support import REPO

pytestmark = pytest.mark.slow

ADAPTER = REPO / "tests" / "data" / "sqlite_adapter"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv whose only installs are pubsafe (built as a wheel, not editable) and
    the adapter; third-party dependencies come from this interpreter's site-packages
    through a .pth line (which adds the directory but runs none of its .pth hooks, so
    the editable pubsafe there stays invisible)."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next((root / "lib").glob("python3*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install", "-q",
                    "--no-deps", str(REPO), str(ADAPTER)], check=True, timeout=300)
    return root


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
    assert re.search(r"\b2[0-9] passed\b", done.stdout), done.stdout[-500:]
    assert (tmp_path / "reports" / "TestSQLiteConformance" / "report.html").is_file()
