"""faults: the nemesis. Wrappers and schedulers that make stores fail on purpose.

Everything here speaks refimpl's Store contract and nothing else, so it works under
any engine that talks to a Store. Faults are placed by a ``FaultPlan`` that reads
and prints as a short string (``"lost-ack@swap"``), so every failure replays.
"""

from __future__ import annotations

from .crash import Crash
from .plan import FAULT_KINDS, Fault, FaultPlan
from .store import FaultyStore, OpEvent

__all__ = ["Crash", "FAULT_KINDS", "Fault", "FaultPlan", "FaultyStore", "OpEvent"]
