"""The conformance run against a target: the capability probes and the store contract
(``probes``, ``contract``, ``durability``), then the model and the scenarios, into one
report (``run``)."""

from .run import PROFILES, Profile, merge_reports, run_conformance

__all__ = ["PROFILES", "Profile", "run_conformance", "merge_reports"]
