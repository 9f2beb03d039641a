"""Exploration: the fixed scenarios the checker runs (races, crashes, hostile stores
and readers), and the exhaustive enumeration of a race's interleavings and crash
points (``enumerate``). Used by the conformance run, the state machine (races with
drawn schedules), ``python -m pubsafe.models.exploration.enumerate`` and the tests.
"""

from .crashes import CRASH_KINDS, CrashPoint, backend_cause, backend_point, crash_sweep, untranslated
from .hostile import COLLIDING_SLOTS, INVALIDATED_SLOTS, LISTED_KEYS, listing_pages, name_collisions, serving_violations
from .races import (
    GRACE,
    RACES,
    TTL,
    EngineFor,
    Race,
    RaceScenario,
    S,
    StepClock,
    T,
    new_registry,
    payload,
    two_sweeps,
    whole_store_publish,
    whole_store_sweep,
)

__all__ = [
    "T",
    "S",
    "GRACE",
    "TTL",
    "payload",
    "StepClock",
    "EngineFor",
    "RaceScenario",
    "Race",
    "RACES",
    "two_sweeps",
    "new_registry",
    "whole_store_sweep",
    "whole_store_publish",
    "CRASH_KINDS",
    "CrashPoint",
    "crash_sweep",
    "backend_point",
    "backend_cause",
    "untranslated",
    "serving_violations",
    "COLLIDING_SLOTS",
    "name_collisions",
    "listing_pages",
    "LISTED_KEYS",
    "INVALIDATED_SLOTS",
]
