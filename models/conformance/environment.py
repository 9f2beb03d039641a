"""What decides whether a seed replays a conformance run, recorded with the report.

The state machine's examples come from Hypothesis, seeded: the same seed draws the same
examples under the same pubsafe, Hypothesis and Python, whatever the machine, its
paths or PYTHONHASHSEED (measured: three hash seeds, one run). One thing of ours made a
seed draw differently by install: Hypothesis also draws constants found in the source
of the "local" modules a process has imported (those outside site-packages and the
standard library). From a checkout pubsafe's own modules are local, from a wheel they
are not, and which of them a process had imported depends on how the check was started
(the CLI, pytest, the devtools): the same seed then ran 163 examples from one and 166
from another. ``no_local_constants`` switches that source off while the machine runs,
so the seed alone decides. It reaches into Hypothesis's internals; where a Hypothesis
version lacks them, the run says so (``Environment.local_constants``) instead of
pretending it replays.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..verdicts import Environment

__all__ = ["no_local_constants", "local_constants_off", "environment", "pubsafe_version"]


@contextlib.contextmanager
def no_local_constants() -> Iterator[bool]:
    """While inside: Hypothesis draws no constants from local modules. Yields whether it
    could be switched off (False: this Hypothesis works otherwise; runs may differ by
    install and by what the process imported)."""
    try:
        from hypothesis.internal.conjecture import providers

        original = providers._get_local_constants
        cache = providers.CONSTANTS_CACHE.cache
        _no_constants()
    except (ImportError, AttributeError, TypeError):
        yield False
        return
    providers._get_local_constants = _no_constants
    cache.clear()  # allowed constants computed with local ones
    try:
        yield True
    finally:
        providers._get_local_constants = original
        cache.clear()


def local_constants_off() -> bool:
    """Whether this is inside ``no_local_constants`` (and it could switch them off)."""
    try:
        from hypothesis.internal.conjecture import providers

        return providers._get_local_constants is _no_constants
    except (ImportError, AttributeError):
        return False


def _no_constants() -> Any:
    from hypothesis.internal.constants_ast import Constants

    return Constants()


def pubsafe_version() -> str:
    try:
        return version("pubsafe")
    except PackageNotFoundError:
        return "0+unknown"


def environment(replay: str, argv: list[str] | None, controlled: bool) -> Environment:
    """The environment of this process, for a report (no paths of this machine in it but
    the ones the user typed)."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = os.path.basename(argv[0])
    note = (f"the seed replays this run with pubsafe {pubsafe_version()}, Hypothesis {_hypothesis()} and Python "
            f"{platform.python_version()}, from a wheel or a checkout alike")
    if not controlled:
        note = (f"Hypothesis {_hypothesis()} draws constants from the modules a process imported, and pubsafe could "
                "not switch that off: the seed replays this run only when started the same way from the same install")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return Environment(hypothesis=_hypothesis(), python=python,
                       installed=_installed(), argv=argv, replay=replay, local_constants=not controlled, note=note)


def _hypothesis() -> str:
    import hypothesis

    return hypothesis.__version__


def _installed() -> str:
    here = Path(__file__).resolve().parts
    return "installed package" if "site-packages" in here or "dist-packages" in here else "source checkout"
