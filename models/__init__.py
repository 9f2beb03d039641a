"""models: the generator and the checker.

- ``guarantees``: the catalogue of guarantee IDs (one enum, used everywhere);
- ``oracle``: the checker's own, engine-independent view of hashes, manifests, keys;
- ``checkers``: one module per guarantee, each returning the violations it finds;
- ``scenarios``: the fixed races, crash sweep and serving scenarios, defined once;
- ``machine``: the Hypothesis state machine (the generator), checking after every step;
- ``enumerate``: every interleaving and crash point of the races, exhaustively;
- ``probes``, ``durability``: does the store honour the capabilities it claims?
- ``conformance``: all of it against a ``Target``, into one ``Report`` (``verdicts``);
- ``mutants``: deliberately broken stores, engines and readers the suite must catch;
- ``pytest_suite``: the conformance run as a pytest mixin for adapter authors.
"""

from __future__ import annotations

from pubsafe.faults.history import Event

from .conformance import PROFILES, run_conformance
from .guarantees import Guarantee
from .target import Target, target_from_spec
from .verdicts import Report, Status, Verdict

__all__ = ["Event", "Guarantee", "PROFILES", "Report", "Status", "Target", "Verdict", "run_conformance", "target_from_spec"]
