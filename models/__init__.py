"""models: the generator and the checker, in one room per role.

Shared vocabulary: ``guarantees`` (the guarantee IDs), ``verdicts`` (the report),
``failures`` (a store failing by itself vs a guarantee breaking), ``target`` (what
is judged: a store, an engine and a reader).

- ``checkers/``: the checker, independent of the engine: one module per guarantee,
  the ``oracle`` (its own view of hashes, manifests and keys, and of upstream's format)
  and how it reads a store (``reading``);
- ``machine/``: the Hypothesis state machine (the generator), checking after every step;
- ``exploration/``: the fixed scenarios (races, crashes, hostile stores and readers)
  and the exhaustive enumeration of a race's interleavings and crash points;
- ``conformance/``: all of it against a ``Target``: capability probes, the store
  contract, then the model and the scenarios, into one ``Report``;
- ``blackbox/``: a publisher program in any language, judged from the outside;
- ``mutants``: the catalogue of realistic bugs the checker must catch (next to what it
  proves; ``target_from_spec("mutant:NAME")`` runs one);
- ``pytest_suite``: the conformance run as a pytest mixin for adapter authors (its
  import path is the one their test files name).
"""

from __future__ import annotations

from pubsafe.faults.history import Event

from .conformance import PROFILES, run_conformance
from .guarantees import Guarantee
from .target import Target, target_from_spec
from .verdicts import Report, Status, Verdict

__all__ = ["Event", "Guarantee", "PROFILES", "Report", "Status", "Target", "Verdict", "run_conformance",
           "target_from_spec"]
