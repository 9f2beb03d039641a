#!/usr/bin/env python3
"""Set-up and everyday commands; needs only Python 3.11+ and pip.

    python3 tasks.py check       conformance check of the embedded stores (memory and a
                                 temporary local directory); reports in ./pubsafe-report/
    python3 tasks.py demo        the narrated safety-model demo on a temporary store
    python3 tasks.py test        lint (ruff) and types (mypy), then the whole test suite: in
                                 parallel on every core, then the tests judged by the timing
                                 of real processes, alone; installs Azurite (npm, for the
                                 Azure tests) into .venv once
    python3 tasks.py test --fast lint, types and the fast tier (no server, no real-process
                                 timing), in parallel
    python3 tasks.py test ARGS   pytest ARGS, as given (e.g. tests/refimpl -x)
    python3 tasks.py bench       the benchmarks; writes docs/benchmarks.md

Each creates ./.venv on first use and reinstalls only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".pubsafe-installed"


def ensure_env() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    print("installing pubsafe and its test dependencies into .venv ...", flush=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "-q", "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("bench", "check", "demo", "test"):
        print(__doc__)
        return 2
    ensure_env()
    if argv[0] == "check":
        command = [str(BIN / "pubsafe"), "check", "--store", "memory", "--store", "local", "--report", "pubsafe-report"]
        return subprocess.call([*command, *argv[1:]], cwd=ROOT)
    if argv[0] == "demo":
        return subprocess.call([str(BIN / "pubsafe"), "demo", *argv[1:]], cwd=ROOT)
    if argv[0] == "bench":
        env = {**os.environ, "PUBSAFE_BENCH": "1"}
        out = ROOT / ".benchmarks" / "latest.json"
        code = subprocess.call([str(BIN / "python"), "-m", "pytest", "tests/benchmarks", "-q", "-p", "no:randomly",
                                f"--benchmark-json={out}", *argv[1:]], cwd=ROOT, env=env)
        if code != 0:
            return code
        return subprocess.call([str(BIN / "python"), "-m", "pubsafe.devtools.benchmark_report", str(out)], cwd=ROOT)
    return _test(argv[1:])


def static_checks() -> int:
    """ruff (lint) and mypy (types; the config is in pyproject.toml): 0 when both pass."""
    lint = subprocess.call([str(BIN / "ruff"), "check", "--quiet", "."], cwd=ROOT)
    types = subprocess.call([str(BIN / "mypy")], cwd=ROOT)
    if lint or types:
        print("static checks failed: " + " and ".join(n for n, c in (("ruff", lint), ("mypy", types)) if c)
              + " (above); `python3 tasks.py test` still runs the tests, and fails", flush=True)
    return lint or types


def _test(args: list[str]) -> int:
    pytest = [str(BIN / "python"), "-m", "pytest"]
    parallel = ["-n", "auto", "--dist", "worksteal"]  # pytest-xdist: one worker per core
    if args != ["--fast"]:
        # Azurite (npm) for the Azure tests, once per .venv; without npm they are skipped, saying so
        subprocess.call([str(BIN / "python"), "-m", "pubsafe.devtools.azureserver", "install"], cwd=ROOT)
    if args and args != ["--fast"]:
        return subprocess.call([*pytest, *args], cwd=ROOT)
    static = static_checks()
    if args == ["--fast"]:
        return subprocess.call([*pytest, *parallel, "-m", "not slow and not serial"], cwd=ROOT) or static
    # Tests that judge real processes by when they did things run on a machine with
    # nothing else of ours running; everything else shares the cores.
    first = subprocess.call([*pytest, *parallel, "-m", "not serial"], cwd=ROOT)
    second = subprocess.call([*pytest, "-m", "serial"], cwd=ROOT)
    return first or second or static


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
