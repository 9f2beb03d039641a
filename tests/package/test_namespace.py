"""One import package: the wheel installs only ``pubsafe``, and a user's own
``models/`` or ``reports/`` package does not shadow ours."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from support import REPO


@pytest.mark.slow
def test_the_wheel_has_exactly_one_top_level_package(tmp_path):
    source = tmp_path / "source"  # a copy: setuptools builds in the tree and leaves build/ behind
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__",
                                                                ".hypothesis", ".pytest_cache", ".benchmarks"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("pubsafe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"pubsafe"}
    for package in ("refimpl", "faults", "models", "reports", "devtools"):
        assert f"pubsafe/{package}/__init__.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "pubsafe = pubsafe.pytest_plugin" in text and "pubsafe = pubsafe.cli:main" in text


@pytest.fixture
def crowded(tmp_path):
    """A project with its own ``models`` and ``reports`` packages (common in ML and Django code)."""
    for name in ("models", "reports", "faults", "refimpl"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the user\\'s own package was imported')\n")
    return tmp_path


def test_the_mixin_runs_beside_a_projects_own_models_package(crowded):
    (crowded / "test_store.py").write_text(
        "import pytest\n"
        "from pubsafe.models.pytest_suite import ConformanceTests\n"
        "from pubsafe.refimpl import MemoryStore\n\n"
        "class TestMemory(ConformanceTests):\n"
        "    @pytest.fixture\n"
        "    def store_factory(self):\n"
        "        return MemoryStore\n"
    )
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pubsafe-profile=quick"],
                          cwd=crowded, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "11 passed" in done.stdout


def test_pubsafe_check_runs_beside_a_projects_own_models_package(crowded):
    done = subprocess.run([sys.executable, "-m", "pubsafe", "check", "--store", "memory", "--profile", "quick"],
                          cwd=crowded, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(crowded)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "CONFORMING" in done.stdout
