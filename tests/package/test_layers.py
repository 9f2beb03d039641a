"""The layers import only downward, under one namespace (ARCHITECTURE.md, "Layers").

refimpl imports nothing of ours; faults only refimpl; models only refimpl and faults;
reports only models and refimpl; the CLI, the pytest plugin and the developer tools
anything. Nothing imports the old top-level names (``refimpl``, ``models``...), which
would load a second copy of a module from the working directory.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support import REPO

FOLDERS = {"refimpl": "refimpl", "faults": "faults", "models": "models", "reports": "reports", "pubsafe": "pubsafe"}
ALLOWED = {
    "refimpl": {"refimpl"},
    "faults": {"refimpl", "faults"},
    "models": {"refimpl", "faults", "models"},
    "reports": {"refimpl", "models", "reports"},
    "pubsafe": {"refimpl", "faults", "models", "reports", "pubsafe"},
}
OLD_NAMES = {"refimpl", "faults", "models", "reports"}


def _modules(layer: str) -> list[Path]:
    return sorted((REPO / FOLDERS[layer]).rglob("*.py"))


def _imports(path: Path, layer: str, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, relative ones resolved."""
    package = ["pubsafe"] if layer == "pubsafe" else ["pubsafe", layer]
    package += list(path.relative_to(root / FOLDERS[layer]).parent.parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "pubsafe":
        return None
    if len(parts) > 1 and parts[1] in OLD_NAMES:
        return parts[1]
    return "pubsafe"


@pytest.mark.parametrize("layer", list(FOLDERS))
def test_each_layer_imports_only_downward(layer):
    assert _modules(layer), f"no modules found for {layer}"
    wrong = []
    for path in _modules(layer):
        for line, module in _imports(path, layer):
            target = _layer_of(module)
            if module.split(".")[0] in OLD_NAMES:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {module} (outside the pubsafe namespace)")
            elif target is not None and target not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {module} ({layer} may not import {target})")
    assert wrong == []


def test_the_checker_never_borrows_the_engines_fast_paths_or_caches():
    private = ("pubsafe.refimpl._canonical_fast", "pubsafe.refimpl._memo", "pubsafe.refimpl._serialise",
               "pubsafe.refimpl.canonical", "pubsafe.refimpl.documents")
    wrong = [f"{path.relative_to(REPO)}:{line} imports {module}"
             for path in (REPO / "models" / "checkers").rglob("*.py")
             for line, module in _imports(path, "models") if module.startswith(private)]
    assert wrong == []


def test_the_rule_catches_a_wrong_import(tmp_path):
    """The test above can fail: a refimpl module importing models is reported (the
    probe module is written beside a copy, never into the checkout other tests read)."""
    bad = tmp_path / FOLDERS["refimpl"] / "_layer_probe_test.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from pubsafe.models import Report\nfrom ..faults import Crash\n")
    imports = [_layer_of(m) for _, m in _imports(bad, "refimpl", root=tmp_path)]
    assert imports == ["models", "faults"]


#: models/ by role: each room imports only the rooms it builds on. The checkers judge
#: from outcomes and know nothing of who drives the store; the exploration and the
#: black-box harness run scenarios and call the checkers; the machine draws steps and
#: uses both; the conformance run puts them all together against a target.
VOCABULARY = {"guarantees", "verdicts", "failures"}  #: models' root modules every room may use
ROOMS = {
    "checkers": {"checkers"},
    "exploration": {"exploration", "checkers"},
    "blackbox": {"blackbox", "checkers"},
    "machine": {"machine", "exploration", "checkers", "target"},
    "conformance": {"conformance", "machine", "exploration", "checkers", "target"},
    "mutants": {"mutants", "target"},
}


def _room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["pubsafe", "models"] and len(parts) > 2 else None


@pytest.mark.parametrize("room", list(ROOMS))
def test_each_room_of_models_imports_only_what_it_builds_on(room):
    paths = sorted((REPO / "models" / room).rglob("*.py"))
    assert paths, f"models/{room} is empty"
    wrong = [f"{path.relative_to(REPO)}:{line} imports {module}"
             for path in paths for line, module in _imports(path, "models")
             if (other := _room_of(module)) is not None and other not in ROOMS[room] | VOCABULARY]
    assert wrong == []


def test_every_room_of_models_is_listed():
    rooms = {p.name for p in (REPO / "models").iterdir() if (p / "__init__.py").exists()}
    assert rooms == set(ROOMS)


def test_the_room_rule_catches_a_checker_that_knows_its_driver(tmp_path):
    bad = tmp_path / "models" / "checkers" / "probe.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..machine import PublishMachine\nfrom ..guarantees import Guarantee\n")
    rooms = [_room_of(m) for _, m in _imports(bad, "models", root=tmp_path)]
    assert rooms == ["machine", "guarantees"] and "machine" not in ROOMS["checkers"] | VOCABULARY


MAX_LINES = 450  #: a module longer than this holds more than one concept (issue 27)


def test_no_module_of_the_checker_or_its_reports_is_longer_than_a_reader_holds_in_mind():
    long = {str(p.relative_to(REPO)): n for folder in ("models", "reports") for p in (REPO / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
