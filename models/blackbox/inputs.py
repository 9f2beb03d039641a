"""What each round asks of the publisher: its inputs per dialect, and the runs."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from pubsafe.faults.processes import Invocation

from ..checkers.oracle import canonical
from ..guarantees import Guarantee
from .publisher import DIALECTS

__all__ = ["T", "S", "Run", "Plan", "types_of", "input_for", "holds", "race_guarantee"]

T, S = "acme", "home"
WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}


def types_of(dialect: str) -> list[str]:
    return ["popularity", "cooc"] if dialect == "recsys-pipelines" else ["model", "items", "features"]


def input_for(dialect: str, type_: str, tag: str, rng: random.Random) -> dict[str, Any]:
    """A fresh input: a payload (pubsafe), or a typed upstream input."""
    if dialect != "recsys-pipelines":
        return {"tag": tag, "values": [round(rng.random(), 6) for _ in range(3)], "note": "caf\u00e9 \U0001f600"}
    items = [{"item_id": f"{tag}-{k}", "count": rng.randrange(1, 100)} for k in range(2)]
    if type_ == "cooc":
        return {"segment": "default", "window": WINDOW, "neighbors": [{"item_id": f"{tag}-n", "items": items}]}
    return {"segment": "default", "window": WINDOW, "items": items}


def holds(dialect: str, blob: bytes, given: dict[str, Any]) -> bool:
    """Does this stored blob hold that input (``auto``: under either dialect's rule)?"""
    if dialect == "auto":
        return any(holds(d, blob, given) for d in DIALECTS[1:])
    try:
        doc = json.loads(blob)
    except ValueError:
        return False
    if dialect == "recsys-pipelines":
        return isinstance(doc, dict) and all(doc.get(k) == v for k, v in given.items())
    try:
        return canonical(doc) == canonical(given)
    except (ValueError, TypeError):
        return False


@dataclass
class Run:
    """One invocation of this round, with what it was asked to do."""

    name: str
    kind: str  #: "publish" or "rollback"
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)  #: type -> input
    target: dict[str, str] = field(default_factory=dict)  #: rollback: the mapping it installs
    version: str = ""  #: rollback: the manifest version
    argv: list[str] = field(default_factory=list)
    invocation: Invocation | None = None


@dataclass
class Plan:
    """What one try of a round does."""

    runs: list[Run]
    kills: dict[int, float]  #: run -> seconds into the round its SIGKILL comes
    starts: list[float]  #: run -> seconds into the round it starts
    paused: int | None = None  #: the run SIGSTOPped mid-publish
    identical: bool = False  #: every run has the same inputs (G3: converge, never rewrite a record)


def race_guarantee(runs: list[Run]) -> Guarantee:
    """Which race a round's runs make: a rollback (R3), two publishes sharing a type
    (R1), or publishes of different types (R2)."""
    if any(r.kind == "rollback" for r in runs):
        return Guarantee.R3
    if len({t for r in runs for t in r.inputs}) < sum(len(r.inputs) for r in runs):
        return Guarantee.R1
    return Guarantee.R2
