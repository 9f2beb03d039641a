"""The static checks `python3 tasks.py test` runs see the source tree as the package.

pubsafe/refimpl, faults, models and reports are symlinks to the top-level folders, so
mypy and an editor resolve ``pubsafe.refimpl.engine`` to refimpl/engine.py without the
editable install's import hook. A type error or a lint error introduced on purpose
fails them, with the project's own configuration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

BIN = Path(sys.executable).parent


def _tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in this environment (the test extra installs it)")
    return path


def _mypy(module: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(_tool("mypy")), "--config-file", str(REPO / "pyproject.toml"), str(module)],
                          cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize("layer", ["refimpl", "faults", "models", "reports"])
def test_each_layer_of_the_package_is_its_top_level_folder(layer):
    link = REPO / "pubsafe" / layer
    assert link.is_symlink() and link.resolve() == (REPO / layer).resolve()


def test_an_import_of_the_engine_lands_in_refimpl_engine_py():
    import pubsafe.refimpl.engine as engine

    assert Path(os.path.realpath(engine.__file__)) == (REPO / "refimpl" / "engine.py").resolve()


def test_mypy_resolves_pubsafe_from_the_source_tree_and_fails_on_a_type_error(tmp_path):
    good = tmp_path / "uses_engine.py"
    good.write_text("from pubsafe.refimpl.engine import Engine\n"
                    "from pubsafe.refimpl.memory import MemoryStore\n\n"
                    "receipt = Engine(MemoryStore()).publish('acme', 'home', {'model': {'w': 1}})\n"
                    "version: str = receipt.manifest_version\n")
    result = _mypy(good)
    assert result.returncode == 0, result.stdout
    bad = tmp_path / "misuses_engine.py"
    bad.write_text(good.read_text().replace("version: str", "version: int"))
    result = _mypy(bad)
    assert result.returncode == 1 and 'Incompatible types in assignment (expression has type "str"' in result.stdout


def test_ruff_fails_on_a_lint_error_with_the_projects_rules(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("import os\n\n\ndef f(items):\n    return [lambda: item for item in items]\n")
    result = subprocess.run([str(_tool("ruff")), "check", "--config", str(REPO / "pyproject.toml"),
                             "--output-format", "concise", str(module)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "F401" in result.stdout and "B023" in result.stdout  # unused import; late-bound loop variable


@pytest.mark.slow  # whole conformance runs or a fresh interpreter: seconds; CI runs it
def test_tasks_static_checks_fail_on_a_type_error_and_a_lint_error_planted_in_the_tree(tmp_path, monkeypatch, capfd):
    """What `python3 tasks.py test` runs first, on a copy of the tree with one error of each kind."""
    import tasks

    copy = tmp_path / "repo"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True).stdout.splitlines()
    for name in listed:
        source, target = REPO / name, copy / name
        if not source.is_symlink() and not (name.endswith((".py", ".toml", ".typed")) and source.is_file()):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            target.write_bytes(source.read_bytes())
    engine = copy / "refimpl" / "engine.py"
    engine.write_text(engine.read_text() + "\n\ndef _planted() -> int:\n    return 'not an int'\n")
    cli = copy / "pubsafe" / "cli.py"
    cli.write_text(cli.read_text() + "\n\ndef _planted(items):\n    return [lambda: item for item in items]\n")
    monkeypatch.setattr(tasks, "ROOT", copy)
    monkeypatch.setattr(tasks, "BIN", BIN)
    assert tasks.static_checks() != 0
    out = capfd.readouterr().out
    assert "static checks failed: ruff and mypy" in out
    assert "refimpl/engine.py" in out and "Incompatible return value type" in out
    assert "pubsafe/cli.py" in out and "B023" in out  # a closure that binds its loop variable late
