"""models: the generator and the checker.

A Hypothesis state machine (``machine``) drives publishes, crashes, races, rollbacks,
sweeps and serving reads against a ``Target``; ``checks`` judges the store after every
step against an oracle; ``probes`` tries each claimed capability; ``conformance``
ties them into one ``Report`` with a verdict per guarantee; ``mutants`` is the
catalogue of deliberately broken stores and engines the suite must catch.
"""

from __future__ import annotations

from .conformance import PROFILES, run_conformance
from .target import Target, target_from_spec
from .verdicts import CATALOGUE, Report, Status, Verdict

__all__ = ["CATALOGUE", "PROFILES", "Report", "Status", "Target", "Verdict", "run_conformance", "target_from_spec"]
